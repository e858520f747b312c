//! The linear operators of the convex program, applied matrix-free.
//!
//! A point of the program is stored as one `d x (B c)` tensor `U`: column `b c + k` is the group
//! vector of block `b` for output `k`. For the ReLU program there are `B = 2P` blocks, `v_1..v_P` then
//! `w_1..w_P`; for the gated program `B = P` blocks `u_1..u_P`. With `XU = X U` (`n x B c`):
//!
//! * `F U`  = sum_b sigma_b D_b (X U)_b, `n x c` (sigma = +1 for v, -1 for w);
//! * `G U`  = (2 D_b - I) (X U)_b, `n x B c` (ReLU only: the cone constraints are `G U >= 0`);
//! * `A U`  = U + F^T F U / rho + G^T G U, the matrix of the ADMM u-step.
//!
//! G is scaled by 1 / sigma, sigma the root-mean-square row norm of X: the cone G u >= 0 is the same
//! set, but the constraint u = v (in weight units) and G u = s (in prediction units) then enter ADMM
//! with comparable scales, so one penalty rho suits both.
//!
//! Since (2 D_b - I)^2 = I, `G^T G U = X^T X U / sigma^2`, so `A U = U + X^T (S * F U / rho + X U /
//! sigma^2)` costs two products with X, shared by F and G. Neither F, G nor A is ever formed.

use crate::host;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// F, G and A for fixed data and patterns.
#[derive(Debug, Clone)]
pub struct ConvexOperator<B: Backend> {
    x: Tensor<B, 2>,
    xt: Tensor<B, 2>,
    /// D_i as `n x P x 1`.
    mask: Tensor<B, 3>,
    /// sigma_b D_b as `n x B x 1`.
    signed: Tensor<B, 3>,
    /// 2 D_b - I as `n x B x 1` (ReLU program only).
    cone: Option<Tensor<B, 3>>,
    /// sigma_b as `1 x B x 1`: the sign of block b's second-layer weight.
    sigma: Tensor<B, 3>,
    /// 1 / (root-mean-square row norm of X): the scale of G.
    cone_scale: f64,
    formulation: Formulation,
}

impl<B: Backend> ConvexOperator<B> {
    /// Builds the operators for data `x` (`n x d`) and 0/1 patterns `mask` (`n x P`).
    pub fn new(x: Tensor<B, 2>, mask: Tensor<B, 2>, formulation: Formulation) -> Self {
        let [n, p] = mask.dims();
        let mask = mask.reshape([n, p, 1]);
        let (signed, cone) = match formulation {
            Formulation::Relu => {
                let e = mask.clone() * 2.0 - 1.0;
                (
                    Tensor::cat(vec![mask.clone(), mask.clone().neg()], 1),
                    Some(Tensor::cat(vec![e.clone(), e], 1)),
                )
            }
            Formulation::Gated => (mask.clone(), None),
        };
        let p = p as i64;
        let signs = (0..signed.dims()[1] as i64).map(|b| if b < p { 1.0 } else { -1.0 });
        let sigma = host::upload(signs.collect(), [1, signed.dims()[1], 1], &x);
        let [rows, _] = x.dims();
        let rms = (host::scalar(x.clone().square().sum()) / rows as f64).sqrt();
        Self {
            sigma,
            cone_scale: if rms > 0.0 { 1.0 / rms } else { 1.0 },
            xt: x.clone().transpose(),
            x,
            mask,
            signed,
            cone,
            formulation,
        }
    }

    /// Samples n.
    pub fn n(&self) -> usize {
        self.x.dims()[0]
    }

    /// Features d.
    pub fn d(&self) -> usize {
        self.x.dims()[1]
    }

    /// Patterns P.
    pub fn patterns(&self) -> usize {
        self.mask.dims()[1]
    }

    /// Blocks B per output: 2P for ReLU, P for gated.
    pub fn blocks(&self) -> usize {
        self.signed.dims()[1]
    }

    /// Which program these operators belong to.
    pub fn formulation(&self) -> Formulation {
        self.formulation
    }

    /// The data matrix X.
    pub fn x(&self) -> &Tensor<B, 2> {
        &self.x
    }

