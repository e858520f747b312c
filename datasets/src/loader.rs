//! One entry point for the CLI: a dataset kind (parsed from its name) and a source give the
//! training set and, when the format has one, the test set.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::csv::{CsvOptions, LabelColumn};
use crate::error::{DatasetError, Result};
use crate::labeled::LabeledSet;
use crate::real::Real;
use crate::{cifar, csv, image_folder, mnist, npy};

/// Default side of images loaded from folders when `image-folder` is given without a size.
pub const DEFAULT_IMAGE_SIZE: u32 = 64;

/// The formats [`load`] understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetKind {
    /// `fashion-mnist`: IDX files, or the embedded subset.
    FashionMnist,
    /// `mnist`: IDX files.
    Mnist,
    /// `cifar10`: binary or Python batches.
    Cifar10,
    /// `image-folder[:SIZE]`: `root/<class>/*.jpg|png`, or `root/train` with `root/val` or
    /// `root/test`, resized to `size x size`.
    ImageFolder {
        /// Side of the square images.
        size: u32,
    },
    /// `npz`: an archive with `X` and `y` or `Y` (plus `X_test`/`X_val`, ...).
    Npz,
    /// `npy`: a directory with `X.npy` and `y.npy` or `Y.npy` (plus `X_test.npy`, ...).
    Npy,
    /// `csv`: numeric columns and a label column.
    Csv(CsvOptions),
}

impl FromStr for DatasetKind {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Self> {
        let (name, arg) = match s.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (s, None),
        };
        let kind = match (name, arg) {
            ("fashion-mnist", None) => Self::FashionMnist,
            ("mnist", None) => Self::Mnist,
            ("cifar10" | "cifar-10", None) => Self::Cifar10,
            ("image-folder", None) => Self::ImageFolder {
                size: DEFAULT_IMAGE_SIZE,
            },
            ("image-folder", Some(size)) => {
                let size = size.parse().map_err(|_| {
                    DatasetError::Invalid(format!(
                        "image-folder size must be a positive integer, found '{size}'"
                    ))
                })?;
                image_folder::check_size(size)?;
                Self::ImageFolder { size }
            }
            ("npz", None) => Self::Npz,
            ("npy", None) => Self::Npy,
            ("csv", None) => Self::Csv(CsvOptions::default()),
            ("csv", Some(column)) => Self::Csv(CsvOptions {
                label_column: column.parse()?,
                ..CsvOptions::default()
            }),
            _ => {
                return Err(DatasetError::Invalid(format!(
                    "unknown dataset kind '{s}': expected fashion-mnist, mnist, cifar10, \
                     image-folder[:SIZE], npz, npy or csv[:LABEL_COLUMN]"
                )))
            }
        };
        Ok(kind)
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FashionMnist => write!(f, "fashion-mnist"),
            Self::Mnist => write!(f, "mnist"),
            Self::Cifar10 => write!(f, "cifar10"),
            Self::ImageFolder { size } => write!(f, "image-folder:{size}"),
            Self::Npz => write!(f, "npz"),
            Self::Npy => write!(f, "npy"),
            Self::Csv(options) => match &options.label_column {
                LabelColumn::Last => write!(f, "csv"),
                column => write!(f, "csv:{column}"),
            },
        }
    }
}

/// Where the data comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The Fashion-MNIST subset compiled into the library (only for `fashion-mnist`).
    #[default]
    Embedded,
    /// A directory or file, as the kind expects.
    Path(PathBuf),
}

impl Source {
    /// `Embedded` when no path is given.
    pub fn from_option(path: Option<PathBuf>) -> Self {
        path.map_or(Self::Embedded, Self::Path)
    }
}

/// Loads `(train, test)` with features in precision `T`; `test` is `None` when the source has no
/// held-out part. NPY/NPZ and CSV values are read straight into `T` (an `f32` read of a `float64`
/// value beyond the `f32` range is a [`DatasetError::OutOfRange`]); images are read as `f32`,
/// which holds their pixels exactly, and widened.
pub fn load<T: Real>(
    kind: &DatasetKind,
    source: &Source,
) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    let path = match (kind, source) {
        (DatasetKind::FashionMnist, Source::Embedded) => {
            return with_test(mnist::fashion_mnist_embedded());
        }
        (_, Source::Embedded) => {
            return Err(DatasetError::Invalid(format!(
                "only fashion-mnist has embedded data: give a path for {kind}"
            )))
        }
        (_, Source::Path(path)) => path.as_path(),
    };
    match kind {
        DatasetKind::FashionMnist => with_test(mnist::fashion_mnist(path)),
        DatasetKind::Mnist => with_test(mnist::mnist(path)),
        DatasetKind::Cifar10 => with_test(cifar::load_dir(path)),
        DatasetKind::ImageFolder { size } => {
            let (train, test) = load_image_folders(path, *size)?;
            Ok((train.cast(), test.map(|t| t.cast())))
        }
        DatasetKind::Npz => npy::load_npz(path),
        DatasetKind::Npy => npy::load_npy_dir(path),
        DatasetKind::Csv(options) => Ok((csv::load(path, options)?, None)),
    }
}

/// Image sets, read as `f32`, widened to `T` (exact for pixels).
fn with_test<T: Real>(
    sets: Result<(LabeledSet, LabeledSet)>,
) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    sets.map(|(train, test)| (train.cast(), Some(test.cast())))
}

/// `root/train` with `root/val` or `root/test` when present, otherwise `root` alone.
fn load_image_folders(root: &Path, size: u32) -> Result<(LabeledSet, Option<LabeledSet>)> {
    let train_dir = root.join("train");
    if !train_dir.is_dir() {
        return Ok((image_folder::load(root, size)?, None));
    }
    let train = image_folder::load(&train_dir, size)?;
    let Some(test_dir) = ["val", "test"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.is_dir())
    else {
        return Ok((train, None));
    };
    let test = image_folder::load(&test_dir, size)?;
    if test.class_names != train.class_names {
        return Err(DatasetError::format(
            &test_dir,
            format!(
                "class folders {:?} differ from the training classes {:?}",
                test.class_names, train.class_names
            ),
        ));
    }
    Ok((train, Some(test)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print() {
        for name in [
            "fashion-mnist",
            "mnist",
            "cifar10",
            "image-folder:171",
            "npz",
            "npy",
            "csv",
        ] {
            assert_eq!(name.parse::<DatasetKind>().unwrap().to_string(), name);
        }
        assert_eq!(
            "image-folder".parse::<DatasetKind>().unwrap(),
            DatasetKind::ImageFolder {
                size: DEFAULT_IMAGE_SIZE
            }
        );
        let csv: DatasetKind = "csv:species".parse().unwrap();
        assert!(
            matches!(csv, DatasetKind::Csv(o) if o.label_column == csv::LabelColumn::Name("species".into()))
        );
        assert!("image-folder:0".parse::<DatasetKind>().is_err());
        assert!("image-folder:-3".parse::<DatasetKind>().is_err());
        let err = "imagenet".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(err.contains("unknown dataset kind 'imagenet'"), "{err}");
    }

    #[test]
    fn embedded_only_for_fashion_mnist() {
        let err = load::<f32>(&DatasetKind::Mnist, &Source::Embedded).unwrap_err();
        assert!(err.to_string().contains("give a path for mnist"));
    }
}
