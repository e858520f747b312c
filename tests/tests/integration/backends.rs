//! The same solver code on every CPU backend and on wgpu, in f32, against the interior-point optimum.
//!
//! The CPU backends solve the ReLU fixture to a certified 1e-3. wgpu (a software Vulkan device in CI, about
//! 100 ms per ADMM iteration) solves the gated fixture to its certificate and runs the first iterations of
//! the ReLU fixture, which must follow flex's iterates: a backend that computed anything differently would
//! drift apart within a few iterations.

use burn::prelude::*;
use burn::tensor::DType;
use cronos_core::{CronosConfig, SolveReport};
use cronos_tests::{check_fixture, Fixture};

const RELU: &str = "relu_binary.npz";

#[test]
fn flex_f32() {
    check_fixture::<burn::backend::Flex>(RELU, &Default::default(), DType::F32, 1e-3, 1e-3);
}

#[test]
fn ndarray_f32() {
    check_fixture::<burn::backend::NdArray>(RELU, &Default::default(), DType::F32, 1e-3, 1e-3);
}

/// `iterations` ADMM iterations on the ReLU fixture at a fixed penalty.
fn first_iterations<B: Backend>(device: &B::Device, iterations: usize) -> SolveReport {
    let fx = Fixture::load(RELU);
    let [x, y, gates] = fx.tensors::<B>(device, DType::F32);
    CronosConfig::new()
        .with_beta(fx.beta)
        .with_filter_patterns(false)
        .with_rho(Some(3e-2))
        .with_tol(1e-12)
        .with_max_iters(iterations)
        .solver()
        .fit_with_gates(x, y, gates)
        .unwrap()
        .report
}

/// Relative difference of the objective and of the violation between two reports.
fn drift(a: &SolveReport, b: &SolveReport) -> f64 {
    let objective = (a.objective - b.objective).abs() / a.objective.abs();
    let violation = (a.max_constraint_violation - b.max_constraint_violation).abs()
        / a.max_constraint_violation.max(1e-6);
    objective.max(violation)
}

#[test]
fn ndarray_follows_flex() {
    let flex = first_iterations::<burn::backend::Flex>(&Default::default(), 40);
    let ndarray = first_iterations::<burn::backend::NdArray>(&Default::default(), 40);
    assert!(drift(&flex, &ndarray) < 1e-3, "{flex:?}\n{ndarray:?}");
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use burn::backend::Wgpu;

    #[test]
    fn wgpu_solves_the_gated_fixture() {
        check_fixture::<Wgpu>(
            "gated_binary.npz",
            &Default::default(),
            DType::F32,
            1e-3,
            1e-3,
        );
    }

    #[test]
    fn wgpu_follows_flex() {
        let flex = first_iterations::<burn::backend::Flex>(&Default::default(), 40);
        let wgpu = first_iterations::<Wgpu>(&Default::default(), 40);
        println!(
            "40 iterations: flex objective {} violation {:.3e}; wgpu objective {} violation {:.3e}",
            flex.objective,
            flex.max_constraint_violation,
            wgpu.objective,
            wgpu.max_constraint_violation
        );
        assert!(drift(&flex, &wgpu) < 1e-3, "{flex:?}\n{wgpu:?}");
    }
}
