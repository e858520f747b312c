//! Activation patterns D_i = diag(1[X g_i >= 0]) from Gaussian or user-supplied gate vectors.

use crate::config::GateSampling;
use crate::error::{CronosError, Result};
use crate::host;
use crate::rows::Rows;
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The sampled hyperplane arrangement: gate vectors and the 0/1 patterns they induce on the data.
#[derive(Debug, Clone)]
pub struct Patterns<B: Backend> {
    /// Gate vectors g_i as columns, `d x P`.
    pub gates: Tensor<B, 2>,
    /// Patterns as 0/1 floats, `n x P`: column i is the diagonal of D_i.
    pub mask: Tensor<B, 2>,
}

/// Draws `count` gate vectors with i.i.d. N(0, 1) entries from `seed`, as a row-major `d x count` array.
///
/// Drawn on the host so that the same seed gives the same gates on every backend.
pub fn gaussian_gates(d: usize, count: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..d * count)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

/// Draws `count` gate vectors from `seed` as [`gaussian_gates`] does, independent or in antithetic
/// pairs (`sampling`): with pairs, the first `ceil(count / 2)` columns are Gaussian and the rest
/// their negatives, in order.
pub fn sample_gates(d: usize, count: usize, seed: u64, sampling: GateSampling) -> Vec<f64> {
    match sampling {
        GateSampling::Independent => gaussian_gates(d, count, seed),
        GateSampling::Pairs => {
            let half = count.div_ceil(2);
            let drawn = gaussian_gates(d, half, seed);
            (0..d)
                .flat_map(|row| {
                    let drawn = &drawn[row * half..(row + 1) * half];
                    (0..count).map(move |j| if j < half { drawn[j] } else { -drawn[j - half] })
                })
                .collect()
        }
    }
}

impl<B: Backend> Patterns<B> {
    /// Computes the patterns 1[X g_i >= 0] of `gates` (`d x P`) on `x` (`n x d`).
    ///
    /// With `filter`, duplicate patterns and the all-zero pattern are dropped (as scnn does): a duplicate
    /// only adds a redundant copy of a group, and D_i = 0 contributes nothing to the model.
    pub fn new(x: &Tensor<B, 2>, gates: Tensor<B, 2>, filter: bool) -> Result<Self> {
        Self::on_rows(x, gates, filter, &Rows::whole())
    }

    /// [`Patterns::new`] for one block of rows (`rows`): the filter compares the columns over the
    /// rows of every peer.
    pub(crate) fn on_rows(
        x: &Tensor<B, 2>,
        gates: Tensor<B, 2>,
        filter: bool,
        rows: &Rows<B>,
    ) -> Result<Self> {
        let [_, d] = x.dims();
        let [gd, count] = gates.dims();
        if gd != d {
            return Err(CronosError::Shape {
                what: "gate vectors (rows) vs features of X (columns)",
                expected: d.to_string(),
                found: gd.to_string(),
            });
        }
        if count == 0 {
            return Err(CronosError::Empty("no gate vectors (neurons = 0)".into()));
        }
        let mask = x
            .clone()
            .matmul(gates.clone())
            .greater_equal_elem(0.0)
            .float()
            .cast(x.dtype());
        if !filter {
            return Ok(Self { gates, mask });
        }
        // Counts over rows: ones per column, and rows where columns i and j differ.
        let ones = rows.sum(mask.clone().sum_dim(0));
        let complement = mask.clone().neg() + 1.0;
        let mt = mask.clone().transpose();
        let differ =
            mt.clone().matmul(complement.clone()) + complement.transpose().matmul(mask.clone());
        let differ = rows.sum(differ);
        let keep = distinct_nonzero_columns(&host::to_vec(ones), &host::to_vec(differ), count);
        if keep.is_empty() {
            return Err(CronosError::Empty(
                "every gate vector gives the all-zero pattern on this data".into(),
            ));
        }
        if keep.len() == count {
            return Ok(Self { gates, mask });
        }
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(keep.iter().map(|&i| i as i64).collect(), [keep.len()]),
            &x.device(),
        );
        Ok(Self {
            gates: gates.select(1, idx.clone()),
            mask: mask.select(1, idx),
        })
    }

    /// Patterns from `count` Gaussian gate vectors drawn from `seed` ([`sample_gates`]).
    pub fn sample(
        x: &Tensor<B, 2>,
        count: usize,
        seed: u64,
        sampling: GateSampling,
        filter: bool,
    ) -> Result<Self> {
        let d = x.dims()[1];
        let gates = host::upload(sample_gates(d, count, seed, sampling), [d, count], x);
        Self::new(x, gates, filter)
    }

    /// Number of patterns P.
    pub fn len(&self) -> usize {
        self.gates.dims()[1]
    }

    /// True when there are no patterns (never the case for a value built by [`Patterns::new`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Indices of the columns of a 0/1 matrix that are not all zero and not equal to an earlier column,
/// from the ones in each of its `count` columns and the row-major `count x count` numbers of rows
/// where two columns differ.
fn distinct_nonzero_columns(ones: &[f64], differ: &[f64], count: usize) -> Vec<usize> {
    (0..count)
        .filter(|&j| ones[j] > 0.0 && (0..j).all(|i| differ[i * count + j] > 0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_columns_drop_zero_and_duplicates() {
        // 3 x 4: columns (1,0,1), (0,0,0), (1,0,1), (0,1,0)
        let ones = [2.0, 0.0, 2.0, 1.0];
        let differ = [
            0.0, 2.0, 0.0, 3.0, //
            2.0, 0.0, 2.0, 1.0, //
            0.0, 2.0, 0.0, 3.0, //
            3.0, 1.0, 3.0, 0.0,
        ];
        assert_eq!(distinct_nonzero_columns(&ones, &differ, 4), vec![0, 3]);
    }

    #[test]
    fn gates_are_reproducible_and_standard_normal() {
        let a = gaussian_gates(50, 40, 7);
        assert_eq!(a, gaussian_gates(50, 40, 7));
        assert_ne!(a, gaussian_gates(50, 40, 8));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(
            mean.abs() < 0.1 && (var - 1.0).abs() < 0.1,
            "mean {mean} var {var}"
        );
    }

    /// Five gates in pairs on 3 features: columns 0-2 are the Gaussian draws, 3 and 4 the negatives
    /// of 0 and 1, so every point lies on the non-negative side of gate 0 or gate 3 (and 1 or 4).
    #[test]
    fn paired_gates_are_negated_draws_whose_patterns_cover_every_point() {
        let (d, count) = (3, 5);
        let drawn = gaussian_gates(d, 3, 11);
        let gates = sample_gates(d, count, 11, GateSampling::Pairs);
        for row in 0..d {
            let g = &gates[row * count..(row + 1) * count];
            assert_eq!(&g[..3], &drawn[row * 3..(row + 1) * 3]);
            assert_eq!([g[3], g[4]], [-g[0], -g[1]]);
        }
        let points = gaussian_gates(d, 200, 12);
        let side = |point: usize, gate: usize| {
            (0..d)
                .map(|k| points[k * 200 + point] * gates[k * count + gate])
                .sum::<f64>()
                >= 0.0
        };
        for point in 0..200 {
            assert!(side(point, 0) || side(point, 3));
            assert!(side(point, 1) || side(point, 4));
        }
        assert_eq!(
            sample_gates(d, count, 11, GateSampling::Independent),
            gaussian_gates(d, count, 11)
        );
    }
}
