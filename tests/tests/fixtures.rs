//! CRONOS against optima computed by an independent interior-point solver (CVXPY + Clarabel).

use burn::backend::NdArray;
use cronos_tests::check_fixture;

/// f64 solves to tight residual tolerances must match the reference to 1e-4.
fn check(name: &str) {
    check_fixture::<NdArray<f64>>(name, &Default::default(), 2e-6, 1e-4);
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