    /// Number of outputs of a point `u` (`d x B c`).
    pub fn outputs(&self, u: &Tensor<B, 2>) -> usize {
        u.dims()[1] / self.blocks()
    }

    /// X U, `n x B c`: the one product with X that F and G share.
    pub fn xu(&self, u: &Tensor<B, 2>) -> Tensor<B, 2> {
        self.x.clone().matmul(u.clone())
    }

    /// F U from X U, `n x c`.
    pub fn f_from_xu(&self, xu: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, cols] = xu.dims();
        let c = cols / self.blocks();
        (xu.reshape([n, self.blocks(), c]) * self.signed.clone())
            .sum_dim(1)
            .reshape([n, c])
    }

    /// F^T R for residuals `r` (`n x c`), `d x B c`.
    pub fn ft(&self, r: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, c] = r.dims();
        let p = self.patterns();
        let weighted = (self.mask.clone() * r.reshape([n, 1, c])).reshape([n, p * c]);
        let half = self.xt.clone().matmul(weighted);
        match self.formulation {
            Formulation::Relu => Tensor::cat(vec![half.clone(), half.neg()], 1),
            Formulation::Gated => half,
        }
    }

    /// G U from X U, `n x B c` (ReLU program only; `None` for gated).
    pub fn g_from_xu(&self, xu: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        self.cone
            .as_ref()
            .map(|e| self.times_cone(e, xu) * self.cone_scale)
    }

    /// G^T Z for `z` (`n x B c`), `d x B c` (ReLU program only).
    pub fn gt(&self, z: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        self.cone
            .as_ref()
            .map(|e| self.xt.clone().matmul(self.times_cone(e, z)) * self.cone_scale)
    }

    fn times_cone(&self, e: &Tensor<B, 3>, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, cols] = z.dims();
        let b = self.blocks();
        (z.reshape([n, b, cols / b]) * e.clone()).reshape([n, cols])
    }

    /// A U = U + F^T F U / rho + G^T G U, returned with X U (which PCG uses to track X u).
    pub fn apply_a(&self, u: &Tensor<B, 2>, rho: f64) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let xu = self.xu(u);
        let [n, cols] = xu.dims();
        let c = cols / self.blocks();
        let fu = self.f_from_xu(xu.clone()).reshape([n, 1, c]);
        let mut z = (self.signed.clone() * fu / rho).reshape([n, cols]);
        if self.cone.is_some() {
            z = z + xu.clone() * self.cone_scale.powi(2);
        }
        (u.clone() + self.xt.clone().matmul(z), xu)
    }

    /// Predictions of the network that `v` maps to, from X V (`n x B c`), `n x c`: sum_b sigma_b
    /// relu((X V)_b) for ReLU, F V for gated. Equal to F V exactly when the cone constraints hold.
    pub fn network_output(&self, xv: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.formulation {
            Formulation::Relu => {
                let [n, cols] = xv.dims();
                let c = cols / self.blocks();
                (relu(xv.reshape([n, self.blocks(), c])) * self.sigma.clone())
                    .sum_dim(1)
                    .reshape([n, c])
            }
            Formulation::Gated => self.f_from_xu(xv),
        }
    }

    /// Largest violation max(0, -(2 D_b - I) (X V)_b) of any cone constraint, unscaled (0 for gated).
    pub fn max_violation(&self, xv: Tensor<B, 2>) -> f64 {
        self.cone
            .as_ref()
            .map(|e| host::scalar(relu(self.times_cone(e, xv).neg()).max()))
            .unwrap_or(0.0)
    }

    /// X^T X W / sigma^2 for `w` (`d x k`): the block of which G^T G holds one copy per block.
    pub fn gram(&self, w: Tensor<B, 2>) -> Tensor<B, 2> {
        self.xt.clone().matmul(self.x.clone().matmul(w)) * self.cone_scale.powi(2)
    }

    /// F^T F W for `w` (`N1 x k`, N1 = B d), each column one single-output point in the layout of
    /// this module reshaped to a vector. This is the per-output block of F^T F that every output shares.
    pub fn ftf(&self, w: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n1, k] = w.dims();
        let u = w.reshape([self.d(), self.blocks() * k]);
        let fu = self.f_from_xu(self.xu(&u));
        self.ft(fu).reshape([n1, k])
    }
}
