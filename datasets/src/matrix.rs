//! A plain row-major `f32` matrix: the common currency between the file parsers, the preprocessing
//! steps and the solver, which needs the whole training matrix at once rather than batches.

use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// Dense row-major matrix: entry `(i, j)` is `data[i * cols + j]`. Deserialized values are not
/// checked: use [`Matrix::new`] or check `rows * cols == data.len()` before indexing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Wraps `data`, checking that it holds exactly `rows * cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        if Some(data.len()) != rows.checked_mul(cols) {
            return Err(DatasetError::Invalid(format!(
                "matrix of shape {rows}x{cols} needs {} values, found {}",
                rows.saturating_mul(cols),
                data.len()
            )));
        }
        Ok(Self { rows, cols, data })
    }

    /// An all-zero `rows x cols` matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Row `i` as a slice; panics if `i >= rows` like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterates over the rows.
    pub fn row_iter(&self) -> impl Iterator<Item = &[f32]> {
        // `max(1)` keeps `chunks_exact` valid for a matrix with zero columns (it yields no rows then).
        self.data.chunks_exact(self.cols.max(1))
    }

    /// The rows listed in `indices`, in that order; panics on an index out of range.
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Self {
            rows: indices.len(),
            cols: self.cols,
            data,
        }
    }

    /// Smallest and largest entry, `None` for an empty matrix.
    pub fn value_range(&self) -> Option<(f32, f32)> {
        self.data.iter().fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
    }

    /// Copies the matrix to `device` as a `rows x cols` tensor in the device's default float
    /// dtype, so the same data feeds `f32` and `f64` backends.
    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), [self.rows, self.cols]),
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_length() {
        assert!(Matrix::new(2, 3, vec![0.0; 6]).is_ok());
        let err = Matrix::new(2, 3, vec![0.0; 5]).unwrap_err().to_string();
        assert!(err.contains("2x3") && err.contains("found 5"), "{err}");
    }

    #[test]
    fn rows_and_selection() {
        let m = Matrix::new(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.row_iter().count(), 3);
        let s = m.select_rows(&[2, 0]);
        assert_eq!(s.data, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(m.value_range(), Some((1.0, 6.0)));
        assert_eq!(Matrix::zeros(0, 4).value_range(), None);
    }
}
