//! The same solver code on every CPU backend and on wgpu, in f32, against the interior-point optimum:
//! solves to a 2e-5 residual tolerance must match the reference to 1e-3.

use cronos_tests::check_fixture;

const FIXTURE: &str = "relu_binary.npz";

#[test]
fn flex_f32() {
    check_fixture::<burn::backend::Flex>(FIXTURE, &Default::default(), 1e-3, 1e-3);
}

#[test]
fn ndarray_f32() {
    check_fixture::<burn::backend::NdArray<f32>>(FIXTURE, &Default::default(), 1e-3, 1e-3);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_f32() {
    check_fixture::<burn::backend::Wgpu<f32>>(FIXTURE, &Default::default(), 1e-3, 1e-3);
}
