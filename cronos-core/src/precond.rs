//! The Nystrom preconditioner of the ADMM u-step matrix A = I + F^T F / rho + I (x) X^T X.
//!
//! A single Nystrom sketch of all of A - I (as the reference does) needs a rank of at least 2P times the
//! number of large eigenvalues of X^T X, because G^T G repeats X^T X once per block. Instead the two terms
//! are sketched separately, once per solve, independent of rho:
//!
//! * X^T X (`d x d`) ~ V diag(mu) V^T, lifted to every block: Q = I + I (x) V diag(mu) V^T, whose
//!   inverse is explicit (ReLU program only; the gated program has no G);
//! * F^T F (`B d x B d`, shared by all outputs) ~ W0 diag(lambda) W0^T.
//!
//! The preconditioner P = Q + W W^T with W = W0 diag(sqrt(lambda / rho)) is inverted by the Woodbury
//! identity, P^-1 = Q^-1 - Q^-1 W (I + W^T Q^-1 W)^-1 W^T Q^-1. When rho changes only the small core
//! (`k x k`, factored on the host in f64) and Q^-1 W are recomputed.

use crate::error::{CronosError, Result};
use crate::host;
use crate::nystrom::Nystrom;
use burn::prelude::*;
use nalgebra::DMatrix;

/// The inverse of I + I (x) V diag(mu) V^T, applied column-block-wise.
#[derive(Debug, Clone)]
struct LiftedGram<B: Backend> {
    basis: Tensor<B, 2>,
    /// mu / (1 + mu) as a `k x 1` column.
    weights: Tensor<B, 2>,
}

impl<B: Backend> LiftedGram<B> {
    /// Q^-1 Y for `y` (`d x m`, any number of columns).
    fn solve(&self, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let coeff = self.basis.clone().transpose().matmul(y.clone()) * self.weights.clone();
        y - self.basis.clone().matmul(coeff)
    }
}

/// Sketches of X^T X and F^T F, kept so the preconditioner can be rebuilt for any rho.
#[derive(Debug, Clone)]
pub struct Sketches<B: Backend> {
    gram: Option<Nystrom<B>>,
    ftf: Nystrom<B>,
    d: usize,
}

impl<B: Backend> Sketches<B> {
    /// Wraps the two approximations; `gram` is `None` for the gated program.
    pub fn new(gram: Option<Nystrom<B>>, ftf: Nystrom<B>, d: usize) -> Self {
        Self { gram, ftf, d }
    }

    /// The preconditioner for penalty `rho`.
    pub fn preconditioner(&self, rho: f64) -> Result<Preconditioner<B>> {
        let gram = self.gram.as_ref().map(|g| {
            let w: Vec<f64> = g.eigenvalues.iter().map(|m| m / (1.0 + m)).collect();
            LiftedGram {
                weights: host::upload(w, [g.rank(), 1], &g.basis),
                basis: g.basis.clone(),
            }
        });
        let f = &self.ftf;
        let [n1, k] = f.basis.dims();
        let blocks = n1 / self.d;
        let scale: Vec<f64> = f.eigenvalues.iter().map(|l| (l / rho).sqrt()).collect();
        let w = f.basis.clone() * host::upload(scale, [1, k], &f.basis);
        let qinv_w = match &gram {
            Some(g) => g
                .solve(w.clone().reshape([self.d, blocks * k]))
                .reshape([n1, k]),
            None => w.clone(),
        };
        let core = DMatrix::identity(k, k) + host::to_matrix(w.transpose().matmul(qinv_w.clone()));
        let chol = core.clone().cholesky().ok_or_else(|| {
            CronosError::Numerical(format!(
                "preconditioner core ({k} x {k}) is not positive definite"
            ))
        })?;
        Ok(Preconditioner {
            gram,
            core_inv: host::upload_matrix(&chol.inverse(), &qinv_w),
            qinv_w,
            d: self.d,
        })
    }
}

/// P^-1 for one value of rho.
#[derive(Debug, Clone)]
pub struct Preconditioner<B: Backend> {
    gram: Option<LiftedGram<B>>,
    qinv_w: Tensor<B, 2>,
    core_inv: Tensor<B, 2>,
    d: usize,
}

impl<B: Backend> Preconditioner<B> {
    /// P^-1 R for a point `r` (`d x B c`).
    pub fn apply(&self, r: Tensor<B, 2>) -> Tensor<B, 2> {
        let [d, cols] = r.dims();
        let n1 = self.qinv_w.dims()[0];
        let c = cols * d / n1;
        let flat = r.clone().reshape([n1, c]);
        let qinv_r = match &self.gram {
            Some(g) => g.solve(r),
            None => r,
        };
        let coeff = self
            .core_inv
            .clone()
            .matmul(self.qinv_w.clone().transpose().matmul(flat));
        qinv_r - self.qinv_w.clone().matmul(coeff).reshape([self.d, cols])
    }
}
