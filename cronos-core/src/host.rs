//! Moving small tensors between the device and the host, where r x r factorizations run in f64.

use burn::prelude::*;
use burn::tensor::{Element, TensorData};
use nalgebra::DMatrix;

/// Reads any float tensor back as f64 values, whatever its storage dtype.
pub fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// Reads a scalar-valued tensor (any rank, one element) as f64.
pub fn scalar<B: Backend, const D: usize>(t: Tensor<B, D>) -> f64 {
    to_vec(t).first().copied().unwrap_or(f64::NAN)
}

/// Copies a 2-D tensor into a host matrix.
pub fn to_matrix<B: Backend>(t: Tensor<B, 2>) -> DMatrix<f64> {
    let [rows, cols] = t.dims();
    DMatrix::from_row_slice(rows, cols, &to_vec(t))
}

/// Uploads host values as a tensor with the dtype and device of `like`.
pub fn upload<B: Backend, E: Element, const D: usize>(
    values: Vec<E>,
    shape: [usize; D],
    like: &Tensor<B, 2>,
) -> Tensor<B, D> {
    Tensor::from_data(
        TensorData::new(values, shape),
        (&like.device(), like.dtype()),
    )
}

/// Uploads a host matrix as a tensor with the dtype and device of `like`.
pub fn upload_matrix<B: Backend>(m: &DMatrix<f64>, like: &Tensor<B, 2>) -> Tensor<B, 2> {
    let values = m.transpose().as_slice().to_vec(); // column-major -> row-major
    upload(values, [m.nrows(), m.ncols()], like)
}

/// Copies a 2-D tensor into a faer matrix in f64, for factorizations on the host.
pub fn to_faer<B: Backend>(t: Tensor<B, 2>) -> faer::Mat<f64> {
    let [rows, cols] = t.dims();
    let values = to_vec(t);
    faer::Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
}

/// Uploads a faer matrix (f64 or f32) as a tensor with the dtype and device of `like`.
pub fn upload_faer<B: Backend, E: Element>(m: &faer::Mat<E>, like: &Tensor<B, 2>) -> Tensor<B, 2> {
    upload(row_major(m), [m.nrows(), m.ncols()], like)
}

/// The entries of a faer matrix, row by row.
pub fn row_major<E: Copy>(m: &faer::Mat<E>) -> Vec<E> {
    let (rows, cols) = (m.nrows(), m.ncols());
    let mut values = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        values.extend((0..cols).map(|j| m[(i, j)]));
    }
    values
}
