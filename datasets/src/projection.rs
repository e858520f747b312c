//! Linear maps to fewer features, fitted on the training set and applied unchanged to the test
//! set: a seeded Gaussian random projection (Johnson-Lindenstrauss) or principal component
//! analysis. Both are `x -> (x - center) * basis` with a `d x k` basis, held and applied in the
//! precision `T` of the data.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::matrix::Matrix;
use crate::real::Real;

/// Rows per block when accumulating the covariance, to bound the temporary `f64` copy.
const COVARIANCE_BLOCK: usize = 4096;

/// The affine map `x -> (x - center) * basis` from `d` to `k` features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Projection<T = f32> {
    /// Subtracted from every row first (`d` values; zeros for a random projection).
    pub center: Vec<T>,
    /// `d x k` matrix whose columns span the target space.
    pub basis: Matrix<T>,
}

impl<T: Real> Projection<T> {
    /// A random projection with independent `N(0, 1/k)` entries, which preserves squared
    /// distances in expectation (Johnson-Lindenstrauss); the same seed gives the same map.
    pub fn gaussian(input_dim: usize, output_dim: usize, seed: u64) -> Result<Self> {
        check_dims(input_dim, output_dim)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let std = 1.0 / (output_dim as f64).sqrt();
        let data = (0..input_dim * output_dim)
            .map(|_| T::narrow(rng.sample::<f64, _>(StandardNormal) * std))
            .collect();
        Ok(Self {
            center: vec![T::zero(); input_dim],
            basis: Matrix::new(input_dim, output_dim, data)?,
        })
    }

    /// Principal component analysis: centres on the training mean and projects onto the `k`
    /// eigenvectors of the `d x d` sample covariance with the largest eigenvalues (computed in
    /// `f64`; each eigenvector's sign is fixed so its largest-magnitude entry is positive, to make
    /// the result reproducible). Costs `O(n d^2 + d^3)`.
    pub fn pca(train: &Matrix<T>, output_dim: usize) -> Result<Self> {
        let d = train.cols;
        check_dims(d, output_dim)?;
        if train.rows < 2 {
            return Err(DatasetError::Invalid(format!(
                "PCA needs at least 2 samples, found {}",
                train.rows
            )));
        }
        let mut mean = vec![0.0f64; d];
        for row in train.row_iter() {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v.widen();
            }
        }
        mean.iter_mut().for_each(|m| *m /= train.rows as f64);
        let mut covariance = DMatrix::<f64>::zeros(d, d);
        for block in train.data.chunks(COVARIANCE_BLOCK * d) {
            let rows = block.len() / d;
            let centered = DMatrix::from_fn(rows, d, |i, j| block[i * d + j].widen() - mean[j]);
            covariance.gemm_tr(1.0, &centered, &centered, 1.0);
        }
        covariance /= (train.rows - 1) as f64;
        let eigen = SymmetricEigen::new(covariance);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let mut basis = Matrix::zeros(d, output_dim);
        for (c, &e) in order.iter().take(output_dim).enumerate() {
            let v = eigen.eigenvectors.column(e);
            let pivot = v
                .iter()
                .fold(0.0f64, |p, &x| if x.abs() > p.abs() { x } else { p });
            let sign = if pivot < 0.0 { -1.0 } else { 1.0 };
            for (i, &x) in v.iter().enumerate() {
                basis.data[i * output_dim + c] = T::narrow(sign * x);
            }
        }
        Ok(Self {
            center: mean.into_iter().map(T::narrow).collect(),
            basis,
        })
    }

    /// Number of input features.
    pub fn input_dim(&self) -> usize {
        self.basis.rows
    }

    /// Number of output features.
    pub fn output_dim(&self) -> usize {
        self.basis.cols
    }

    /// Maps every row of `x` (`n x d`) to `n x k`.
    pub fn apply(&self, x: &Matrix<T>) -> Result<Matrix<T>> {
        let d = self.input_dim();
        if x.cols != d {
            return Err(DatasetError::Invalid(format!(
                "projection expects {d} features, matrix has {}",
                x.cols
            )));
        }
        let centered = DMatrix::from_fn(x.rows, d, |i, j| x.data[i * d + j] - self.center[j]);
        let basis = DMatrix::from_row_slice(d, self.output_dim(), &self.basis.data);
        let projected = centered * basis;
        // nalgebra is column-major: the transpose's storage is the row-major result.
        Matrix::new(
            x.rows,
            self.output_dim(),
            projected.transpose().as_slice().to_vec(),
        )
    }
}

fn check_dims(input_dim: usize, output_dim: usize) -> Result<()> {
    if output_dim == 0 || output_dim > input_dim {
        return Err(DatasetError::Invalid(format!(
            "target dimension must be in 1..={input_dim}, found {output_dim}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_dominant_direction() {
        // Points along (1, 1)/sqrt(2) with a little noise along (1, -1).
        let mut data = Vec::new();
        for i in 0..50 {
            let t = i as f32 - 25.0;
            let noise = if i % 2 == 0 { 0.1 } else { -0.1 };
            data.extend([t + noise + 3.0, t - noise - 1.0]);
        }
        let x = Matrix::new(50, 2, data).unwrap();
        let p = Projection::pca(&x, 1).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((p.basis.data[0] - h).abs() < 1e-3 && (p.basis.data[1] - h).abs() < 1e-3);
        assert!((p.center[0] - 2.5).abs() < 1e-5 && (p.center[1] + 1.5).abs() < 1e-5);
        let y = p.apply(&x).unwrap();
        assert_eq!((y.rows, y.cols), (50, 1));
        // Projected values are centred and spread like t * sqrt(2).
        assert!(y.data.iter().sum::<f32>().abs() < 1e-3);
        assert!((y.data[49] - y.data[0] - 49.0 * 2f32.sqrt()).abs() < 0.5);
        assert!(p.apply(&Matrix::zeros(1, 3)).is_err());
        assert!(Projection::pca(&x, 3).is_err());
    }

    #[test]
    fn gaussian_projection_is_seeded_and_scaled() {
        let a = Projection::gaussian(400, 100, 1).unwrap();
        assert_eq!(a, Projection::gaussian(400, 100, 1).unwrap());
        assert_ne!(a, Projection::gaussian(400, 100, 2).unwrap());
        // Entries have variance 1/k: the mean square is close to 0.01.
        let ms = a.basis.data.iter().map(|v| v * v).sum::<f32>() / 40_000.0;
        assert!((ms - 0.01).abs() < 0.001, "{ms}");
        // A unit vector keeps roughly unit norm.
        let mut e = Matrix::zeros(1, 400);
        e.data[0] = 1.0;
        let y = a.apply(&e).unwrap();
        let norm2: f32 = y.data.iter().map(|v| v * v).sum();
        assert!((0.6..1.4).contains(&norm2), "{norm2}");
    }
}
