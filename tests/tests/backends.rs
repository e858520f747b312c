//! The same solver code on every CPU backend and on wgpu, in f32, against the interior-point optimum.

use burn::prelude::*;
use cronos_core::{CronosConfig, Status};
use cronos_tests::Fixture;

/// Solves `relu_binary.npz` in f32 on backend `B` and checks the result against the reference optimum.
fn solve_on<B: Backend>(device: B::Device, backend: &str) {
    let fx = Fixture::load("relu_binary.npz");
    let [x, y, gates] = fx.tensors::<B>(&device);
    let sol = CronosConfig::new()
        .with_beta(fx.beta)
        .with_filter_patterns(false)
        .with_tol(2e-5)
        .with_max_iters(5000)
        .solver()
        .fit_with_gates(x, y, gates)
        .unwrap();
    let r = &sol.report;
    let gap = (r.objective - fx.objective).abs() / fx.objective;
    println!(
        "{backend}: objective {} vs {} (gap {gap:.2e}), violation {:.2e}, {} iterations, {:.2}s",
        r.objective, fx.objective, r.rel_constraint_violation, r.iterations, r.seconds
    );
    assert_eq!(r.status, Status::Converged, "{backend}: {r:?}");
    assert!(gap <= 1e-3, "{backend}: relative objective gap {gap:.3e}");
    assert!(r.rel_constraint_violation <= 1e-3, "{backend}: {r:?}");
}

#[test]
fn flex_f32() {
    solve_on::<burn::backend::Flex>(Default::default(), "flex");
}

#[test]
fn ndarray_f32() {
    solve_on::<burn::backend::NdArray<f32>>(Default::default(), "ndarray");
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_f32() {
    solve_on::<burn::backend::Wgpu<f32>>(Default::default(), "wgpu");
}
