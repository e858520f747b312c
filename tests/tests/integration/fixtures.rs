//! CRONOS against optima computed by an independent interior-point solver (CVXPY + Clarabel), in f64
//! on the NdArray backend, whose tensors carry their float type at run time (as `--device ndarray
//! --precision f64` runs).

use burn::backend::NdArray;
use burn::tensor::DType;
use cronos_core::{CronosConfig, Status};
use cronos_tests::{check_fixture, Fixture};

/// f64 solves to tight residual tolerances must match the reference to 1e-4.
fn check(name: &str) {
    check_fixture::<NdArray>(name, &Default::default(), DType::F64, 1e-4, 1e-4);
}

#[test]
fn relu_binary() {
    check("relu_binary.npz");
}

#[test]
fn relu_binary_small_beta() {
    check("relu_binary_small_beta.npz");
}

#[test]
fn relu_binary_sparse() {
    check("relu_binary_sparse.npz");
}

#[test]
fn relu_multi_output() {
    check("relu_multi.npz");
}

#[test]
fn gated_binary() {
    check("gated_binary.npz");
}

#[test]
fn relu_tiny_degenerate() {
    check("relu_tiny.npz");
}

/// Few rows of many features (1,000 x 784 raw pixels, four patterns: the benchmark's problem), whose
/// polish solves its steps through the capacitance matrix instead of a dense factorization: the
/// solve reaches the reference to 1e-6 within 300 iterations, which ADMM alone does not (with a
/// wrong capacitance solve it took 744 iterations to reach 1e-4).
#[test]
fn raw_pixels_polished_through_the_capacitance_matrix() {
    let fx = Fixture::load("bench_binary_raw784.npz");
    let [x, y, gates] = fx.tensors::<NdArray>(&Default::default(), DType::F64);
    let report = tight(fx.beta)
        .with_tol(1e-6)
        .with_max_iters(300)
        .solver()
        .fit_with_gates(x, y, gates)
        .unwrap()
        .report;
    let gap = (report.objective - fx.objective).abs() / fx.objective;
    println!("{} iterations, gap {gap:.2e}", report.iterations);
    assert_eq!(report.status, Status::Optimal, "{report:?}");
    assert!(gap <= 1e-6, "relative objective gap {gap:.3e}");
}

/// A solve on the fixture's own gates (unfiltered) to a tolerance tight enough for a 1e-4 comparison
/// with the reference.
fn tight(beta: f64) -> CronosConfig {
    CronosConfig::new()
        .with_beta(beta)
        .with_filter_patterns(false)
        .with_tol(2e-6)
}

/// A solve cut off by its iteration limit and then resumed reaches the reference optimum, and the
/// resumed part continues the iteration instead of starting over: it needs fewer iterations than an
/// uninterrupted solve, and both parts together about as many.
#[test]
fn resumed_solve_reaches_the_reference() {
    let fx = Fixture::load("relu_binary.npz");
    let [x, y, gates] = fx.tensors::<NdArray>(&Default::default(), DType::F64);
    let config = |iters| tight(fx.beta).with_max_iters(iters);
    let solve = |iters| {
        config(iters)
            .solver()
            .fit_with_gates(x.clone(), y.clone(), gates.clone())
            .unwrap()
    };
    let whole = solve(20_000).report;
    // Cut off before it is certified: at half its iterations, or earlier where the last check of
    // the shorter solve (whose polish may land on the optimal patterns) already certifies it.
    let first = std::iter::successors(Some(whole.iterations / 2), |&n| {
        (n / 2 >= 10).then_some(n / 2)
    })
    .map(solve)
    .find(|s| s.report.status == Status::MaxIterations)
    .expect("a solve cut off before its certificate");
    let rest = config(20_000)
        .solver()
        .resume(x.clone(), y.clone(), first.warm_start())
        .unwrap()
        .report;
    let gap = (rest.objective - fx.objective).abs() / fx.objective;
    let parts = first.report.iterations + rest.iterations;
    println!(
        "uninterrupted {} iterations; cut at {} and resumed for {} (gap {gap:.2e}, violation {:.2e})",
        whole.iterations, first.report.iterations, rest.iterations, rest.rel_constraint_violation
    );
    assert_eq!(rest.status, Status::Optimal, "{rest:?}");
    assert!(gap <= 1e-4, "relative objective gap {gap:.3e}");
    assert!(rest.rel_constraint_violation <= 1e-4, "{rest:?}");
    assert!(
        rest.iterations < whole.iterations,
        "resumed solve started over"
    );
    assert!(
        parts <= whole.iterations * 3 / 2 + 20,
        "{parts} iterations in two parts vs {} in one",
        whole.iterations
    );
}

