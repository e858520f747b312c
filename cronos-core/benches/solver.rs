//! Solver benchmark on real Fashion-MNIST problems; prints a table.
//!
//! `cargo bench -p cronos-core --bench solver` (add `-- --full` for the 12,000 x 784 problem, which
//! needs the Debian package dataset-fashion-mnist; `--reference-minutes M` bounds each reference solve,
//! 0 skips it). For each problem a reference optimum comes from a long, tight f64 run (flex with
//! f64 tensors, at most 30 minutes by default, cached under target/ once converged), then
//! f32 solves on the flex backend are timed to the first iterate within 1e-3 relative objective gap
//! and 1e-3 relative violation. Without a converged reference the optimum and gap columns show "-"
//! and the row reports the f32 solve's own objective and violation only.

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::DType;
use cronos_core::operator::ConvexOperator;
use cronos_core::patterns::Patterns;
use cronos_core::{CronosConfig, IterationRecord, Status};
use cronos_datasets::mnist::{fashion_mnist, fashion_mnist_embedded, DEBIAN_FASHION_MNIST_DIR};
use cronos_datasets::{
    Granularity, LabeledSet, Matrix, Projection, Scaler, Scaling, TargetEncoding,
};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

struct Problem {
    name: String,
    x: Matrix,
    y: Matrix,
    neurons: usize,
    beta: f64,
    /// Wall-clock limit of the timed f32 solve.
    time_limit: Option<f64>,
}

fn two_class(
    train: &LabeledSet,
    rows: Option<usize>,
    pca: Option<usize>,
    neurons: usize,
) -> Problem {
    let two = train.select_classes(&[2, 8]).expect("classes 2 and 8");
    let set = match rows {
        Some(r) if r < two.len() => {
            two.stratified_split(r as f64 / two.len() as f64, 7)
                .expect("split")
                .1
        }
        _ => two,
    };
    let mut x = set.x.clone();
    Scaler::fit(&x, Scaling::UnitRange, Granularity::Scalar)
        .and_then(|s| s.apply(&mut x))
        .expect("scale");
    if let Some(k) = pca {
        x = Projection::pca(&x, k)
            .and_then(|p| p.apply(&x))
            .expect("pca");
    }
    Problem {
        name: format!("FMNIST 2 vs 8, {} x {}, P = {neurons}", x.rows, x.cols),
        y: set.targets(TargetEncoding::Signed).expect("targets"),
        x,
        neurons,
        beta: 1e-3,
        time_limit: None,
    }
}

fn config(p: &Problem) -> CronosConfig {
    CronosConfig::new()
        .with_neurons(p.neurons)
        .with_beta(p.beta)
        .with_seed(1)
}

