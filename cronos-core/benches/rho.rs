//! How the ADMM penalty rho decides the iteration count: the measurements behind `cronos_core`'s rho
//! rule. `cargo bench -p cronos-core --bench rho` solves every fixture of `tests/fixtures/` in f64 at a
//! grid of fixed penalties and prints, per problem and rho, the iterations until the certified gap and
//! the relative violation are within 1e-3 and 1e-6 ("-" if not within the cap), and what the solver's own
//! choice (no `rho` set) took. `-- --cap K` sets the iteration cap (default 3000); `-- --chosen` prints
//! only the solver's own choice, to measure a change of the rule.

use burn::backend::Flex;
use burn::tensor::DType;
use cronos_core::{CronosConfig, Formulation, IterationRecord, SolveReport};
use cronos_datasets::npy::read_npz_matrix;
use std::ops::ControlFlow;
use std::path::PathBuf;

const GRID: &[f64] = &[1e-3, 3e-3, 1e-2, 3e-2, 1e-1];

/// Iterations to certified 1e-3 and 1e-6 of one solve, with its report.
fn solve(name: &str, rho: Option<f64>, cap: usize) -> ([Option<usize>; 2], SolveReport) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(format!("{name}.npz"));
    let dev = Default::default();
    let read = |array: &str| {
        read_npz_matrix::<f32>(&path, array)
            .expect("fixture array")
            .to_tensor::<Flex>(&dev)
            .cast(DType::F64)
    };
    let scalar = |array: &str| read_npz_matrix::<f64>(&path, array).expect("scalar").data[0];
    let formulation = if scalar("formulation") == 1.0 {
        Formulation::Gated
    } else {
        Formulation::Relu
    };
    let mut hits = [None, None];
    let report = CronosConfig::new()
        .with_beta(scalar("beta"))
        .with_formulation(formulation)
        .with_filter_patterns(false)
        .with_rho(rho)
        .with_tol(1e-6)
        .with_max_iters(cap)
        .solver()
        .with_observer(|r: &IterationRecord| {
            for (tol, hit) in [1e-3, 1e-6].iter().zip(&mut hits) {
                if hit.is_none() && r.rel_gap <= *tol && r.rel_violation <= *tol {
                    *hit = Some(r.iteration);
                }
            }
            ControlFlow::Continue(())
        })
        .fit_with_gates(read("X"), read("Y"), read("gates"))
        .expect("solve")
        .report;
    (hits, report)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cap = args
        .iter()
        .position(|a| a == "--cap")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(3000);
    let fixtures = [
        "relu_binary",
        "relu_binary_small_beta",
        "relu_binary_sparse",
        "gated_binary",
        "relu_multi",
        "relu_tiny",
        "bench_binary_pca50",
        "bench_binary_pca100",
        "bench_tshirt_shirt_pca64",
        "bench_multi10_pca50",
        "bench_binary_raw784",
    ];
    let grid = if args.iter().any(|a| a == "--chosen") {
        &[]
    } else {
        GRID
    };
    let cell = |h: Option<usize>| h.map_or("-".to_string(), |i| i.to_string());
    print!("| problem |");
    for rho in grid {
        print!(" {rho:e} |");
    }
    println!(" chosen (rho, sweep iters) |");
    println!("|---|{}---|", "---|".repeat(grid.len()));
    for name in fixtures {
        print!("| {name} |");
        for &rho in grid {
            let ([a, b], _) = solve(name, Some(rho), cap);
            print!(" {} / {} |", cell(a), cell(b));
        }
        let ([a, b], r) = solve(name, None, cap);
        println!(
            " {} / {} (rho {:e}, {}) |",
            cell(a),
            cell(b),
            r.rho,
            r.sweep_iterations
        );
    }
}
