//! Solver benchmark on real Fashion-MNIST problems; prints one table.
//!
//! `cargo bench -p cronos-core --bench solver` solves the benchmark fixtures of `tests/fixtures/`
//! (optima and Clarabel's times from CVXPY + Clarabel, see the README there) in f64, and the first one
//! also in f32, on the flex backend. `-- --full` adds the 12,000 x 784 two-class problem (2 vs 8, needs
//! the Debian package dataset-fashion-mnist) and the embedded 10,000 x 784 ten-class problem, both in
//! f32 with a 10-minute limit; they have no interior-point reference, so only the certificate speaks.
//! Further arguments pick problems by part of their name (`-- multi10 raw784`; `FMNIST` for `--full`'s).
//!
//! Columns: the u-step path, set-up seconds, iterations and seconds until the certified relative gap
//! and the relative violation are both within 1e-3 and 1e-6, the true gap to the reference optimum at
//! the end, the throughput of a plain product X times P c columns (the shape of the products inside an
//! iteration), Clarabel's time (default settings) and its ratio to ours at 1e-6.

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::DType;
use cronos_core::{CronosConfig, IterationRecord};
use cronos_datasets::mnist::{fashion_mnist, fashion_mnist_embedded, DEBIAN_FASHION_MNIST_DIR};
use cronos_datasets::npy::read_npz_matrix;
use cronos_datasets::{Granularity, Matrix, Scaler, Scaling, TargetEncoding};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

struct Problem {
    name: String,
    x: Matrix,
    y: Matrix,
    /// Gate vectors `d x P`; `None` draws `neurons` Gaussian gates.
    gates: Option<Matrix>,
    neurons: usize,
    beta: f64,
    /// Reference optimum and Clarabel's seconds (default settings), when an interior-point solve exists.
    reference: Option<(f64, f64)>,
}

fn fixture(name: &str) -> Problem {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(format!("{name}.npz"));
    let read = |array: &str| read_npz_matrix::<f32>(&path, array).expect("fixture array");
    let scalar = |array: &str| f64::from(read(array).data[0]);
    let gates = read("gates");
    Problem {
        name: format!(
            "{name} ({} x {}, P = {})",
            read("X").rows,
            gates.rows,
            gates.cols
        ),
        x: read("X"),
        y: read("Y"),
        neurons: gates.cols,
        gates: Some(gates),
        beta: scalar("beta"),
        reference: Some((scalar("objective"), scalar("clarabel_seconds"))),
    }
}

/// Classes `classes` of `train` (pixels scaled to [0, 1]), +-1 targets for two classes, one-hot otherwise.
fn pixels(train: &cronos_datasets::LabeledSet, classes: &[usize], name: &str) -> Problem {
    let set = train.select_classes(classes).expect("classes");
    let mut x = set.x.clone();
    Scaler::fit(&x, Scaling::UnitRange, Granularity::Scalar)
        .and_then(|s| s.apply(&mut x))
        .expect("scale");
    let encoding = if classes.len() == 2 {
        TargetEncoding::Signed
    } else {
        TargetEncoding::OneHot
    };
    Problem {
        name: format!("{name} ({} x {}, P = 16)", x.rows, x.cols),
        y: set.targets(encoding).expect("targets"),
        x,
        gates: None,
        neurons: 16,
        beta: 1e-3,
        reference: None,
    }
}

/// First (iteration, seconds) at which the certificate and the violation reach each tolerance.
struct Hits {
    tolerances: [f64; 2],
    hits: [Option<(usize, f64)>; 2],
}

impl Hits {
    fn observe(&mut self, r: &IterationRecord) {
        for (tol, hit) in self.tolerances.iter().zip(&mut self.hits) {
            if hit.is_none() && r.rel_gap <= *tol && r.rel_violation <= *tol {
                *hit = Some((r.iteration, r.seconds));
            }
        }
    }
}

