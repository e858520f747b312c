//! MNIST and Fashion-MNIST: pairs of IDX files (images `n x 28 x 28`, labels `n`) in a directory,
//! plus a stratified Fashion-MNIST subset compiled into the library so the CLI and the tests have
//! real data without any directory (10,000 train and 2,000 test images, 1,000 and 200 per class,
//! drawn with a fixed seed by `examples/make_fmnist_subset.rs`).
//!
//! Pixels are returned as they are stored, values `0..=255` in `f32`; scaling is a separate,
//! explicit preprocessing step.

use std::path::{Path, PathBuf};

use crate::error::{DatasetError, Result};
use crate::idx::{parse_idx, read_idx, IdxArray};
use crate::labeled::{ImageShape, LabeledSet};
use crate::matrix::Matrix;

/// Where Debian's `dataset-fashion-mnist` package installs the official files.
pub const DEBIAN_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// MNIST class names (the digits), by label.
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Which half of the official split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The 60,000-image training files (`train-*`).
    Train,
    /// The 10,000-image test files (`t10k-*`, also accepted as `test-*`).
    Test,
}

/// File names tried for `split`, in order: the official names, the `test-` and `.idx3-ubyte`
/// spellings of some mirrors, each raw or gzipped.
fn file_candidates(split: Split, kind: &str) -> Vec<String> {
    let prefixes: &[&str] = match split {
        Split::Train => &["train"],
        Split::Test => &["t10k", "test"],
    };
    let rank = if kind == "images" { 3 } else { 1 };
    let mut names = Vec::new();
    for prefix in prefixes {
        for sep in ['-', '.'] {
            for ext in ["", ".gz"] {
                names.push(format!("{prefix}-{kind}{sep}idx{rank}-ubyte{ext}"));
            }
        }
    }
    names
}

fn find_file(dir: &Path, split: Split, kind: &str) -> Result<PathBuf> {
    let candidates = file_candidates(split, kind);
    candidates
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DatasetError::format(
                dir,
                format!(
                    "no {kind} file for the {split:?} split: expected one of {}",
                    candidates.join(", ")
                ),
            )
        })
}

/// Loads one split from `dir`, labelling classes with `class_names`.
pub fn load_split(dir: &Path, split: Split, class_names: &[&str]) -> Result<LabeledSet> {
    let images_path = find_file(dir, split, "images")?;
    let labels_path = find_file(dir, split, "labels")?;
    let images = read_idx(&images_path)?;
    let labels = read_idx(&labels_path)?;
    from_idx(images, &images_path, labels, &labels_path, class_names)
}

/// Loads `(train, test)` from a directory of MNIST-format files.
pub fn load_dir(dir: &Path, class_names: &[&str]) -> Result<(LabeledSet, LabeledSet)> {
    Ok((
        load_split(dir, Split::Train, class_names)?,
        load_split(dir, Split::Test, class_names)?,
    ))
}

/// Fashion-MNIST `(train, test)` from `dir` (for example [`DEBIAN_FASHION_MNIST_DIR`]).
pub fn fashion_mnist(dir: &Path) -> Result<(LabeledSet, LabeledSet)> {
    load_dir(dir, &FASHION_MNIST_CLASSES)
}

/// MNIST `(train, test)` from `dir`.
pub fn mnist(dir: &Path) -> Result<(LabeledSet, LabeledSet)> {
    load_dir(dir, &MNIST_CLASSES)
}

/// The embedded Fashion-MNIST subset as `(train, test)`: 10,000 and 2,000 images, balanced.
pub fn fashion_mnist_embedded() -> Result<(LabeledSet, LabeledSet)> {
    let load = |images: &[u8], labels: &[u8], name: &str| {
        let images_path = PathBuf::from(format!("<embedded>/{name}-images-idx3-ubyte.gz"));
        let labels_path = PathBuf::from(format!("<embedded>/{name}-labels-idx1-ubyte.gz"));
        from_idx(
            parse_idx(images, &images_path)?,
            &images_path,
            parse_idx(labels, &labels_path)?,
            &labels_path,
            &FASHION_MNIST_CLASSES,
        )
    };
    Ok((
        load(EMBEDDED_TRAIN_IMAGES, EMBEDDED_TRAIN_LABELS, "train")?,
        load(EMBEDDED_TEST_IMAGES, EMBEDDED_TEST_LABELS, "t10k")?,
    ))
}

const EMBEDDED_TRAIN_IMAGES: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-images-idx3-ubyte.gz");
const EMBEDDED_TRAIN_LABELS: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz");
const EMBEDDED_TEST_IMAGES: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz");
const EMBEDDED_TEST_LABELS: &[u8] =
    include_bytes!("../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz");

/// Pairs an images array (`n x h x w`) with a labels array (`n`), checking ranks, counts and
/// label range.
pub fn from_idx(
    images: IdxArray,
    images_path: &Path,
    labels: IdxArray,
    labels_path: &Path,
    class_names: &[&str],
) -> Result<LabeledSet> {
    let &[n, height, width] = images.dims.as_slice() else {
        return Err(DatasetError::format(
            images_path,
            format!(
                "expected 3 image dimensions (n, rows, cols), found {:?}",
                images.dims
            ),
        ));
    };
    let &[n_labels] = labels.dims.as_slice() else {
        return Err(DatasetError::format(
            labels_path,
            format!("expected 1 label dimension, found {:?}", labels.dims),
        ));
    };
    if n_labels != n {
        return Err(DatasetError::format(
            labels_path,
            format!(
                "{n_labels} labels but {} holds {n} images",
                images_path.display()
            ),
        ));
    }
    if let Some((i, &l)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= class_names.len())
    {
        return Err(DatasetError::format(
            labels_path,
            format!(
                "label {l} at index {i} is out of range: expected 0..={}",
                class_names.len().saturating_sub(1)
            ),
        ));
    }
    let x = Matrix::new(
        n,
        height * width,
        images.data.into_iter().map(f32::from).collect(),
    )?;
    LabeledSet::new(
        x,
        labels.data.into_iter().map(usize::from).collect(),
        class_names.iter().map(|s| s.to_string()).collect(),
        Some(ImageShape {
            channels: 1,
            height,
            width,
        }),
    )
}
