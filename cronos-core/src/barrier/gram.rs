//! The Gram matrix of the masked data [D_1 X ... D_P X], formed once per method: the part of
//! every step's reduced system that does not change.

use super::Unsolved;
use crate::dense::{lower_product, mirror_lower};
use faer::{Mat, Par};
use std::time::Instant;

/// The part of [`Shape::cost`](super::Shape::cost) that forms the Gram matrix of `n` rows and `t`
/// columns ([`gram`]): with random patterns a diagonal block holds about half the rows and any other
/// block a quarter, so the blocks' lower triangles cost about `n t^2 / 8` flops in all.
pub(super) fn gram_cost(n: f64, t: f64) -> f64 {
    n * t * t / 8.0
}

/// What [`gram`] formed: the Gram matrix's strict upper triangle in a matrix whose lower triangle
/// each step overwrites with its system and factor (so the largest matrix of the method is held
/// once), its diagonal, and the flops of its products with the seconds they took.
pub(super) struct Gram {
    pub(super) upper: Mat<f64>,
    pub(super) diagonal: Vec<f64>,
    pub(super) flops: f64,
    pub(super) seconds: f64,
}

/// The Gram matrix of the masked data [D_1 X ... D_P X] (`masks` n x P, of zeros and ones).
/// Block (i, j) is X^T diag(m_i m_j) X, a symmetric matrix equal to block (j, i), formed from the
/// rows both patterns hold as a lower triangle: with random patterns an eighth of the flops of the
/// square product over all rows, and none for the complementary patterns of a gate pair. After
/// every block's product `stop` is given the flops and seconds of the products so far and says
/// whether to give up, and why. The matrix is allocated only after the first block: first touching
/// its memory is slow (3.3 s for the 1.3 GB of 16 patterns of 784 features on the 2-core machine),
/// and a method too slow for its deadline can be told so by the first block's rate instead.
pub(super) fn gram(
    x: &Mat<f64>,
    masks: &Mat<f64>,
    par: Par,
    stop: &dyn Fn(f64, f64) -> Option<Unsolved>,
) -> Result<Gram, Unsolved> {
    let (n, d, patterns) = (x.nrows(), x.ncols(), masks.ncols());
    let width = patterns * d;
    let mut upper = None;
    // One block and the rows it is formed from, reused by every block.
    let mut block = Mat::<f64>::zeros(d, d);
    let mut rows = Mat::<f64>::zeros(n, d);
    let (mut flops, mut seconds) = (0.0, 0.0);
    for i in 0..patterns {
        for j in i..patterns {
            let shared: Vec<usize> = (0..n)
                .filter(|&r| masks[(r, i)] * masks[(r, j)] != 0.0)
                .collect();
            for p in 0..d {
                for (k, &r) in shared.iter().enumerate() {
                    rows[(k, p)] = x[(r, p)];
                }
            }
            let rows = rows.as_ref().subrows(0, shared.len());
            block.fill(0.0);
            let started = Instant::now();
            lower_product(block.as_mut(), rows.transpose(), rows, 1.0, par);
            seconds += started.elapsed().as_secs_f64();
            flops += (shared.len() * d * d) as f64;
            if let Some(reason) = stop(flops, seconds) {
                return Err(reason);
            }
            mirror_lower(block.as_mut());
            upper
                .get_or_insert_with(|| Mat::<f64>::zeros(width, width))
                .submatrix_mut(i * d, j * d, d, d)
                .copy_from(&block);
        }
    }
    let upper = upper.unwrap_or_else(|| Mat::zeros(width, width));
    Ok(Gram {
        diagonal: (0..width).map(|q| upper[(q, q)]).collect(),
        upper,
        flops,
        seconds,
    })
}

/// Writes the Gram matrix into the lower triangle of `system` from its strict upper triangle and
/// `diagonal` (see [`gram`]; block (i, j) is block (j, i), and a diagonal block of `d` columns is
/// symmetric).
pub(super) fn restore_gram(system: &mut Mat<f64>, diagonal: &[f64], d: usize) {
    for i in 0..system.nrows() / d.max(1) {
        let (top, mut bottom) = system.as_mut().split_at_row_mut(i * d);
        for j in 0..i {
            bottom
                .as_mut()
                .submatrix_mut(0, j * d, d, d)
                .copy_from(top.as_ref().submatrix(j * d, i * d, d, d));
        }
        let o = i * d;
        for q in 0..d {
            system[(o + q, o + q)] = diagonal[o + q];
            for p in q + 1..d {
                system[(o + p, o + q)] = system[(o + q, o + p)];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{gram, Unsolved};
    use faer::{Mat, Par};

    /// The strict upper triangle and the diagonal hold X^T diag(m_i m_j) X in block (i, j), also
    /// for patterns that share no row (the last is the complement of the first); the flops count
    /// the rows each block was formed from.
    #[test]
    fn the_gram_matrix_holds_every_block_of_the_masked_data() {
        let (n, d, p) = (137, 3, 4);
        let x = Mat::<f64>::from_fn(n, d, |j, q| ((j * 7 + q * 13) % 17) as f64 / 17.0 - 0.5);
        let masks = Mat::<f64>::from_fn(n, p, |j, i| match i {
            3 => f64::from(u8::from(j % 2 == 1)),
            _ => f64::from(u8::from((j + i) % (i + 2) == 0)),
        });
        let formed = gram(&x, &masks, Par::Seq, &|_, _| None).expect("not interrupted");
        let (system, diagonal, flops) = (formed.upper, formed.diagonal, formed.flops);
        let shared = |i: usize, k: usize| {
            (0..n)
                .filter(|&j| masks[(j, i)] * masks[(j, k)] != 0.0)
                .count()
        };
        let rows: usize = (0..p)
            .flat_map(|i| (i..p).map(move |k| (i, k)))
            .map(|(i, k)| shared(i, k))
            .sum();
        assert_eq!(shared(0, 3), 0, "the complementary patterns share rows");
        assert_eq!(flops, (rows * d * d) as f64);
        for (q, r) in (0..p * d).flat_map(|q| (0..p * d).map(move |r| (q, r))) {
            let (i, a, k, b) = (q / d, q % d, r / d, r % d);
            let expected: f64 = (0..n)
                .map(|j| masks[(j, i)] * masks[(j, k)] * x[(j, a)] * x[(j, b)])
                .sum();
            let found = match q.cmp(&r) {
                std::cmp::Ordering::Less => system[(q, r)],
                std::cmp::Ordering::Equal => diagonal[q],
                std::cmp::Ordering::Greater => system[(r, q)],
            };
            assert!(
                (found - expected).abs() < 1e-9,
                "entry ({q}, {r}): {found} instead of {expected}"
            );
        }
        let stopped = gram(&x, &masks, Par::Seq, &|_, _| Some(Unsolved::Interrupted));
        assert_eq!(stopped.err(), Some(Unsolved::Interrupted));
    }
}
