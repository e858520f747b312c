//! CRONOS against optima computed by an independent interior-point solver (CVXPY + Clarabel).

use burn::backend::NdArray;
use cronos_core::{CronosConfig, Formulation, Status};
use cronos_tests::Fixture;

type B = NdArray<f64>;

fn check(name: &str) {
    let fx = Fixture::load(name);
    let [x, y, gates] = fx.tensors::<B>(&Default::default());
    let formulation = if fx.gated {
        Formulation::Gated
    } else {
        Formulation::Relu
    };
    let sol = CronosConfig::new()
        .with_beta(fx.beta)
        .with_formulation(formulation)
        .with_filter_patterns(false)
        .with_tol(2e-6)
        .with_max_iters(20000)
        .solver()
        .fit_with_gates(x, y, gates)
        .unwrap();
    let r = &sol.report;
    let gap = (r.objective - fx.objective).abs() / fx.objective;
    println!(
        "{name}: objective {} vs reference {} (gap {gap:.2e}), violation {:.2e}, {} iterations, {} PCG, {:.2}s",
        r.objective, fx.objective, r.rel_constraint_violation, r.iterations, r.pcg_iterations, r.seconds
    );
    assert_eq!(r.status, Status::Converged, "{name}: {r:?}");
    assert!(gap <= 1e-4, "{name}: relative objective gap {gap:.3e}");
    assert!(
        r.rel_constraint_violation <= 1e-4,
        "{name}: violation {:.3e}",
        r.rel_constraint_violation
    );
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
