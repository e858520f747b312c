//! Dense symmetric matrices on the host (faer): products and factors that touch only the lower
//! triangle, for the u-step's core and the polish's interior-point steps. Working on one triangle
//! halves the flops of a symmetric product and lets a factor overwrite its matrix. The polish works
//! in f64; a short solve in f32 factors its u-step core in f32 (see [`crate::ustep`]).

use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::traits::RealField;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};

/// Adds `alpha lhs rhs` to the lower triangle of `dst` (a symmetric result).
pub(crate) fn lower_product<T: RealField + Copy>(
    dst: MatMut<T>,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    alpha: T,
    par: Par,
) {
    let full = BlockStructure::Rectangular;
    matmul(
        dst,
        BlockStructure::TriangularLower,
        Accum::Add,
        lhs,
        full,
        rhs,
        full,
        alpha,
        par,
    );
}

/// Copies the lower triangle of the square matrix `m` into its strict upper triangle, making whole
/// a symmetric matrix of which only the lower triangle was formed.
pub(crate) fn mirror_lower<T: RealField + Copy>(mut m: MatMut<T>) {
    for q in 0..m.ncols() {
        for p in q + 1..m.nrows() {
            m[(q, p)] = m[(p, q)];
        }
    }
}

/// Columns per panel of the panel-wise routines (here and the u-step's sample-space core), between
/// which they hear an interruption.
pub(crate) const PANEL: usize = 512;

/// Factors the lower triangle of `m` in place, L L^T, panel by panel (right-looking), without
/// touching the strict upper triangle, where the polish keeps its Gram matrix (faer's in-place
/// factorization writes there). `None` when `m` is not positive definite, or when `interrupted` holds between
/// panels (a panel's update of a 12,544-column matrix takes about a second at most on 2 cores).
/// On 2 cores it took 7.6 s on a 12,544-column matrix where faer's took 11.7 s.
pub(crate) fn cholesky_lower<T: RealField + Copy>(
    mut m: MatMut<T>,
    par: Par,
    interrupted: &dyn Fn() -> bool,
) -> Option<()> {
    let t = m.nrows();
    for o in (0..t).step_by(PANEL) {
        if interrupted() {
            return None;
        }
        let w = PANEL.min(t - o);
        let diagonal = m
            .as_ref()
            .submatrix(o, o, w, w)
            .to_owned()
            .llt(Side::Lower)
            .ok()?;
        let l = diagonal.L();
        for q in 0..w {
            for p in q..w {
                m[(o + p, o + q)] = l[(p, q)];
            }
        }
        let rest = t - o - w;
        // The panel below becomes its part of L (P L^-T), and the trailing matrix loses P P^T.
        let panel = m.as_mut().submatrix_mut(o + w, o, rest, w);
        solve_lower_triangular_in_place(l, panel.transpose_mut(), par);
        let (left, right) = m.as_mut().split_at_col_mut(o + w);
        let panel = left.as_ref().submatrix(o + w, o, rest, w);
        let trailing = right.submatrix_mut(o + w, 0, rest, rest);
        lower_product(
            trailing,
            panel,
            panel.transpose(),
            T::zero() - T::one(),
            par,
        );
    }
    Some(())
}

/// The lower triangle of (L L^T)^-1 = L^-T L^-1 from the factor `l` of [`cholesky_lower`], written
/// over `l` (one more matrix of its size holds L^-1), a panel of columns at a time; `None` once
/// `interrupted` holds between panels.
pub(crate) fn inverse_lower<T: RealField + Copy>(
    mut l: Mat<T>,
    par: Par,
    interrupted: &dyn Fn() -> bool,
) -> Option<Mat<T>> {
    let n = l.nrows();
    // Columns o.. of L^-1 vanish above row o, where L[o.., o..] X = (the identity's columns) holds.
    let mut l_inv = Mat::<T>::zeros(n, n);
    for o in (0..n).step_by(PANEL) {
        if interrupted() {
            return None;
        }
        let w = PANEL.min(n - o);
        let mut panel = l_inv.as_mut().submatrix_mut(o, o, n - o, w);
        for q in 0..w {
            panel[(q, q)] = T::one();
        }
        solve_lower_triangular_in_place(l.as_ref().submatrix(o, o, n - o, n - o), panel, par);
    }
    // Rows o.. of those columns of L^-T L^-1: (L^-1[o.., o..])^T, upper triangular, times them.
    for o in (0..n).step_by(PANEL) {
        if interrupted() {
            return None;
        }
        let w = PANEL.min(n - o);
        let trailing = l_inv.as_ref().submatrix(o, o, n - o, n - o);
        matmul(
            l.as_mut().submatrix_mut(o, o, n - o, w),
            BlockStructure::Rectangular,
            Accum::Replace,
            trailing.transpose(),
            BlockStructure::TriangularUpper,
            trailing.subcols(0, w),
            BlockStructure::Rectangular,
            T::one(),
            par,
        );
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_from_the_lower_factor_inverts() {
        // A symmetric positive definite matrix with a spread spectrum, over several panels.
        let n = PANEL + 37;
        let b = Mat::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 11) as f64 / 11.0 - 0.4);
        let a = &b * b.transpose() + Mat::<f64>::identity(n, n);
        let par = Par::Seq;
        let mut lower = Mat::<f64>::zeros(n, n);
        lower_product(lower.as_mut(), b.as_ref(), b.transpose(), 1.0, par);
        for i in 0..n {
            lower[(i, i)] += 1.0;
        }
        cholesky_lower(lower.as_mut(), par, &|| false).unwrap();
        assert!(inverse_lower(lower.clone(), par, &|| true).is_none());
        let inverse = inverse_lower(lower, par, &|| false).unwrap();
        let full = Mat::<f64>::from_fn(n, n, |i, j| inverse[(i.max(j), i.min(j))]);
        let error = (&a * &full - Mat::<f64>::identity(n, n)).norm_max();
        assert!(error < 1e-9, "||A A^-1 - I||_max = {error}");
    }
}