/// Median seconds of `f` over `reps` runs.
fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn bench(p: &Problem, dtype: DType, time_limit: f64) {
    let dev = Default::default();
    let tensor = |m: &Matrix| m.to_tensor::<Flex>(&dev).cast(dtype);
    let (x, y) = (tensor(&p.x), tensor(&p.y));
    let mut hits = Hits {
        tolerances: [1e-3, 1e-6],
        hits: [None, None],
    };
    let config = CronosConfig::new()
        .with_neurons(p.neurons)
        .with_beta(p.beta)
        .with_filter_patterns(false)
        .with_tol(1e-6)
        .with_max_iters(100_000)
        .with_time_limit(Some(time_limit))
        .with_seed(1);
    let solver = config.solver().with_observer(|r: &IterationRecord| {
        hits.observe(r);
        ControlFlow::Continue(())
    });
    let sol = match &p.gates {
        Some(g) => solver.fit_with_gates(x.clone(), y, tensor(g)),
        None => solver.fit(x.clone(), y),
    }
    .expect("solve");
    let r = &sol.report;

    // A plain product of X with P c columns, the shape of the products inside an iteration.
    let [n, d] = x.dims();
    let cols = r.patterns * r.outputs;
    let z = Tensor::<Flex, 2>::ones([d, cols], &dev).cast(dtype);
    let mm = median_secs(9, || {
        let _ = x.clone().matmul(z.clone()).into_data();
    });
    let gflops = 2.0 * (n * d * cols) as f64 / mm / 1e9;
    let cell = |hit: Option<(usize, f64)>| {
        hit.map_or("- | -".to_string(), |(i, s)| format!("{i} | {s:.2}"))
    };
    let (true_gap, clarabel, ratio) = match p.reference {
        Some((optimum, clarabel)) => (
            format!("{:.1e}", (r.objective - optimum) / optimum),
            format!("{clarabel:.2}"),
            hits.hits[1].map_or("-".into(), |(_, s)| format!("{:.0}x", clarabel / s)),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    println!(
        "| {} | {} | {:?} | {:.2} | {} | {} | {:.1e} | {true_gap} | {:.1e} | {:?} | {} | {:.2} | {gflops:.1} | {clarabel} | {ratio} |",
        p.name,
        if dtype == DType::F64 { "f64" } else { "f32" },
        r.u_step,
        r.setup_seconds,
        cell(hits.hits[0]),
        cell(hits.hits[1]),
        r.rel_gap,
        r.rel_constraint_violation,
        r.status,
        r.iterations,
        r.seconds,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    // Other arguments select problems by a part of their name (cargo adds `--bench`).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let chosen = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    println!(
        "flex, {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| problem | precision | u-step | set-up s | iters to 1e-3 | s to 1e-3 | iters to 1e-6 | s to 1e-6 | certified gap | true gap | rel. violation | status | iters | s | X-product GFLOP/s | Clarabel s | speed-up at 1e-6 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let names = [
        "bench_binary_pca50",
        "bench_binary_pca100",
        "bench_tshirt_shirt_pca64",
        "bench_multi10_pca50",
        "bench_binary_raw784",
    ];
    for (i, name) in names.iter().enumerate().filter(|(_, n)| chosen(n)) {
        let p = fixture(name);
        bench(&p, DType::F64, 60.0);
        if i == 0 {
            bench(&p, DType::F32, 60.0);
        }
    }
    if full && chosen("FMNIST") {
        let system = Path::new(DEBIAN_FASHION_MNIST_DIR);
        if system.exists() {
            let (train, _) = fashion_mnist(system).expect("system Fashion-MNIST");
            bench(&pixels(&train, &[2, 8], "FMNIST 2 vs 8"), DType::F32, 600.0);
        } else {
            println!("(12,000 x 784 problem skipped: {DEBIAN_FASHION_MNIST_DIR} not found)");
        }
        let (train, _) = fashion_mnist_embedded().expect("embedded Fashion-MNIST");
        let all: Vec<usize> = (0..10).collect();
        bench(
            &pixels(&train, &all, "embedded FMNIST, 10 classes"),
            DType::F32,
            600.0,
        );
    }
}
