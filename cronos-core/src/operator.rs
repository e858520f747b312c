//! The linear operators of the convex program, applied matrix-free.
//!
//! A point of the program is stored as one `d x (B c)` tensor `U`: column `b c + k` is the group
//! vector of block `b` for output `k`. For the ReLU program there are `B = 2P` blocks, `v_1..v_P` then
//! `w_1..w_P`; for the gated program `B = P` blocks `u_1..u_P`. F only sees the differences
//! `Z = V - W` (`d x P c`; `Z = U` for gated):
//!
//! * `F U`  = sum_i D_i (X Z)_i, `n x c`;
//! * `G U`  = (2 D_b - I) (X U)_b, `n x B c` (ReLU only: the cone constraints are `G U >= 0`);
//! * `A U`  = U + F^T F U / rho + G^T G U, the matrix of the ADMM u-step.
//!
//! G is scaled by 1 / sigma, sigma the root-mean-square row norm of X: the cone G u >= 0 is the same
//! set, but the constraint u = v (in weight units) and G u = s (in prediction units) then enter ADMM
//! with comparable scales, so one penalty rho suits both.
//!
//! Since (2 D_b - I)^2 = I, `G^T G U = X^T X U / sigma^2`: with the `d x d` Gram matrix formed once
//! (when d <= n, so it is no larger than X) the G-part of `A U` costs no product with X, and the
//! F-part costs two products with P c columns (`X Z` and `X^T (D F U)`), half of what products
//! with all 2 P c columns of U would. Neither F, G nor A is ever formed.

use crate::host;
use crate::reduce;
use crate::rows::Rows;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// F, G and A for fixed data and patterns.
#[derive(Debug, Clone)]
pub struct ConvexOperator<B: Backend> {
    x: Tensor<B, 2>,
    xt: Tensor<B, 2>,
    /// D_i as `n x P`.
    mask: Tensor<B, 2>,
    /// 2 D_b - I as `n x B` (ReLU program only).
    cone: Option<Tensor<B, 2>>,
    /// X^T X / sigma^2 (`d x d`), ReLU program with d <= n only.
    cone_gram: Option<Tensor<B, 2>>,
    /// sigma_b as `1 x B`: the sign of block b's second-layer weight.
    sigma: Tensor<B, 2>,
    /// 1 / (root-mean-square row norm of X): the scale of G.
    cone_scale: f64,
    formulation: Formulation,
    /// The per-block masks spread over the solve's outputs, formed once ([`Self::with_outputs`]).
    spread: Option<Spread<B>>,
    /// Where the rows are: every product with X^T and every sum over rows goes through it.
    rows: Rows<B>,
    /// Samples over every peer (n unsharded).
    total_rows: usize,
}

/// `mask`, `cone` and `sigma` of a [`ConvexOperator`] with each column repeated for `outputs`
/// outputs ([`spread`]): every product of an iteration multiplies by them, and repeating them each
/// time took a third of a ten-output solve's time in copies.
#[derive(Debug, Clone)]
struct Spread<B: Backend> {
    outputs: usize,
    mask: Tensor<B, 2>,
    cone: Option<Tensor<B, 2>>,
    sigma: Tensor<B, 2>,
}

impl<B: Backend> ConvexOperator<B> {
    /// Builds the operators for data `x` (`n x d`) and 0/1 patterns `mask` (`n x P`).
    pub fn new(x: Tensor<B, 2>, mask: Tensor<B, 2>, formulation: Formulation) -> Self {
        Self::on_rows(x, mask, formulation, Rows::whole())
    }

