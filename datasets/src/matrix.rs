//! A plain row-major matrix of `f32` or `f64`: the common currency between the file parsers, the
//! preprocessing steps and the solver, which needs the whole training matrix at once rather than
//! batches. The element type is the precision of the solve, so that `float64` files keep every bit
//! up to the tensor handed to an `f64` backend.

use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::real::Real;

/// Dense row-major matrix: entry `(i, j)` is `data[i * cols + j]`. Deserialized values are not
/// checked: use [`Matrix::new`] or check `rows * cols == data.len()` before indexing.
///
/// `T` defaults to `f32`, the precision of image data and of most solves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix<T = f32> {
    /// Number of rows (samples).
    pub rows: usize,
    /// Number of columns (features).
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<T>,
}

impl<T: Real> Matrix<T> {
    /// Wraps `data`, checking that it holds exactly `rows * cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
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
            data: vec![T::zero(); rows * cols],
        }
    }

    /// Row `i` as a slice; panics if `i >= rows` like slice indexing.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterates over the rows.
    pub fn row_iter(&self) -> impl Iterator<Item = &[T]> {
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
    pub fn value_range(&self) -> Option<(T, T)> {
        self.data.iter().fold(None, |acc, &v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
    }

    /// The same values as `U`. Meant for widening (`f32` to `f64`, which is exact, as for image
    /// pixels loaded for an `f64` solve); narrowing rounds and turns values beyond the `f32` range
    /// into infinities, so file loaders narrow value by value with
    /// [`narrow_checked`](crate::real::narrow_checked) instead.
    ///
    /// Takes the matrix by value: when `U` is `T` the values are converted in place (the standard
    /// library reuses the allocation), so a large image set is never held twice.
    pub fn cast<U: Real>(self) -> Matrix<U> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .into_iter()
                .map(|v| U::narrow(v.widen()))
                .collect(),
        }
    }

    /// The values as tensor data of `T`'s dtype, without rounding.
    pub fn to_data(&self) -> TensorData {
        TensorData::new(self.data.clone(), [self.rows, self.cols])
    }

    /// Copies the matrix to `device` as a `rows x cols` tensor in the device's default float
    /// dtype, so the same data feeds `f32` and `f64` backends. An `f64` matrix reaches an `f64`
    /// backend unrounded; anything else is converted once, by the backend.
    pub fn to_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2> {
        Tensor::from_data(self.to_data(), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_length() {
        assert!(Matrix::new(2, 3, vec![0.0f32; 6]).is_ok());
        let err = Matrix::new(2, 3, vec![0.0f32; 5]).unwrap_err().to_string();
        assert!(err.contains("2x3") && err.contains("found 5"), "{err}");
    }

    #[test]
    fn rows_and_selection() {
        let m = Matrix::new(3, 2, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.row_iter().count(), 3);
        let s = m.select_rows(&[2, 0]);
        assert_eq!(s.data, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(m.value_range(), Some((1.0, 6.0)));
        assert_eq!(Matrix::<f32>::zeros(0, 4).value_range(), None);
    }

    #[test]
    fn f64_values_reach_tensor_data_unrounded() {
        let values = vec![1e8 + 1.0, 1e8, 1e39, 0.1];
        let data = Matrix::new(2, 2, values.clone()).unwrap().to_data();
        assert_eq!(data.dtype, burn::tensor::DType::F64);
        assert_eq!(data.shape.as_slice(), &[2, 2]);
        assert_eq!(data.to_vec::<f64>().unwrap(), values);
        // Widening image pixels is exact; the matrix keeps its shape.
        let pixels = Matrix::new(1, 3, vec![0.0f32, 128.0, 255.0]).unwrap();
        assert_eq!(pixels.clone().cast::<f64>().data, vec![0.0, 128.0, 255.0]);
        assert_eq!(pixels.clone().cast::<f64>().cast::<f32>(), pixels);
    }
}
