//! Shared helpers for the integration tests: reference fixtures and their problems as tensors.

#![deny(rustdoc::broken_intra_doc_links)]

use burn::prelude::*;
use burn::tensor::DType;
use cronos_core::{Certificate, CronosConfig, Formulation, Status};
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
    let m = read_npz_matrix::<f64>(&fixture_path(name), array).expect("fixture array");
    m.data[0]
}

impl Fixture {
    /// Reads `tests/fixtures/<name>`.
    pub fn load(name: &str) -> Self {
        let path = fixture_path(name);
        let read = |array: &str| read_npz_matrix::<f32>(&path, array).expect("fixture array");
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

    /// X, Y and the gates as tensors of `dtype` on `device`.
    pub fn tensors<B: Backend>(&self, device: &B::Device, dtype: DType) -> [Tensor<B, 2>; 3] {
        [&self.x, &self.y, &self.gates].map(|m| m.to_tensor(device).cast(dtype))
    }
}

/// The dual bound of `cert` recomputed from the fixture's data with plain loops in f64, independently of
/// the solver: per output, h_b = X^T D_i z (v-blocks), -X^T D_i z (w-blocks) plus X^T (2 D_i - I) mu_b,
/// scaled by the largest feasible t <= z^T y / ||z||^2, bound = sum t z^T y - t^2 / 2 ||z||^2.
pub fn independent_bound(fx: &Fixture, cert: &Certificate) -> f64 {
    let [n, p, c] = cert.shape;
    let d = fx.x.cols;
    let x = |j: usize, r: usize| f64::from(fx.x.data[j * d + r]);
    let pattern = |j: usize, i: usize| {
        let dot: f64 = (0..d)
            .map(|r| x(j, r) * f64::from(fx.gates.data[r * p + i]))
            .sum();
        if dot >= 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let mut bound = 0.0;
    for k in 0..c {
        let z: Vec<f64> = (0..n).map(|j| cert.z[j * c + k]).collect();
        let y: Vec<f64> = (0..n).map(|j| f64::from(fx.y.data[j * c + k])).collect();
        let mut h_max: f64 = 0.0;
        let sides: &[f64] = if cert.mu.is_some() {
            &[1.0, -1.0]
        } else {
            &[1.0]
        };
        for i in 0..p {
            for (side, sign) in sides.iter().enumerate() {
                let h: Vec<f64> = (0..d)
                    .map(|r| {
                        (0..n)
                            .map(|j| {
                                let di = pattern(j, i);
                                let mu = cert
                                    .mu
                                    .as_ref()
                                    .map_or(0.0, |m| m[(j * 2 * p + 2 * i + side) * c + k]);
                                x(j, r) * (sign * di * z[j] + (2.0 * di - 1.0) * mu)
                            })
                            .sum()
                    })
                    .collect();
                h_max = h_max.max(h.iter().map(|a| a * a).sum::<f64>().sqrt());
            }
        }
        let zy: f64 = z.iter().zip(&y).map(|(a, b)| a * b).sum();
        let zz: f64 = z.iter().map(|a| a * a).sum();
        let t_max = if h_max > 0.0 {
            cert.beta / h_max
        } else {
            f64::INFINITY
        };
        let t = if zz > 0.0 {
            (zy / zz).clamp(0.0, t_max)
        } else {
            0.0
        };
        bound += t * zy - 0.5 * t * t * zz;
    }
    bound
}

/// Solves `tests/fixtures/<name>` on `device` in `dtype` to the certified relative gap `tol` and checks the solve
/// against the reference: status optimal, objective within `accuracy` of the optimum, violation within
/// `accuracy`, and a certificate whose bound, recomputed independently, is what the report says and
/// does not exceed the reference optimum; prints the comparison.
pub fn check_fixture<B: Backend>(
    name: &str,
    device: &B::Device,
    dtype: DType,
    tol: f64,
    accuracy: f64,
) {
    let fx = Fixture::load(name);
    let [x, y, gates] = fx.tensors::<B>(device, dtype);
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
    let bound = independent_bound(&fx, &sol.certificate);
    println!(
        "{name} on {} ({dtype:?}): objective {} vs reference {} (gap {gap:.2e}), certified gap {:.2e}, bound {bound} (reported {}), violation {:.2e}, {} iterations, {:.2}s, {:?}",
        B::name(device),
        r.objective,
        fx.objective,
        r.rel_gap,
        r.lower_bound,
        r.rel_constraint_violation,
        r.iterations,
        r.seconds,
        r.u_step,
    );
    assert_eq!(r.status, Status::Optimal, "{name}: {r:?}");
    assert!(gap <= accuracy, "{name}: relative objective gap {gap:.3e}");
    assert!(
        r.rel_constraint_violation <= accuracy,
        "{name}: violation {:.3e}",
        r.rel_constraint_violation
    );
    // The reported bound is the exported pair's evaluated in f64; an f32 solve's data, patterns
    // and pair are its f32 values (on `relu_binary` its report and the recomputation differ by
    // 6e-8 to 7.5e-8 of the objective).
    let scale = fx.objective.abs();
    let agreement = if dtype == DType::F64 { 1e-9 } else { 1e-5 };
    assert!(
        (bound - r.lower_bound).abs() <= agreement * scale,
        "{name}: recomputed bound {bound} vs reported {}",
        r.lower_bound
    );
    assert!(
        bound <= fx.objective + 1e-7 * scale,
        "{name}: bound {bound} above the optimum {}",
        fx.objective
    );
}