    /// The operators of a program whose rows `x` and `mask` are one block of (`rows`).
    pub(crate) fn on_rows(
        x: Tensor<B, 2>,
        mask: Tensor<B, 2>,
        formulation: Formulation,
        rows: Rows<B>,
    ) -> Self {
        let [_, p] = mask.dims();
        let cone = (formulation == Formulation::Relu).then(|| {
            let e = mask.clone() * 2.0 - 1.0;
            Tensor::cat(vec![e.clone(), e], 1)
        });
        let blocks = if cone.is_some() { 2 * p } else { p };
        let signs = (0..blocks).map(|b| if b < p { 1.0 } else { -1.0 });
        let sigma = host::upload(signs.collect(), [1, blocks], &x);
        let [local, d] = x.dims();
        let n = rows.total(local, &x);
        let rms = (host::scalar(rows.sum(reduce::sum_squares(x.clone()))) / n as f64).sqrt();
        let cone_scale = if rms > 0.0 { 1.0 / rms } else { 1.0 };
        // A contiguous copy of X^T: products with a transposed view run at half speed on CPU backends.
        let xt = Tensor::from_data(x.clone().transpose().into_data(), (&x.device(), x.dtype()));
        let cone_gram = (cone.is_some() && d <= n)
            .then(|| rows.sum(xt.clone().matmul(x.clone())) * cone_scale.powi(2));
        Self {
            sigma,
            cone_scale,
            cone_gram,
            xt,
            x,
            mask,
            cone,
            formulation,
            spread: None,
            rows,
            total_rows: n,
        }
    }

    /// The operators for points with `c` outputs: the per-block masks are spread over the outputs
    /// once here instead of in every product (products for another output count still work).
    pub fn with_outputs(mut self, c: usize) -> Self {
        self.spread = (c > 1).then(|| Spread {
            outputs: c,
            mask: spread(self.mask.clone(), c),
            cone: self.cone.clone().map(|e| spread(e, c)),
            sigma: spread(self.sigma.clone(), c),
        });
        self
    }

    /// `m`, one of the per-block matrices, spread over `c` outputs: the copy that
    /// [`Self::with_outputs`] formed (`formed` picks it) when it was formed for `c`, else spread now.
    fn spread_over(
        &self,
        m: &Tensor<B, 2>,
        c: usize,
        formed: impl Fn(&Spread<B>) -> Option<&Tensor<B, 2>>,
    ) -> Tensor<B, 2> {
        match self
            .spread
            .as_ref()
            .filter(|s| s.outputs == c)
            .and_then(formed)
        {
            Some(t) => t.clone(),
            None => spread(m.clone(), c),
        }
    }

    /// Where the rows are.
    pub(crate) fn rows(&self) -> &Rows<B> {
        &self.rows
    }

    /// Samples n (this peer's, in a sharded solve).
    pub fn n(&self) -> usize {
        self.x.dims()[0]
    }

    /// Samples over every peer of a sharded solve (n unsharded): what estimates of a solve's work
    /// count, so that every peer takes the same decisions from them.
    pub(crate) fn total_rows(&self) -> usize {
        self.total_rows
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
        self.sigma.dims()[1]
    }

    /// Which program these operators belong to.
    pub fn formulation(&self) -> Formulation {
        self.formulation
    }

    /// The data matrix X.
    pub fn x(&self) -> &Tensor<B, 2> {
        &self.x
    }

    /// The patterns D as 0/1 columns, `n x P`.
    pub fn mask(&self) -> &Tensor<B, 2> {
        &self.mask
    }

    /// X U, `n x B c`: the one product with X that F and G share.
    pub fn xu(&self, u: &Tensor<B, 2>) -> Tensor<B, 2> {
        self.x.clone().matmul(u.clone())
    }

    /// The differences Z = V - W (`rows x P c`) of the v- and w-columns of `t` (`rows x 2 P c`), for
    /// a point or its image under X; `t` itself for the gated program.
    pub fn difference(&self, t: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.formulation {
            Formulation::Relu => {
                let half = t.dims()[1] / 2;
                t.clone().narrow(1, 0, half) - t.narrow(1, half, half)
            }
            Formulation::Gated => t,
        }
    }

