//! Turning a loaded set into a training problem: class subsets, target matrices, scaling with
//! statistics fitted on the training set only, stratified train/validation splits and image
//! downsampling. All randomness takes an explicit seed.

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::labeled::{ImageShape, LabeledSet};
use crate::matrix::Matrix;
use crate::real::Real;

/// How class labels become regression targets for the convex solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetEncoding {
    /// One column of +-1: class 0 is -1, class 1 is +1 (two classes only).
    Signed,
    /// One column per class, 1 for the sample's class and 0 elsewhere.
    OneHot,
}

impl TargetEncoding {
    /// [`Signed`](Self::Signed) for two classes, [`OneHot`](Self::OneHot) otherwise.
    pub fn for_classes(num_classes: usize) -> Self {
        if num_classes == 2 {
            Self::Signed
        } else {
            Self::OneHot
        }
    }

    /// Number of target columns for `num_classes` classes.
    pub fn width(self, num_classes: usize) -> usize {
        match self {
            Self::Signed => 1,
            Self::OneHot => num_classes,
        }
    }

    /// Checks that the encoding applies to `num_classes` classes.
    pub fn check(self, num_classes: usize) -> Result<()> {
        if self == Self::Signed && num_classes != 2 {
            return Err(DatasetError::Invalid(format!(
                "+-1 targets need exactly 2 classes, the set has {num_classes}"
            )));
        }
        Ok(())
    }

    /// Row-major targets for `labels`; a label outside `0..num_classes` gives an all-zero row.
    pub fn encode<T: Real>(self, labels: &[usize], num_classes: usize) -> Vec<T> {
        let width = self.width(num_classes);
        let mut out = vec![T::zero(); labels.len() * width];
        for (row, &label) in out.chunks_exact_mut(width.max(1)).zip(labels) {
            match self {
                Self::Signed if label < 2 => row[0] = if label == 1 { T::one() } else { -T::one() },
                Self::OneHot if label < num_classes => row[label] = T::one(),
                _ => {}
            }
        }
        out
    }
}

impl<T: Real> LabeledSet<T> {
    /// Keeps the samples of `classes` and relabels them `0..classes.len()` in the given order
    /// (so `[3, 5]` makes class 3 the -1 class and class 5 the +1 class).
    pub fn select_classes(&self, classes: &[usize]) -> Result<LabeledSet<T>> {
        let mut new_label = vec![None; self.num_classes()];
        for (new, &old) in classes.iter().enumerate() {
            let slot = new_label.get_mut(old).ok_or_else(|| {
                DatasetError::Invalid(format!(
                    "class {old} does not exist: the set has {} classes",
                    self.num_classes()
                ))
            })?;
            if slot.replace(new).is_some() {
                return Err(DatasetError::Invalid(format!(
                    "class {old} is listed twice"
                )));
            }
        }
        let relabel = |old: usize| new_label.get(old).copied().flatten();
        let (rows, labels): (Vec<usize>, Vec<usize>) = self
            .labels
            .iter()
            .enumerate()
            .filter_map(|(i, &old)| relabel(old).map(|new| (i, new)))
            .unzip();
        let mut subset = self.select_rows(&rows);
        subset.labels = labels;
        subset.class_names = classes
            .iter()
            .map(|&c| self.class_names[c].clone())
            .collect();
        Ok(subset)
    }

    /// The `n x c` target matrix for this set.
    pub fn targets(&self, encoding: TargetEncoding) -> Result<Matrix<T>> {
        encoding.check(self.num_classes())?;
        Matrix::new(
            self.len(),
            encoding.width(self.num_classes()),
            encoding.encode(&self.labels, self.num_classes()),
        )
    }

