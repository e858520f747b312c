//! The reduced system of an interior-point step of the polish, solved in sample space when the data
//! has fewer rows than the patterns have columns.
//!
//! A step solves (S + Ft^T Ft) a = r, with S = blockdiag(S_1 ... S_P) (one `d x d` block per pattern)
//! and Ft = [D_1 X ... D_P X] (`n x P d`). Factored densely it costs (P d)^3 / 3 flops. With the
//! capacitance matrix C = I + Ft S^-1 Ft^T = I + sum_i D_i X S_i^-1 X^T D_i (`n x n`; Woodbury's
//! identity) it costs P d^3 / 3 for the blocks, d^2 n_i + n_i^2 d for pattern i (n_i its rows) and
//! n^3 / 3 for C; then y = C^-1 Ft S^-1 r and a = S^-1 (r - Ft^T y). On 1,000 x 784 raw pixels with
//! four patterns that is at most 6.6e9 flops against 1.0e10, and the Gram matrix of the masked data
//! (n (P d)^2 flops, and the largest matrix of the dense method) is never formed.
//!
//! Late in the method S_i has eigenvalues near the barrier parameter, so S^-1 is large where the fit
//! term holds the step, and the two terms of a cancel: each solve is refined against the system
//! itself (products with X and the blocks, a few million flops), as long as its residual keeps
//! falling.

use crate::dense::{cholesky_lower, lower_product, mirror_lower};
use faer::linalg::solvers::{Llt, Solve};
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Mat, Par, Side};
use rayon::prelude::*;
use std::sync::Mutex;

/// Refinements of a solve at most...
const REFINEMENTS: usize = 4;
/// ...and the residual, relative to the right-hand side, at which they stop. On the raw-pixel
/// benchmark problem (1,000 x 784, four patterns) Woodbury's solution alone left 1e-10 early in the
/// method and up to 3e-6 late; one or two refinements brought every solve to 1e-11 .. 6e-10, and a
/// third gained nothing.
const RESIDUAL: f64 = 1e-10;

/// Floating-point operations of one factorization through the capacitance matrix, for `n x d` data
/// and `patterns` patterns, each counted with all `n` rows (an upper bound).
pub(crate) fn cost(n: usize, d: usize, patterns: usize) -> f64 {
    let (n, d, p) = (n as f64, d as f64, patterns as f64);
    p * (d * d * d / 3.0 + d * d * n + n * n * d) + n * n * n / 3.0
}

/// Bytes of host memory of [`Capacitance`] for `n x d` data and `patterns` patterns: C, each
/// pattern's rows of X, its block and its block's factor, and a pattern's part of C per thread.
pub(crate) fn bytes(n: usize, d: usize, patterns: usize) -> f64 {
    let parts = rayon::current_num_threads().min(patterns) as f64;
    let (n, d, p) = (n as f64, d as f64, patterns as f64);
    8.0 * (n * n + p * (n * d + 2.0 * d * d) + parts * n * n)
}

/// One pattern: its rows (where its mask is nonzero), those rows of D_i X, and its block S_i (both
/// triangles) with its factor.
struct Pattern {
    rows: Vec<usize>,
    x: Mat<f64>,
    block: Mat<f64>,
    factor: Llt<f64>,
}

/// The factored system S + Ft^T Ft of one step.
pub(crate) struct Capacitance {
    patterns: Vec<Pattern>,
    /// The lower Cholesky factor of C (lower triangle).
    c: Mat<f64>,
}

