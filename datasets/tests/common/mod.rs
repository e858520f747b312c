//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{backend::Backend, DType};
use cronos_datasets::cifar::BatchSizes;
use cronos_datasets::{ClassificationBatcher, DatasetError, LabeledSet, Matrix, TargetEncoding};

/// The committed fixtures (written by `fixtures/make_fixtures.py`).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Records per batch of the CIFAR-10 fixtures: two in each training batch, three in the test batch.
pub const CIFAR_FIXTURE: BatchSizes = BatchSizes { train: 2, test: 3 };

/// Asserts that an error names `file` (its file name) and contains every piece of `problem`.
pub fn assert_error_mentions(err: &DatasetError, file: &Path, problem: &[&str]) {
    let msg = err.to_string();
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(msg.contains(&name), "error does not name {name}: {msg}");
    for p in problem {
        assert!(msg.contains(p), "error does not mention '{p}': {msg}");
    }
}

/// Copies a fixture file or directory tree into `dest`.
pub fn copy_tree(src: &Path, dest: &Path) {
    if src.is_dir() {
        std::fs::create_dir_all(dest).unwrap();
        for entry in std::fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &dest.join(entry.file_name()));
        }
    } else {
        std::fs::copy(src, dest).unwrap();
    }
}

/// Cuts a file down to `keep` bytes.
pub fn truncate(path: &Path, keep: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep.min(bytes.len())]).unwrap();
}

/// Five samples of two features in three classes.
pub fn small_set() -> LabeledSet {
    let x = Matrix::new(5, 2, (0..10).map(|v| v as f32).collect()).unwrap();
    LabeledSet::new(
        x,
        vec![2, 0, 1, 2, 1],
        vec!["a".into(), "b".into(), "c".into()],
        None,
    )
    .unwrap()
}

/// Checks dense tensors and batches of [`small_set`] on `B`, expecting float tensors of `float`.
pub fn check_tensors<B: Backend>(device: &B::Device, float: DType) {
    let set = small_set();
    let x = set.x.to_tensor::<B>(device);
    assert_eq!(x.dims(), [5, 2]);
    assert_eq!(x.dtype(), float);
    assert_eq!(
        x.to_data().convert::<f32>().to_vec::<f32>().unwrap(),
        set.x.data
    );

    let batcher = ClassificationBatcher::for_set(&set);
    assert_eq!(batcher.encoding(), TargetEncoding::OneHot);
    let items: Vec<_> = (0..3).filter_map(|i| set.get(i)).collect();
    let batch = Batcher::<B, _, _>::batch(&batcher, items, device);
    assert_eq!(batch.x.dims(), [3, 2]);
    assert_eq!(batch.targets.dims(), [3, 3]);
    assert_eq!(batch.targets.dtype(), float);
    let targets = batch
        .targets
        .to_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(targets, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let labels = batch
        .labels
        .to_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap();
    assert_eq!(labels, vec![2, 0, 1]);
    assert_eq!(
        set.labels_tensor::<B>(device)
            .to_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap(),
        vec![2, 0, 1, 2, 1]
    );
}