/// One step of a regularization path: a solve at the fixture's beta continued from the solution at
/// three times that beta (solved loosely) reaches the reference optimum, at no more than twice the
/// iterations of a solve from zero. (With the interior-point polish the cold solve takes 181
/// iterations here and the continued one 20; a derailed warm start, e.g. with multipliers in the
/// wrong units, would cost many times more.)
#[test]
fn solve_continued_from_a_larger_beta_reaches_the_reference() {
    let fx = Fixture::load("relu_binary.npz");
    let [x, y, gates] = fx.tensors::<NdArray>(&Default::default(), DType::F64);
    let config = |beta| tight(beta).with_max_iters(20_000);
    let cold = config(fx.beta)
        .solver()
        .fit_with_gates(x.clone(), y.clone(), gates.clone())
        .unwrap()
        .report;
    // A path's earlier solves need not be tight to help the next one.
    let larger = config(3.0 * fx.beta)
        .with_tol(1e-3)
        .solver()
        .fit_with_gates(x.clone(), y.clone(), gates)
        .unwrap();
    let warm = config(fx.beta)
        .solver()
        .resume(x, y, larger.warm_start())
        .unwrap()
        .report;
    let gap = (warm.objective - fx.objective).abs() / fx.objective;
    println!(
        "from zero {} iterations; from beta x 3 ({} iterations there) {} (gap {gap:.2e})",
        cold.iterations, larger.report.iterations, warm.iterations
    );
    assert_eq!(warm.status, Status::Optimal, "{warm:?}");
    assert!(gap <= 1e-4, "relative objective gap {gap:.3e}");
    assert!(warm.rel_constraint_violation <= 1e-4, "{warm:?}");
    assert!(warm.iterations <= 2 * cold.iterations, "{warm:?}");
}

/// The zero-solution beta of the fixture, max over gates i and outputs k of ||X^T (D_i y_k)|| with
/// D_i = 1[X g_i >= 0], computed from the fixture's arrays alone.
fn zero_solution_beta(fx: &Fixture) -> f64 {
    let (n, d, p, c) = (fx.x.rows, fx.x.cols, fx.gates.cols, fx.y.cols);
    let x = |j: usize, r: usize| f64::from(fx.x.data[j * d + r]);
    let mut largest = 0.0_f64;
    for i in 0..p {
        let active: Vec<bool> = (0..n)
            .map(|j| {
                (0..d)
                    .map(|r| x(j, r) * f64::from(fx.gates.data[r * p + i]))
                    .sum::<f64>()
                    >= 0.0
            })
            .collect();
        for k in 0..c {
            let norm = (0..d)
                .map(|r| {
                    (0..n)
                        .filter(|&j| active[j])
                        .map(|j| x(j, r) * f64::from(fx.y.data[j * c + k]))
                        .sum::<f64>()
                        .powi(2)
                })
                .sum::<f64>()
                .sqrt();
            largest = largest.max(norm);
        }
    }
    largest
}

/// A short solve (30 iterations, no race) at a beta of 3 % of the zero-solution beta leaves zero:
/// at the former fixed rho of 3e-2 the shrinkage beta / rho held every group at zero for all its
/// iterations and it returned the zero network, at the rho the solver now picks it returns a network
/// whose objective is within 10 % of its certified bound (of either sign: after 30 iterations the
/// point still violates its cone constraints a little).
#[test]
fn a_short_solve_at_a_large_beta_leaves_zero() {
    let fx = Fixture::load("bench_binary_raw784.npz");
    let [x, y, gates] = fx.tensors::<NdArray>(&Default::default(), DType::F64);
    let short = CronosConfig::new()
        .with_beta(0.03 * zero_solution_beta(&fx))
        .with_filter_patterns(false)
        .with_max_iters(30);
    let zero_objective = 0.5 * fx.y.data.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let solve = |config: CronosConfig| {
        let report = config
            .solver()
            .fit_with_gates(x.clone(), y.clone(), gates.clone())
            .unwrap()
            .report;
        println!(
            "rho {:.2e}: objective {:.2} (zero network {zero_objective}), certified gap {:.3}, \
             {} active neurons",
            report.rho, report.objective, report.rel_gap, report.active_neurons
        );
        report
    };
    let fixed = solve(short.clone().with_rho(Some(3e-2)));
    assert_eq!(fixed.active_neurons, 0);
    let chosen = solve(short);
    assert!(chosen.rho > 3e-2);
    assert!(chosen.active_neurons > 0);
    assert!(chosen.objective < 0.9 * zero_objective);
    assert!(chosen.rel_gap.abs() < 0.1, "{}", chosen.rel_gap);
}

/// The opening race of rho stops at the first candidate past the best: on this fixture, where 1e-3
/// wins (certified gaps after 20 iterations of 0.92, 0.15, 0.63, 0.91, 0.98 and 1.00 for 1e-4 .. 10,
/// `cargo bench -p cronos-core --bench rho -- --chosen`), it runs 1e-4, 1e-3 and 1e-2 only (40
/// iterations besides the winner's, where all six took 100), and continues 1e-3's run.
#[test]
fn the_rho_race_stops_past_its_best_candidate() {
    let fx = Fixture::load("relu_binary.npz");
    let [x, y, gates] = fx.tensors::<NdArray>(&Default::default(), DType::F64);
    let config = CronosConfig::new().with_beta(fx.beta).with_tol(1e-6);
    let solve = |config: CronosConfig| {
        config
            .solver()
            .fit_with_gates(x.clone(), y.clone(), gates.clone())
            .unwrap()
    };
    let raced = solve(config.clone());
    let fixed = solve(config.with_rho(Some(1e-3)));
    assert_eq!(raced.report.status, Status::Optimal);
    assert_eq!(raced.report.sweep_iterations, 40, "{:?}", raced.report);
    // The winner's 20 race iterations are those of the solve at 1e-3 (the checks, scheduled from the
    // iterations each has run, then fall at other iterations).
    assert!(raced.history.len() >= 20 && fixed.history.len() >= 20);
    for (r, f) in raced.history.iter().zip(&fixed.history).take(20) {
        assert_eq!(
            (r.iteration, r.rho, r.objective),
            (f.iteration, 1e-3, f.objective)
        );
    }
}
