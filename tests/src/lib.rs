//! Shared helpers for the integration tests: reference fixtures and their problems as tensors.

use burn::prelude::*;
use cronos_core::{CronosConfig, Formulation, Status};
use cronos_datasets::npy::read_npz_matrix;
use cronos_datasets::Matrix;
use std::path::PathBuf;

/// A problem solved exactly by an interior-point solver (see `tests/fixtures/README.md`).
pub struct Fixture {
    /// File name, for messages.
    pub name: String,
    /// Data `n x d`.
    pub x: Matrix,
    /// Targets `n x c`.
    pub y: Matrix,
    /// Gate vectors `d x P`.
    pub gates: Matrix,
    /// Regularization.
    pub beta: f64,
    /// Optimal objective of the convex program.
    pub objective: f64,
    /// 0 = ReLU program, 1 = gated.
    pub gated: bool,
}

/// Path of a file in `tests/fixtures`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn scalar(name: &str, array: &str) -> f64 {
    let m = read_npz_matrix(&fixture_path(name), array).expect("fixture array");
    f64::from(m.data[0])
}

impl Fixture {
    /// Reads `tests/fixtures/<name>`.
    pub fn load(name: &str) -> Self {
        let path = fixture_path(name);
        let read = |array: &str| read_npz_matrix(&path, array).expect("fixture array");
        Self {
            name: name.to_string(),
            x: read("X"),
            y: read("Y"),
            gates: read("gates"),
            beta: scalar(name, "beta"),
            objective: scalar(name, "objective"),
            gated: scalar(name, "formulation") == 1.0,
        }
    }

    /// X, Y and the gates as tensors on `device`.
    pub fn tensors<B: Backend>(&self, device: &B::Device) -> [Tensor<B, 2>; 3] {
        [
            self.x.to_tensor(device),
            self.y.to_tensor(device),
            self.gates.to_tensor(device),
        ]
    }
}

/// Solves `tests/fixtures/<name>` on `device` to relative tolerance `tol` and checks that the solve
/// converged to the reference optimum within `accuracy` (relative objective gap and relative
/// constraint violation); prints the comparison.
pub fn check_fixture<B: Backend>(name: &str, device: &B::Device, tol: f64, accuracy: f64) {
    let fx = Fixture::load(name);
    let [x, y, gates] = fx.tensors::<B>(device);
    let formulation = if fx.gated {
        Formulation::Gated
    } else {
        Formulation::Relu
    };
    let sol = CronosConfig::new()
        .with_beta(fx.beta)
        .with_formulation(formulation)
        .with_filter_patterns(false)
        .with_tol(tol)
        .with_max_iters(20_000)
        .solver()
        .fit_with_gates(x, y, gates)
        .unwrap();
    let r = &sol.report;
    let gap = (r.objective - fx.objective).abs() / fx.objective;
    println!(
        "{name} on {}: objective {} vs reference {} (gap {gap:.2e}), violation {:.2e}, {} iterations, {} PCG, {:.2}s",
        B::name(device),
        r.objective,
        fx.objective,
        r.rel_constraint_violation,
        r.iterations,
        r.pcg_iterations,
        r.seconds
    );
    assert_eq!(r.status, Status::Optimal, "{name}: {r:?}");
    assert!(gap <= accuracy, "{name}: relative objective gap {gap:.3e}");
    assert!(
        r.rel_constraint_violation <= accuracy,
        "{name}: violation {:.3e}",
        r.rel_constraint_violation
    );
}