    /// Splits off a validation set holding `val_fraction` of every class (rounded), shuffled
    /// with `seed`; both parts keep the original row order.
    pub fn stratified_split(
        &self,
        val_fraction: f64,
        seed: u64,
    ) -> Result<(LabeledSet<T>, LabeledSet<T>)> {
        if !(0.0..=1.0).contains(&val_fraction) {
            return Err(DatasetError::Invalid(format!(
                "validation fraction must be in [0, 1], found {val_fraction}"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut by_class = vec![Vec::new(); self.num_classes()];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class
                .get_mut(l)
                .ok_or_else(|| {
                    DatasetError::Invalid(format!(
                        "label {l} of row {i} is out of range for {} classes",
                        self.num_classes()
                    ))
                })?
                .push(i);
        }
        let mut train = Vec::new();
        let mut val = Vec::new();
        for mut rows in by_class {
            rows.shuffle(&mut rng);
            let n_val = (rows.len() as f64 * val_fraction).round() as usize;
            val.extend_from_slice(&rows[..n_val]);
            train.extend_from_slice(&rows[n_val..]);
        }
        train.sort_unstable();
        val.sort_unstable();
        Ok((self.select_rows(&train), self.select_rows(&val)))
    }

    /// Keeps every `stride`-th pixel along height and width of each image (no averaging), e.g.
    /// 28x28 to 14x14 with stride 2.
    pub fn downsample(&self, stride: usize) -> Result<LabeledSet<T>> {
        let shape = self.image_shape.ok_or_else(|| {
            DatasetError::Invalid(
                "downsampling needs image rows, this set has plain features".into(),
            )
        })?;
        if stride == 0 {
            return Err(DatasetError::Invalid("stride must be positive".into()));
        }
        let new_shape = ImageShape {
            channels: shape.channels,
            height: shape.height.div_ceil(stride),
            width: shape.width.div_ceil(stride),
        };
        let mut data = Vec::with_capacity(self.len() * new_shape.len());
        for row in self.x.row_iter() {
            for c in 0..shape.channels {
                for h in (0..shape.height).step_by(stride) {
                    let start = (c * shape.height + h) * shape.width;
                    data.extend(row[start..start + shape.width].iter().step_by(stride));
                }
            }
        }
        LabeledSet::new(
            Matrix::new(self.len(), new_shape.len(), data)?,
            self.labels.clone(),
            self.class_names.clone(),
            Some(new_shape),
        )
    }
}

/// Which statistics a [`Scaler`] fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Map the training minimum to 0 and maximum to 1.
    UnitRange,
    /// Subtract the training mean and divide by the training standard deviation.
    Standardize,
}

/// Whether statistics are taken per feature (column) or over all values at once (one scalar,
/// which keeps the relative contrast of image pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// One shift and scale for the whole matrix.
    Scalar,
    /// One shift and scale per column.
    PerFeature,
}

/// An affine map `x -> (x - shift) / scale`, fitted on training data and then applied unchanged
/// to validation and test data (and, saved beside a model, to raw inputs at prediction time).
/// `T` is the precision of the data it maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler<T = f32> {
    /// Subtracted first; one value, or one per feature.
    pub shift: Vec<T>,
    /// Divided by next; never zero (constant features get scale 1).
    pub scale: Vec<T>,
}

impl<T: Real> Scaler<T> {
    /// Fits the statistics of `train`, accumulated in `f64` whatever `T` is.
    pub fn fit(train: &Matrix<T>, scaling: Scaling, granularity: Granularity) -> Result<Self> {
        if train.rows == 0 {
            return Err(DatasetError::Invalid(
                "cannot fit a scaler on an empty matrix".into(),
            ));
        }
        let groups = match granularity {
            Granularity::Scalar => 1,
            Granularity::PerFeature => train.cols,
        };
        let group = |j: usize| if groups == 1 { 0 } else { j };
        let per_group = (train.data.len() / groups.max(1)) as f64;
        let (shift, scale): (Vec<f64>, Vec<f64>) = match scaling {
            Scaling::UnitRange => {
                let mut lo = vec![f64::INFINITY; groups];
                let mut hi = vec![f64::NEG_INFINITY; groups];
                for row in train.row_iter() {
                    for (j, &v) in row.iter().enumerate() {
                        let g = group(j);
                        lo[g] = lo[g].min(v.widen());
                        hi[g] = hi[g].max(v.widen());
                    }
                }
                let range = lo.iter().zip(&hi).map(|(l, h)| h - l).collect();
                (lo, range)
            }
            Scaling::Standardize => {
                let mut sum = vec![0.0; groups];
                let mut sum_sq = vec![0.0; groups];
                for row in train.row_iter() {
                    for (j, &v) in row.iter().enumerate() {
                        sum[group(j)] += v.widen();
                    }
                }
                let mean: Vec<f64> = sum.iter().map(|s| s / per_group).collect();
                for row in train.row_iter() {
                    for (j, &v) in row.iter().enumerate() {
                        let g = group(j);
                        sum_sq[g] += (v.widen() - mean[g]).powi(2);
                    }
                }
                let std = sum_sq.iter().map(|s| (s / per_group).sqrt()).collect();
                (mean, std)
            }
        };
        Ok(Self {
            shift: shift.into_iter().map(T::narrow).collect(),
            scale: scale
                .into_iter()
                .map(|s| if s > 0.0 { T::narrow(s) } else { T::one() })
                .collect(),
        })
    }