/// Reference optimum from a tight f64 solve of at most `minutes`, cached in target/ by problem name;
/// `None` if the solve did not converge.
fn reference(p: &Problem, minutes: f64) -> Option<f64> {
    let key = p.name.replace([' ', ',', '='], "_");
    let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(format!("bench-ref-{key}.txt"));
    if let Some(v) = std::fs::read_to_string(&cache)
        .ok()
        .and_then(|s| s.trim().parse().ok())
    {
        return Some(v);
    }
    if minutes <= 0.0 {
        return None;
    }
    let dev = Default::default();
    let f64_tensor = |m: &Matrix| m.to_tensor::<Flex>(&dev).cast(DType::F64);
    let sol = config(p)
        .with_tol(1e-7)
        .with_max_iters(30_000)
        .with_time_limit(Some(minutes * 60.0))
        .solver()
        .fit(f64_tensor(&p.x), f64_tensor(&p.y))
        .expect("reference solve");
    eprintln!("reference for {}: {:?}", p.name, sol.report);
    let v = sol.report.objective;
    if sol.report.status == Status::Converged {
        std::fs::write(&cache, format!("{v}\n")).ok();
        Some(v)
    } else {
        println!(
            "(reference for {} did not converge: {:?}, objective {v:.6}, relative violation {:.1e})",
            p.name, sol.report.status, sol.report.rel_constraint_violation
        );
        None
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

fn bench(p: &Problem, reference_minutes: f64) {
    let optimum = reference(p, reference_minutes);
    let dev = Default::default();
    let (x, y) = (p.x.to_tensor::<Flex>(&dev), p.y.to_tensor::<Flex>(&dev));
    let mut hit: Option<(usize, f64)> = None;
    let sol = config(p)
        .with_tol(1e-5)
        .with_max_iters(20_000)
        .with_time_limit(p.time_limit)
        .solver()
        .with_observer(|r: &IterationRecord| {
            let close = optimum.is_some_and(|o| (r.objective - o).abs() <= 1e-3 * o.abs());
            if hit.is_none() && close && r.rel_violation <= 1e-3 {
                hit = Some((r.iteration, r.seconds));
            }
            ControlFlow::Continue(())
        })
        .fit(x.clone(), y)
        .expect("f32 solve");
    let r = &sol.report;

    // The A-product alone, and a plain matmul of the same shape, on the same backend and data.
    let patterns = Patterns::sample(&x, p.neurons, 1, true).expect("patterns");
    let op = ConvexOperator::new(x.clone(), patterns.mask, Default::default());
    let [n, d] = x.dims();
    let cols = op.blocks();
    let u = Tensor::<Flex, 2>::ones([d, cols], &dev);
    let reps = 9;
    let a_time = median_secs(reps, || {
        let (au, _) = op.apply_a(&u, 1.0);
        let _ = au.into_data();
    });
    // A plain matmul of the shape of the products inside A: X times P columns.
    let z = u.clone().narrow(1, 0, op.patterns());
    let mm_time = median_secs(reps, || {
        let _ = x.clone().matmul(z.clone()).into_data();
    });
    let a_flops = op.a_product_flops(1);
    let mm_flops = 2.0 * (n * d * op.patterns()) as f64;
    let (to_iters, to_secs) = hit.map_or(("-".into(), "-".into()), |(i, s)| {
        (i.to_string(), format!("{s:.2}"))
    });
    let (optimum, gap) = optimum.map_or(("-".into(), "-".into()), |o| {
        (format!("{o:.6}"), format!("{:.1e}", (r.objective - o) / o))
    });
    println!(
        "| {} | {optimum} | {to_iters} | {to_secs} | {:.6} | {gap} | {:.1e} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
        p.name,
        r.objective,
        r.rel_constraint_violation,
        r.iterations,
        r.a_products,
        r.seconds,
        a_time * 1e3,
        a_flops / a_time / 1e9,
        mm_flops / mm_time / 1e9,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--full");
    let reference_minutes = args
        .iter()
        .position(|a| a == "--reference-minutes")
        .map(
            |i| match args.get(i + 1).and_then(|m| m.parse::<f64>().ok()) {
                Some(m) => m,
                None => {
                    eprintln!("error: --reference-minutes expects a number of minutes");
                    std::process::exit(2);
                }
            },
        )
        .unwrap_or(30.0);
    let system = Path::new(DEBIAN_FASHION_MNIST_DIR);
    let (train, _) = if system.exists() {
        fashion_mnist(system).expect("system Fashion-MNIST")
    } else {
        fashion_mnist_embedded().expect("embedded Fashion-MNIST")
    };
    println!(
        "flex f32, {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| problem | optimum (f64) | iters to 1e-3 | s to 1e-3 | final objective | final gap | final rel. violation | iters | A-products | s | ms / A-product | A GFLOP/s | matmul GFLOP/s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    bench(
        &two_class(&train, Some(500), Some(50), 8),
        reference_minutes,
    );
    if full {
        if system.exists() {
            // The f32 solve stops after 10 minutes: reaching 1e-5 takes far longer at this size.
            let mut problem = two_class(&train, None, None, 16);
            problem.time_limit = Some(600.0);
            bench(&problem, reference_minutes);
        } else {
            println!("(full problem skipped: {DEBIAN_FASHION_MNIST_DIR} not found)");
        }
    }
}
