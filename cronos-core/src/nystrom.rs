//! Randomized Nystrom approximation of a positive semidefinite operator (Tropp et al. 2017, Alg. 3;
//! Frangella, Tropp & Udell 2023), in a form that survives rank-deficient sketches.
//!
//! The reference implementation takes a Cholesky factor of the shifted core matrix Omega^T Y, with a
//! shift of 1e-16 ||Y|| that vanishes in f32; on a rank-deficient sketch the factorization fails and the
//! whole solve becomes NaN. Here the core matrix is eigen-decomposed on the host in f64 and directions
//! whose eigenvalue is at rounding level are dropped, so the approximation simply has lower rank.

use crate::error::{CronosError, Result};
use crate::host;
use burn::prelude::*;
use burn::tensor::DType;
use nalgebra::{DMatrix, SymmetricEigen};

/// A low-rank approximation `U diag(lambda) U^T` with orthonormal `U` (`N x k`), lambda descending.
#[derive(Debug, Clone)]
pub struct Nystrom<B: Backend> {
    /// Orthonormal basis, `N x k`.
    pub basis: Tensor<B, 2>,
    /// Eigenvalue estimates, descending, all >= 0.
    pub eigenvalues: Vec<f64>,
}

/// Unit roundoff of the tensor's storage type.
pub fn unit_roundoff<B: Backend, const D: usize>(t: &Tensor<B, D>) -> f64 {
    match t.dtype() {
        DType::F64 => f64::EPSILON,
        _ => f32::EPSILON as f64,
    }
}

/// Eigen-decomposition of the symmetric part of `m`, sorted by descending eigenvalue.
fn sorted_eigen(m: DMatrix<f64>) -> (Vec<f64>, DMatrix<f64>) {
    let sym = (&m + m.transpose()) * 0.5;
    let eig = SymmetricEigen::new(sym);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let values = order.iter().map(|&i| eig.eigenvalues[i]).collect();
    let vectors = DMatrix::from_fn(m.nrows(), order.len(), |r, c| {
        eig.eigenvectors[(r, order[c])]
    });
    (values, vectors)
}

/// `V diag(scale)` restricted to the eigenpairs whose value exceeds `floor`, as a device tensor.
fn scaled_columns<B: Backend>(
    values: &[f64],
    vectors: &DMatrix<f64>,
    floor: f64,
    scale: impl Fn(f64) -> f64,
    like: &Tensor<B, 2>,
) -> (Tensor<B, 2>, Vec<f64>) {
    let kept: Vec<usize> = (0..values.len()).filter(|&i| values[i] > floor).collect();
    let m = DMatrix::from_fn(vectors.nrows(), kept.len(), |r, c| {
        vectors[(r, kept[c])] * scale(values[kept[c]])
    });
    (
        host::upload_matrix(&m, like),
        kept.iter().map(|&i| values[i]).collect(),
    )
}

/// Orthonormalizes the columns of `w` (`N x r`, N >= r) by two rounds of Gram-eigen orthogonalization.
fn orthonormalize<B: Backend>(mut w: Tensor<B, 2>) -> Result<Tensor<B, 2>> {
    for _ in 0..2 {
        let gram = host::to_matrix(w.clone().transpose().matmul(w.clone()));
        let (values, vectors) = sorted_eigen(gram);
        let top = values.first().copied().unwrap_or(0.0);
        let floor = top * 1e3 * unit_roundoff(&w);
        let (t, kept) = scaled_columns(&values, &vectors, floor, |l| 1.0 / l.sqrt(), &w);
        if kept.is_empty() {
            return Err(CronosError::Numerical(
                "Nystrom test matrix has rank 0".into(),
            ));
        }
        w = w.matmul(t);
    }
    Ok(w)
}

