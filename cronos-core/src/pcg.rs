//! Preconditioned conjugate gradients for A U = Rhs, one independent system per output, batched.

use crate::host;
use crate::operator::ConvexOperator;
use crate::precond::Preconditioner;
use burn::prelude::*;

/// A point u of the u-step with its products A(rho) u and X z, so that a warm start from it costs no
/// product with A.
#[derive(Debug, Clone)]
pub struct Iterate<B: Backend> {
    /// The point, `d x B c`.
    pub u: Tensor<B, 2>,
    /// A(rho) u.
    pub au: Tensor<B, 2>,
    /// The rho of `au`.
    pub rho: f64,
    /// X Z (`n x P c`, see [`ConvexOperator::xz`]).
    pub xz: Tensor<B, 2>,
}

impl<B: Backend> Iterate<B> {
    /// Computes both products afresh (one product with A).
    pub fn new(op: &ConvexOperator<B>, u: Tensor<B, 2>, rho: f64) -> Self {
        let (au, xz) = op.apply_a(&u, rho);
        Self { u, au, rho, xz }
    }

    /// The origin for `c` outputs, whose products are zero: a cold start costs no product.
    pub fn zero(op: &ConvexOperator<B>, c: usize, rho: f64, like: &Tensor<B, 2>) -> Self {
        let options = (&like.device(), like.dtype());
        let u = Tensor::zeros([op.d(), op.blocks() * c], options);
        Self {
            au: u.clone(),
            xz: Tensor::zeros([op.n(), op.patterns() * c], options),
            rho,
            u,
        }
    }
}

/// Result of one PCG solve.
#[derive(Debug, Clone)]
pub struct PcgSolution<B: Backend> {
    /// The solution with its products, tracked through the iterations.
    pub point: Iterate<B>,
    /// PCG iterations taken.
    pub iterations: usize,
    /// Products with A: one per iteration, plus one if the start was for another rho.
    pub a_products: usize,
    /// Final residual norm ||Rhs - A U|| of each output's system.
    pub residuals: Vec<f64>,
}

/// Per-output inner products of two points (`d x B c`), broadcast back to `1 x B c`.
fn output_dots<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>, blocks: usize) -> Tensor<B, 2> {
    let [d, cols] = a.dims();
    let c = cols / blocks;
    (a * b)
        .reshape([d, blocks, c])
        .sum_dims(&[0, 1])
        .repeat_dim(1, blocks)
        .reshape([1, cols])
}

/// Per-output Euclidean norms on the host.
fn output_norms<B: Backend>(r: &Tensor<B, 2>, blocks: usize) -> Vec<f64> {
    let [d, cols] = r.dims();
    let c = cols / blocks;
    let sq = r.clone().square().reshape([d, blocks, c]).sum_dims(&[0, 1]);
    host::to_vec(sq).into_iter().map(f64::sqrt).collect()
}

/// Solves A(rho) U = `rhs` from the warm start `start` until every output's residual norm is at most
/// `tol` or `max_iters` iterations have run.
pub fn solve<B: Backend>(
    op: &ConvexOperator<B>,
    precond: &Preconditioner<B>,
    rho: f64,
    rhs: Tensor<B, 2>,
    start: Iterate<B>,
    tol: f64,
    max_iters: usize,
) -> PcgSolution<B> {
    let blocks = op.blocks();
    let refreshed = start.rho != rho;
    let start = if refreshed {
        Iterate::new(op, start.u, rho)
    } else {
        start
    };
    let Iterate {
        mut u, mut xz, au, ..
    } = start;
    let mut r = rhs.clone() - au;
    let mut residuals = output_norms(&r, blocks);
    let mut z = precond.apply(r.clone());
    let mut p = z.clone();
    let mut rz = output_dots(r.clone(), z, blocks);
    let mut iterations = 0;
    while iterations < max_iters && residuals.iter().any(|&res| res > tol) {
        let active: Vec<f64> = residuals
            .iter()
            .flat_map(|&res| std::iter::repeat_n(f64::from(u8::from(res > tol)), blocks))
            .collect();
        let active = host::upload(active, [1, p.dims()[1]], &p);
        let (ap, xp) = op.apply_a(&p, rho);
        let pap = output_dots(p.clone(), ap.clone(), blocks).clamp_min(1e-30);
        let alpha = rz.clone() / pap * active;
        u = u + p.clone() * alpha.clone();
        // alpha is constant over each output's blocks, so its first P c columns fit X Z.
        let pc = xz.dims()[1];
        xz = xz + xp * alpha.clone().narrow(1, 0, pc);
        r = r - ap * alpha;
        iterations += 1;
        residuals = output_norms(&r, blocks);
        if residuals.iter().all(|&res| res <= tol) || residuals.iter().any(|res| !res.is_finite()) {
            break;
        }
        z = precond.apply(r.clone());
        let rz_new = output_dots(r.clone(), z.clone(), blocks);
        let beta = rz_new.clone() / rz.clamp_min(1e-30);
        p = z + p * beta;
        rz = rz_new;
    }
    PcgSolution {
        point: Iterate {
            au: rhs - r,
            rho,
            u,
            xz,
        },
        iterations,
        a_products: iterations + usize::from(refreshed),
        residuals,
    }
}