impl Capacitance {
    /// Factors the system of data `x` (`n x d`), masks `masks` (`n x P`, the diagonals of D_i) and
    /// blocks `blocks` (`d x d`, lower triangles read), with parallelism `par`; the patterns' parts
    /// are formed side by side, each on one thread, when `side_by_side`. `None` when a block or C is
    /// not positive definite, or when `interrupted` holds before the patterns' parts or between the
    /// panels of C's factorization.
    pub(crate) fn new(
        x: &Mat<f64>,
        masks: &Mat<f64>,
        blocks: Vec<Mat<f64>>,
        side_by_side: bool,
        par: Par,
        interrupted: &dyn Fn() -> bool,
    ) -> Option<Self> {
        let whole = par;
        let par = match side_by_side {
            true => Par::Seq,
            false => whole,
        };
        let (n, d) = (x.nrows(), x.ncols());
        // Per pattern its rows, its part of C, Z_i^T Z_i with Z_i = L_i^-1 X^T D_i (lower triangle).
        let pattern = |(i, mut block): (usize, Mat<f64>)| -> Option<(Pattern, Mat<f64>)> {
            mirror_lower(block.as_mut());
            let factor = block.llt(Side::Lower).ok()?;
            let rows: Vec<usize> = (0..n).filter(|&j| masks[(j, i)] != 0.0).collect();
            let xi =
                Mat::<f64>::from_fn(rows.len(), d, |a, p| masks[(rows[a], i)] * x[(rows[a], p)]);
            let mut z = xi.transpose().to_owned();
            solve_lower_triangular_in_place(factor.L(), z.as_mut(), par);
            let mut part = Mat::<f64>::zeros(rows.len(), rows.len());
            lower_product(part.as_mut(), z.transpose(), z.as_ref(), 1.0, par);
            let pattern = Pattern {
                rows,
                x: xi,
                block,
                factor,
            };
            Some((pattern, part))
        };
        if interrupted() {
            return None;
        }
        // Each part is added to C as soon as it is formed, so that at most one per thread is held.
        let c = Mutex::new(Mat::<f64>::identity(n, n));
        let added = |indexed: (usize, Mat<f64>)| -> Option<Pattern> {
            let (pattern, part) = pattern(indexed)?;
            let mut c = c.lock().ok()?;
            // Rows are ascending, so the lower triangle of a part lands in the lower triangle of C.
            for (b, &q) in pattern.rows.iter().enumerate() {
                for (a, &p) in pattern.rows.iter().enumerate().skip(b) {
                    c[(p, q)] += part[(a, b)];
                }
            }
            Some(pattern)
        };
        let indexed: Vec<_> = blocks.into_iter().enumerate().collect();
        let patterns: Vec<Pattern> = match side_by_side {
            true => indexed.into_par_iter().map(added).collect::<Option<_>>()?,
            false => indexed.into_iter().map(added).collect::<Option<_>>()?,
        };
        let mut c = c.into_inner().ok()?;
        cholesky_lower(c.as_mut(), whole, interrupted)?;
        Some(Self { patterns, c })
    }

    /// The solution of (S + Ft^T Ft) a = `rhs` (stacked by pattern, `P d x 1`), refined while its
    /// residual is above [`RESIDUAL`] and halves.
    pub(crate) fn solve(&self, rhs: &Mat<f64>) -> Mat<f64> {
        let mut a = self.solve_once(rhs);
        let mut residual = rhs - self.apply(&a);
        let mut norm = residual.norm_l2();
        let enough = RESIDUAL * rhs.norm_l2();
        for _ in 0..REFINEMENTS {
            if norm <= enough {
                break;
            }
            let correction = self.solve_once(&residual);
            let next = &a + &correction;
            let next_residual = rhs - self.apply(&next);
            let next_norm = next_residual.norm_l2();
            if next_norm > 0.5 * norm {
                if next_norm < norm {
                    a = next;
                }
                break;
            }
            (a, residual, norm) = (next, next_residual, next_norm);
        }
        a
    }

    /// Woodbury's solution without refinement: a = S^-1 (r - Ft^T y), C y = Ft S^-1 r.
    fn solve_once(&self, rhs: &Mat<f64>) -> Mat<f64> {
        let mut t = rhs.clone();
        for (i, pattern) in self.patterns.iter().enumerate() {
            let d = pattern.block.nrows();
            let mut part = t.as_mut().subrows_mut(i * d, d);
            pattern.factor.solve_in_place(part.as_mut());
        }
        let mut y = self.data_product(&t);
        solve_lower_triangular_in_place(self.c.as_ref(), y.as_mut(), Par::Seq);
        solve_upper_triangular_in_place(self.c.transpose(), y.as_mut(), Par::Seq);
        let mut a = rhs - self.data_transpose_product(&y);
        for (i, pattern) in self.patterns.iter().enumerate() {
            let d = pattern.block.nrows();
            let mut part = a.as_mut().subrows_mut(i * d, d);
            pattern.factor.solve_in_place(part.as_mut());
        }
        a
    }

