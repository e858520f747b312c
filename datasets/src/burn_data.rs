//! The bridge to burn-train: a [`LabeledSet`] is a burn [`Dataset`] of [`ClassificationItem`]s,
//! and [`ClassificationBatcher`] stacks items into tensors with the same targets the convex
//! solver uses (+-1 or one-hot), so a network trained by SGD and one solved by CRONOS see the
//! same problem.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

use crate::error::Result;
use crate::labeled::LabeledSet;
use crate::preprocess::TargetEncoding;

/// One sample: its flattened features and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassificationItem {
    /// The sample's row of the feature matrix.
    pub features: Vec<f32>,
    /// Class index.
    pub label: usize,
}

impl Dataset<ClassificationItem> for LabeledSet {
    fn get(&self, index: usize) -> Option<ClassificationItem> {
        (index < self.len()).then(|| ClassificationItem {
            features: self.x.row(index).to_vec(),
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.x.rows
    }
}

/// A batch of `n` samples with `d` features and `c` target columns.
#[derive(Clone, Debug)]
pub struct ClassificationBatch<B: Backend> {
    /// `n x d` features.
    pub x: Tensor<B, 2>,
    /// `n x c` targets (`c = 1` for +-1 targets).
    pub targets: Tensor<B, 2>,
    /// `n` class indices.
    pub labels: Tensor<B, 1, Int>,
}

/// Stacks [`ClassificationItem`]s into a [`ClassificationBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassificationBatcher {
    encoding: TargetEncoding,
    num_classes: usize,
}

impl ClassificationBatcher {
    /// A batcher for `num_classes` classes; fails for +-1 targets unless there are 2 classes.
    pub fn new(encoding: TargetEncoding, num_classes: usize) -> Result<Self> {
        encoding.check(num_classes)?;
        Ok(Self {
            encoding,
            num_classes,
        })
    }

    /// A batcher for `set`, with +-1 targets for two classes and one-hot targets otherwise.
    pub fn for_set(set: &LabeledSet) -> Self {
        let num_classes = set.num_classes();
        Self {
            encoding: TargetEncoding::for_classes(num_classes),
            num_classes,
        }
    }

    /// The target encoding.
    pub fn encoding(&self) -> TargetEncoding {
        self.encoding
    }
}

impl<B: Backend> Batcher<B, ClassificationItem, ClassificationBatch<B>> for ClassificationBatcher {
    /// Items must all have the same number of features (true for items of one dataset).
    fn batch(&self, items: Vec<ClassificationItem>, device: &B::Device) -> ClassificationBatch<B> {
        let n = items.len();
        let d = items.first().map_or(0, |i| i.features.len());
        let labels: Vec<usize> = items.iter().map(|i| i.label).collect();
        let x: Vec<f32> = items.into_iter().flat_map(|i| i.features).collect();
        let width = self.encoding.width(self.num_classes);
        let targets = self.encoding.encode::<f32>(&labels, self.num_classes);
        let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        ClassificationBatch {
            x: Tensor::from_data(TensorData::new(x, [n, d]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n, width]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

impl LabeledSet {
    /// Class indices as an integer tensor on `device`.
    pub fn labels_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 1, Int> {
        let labels: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(labels, [self.len()]), device)
    }
}
