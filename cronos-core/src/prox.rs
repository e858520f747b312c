//! Proximal operators of the ADMM splitting.

use burn::prelude::*;

/// The norms ||z_j||_2 of the columns z_j of `z` (the groups of the penalty), `1 x cols`.
pub fn group_norms<B: Backend>(z: Tensor<B, 2>) -> Tensor<B, 2> {
    z.square().sum_dim(0).sqrt()
}

/// Prox of t * sum_j ||z_j||_2 over the columns z_j of `z`: each column is shrunk toward zero,
/// z_j max(0, 1 - t / ||z_j||) (block soft-thresholding), and columns with ||z_j|| <= t become 0.
pub fn group_soft_threshold<B: Backend>(z: Tensor<B, 2>, t: f64) -> Tensor<B, 2> {
    let norms = group_norms(z.clone());
    let shrink = (norms.clone() - t).clamp_min(0.0) / norms.clamp_min(1e-30);
    z * shrink
}

/// Projection onto the nonnegative orthant (the prox of the indicator of s >= 0).
pub fn nonnegative<B: Backend>(z: Tensor<B, 2>) -> Tensor<B, 2> {
    z.clamp_min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host;
    use burn::backend::NdArray;

    type B = NdArray<f64>;

    #[test]
    fn matches_closed_form_and_minimizes() {
        let dev = Default::default();
        // Columns: norm 5 (shrunk), norm 0.5 (zeroed), zero column.
        let z = Tensor::<B, 2>::from_data([[3.0, 0.3, 0.0], [4.0, 0.4, 0.0]], &dev);
        let t = 1.0;
        let v = host::to_vec(group_soft_threshold(z.clone(), t));
        let expect = [3.0 * 0.8, 0.0, 0.0, 4.0 * 0.8, 0.0, 0.0];
        for (a, b) in v.iter().zip(expect) {
            assert!((a - b).abs() < 1e-14, "{v:?}");
        }
        // Optimality: no nearby point has a lower prox objective.
        let objective = |v: &[f64]| {
            let zs = host::to_vec(z.clone());
            let fit: f64 = v.iter().zip(&zs).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / 2.0;
            let groups: f64 = (0..3)
                .map(|j| (v[j].powi(2) + v[3 + j].powi(2)).sqrt())
                .sum();
            fit + t * groups
        };
        let base = objective(&v);
        for k in 0..6 {
            for h in [1e-3, -1e-3] {
                let mut w = v.clone();
                w[k] += h;
                assert!(
                    objective(&w) >= base,
                    "perturbing entry {k} by {h} lowers the objective"
                );
            }
        }
    }

    #[test]
    fn nonnegative_projection() {
        let dev = Default::default();
        let z = Tensor::<B, 2>::from_data([[-1.0, 2.0]], &dev);
        assert_eq!(host::to_vec(nonnegative(z)), vec![0.0, 2.0]);
    }
}