    /// X Z, `n x P c`: the only product with X that F needs.
    pub fn xz(&self, u: &Tensor<B, 2>) -> Tensor<B, 2> {
        self.x.clone().matmul(self.difference(u.clone()))
    }

    /// F U from X Z, `n x c`.
    pub fn f_from_xz(&self, xz: Tensor<B, 2>) -> Tensor<B, 2> {
        let c = xz.dims()[1] / self.patterns();
        sum_blocks(xz * self.spread_over(&self.mask, c, |s| Some(&s.mask)), c)
    }

    /// F U from X U, `n x c`.
    pub fn f_from_xu(&self, xu: Tensor<B, 2>) -> Tensor<B, 2> {
        self.f_from_xz(self.difference(xu))
    }

    /// X U (`n x B c`) from X Z: one product with X (V + W) instead of two for the ReLU program.
    pub fn xu_from_xz(&self, u: &Tensor<B, 2>, xz: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.formulation {
            Formulation::Relu => {
                let half = u.dims()[1] / 2;
                let x_sum = self
                    .x
                    .clone()
                    .matmul(u.clone().narrow(1, 0, half) + u.clone().narrow(1, half, half));
                Tensor::cat(
                    vec![(x_sum.clone() + xz.clone()) / 2.0, (x_sum - xz) / 2.0],
                    1,
                )
            }
            Formulation::Gated => xz,
        }
    }

    /// X^T D R for residuals `r` (`n x c`): the v-part of F^T R, `d x P c`.
    fn ft_half(&self, r: Tensor<B, 2>) -> Tensor<B, 2> {
        let c = r.dims()[1];
        let mask = self.spread_over(&self.mask, c, |s| Some(&s.mask));
        let weighted = mask * r.repeat_dim(1, self.patterns());
        self.rows.sum(self.xt.clone().matmul(weighted))
    }

    /// F^T R for residuals `r` (`n x c`), `d x B c`.
    pub fn ft(&self, r: Tensor<B, 2>) -> Tensor<B, 2> {
        let half = self.ft_half(r);
        match self.formulation {
            Formulation::Relu => Tensor::cat(vec![half.clone(), half.neg()], 1),
            Formulation::Gated => half,
        }
    }

    /// G U from X U, `n x B c` (ReLU program only; `None` for gated).
    pub fn g_from_xu(&self, xu: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        self.times_cone(xu).map(|t| t * self.cone_scale)
    }

    /// G^T Z for `z` (`n x B c`), `d x B c` (ReLU program only).
    pub fn gt(&self, z: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        self.times_cone(z)
            .map(|t| self.rows.sum(self.xt.clone().matmul(t)) * self.cone_scale)
    }

    /// (2 D_b - I) z_b for every block of `z` (`n x B c`), unscaled; `None` for the gated program.
    fn times_cone(&self, z: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        let e = self.cone.as_ref()?;
        let c = z.dims()[1] / self.blocks();
        Some(z * self.spread_over(e, c, |s| s.cone.as_ref()))
    }

