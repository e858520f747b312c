//! A classification dataset held in memory: the feature matrix, one label per row and the class
//! names, plus the image shape when rows are flattened images (needed to downsample them).

use std::fmt;

use crate::error::{DatasetError, Result};
use crate::matrix::Matrix;
use crate::real::Real;

/// Layout of a flattened image row: `channels x height x width`, channel-major (CHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageShape {
    /// Colour channels (1 for grey, 3 for RGB).
    pub channels: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Columns of pixels.
    pub width: usize,
}

impl ImageShape {
    /// Number of values in one flattened image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape has no pixels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// Samples as rows of `x`, their class indices in `labels` (each `< class_names.len()`); `T` is
/// the precision of the features.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledSet<T = f32> {
    /// `n x d` features, one sample per row.
    pub x: Matrix<T>,
    /// Class index of each row.
    pub labels: Vec<usize>,
    /// Name of each class; its length is the number of classes.
    pub class_names: Vec<String>,
    /// Set when each row is a flattened CHW image.
    pub image_shape: Option<ImageShape>,
}

impl<T: Real> LabeledSet<T> {
    /// Builds a set, checking that there is one label per row, every label names a class and the
    /// image shape (if any) matches the row length.
    pub fn new(
        x: Matrix<T>,
        labels: Vec<usize>,
        class_names: Vec<String>,
        image_shape: Option<ImageShape>,
    ) -> Result<Self> {
        if labels.len() != x.rows {
            return Err(DatasetError::Invalid(format!(
                "{} labels for {} rows",
                labels.len(),
                x.rows
            )));
        }
        if let Some((row, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l >= class_names.len())
        {
            return Err(DatasetError::Invalid(format!(
                "label {label} of row {row} is out of range for {} classes",
                class_names.len()
            )));
        }
        if let Some(shape) = image_shape.filter(|s| s.len() != x.cols) {
            return Err(DatasetError::Invalid(format!(
                "image shape {shape} has {} values but rows have {}",
                shape.len(),
                x.cols
            )));
        }
        Ok(Self {
            x,
            labels,
            class_names,
            image_shape,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.rows
    }

    /// Whether the set has no samples.
    pub fn is_empty(&self) -> bool {
        self.x.rows == 0
    }

    /// Number of features per sample.
    pub fn dim(&self) -> usize {
        self.x.cols
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Samples per class, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l) {
                *c += 1;
            }
        }
        counts
    }

    /// The rows listed in `indices`, in that order, with their labels.
    pub fn select_rows(&self, indices: &[usize]) -> Self {
        Self {
            x: self.x.select_rows(indices),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            image_shape: self.image_shape,
        }
    }

    /// The same set with features of precision `U` (see [`Matrix::cast`]).
    pub fn cast<U: Real>(self) -> LabeledSet<U> {
        LabeledSet {
            x: self.x.cast(),
            labels: self.labels,
            class_names: self.class_names,
            image_shape: self.image_shape,
        }
    }

    /// Shape, class balance and value range, for `cronos data info`.
    pub fn summary(&self) -> Summary<T> {
        Summary {
            rows: self.x.rows,
            cols: self.x.cols,
            image_shape: self.image_shape,
            class_names: self.class_names.clone(),
            class_counts: self.class_counts(),
            value_range: self.x.value_range(),
        }
    }
}

/// What `cronos data info` prints about a set.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary<T = f32> {
    /// Number of samples.
    pub rows: usize,
    /// Number of features.
    pub cols: usize,
    /// Image layout when rows are images.
    pub image_shape: Option<ImageShape>,
    /// Class names, indexed by class.
    pub class_names: Vec<String>,
    /// Samples per class, indexed by class.
    pub class_counts: Vec<usize>,
    /// Smallest and largest feature value (`None` when empty).
    pub value_range: Option<(T, T)>,
}

/// Same as [`LabeledSet::summary`].
pub fn summary<T: Real>(set: &LabeledSet<T>) -> Summary<T> {
    set.summary()
}

impl<T: fmt::Display> fmt::Display for Summary<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "samples {}, features {}", self.rows, self.cols)?;
        if let Some(shape) = self.image_shape {
            write!(f, " (image {shape})")?;
        }
        writeln!(f, ", classes {}", self.class_names.len())?;
        match &self.value_range {
            Some((lo, hi)) => writeln!(f, "values in [{lo}, {hi}]")?,
            None => writeln!(f, "no values")?,
        }
        let name_width = self
            .class_names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max("class".len());
        let index_width = self.class_names.len().saturating_sub(1).to_string().len();
        writeln!(
            f,
            "{:>index_width$}  {:<name_width$}  {:>8}",
            "#", "class", "count"
        )?;
        for (i, (name, count)) in self.class_names.iter().zip(&self.class_counts).enumerate() {
            writeln!(f, "{i:>index_width$}  {name:<name_width$}  {count:>8}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn new_validates_labels_and_shape() {
        let x = Matrix::<f32>::zeros(2, 4);
        assert!(LabeledSet::new(x.clone(), vec![0, 1], names(2), None).is_ok());
        let err = LabeledSet::new(x.clone(), vec![0, 2], names(2), None).unwrap_err();
        assert!(err.to_string().contains("label 2 of row 1"), "{err}");
        assert!(LabeledSet::new(x.clone(), vec![0], names(2), None).is_err());
        let shape = ImageShape {
            channels: 1,
            height: 2,
            width: 3,
        };
        assert!(LabeledSet::new(x, vec![0, 1], names(2), Some(shape)).is_err());
    }

    #[test]
    fn summary_counts_and_prints() {
        let x = Matrix::new(3, 1, vec![-1.0f32, 0.5, 2.0]).unwrap();
        let set = LabeledSet::new(x, vec![1, 1, 0], names(3), None).unwrap();
        let s = summary(&set);
        assert_eq!(s.class_counts, vec![1, 2, 0]);
        assert_eq!(s.value_range, Some((-1.0, 2.0)));
        let text = s.to_string();
        assert!(text.contains("samples 3, features 1, classes 3"), "{text}");
        assert!(text.contains("values in [-1, 2]"), "{text}");
        assert!(
            text.lines().any(|l| l.contains("c1") && l.ends_with(" 2")),
            "{text}"
        );
    }
}
