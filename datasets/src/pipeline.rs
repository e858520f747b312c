//! The fitted preprocessing as one value: the map from raw features to model inputs that a fit
//! applied to its training data, kept (and serialized beside a saved model) so that new raw inputs
//! go through exactly the same steps at prediction time.

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::matrix::Matrix;
use crate::preprocess::Scaler;
use crate::projection::Projection;
use crate::real::Real;

/// Raw features -> optional [`Scaler`] -> optional [`Projection`] -> model inputs, in the
/// precision `T` of the data. A file saved in one precision loads in the other (JSON numbers are
/// decimal); values beyond the `f32` range then load as infinities, which [`Pipeline::check`]
/// reports.
///
/// Deserialized values may be inconsistent (a hand-edited or truncated file); [`Pipeline::check`]
/// finds that and names the field, so [`Pipeline::apply`] never indexes out of bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "T: Serialize", deserialize = "T: Real")
)]
pub struct Pipeline<T = f32> {
    /// Number of raw features the pipeline takes.
    pub input_dim: usize,
    /// Applied first. `deserialize_with` makes the field required (`null` when absent), so a file
    /// that lost it is an error instead of silently skipping the step.
    #[serde(deserialize_with = "Option::deserialize")]
    pub scaler: Option<Scaler<T>>,
    /// Applied to the scaled features (required in files, like `scaler`).
    #[serde(deserialize_with = "Option::deserialize")]
    pub projection: Option<Projection<T>>,
}

impl<T: Real> Pipeline<T> {
    /// The pipeline that keeps `input_dim` features as they are.
    pub fn identity(input_dim: usize) -> Self {
        Self {
            input_dim,
            scaler: None,
            projection: None,
        }
    }

    /// Number of features the pipeline produces.
    pub fn output_dim(&self) -> usize {
        self.projection
            .as_ref()
            .map_or(self.input_dim, Projection::output_dim)
    }

    /// Checks that the steps fit together: lengths, shapes and finite values. The error names
    /// the offending field (`scaler.scale`, `projection.basis`, ...).
    pub fn check(&self) -> Result<()> {
        let d = self.input_dim;
        let invalid = |field: &str, problem: String| {
            Err(DatasetError::Invalid(format!("field {field}: {problem}")))
        };
        if let Some(s) = &self.scaler {
            for (field, values) in [("scaler.shift", &s.shift), ("scaler.scale", &s.scale)] {
                if values.len() != 1 && values.len() != d {
                    return invalid(
                        field,
                        format!("{} values, expected 1 or input_dim = {d}", values.len()),
                    );
                }
                if let Some(i) = values.iter().position(|v| !v.widen().is_finite()) {
                    return invalid(field, format!("value {i} is not finite"));
                }
            }
            if s.shift.len() != s.scale.len() {
                return invalid(
                    "scaler.scale",
                    format!(
                        "{} values, scaler.shift has {}",
                        s.scale.len(),
                        s.shift.len()
                    ),
                );
            }
            if let Some(i) = s.scale.iter().position(|&v| v.widen() == 0.0) {
                return invalid("scaler.scale", format!("value {i} is zero"));
            }
        }
        if let Some(p) = &self.projection {
            let b = &p.basis;
            if Some(b.data.len()) != b.rows.checked_mul(b.cols) {
                return invalid(
                    "projection.basis.data",
                    format!("{} values for a {}x{} basis", b.data.len(), b.rows, b.cols),
                );
            }
            if b.rows != d || b.cols == 0 {
                return invalid(
                    "projection.basis",
                    format!(
                        "shape {}x{}, expected {d} rows (input_dim) and at least 1 column",
                        b.rows, b.cols
                    ),
                );
            }
            if p.center.len() != d {
                return invalid(
                    "projection.center",
                    format!("{} values, expected input_dim = {d}", p.center.len()),
                );
            }
            for (field, values) in [
                ("projection.center", &p.center),
                ("projection.basis.data", &b.data),
            ] {
                if let Some(i) = values.iter().position(|v| !v.widen().is_finite()) {
                    return invalid(field, format!("value {i} is not finite"));
                }
            }
        }
        Ok(())
    }

    /// Maps raw inputs (`n x input_dim`) to model inputs (`n x output_dim`), reusing `x`'s storage
    /// for the scaling. Assumes a [checked](Self::check) pipeline.
    pub fn apply(&self, mut x: Matrix<T>) -> Result<Matrix<T>> {
        if x.cols != self.input_dim {
            return Err(DatasetError::Invalid(format!(
                "expected {} features, found {}",
                self.input_dim, x.cols
            )));
        }
        if let Some(scaler) = &self.scaler {
            scaler.apply(&mut x)?;
        }
        match &self.projection {
            Some(projection) => projection.apply(&x),
            None => Ok(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{Granularity, Scaling};

    fn fitted() -> (Matrix, Pipeline) {
        let x = Matrix::new(4, 3, (0..12).map(|v| (v * v) as f32).collect()).unwrap();
        let scaler = Scaler::fit(&x, Scaling::Standardize, Granularity::PerFeature).unwrap();
        let mut scaled = x.clone();
        scaler.apply(&mut scaled).unwrap();
        let projection = Projection::pca(&scaled, 2).unwrap();
        let pipeline = Pipeline {
            input_dim: 3,
            scaler: Some(scaler),
            projection: Some(projection),
        };
        (x, pipeline)
    }

    #[test]
    fn apply_chains_the_steps_and_checks_the_width() {
        let (x, p) = fitted();
        p.check().unwrap();
        let mut scaled = x.clone();
        p.scaler.as_ref().unwrap().apply(&mut scaled).unwrap();
        let expected = p.projection.as_ref().unwrap().apply(&scaled).unwrap();
        assert_eq!(p.apply(x).unwrap(), expected);
        assert_eq!(p.output_dim(), 2);
        let err = p.apply(Matrix::zeros(1, 4)).unwrap_err().to_string();
        assert_eq!(err, "expected 3 features, found 4");
        let identity = Pipeline::<f32>::identity(4);
        assert_eq!(identity.output_dim(), 4);
        assert_eq!(
            identity.apply(Matrix::zeros(1, 4)).unwrap(),
            Matrix::zeros(1, 4)
        );
    }

    #[test]
    fn check_names_the_inconsistent_field() {
        let (_, p) = fitted();
        let err = |edit: fn(&mut Pipeline)| {
            let mut q = p.clone();
            edit(&mut q);
            q.check().unwrap_err().to_string()
        };
        assert!(err(|q| q.input_dim = 5).starts_with("field scaler.shift"));
        assert!(err(|q| {
            q.scaler.as_mut().unwrap().scale.pop();
        })
        .starts_with("field scaler.scale"));
        assert!(err(|q| q.scaler.as_mut().unwrap().scale[1] = 0.0).contains("value 1 is zero"));
        assert!(err(|q| q.projection.as_mut().unwrap().center.push(0.0))
            .starts_with("field projection.center"));
        assert!(err(|q| {
            q.projection.as_mut().unwrap().basis.data.pop();
        })
        .starts_with("field projection.basis.data"));
        assert!(
            err(|q| q.projection.as_mut().unwrap().basis.data[0] = f32::NAN).contains("not finite")
        );
    }
}