    /// A U = U + F^T F U / rho + G^T G U, returned with X Z (which PCG uses to track X z).
    pub fn apply_a(&self, u: &Tensor<B, 2>, rho: f64) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let xz = self.xz(u);
        let mut au = u.clone() + self.ft(self.f_from_xz(xz.clone()) / rho);
        if self.cone.is_some() {
            au = au + self.gram(u.clone());
        }
        (au, xz)
    }

    /// Floating-point operations of one product with A for `outputs` outputs, as implemented (over
    /// every peer's rows in a sharded solve).
    pub fn a_product_flops(&self, outputs: usize) -> f64 {
        let (n, d) = (self.total_rows as f64, self.d() as f64);
        let z_cols = (self.patterns() * outputs) as f64;
        let u_cols = (self.blocks() * outputs) as f64;
        // X Z and X^T (D F U); then G^T G U by the Gram matrix or by two more products with X.
        let f_part = 4.0 * n * d * z_cols;
        let g_part = match (&self.cone, &self.cone_gram) {
            (None, _) => 0.0,
            (Some(_), Some(_)) => 2.0 * d * d * u_cols,
            (Some(_), None) => 4.0 * n * d * u_cols,
        };
        f_part + g_part
    }

    /// Predictions of the network that `v` maps to, from X V (`n x B c`), `n x c`: sum_b sigma_b
    /// relu((X V)_b) for ReLU, F V for gated. Equal to F V exactly when the cone constraints hold.
    pub fn network_output(&self, xv: Tensor<B, 2>) -> Tensor<B, 2> {
        match self.formulation {
            Formulation::Relu => {
                let c = xv.dims()[1] / self.blocks();
                let sigma = self.spread_over(&self.sigma, c, |s| Some(&s.sigma));
                sum_blocks(relu(xv) * sigma, c)
            }
            Formulation::Gated => self.f_from_xu(xv),
        }
    }

    /// Largest violation max(0, -(2 D_b - I) (X V)_b) of any cone constraint, unscaled (0 for gated).
    pub fn max_violation(&self, xv: Tensor<B, 2>) -> f64 {
        let (_, maxima, _) = self.rows.read(vec![], vec![self.violation(xv)], vec![]);
        maxima[0]
    }

    /// [`ConvexOperator::max_violation`] over this peer's rows as a one-element tensor, to be read
    /// with other scalars as a maximum ([`Rows::read`]).
    pub(crate) fn violation(&self, xv: Tensor<B, 2>) -> Tensor<B, 1> {
        match self.times_cone(xv.clone()) {
            Some(t) => relu(t.neg()).max(),
            None => xv.sum() * 0.0,
        }
    }

    /// The scale 1 / sigma of G.
    pub(crate) fn cone_scale(&self) -> f64 {
        self.cone_scale
    }

    /// X^T X W / sigma^2 for `w` (`d x k`): the block of which G^T G holds one copy per block.
    pub fn gram(&self, w: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.cone_gram {
            Some(gram) => gram.clone().matmul(w),
            None => {
                self.rows
                    .sum(self.xt.clone().matmul(self.x.clone().matmul(w)))
                    * self.cone_scale.powi(2)
            }
        }
    }

    /// F^T F W for `w` (`N1 x k`, N1 = B d), each column one single-output point in the layout of
    /// this module reshaped to a vector. This is the per-output block of F^T F that every output shares.
    pub fn ftf(&self, w: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n1, k] = w.dims();
        let u = w.reshape([self.d(), self.blocks() * k]);
        let fu = self.f_from_xz(self.xz(&u));
        self.ft(fu).reshape([n1, k])
    }
}

/// `m` (`rows x b`) with every column repeated `c` times in place, `rows x b c`: column `i c + k` is
/// column `i` of `m`, the layout of per-block quantities next to points with `c` outputs.
///
/// Everything here stays two-dimensional: broadcasts over three-dimensional shapes run an order of
/// magnitude slower on CPU backends.
pub(crate) fn spread<B: Backend>(m: Tensor<B, 2>, c: usize) -> Tensor<B, 2> {
    if c == 1 {
        return m;
    }
    let [rows, b] = m.dims();
    m.reshape([rows * b, 1])
        .repeat_dim(1, c)
        .reshape([rows, b * c])
}

/// The sum over blocks of `t` (`rows x b c`, column `i c + k` for block `i`, output `k`), `rows x c`.
pub(crate) fn sum_blocks<B: Backend>(t: Tensor<B, 2>, c: usize) -> Tensor<B, 2> {
    if c == 1 {
        return t.sum_dim(1);
    }
    let [rows, cols] = t.dims();
    t.reshape([rows, cols / c, c]).sum_dim(1).reshape([rows, c])
}
