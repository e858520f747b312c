//! Preconditioned conjugate gradients for A U = Rhs, one independent system per output, batched.

use crate::host;
use crate::operator::ConvexOperator;
use crate::ustep::UStepSolver;
use burn::prelude::*;

/// A point u of the u-step with its products A(rho) u and X z, so that a warm start from it costs no
/// product with A.
#[derive(Debug, Clone)]
pub(crate) struct Iterate<B: Backend> {
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
pub(crate) struct PcgSolution<B: Backend> {
    /// The solution with its products, tracked through the iterations.
    pub point: Iterate<B>,
    /// PCG iterations taken.
    pub iterations: usize,
    /// Products with A: one per iteration, plus one if the start was for another rho.
    pub a_products: usize,
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
/// `tol` or `max_iters` iterations have run. Without `tol` exactly `max_iters` iterations run and
/// nothing is read back to the host (a step with an exact preconditioner).
pub(crate) fn solve<B: Backend>(
    op: &ConvexOperator<B>,
    precond: &UStepSolver<B>,
    rho: f64,
    rhs: Tensor<B, 2>,
    start: Iterate<B>,
    tol: Option<f64>,
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
    let c = r.dims()[1] / blocks;
    let read = |r: &Tensor<B, 2>| match tol {
        Some(_) => output_norms(r, blocks),
        None => vec![f64::MAX; c],
    };
    let tol = tol.unwrap_or(0.0);
    let mut residuals = read(&r);
    let mut z = precond.apply(r.clone(), rho);
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
        residuals = read(&r);
        // The next direction serves only a next iteration: an exact u-step (one iteration) would
        // spend a third of its time on it.
        if iterations == max_iters
            || residuals.iter().all(|&res| res <= tol)
            || residuals.iter().any(|res| !res.is_finite())
        {
            break;
        }
        z = precond.apply(r.clone(), rho);
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{gaussian, operator, B};
    use crate::Formulation;

    #[test]
    fn matches_direct_solve_and_tracks_products() {
        for formulation in [Formulation::Relu, Formulation::Gated] {
            let op = operator(30, formulation);
            let rho = 0.05;
            // No core fits a zero budget: PCG with the block preconditioner has work to do.
            let pre = UStepSolver::new(&op, rho, false, 0.0, &|| false).unwrap();
            let (c, n1) = (2, op.d() * op.blocks());
            let rhs = gaussian(op.d(), op.blocks() * c, 7);
            // The start is for another rho, so PCG recomputes its products.
            let start = Iterate::new(&op, rhs.zeros_like(), 2.0 * rho);
            let sol = solve(&op, &pre, rho, rhs.clone(), start, Some(1e-10), 500);
            assert_eq!(sol.a_products, sol.iterations + 1);
            assert!(sol.iterations > 1, "{formulation:?}: no work for PCG");
            // Direct solve of each output's system, A built column by column.
            let eye = Tensor::<B, 2>::eye(n1, &Default::default());
            let a = host::to_matrix(
                op.apply_a(&eye.reshape([op.d(), op.blocks() * n1]), rho)
                    .0
                    .reshape([n1, n1]),
            );
            let b = host::to_matrix(rhs.reshape([n1, c]));
            let u = host::to_matrix(sol.point.u.clone().reshape([n1, c]));
            let direct = a.lu().solve(&b).unwrap();
            let err = (&u - &direct).norm() / direct.norm();
            assert!(
                err < 1e-8,
                "{formulation:?}: PCG vs LU relative error {err}"
            );
            let (au, xz) = op.apply_a(&sol.point.u, rho);
            let xz_err = host::scalar((sol.point.xz - xz).abs().max());
            assert!(xz_err < 1e-9, "tracked X Z drifted by {xz_err}");
            let au_err = host::scalar((sol.point.au - au).abs().max());
            assert!(au_err < 1e-9, "tracked A U drifted by {au_err}");
        }
    }
}