    /// (S + Ft^T Ft) a.
    fn apply(&self, a: &Mat<f64>) -> Mat<f64> {
        let mut out = self.data_transpose_product(&self.data_product(a));
        for (i, pattern) in self.patterns.iter().enumerate() {
            let d = pattern.block.nrows();
            let product = &pattern.block * a.as_ref().subrows(i * d, d);
            let mut part = out.as_mut().subrows_mut(i * d, d);
            part += &product;
        }
        out
    }

    /// Ft a = sum_i D_i X a_i (`n x 1`).
    fn data_product(&self, a: &Mat<f64>) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.c.nrows(), 1);
        for (i, pattern) in self.patterns.iter().enumerate() {
            let d = pattern.block.nrows();
            let product = &pattern.x * a.as_ref().subrows(i * d, d);
            for (k, &j) in pattern.rows.iter().enumerate() {
                out[(j, 0)] += product[(k, 0)];
            }
        }
        out
    }

    /// Ft^T y, stacked by pattern (`P d x 1`).
    fn data_transpose_product(&self, y: &Mat<f64>) -> Mat<f64> {
        let d = self.patterns.first().map_or(0, |p| p.block.nrows());
        let mut out = Mat::<f64>::zeros(self.patterns.len() * d, 1);
        for (i, pattern) in self.patterns.iter().enumerate() {
            let rows = Mat::<f64>::from_fn(pattern.rows.len(), 1, |k, _| y[(pattern.rows[k], 0)]);
            out.as_mut()
                .subrows_mut(i * d, d)
                .copy_from(pattern.x.transpose() * rows);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The solution agrees with a dense factorization of S + Ft^T Ft, formed entry by entry, on a
    /// system with more columns than rows and blocks whose spectrum spans ten decades (as late in
    /// the interior-point method); an interruption returns nothing.
    #[test]
    fn solves_the_system_a_dense_factorization_solves() {
        let (n, d, p) = (23, 7, 4);
        let x = Mat::<f64>::from_fn(n, d, |j, q| ((j * 7 + q * 13) % 17) as f64 / 17.0 - 0.3);
        let masks = Mat::<f64>::from_fn(n, p, |j, i| f64::from(u8::from((j + i) % (i + 2) != 0)));
        let blocks: Vec<Mat<f64>> = (0..p)
            .map(|i| {
                let b = Mat::<f64>::from_fn(d, d, |q, r| ((q * 5 + r * 3 + i) % 7) as f64 - 3.0);
                let scale = Mat::<f64>::from_fn(d, d, |q, r| match q == r {
                    true => 10f64.powf(-5.0 + 10.0 * q as f64 / (d - 1) as f64),
                    false => 0.0,
                });
                let orthonormal = b.qr().compute_Q();
                &orthonormal * &scale * orthonormal.transpose()
            })
            .collect();
        let t = p * d;
        let dense = Mat::<f64>::from_fn(t, t, |q, r| {
            let (i, a, k, b) = (q / d, q % d, r / d, r % d);
            let gram: f64 = (0..n)
                .map(|j| masks[(j, i)] * masks[(j, k)] * x[(j, a)] * x[(j, b)])
                .sum();
            gram + if i == k { blocks[i][(a, b)] } else { 0.0 }
        });
        let rhs = Mat::<f64>::from_fn(t, 1, |q, _| ((q * 11) % 5) as f64 - 2.0);
        let expected = dense
            .llt(Side::Lower)
            .expect("positive definite")
            .solve(&rhs);
        let factored = Capacitance::new(&x, &masks, blocks.clone(), true, Par::Seq, &|| false)
            .expect("factored");
        let found = factored.solve(&rhs);
        let error = (&found - &expected).norm_l2() / expected.norm_l2();
        assert!(error < 1e-9, "relative error {error}");
        assert!(Capacitance::new(&x, &masks, blocks, false, Par::Seq, &|| true).is_none());
    }
}