    /// Applies the fitted map in place; `x` must have the training number of columns when the
    /// scaler is per feature.
    pub fn apply(&self, x: &mut Matrix<T>) -> Result<()> {
        let groups = self.shift.len();
        if groups != 1 && groups != x.cols {
            return Err(DatasetError::Invalid(format!(
                "scaler was fitted on {groups} features, matrix has {}",
                x.cols
            )));
        }
        for row in x.data.chunks_exact_mut(x.cols.max(1)) {
            for (j, v) in row.iter_mut().enumerate() {
                let g = if groups == 1 { 0 } else { j };
                *v = (*v - self.shift[g]) / self.scale[g];
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(labels: Vec<usize>, k: usize) -> LabeledSet {
        let n = labels.len();
        let x = Matrix::new(n, 1, (0..n).map(|i| i as f32).collect()).unwrap();
        LabeledSet::new(x, labels, (0..k).map(|i| format!("c{i}")).collect(), None).unwrap()
    }

    #[test]
    fn select_classes_relabels_in_given_order() {
        let s = set(vec![0, 1, 2, 1, 0, 2], 3);
        let sub = s.select_classes(&[2, 0]).unwrap();
        assert_eq!(sub.labels, vec![1, 0, 1, 0]);
        assert_eq!(sub.x.data, vec![0.0, 2.0, 4.0, 5.0]);
        assert_eq!(sub.class_names, vec!["c2", "c0"]);
        assert!(s.select_classes(&[3]).is_err());
        assert!(s.select_classes(&[1, 1]).is_err());
    }

    #[test]
    fn targets_signed_and_one_hot() {
        let s = set(vec![1, 0, 1], 2);
        assert_eq!(
            s.targets(TargetEncoding::Signed).unwrap().data,
            vec![1.0, -1.0, 1.0]
        );
        let t = s.targets(TargetEncoding::OneHot).unwrap();
        assert_eq!((t.rows, t.cols), (3, 2));
        assert_eq!(t.data, vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        assert!(set(vec![0, 1, 2], 3)
            .targets(TargetEncoding::Signed)
            .is_err());
        assert_eq!(TargetEncoding::for_classes(2), TargetEncoding::Signed);
        assert_eq!(TargetEncoding::for_classes(10), TargetEncoding::OneHot);
    }

    #[test]
    fn stratified_split_is_balanced_disjoint_and_seeded() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect();
        let s = set(labels, 2);
        let (train, val) = s.stratified_split(0.2, 7).unwrap();
        assert_eq!(val.class_counts(), vec![15, 5]);
        assert_eq!(train.class_counts(), vec![60, 20]);
        let mut all: Vec<f32> = train.x.data.iter().chain(&val.x.data).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..100).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(s.stratified_split(0.2, 7).unwrap().1, val);
        assert_ne!(s.stratified_split(0.2, 8).unwrap().1, val);
    }

    #[test]
    fn scalers_use_training_statistics() {
        let train = Matrix::new(2, 2, vec![0.0, 10.0, 4.0, 10.0]).unwrap();
        let mut test = Matrix::new(1, 2, vec![2.0, 20.0]).unwrap();
        let per = Scaler::fit(&train, Scaling::UnitRange, Granularity::PerFeature).unwrap();
        per.apply(&mut test).unwrap();
        // Column 1 is constant in training: scale 1, shift 10.
        assert_eq!(test.data, vec![0.5, 10.0]);
        let scalar = Scaler::fit(&train, Scaling::UnitRange, Granularity::Scalar).unwrap();
        let mut t = train.clone();
        scalar.apply(&mut t).unwrap();
        assert_eq!(t.data, vec![0.0, 1.0, 0.4, 1.0]);
        let std = Scaler::fit(&train, Scaling::Standardize, Granularity::PerFeature).unwrap();
        assert_eq!(std.shift, vec![2.0, 10.0]);
        assert_eq!(std.scale, vec![2.0, 1.0]);
        assert!(std.apply(&mut Matrix::zeros(1, 3)).is_err());
    }

    #[test]
    fn downsample_keeps_strided_pixels_per_channel() {
        // 2 channels of 3x3, values 0..18.
        let x = Matrix::new(1, 18, (0..18).map(|v| v as f32).collect()).unwrap();
        let shape = ImageShape {
            channels: 2,
            height: 3,
            width: 3,
        };
        let s = LabeledSet::new(x, vec![0], vec!["a".into()], Some(shape)).unwrap();
        let d = s.downsample(2).unwrap();
        assert_eq!(
            d.image_shape,
            Some(ImageShape {
                channels: 2,
                height: 2,
                width: 2
            })
        );
        assert_eq!(d.x.data, vec![0.0, 2.0, 6.0, 8.0, 9.0, 11.0, 15.0, 17.0]);
        assert!(set(vec![0], 1).downsample(2).is_err());
    }
}