impl<B: Backend> Nystrom<B> {
    /// Approximates the PSD operator `apply` (mapping `N x r` blocks to `N x r` blocks) from the
    /// Gaussian test matrix `omega` (`N x r`). Costs one application to an `N x r` block plus O(N r^2).
    pub fn new(omega: Tensor<B, 2>, apply: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>) -> Result<Self> {
        let [n, _] = omega.dims();
        let eps = unit_roundoff(&omega);
        let omega = orthonormalize(omega)?;
        let y = apply(omega.clone());
        let y_norm = host::scalar(y.clone().square().sum()).sqrt();
        if !y_norm.is_finite() {
            return Err(CronosError::Numerical(
                "Nystrom sketch is not finite".into(),
            ));
        }
        if y_norm == 0.0 {
            return Ok(Self {
                basis: omega.slice([0..n, 0..1]),
                eigenvalues: vec![0.0],
            });
        }
        // Shift by a multiple of the unit roundoff of the working precision (not 1e-16 as in the reference).
        let shift = (n as f64).sqrt() * eps * y_norm;
        let y = y + omega.clone() * shift;
        let core = host::to_matrix(omega.transpose().matmul(y.clone()));
        let (values, vectors) = sorted_eigen(core);
        let top = values.first().copied().unwrap_or(0.0);
        let (inv_sqrt, _) =
            scaled_columns(&values, &vectors, top * 1e2 * eps, |l| 1.0 / l.sqrt(), &y);
        // A_nys = Y (Omega^T Y)^+ Y^T = B B^T with B = Y Q diag(m^-1/2); the SVD of B gives U and lambda.
        let b = y.matmul(inv_sqrt);
        let (sq_sigma, w) = sorted_eigen(host::to_matrix(b.clone().transpose().matmul(b.clone())));
        let top = sq_sigma.first().copied().unwrap_or(0.0);
        let (t, kept) = scaled_columns(&sq_sigma, &w, top * 1e2 * eps, |s| 1.0 / s.sqrt(), &b);
        let eigenvalues = kept.iter().map(|s| (s - shift).max(0.0)).collect();
        Ok(Self {
            basis: b.matmul(t),
            eigenvalues,
        })
    }

    /// Rank k of the approximation.
    pub fn rank(&self) -> usize {
        self.eigenvalues.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f64>;

    /// A PSD matrix with eigenvalues `spectrum` in a random orthonormal basis.
    fn psd(spectrum: &[f64], seed: u64) -> DMatrix<f64> {
        let n = spectrum.len();
        let g = DMatrix::from_row_slice(n, n, &crate::patterns::gaussian_gates(n, n, seed));
        let q = g.qr().q();
        &q * DMatrix::from_diagonal(&nalgebra::DVector::from_row_slice(spectrum)) * q.transpose()
    }

    fn approx(a: &DMatrix<f64>, r: usize) -> DMatrix<f64> {
        let dev = Default::default();
        let like = Tensor::<B, 2>::zeros([1, 1], &dev);
        let at = host::upload_matrix(a, &like);
        let n = a.nrows();
        let omega = host::upload(crate::patterns::gaussian_gates(n, r, 99), [n, r], &like);
        let nys = Nystrom::new(omega, |w| at.clone().matmul(w)).unwrap();
        let u = host::to_matrix(nys.basis.clone());
        let lambda = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(nys.eigenvalues.clone()));
        let ortho = (u.transpose() * &u - DMatrix::identity(u.ncols(), u.ncols())).norm();
        assert!(ortho < 1e-8, "basis not orthonormal: {ortho}");
        &u * lambda * u.transpose()
    }

    #[test]
    fn exact_for_low_rank_matrices() {
        let mut spectrum = vec![0.0; 40];
        spectrum[..5].copy_from_slice(&[10.0, 5.0, 2.0, 1.0, 0.5]);
        let a = psd(&spectrum, 1);
        let err = (approx(&a, 8) - &a).norm() / a.norm();
        assert!(err < 1e-10, "relative error {err}");
    }

    #[test]
    fn error_close_to_best_rank_k() {
        // Eigenvalues 0.7^i: the best rank-10 error is the tail beyond index 10.
        let spectrum: Vec<f64> = (0..60).map(|i| 0.7f64.powi(i)).collect();
        let a = psd(&spectrum, 2);
        let best = spectrum[10..].iter().map(|l| l * l).sum::<f64>().sqrt();
        let err = (approx(&a, 20) - &a).norm();
        // Tropp et al.: with oversampling p = 10 the expected error is within a small factor of the best.
        assert!(
            err < 2.0 * best,
            "nystrom error {err} vs best rank-10 error {best}"
        );
    }

    #[test]
    fn rank_deficient_sketch_is_finite() {
        // Rank 2 matrix sketched with rank 10, and a zero matrix: no NaN, no panic.
        let mut spectrum = vec![0.0; 30];
        spectrum[0] = 3.0;
        spectrum[1] = 1.0;
        let a = psd(&spectrum, 3);
        let err = (approx(&a, 10) - &a).norm();
        assert!(err < 1e-8, "error {err}");
        let zero = approx(&DMatrix::zeros(30, 30), 10);
        assert!(zero.iter().all(|v| v.is_finite() && *v == 0.0));
    }
}
