//! The embedded Fashion-MNIST subset and, when installed, the official files.

use std::path::Path;

use cronos_datasets::mnist::{self, DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES};
use cronos_datasets::{load, DatasetKind, ImageShape, Source};

#[test]
fn embedded_subset_is_balanced_real_fashion_mnist() {
    let (train, test) = mnist::fashion_mnist_embedded().unwrap();
    assert_eq!((train.len(), train.dim()), (10_000, 784));
    assert_eq!((test.len(), test.dim()), (2_000, 784));
    assert_eq!(train.class_counts(), vec![1000; 10]);
    assert_eq!(test.class_counts(), vec![200; 10]);
    assert_eq!(
        train.class_names,
        FASHION_MNIST_CLASSES.map(String::from).to_vec()
    );
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    assert_eq!(train.image_shape, Some(shape));
    // Raw 8-bit pixels: the full range is used and every value is an integer in 0..=255.
    assert_eq!(train.x.value_range(), Some((0.0, 255.0)));
    assert_eq!(test.x.value_range(), Some((0.0, 255.0)));
    assert!(train.x.data.iter().all(|v| v.fract() == 0.0));
    // Real images, not noise: Fashion-MNIST backgrounds are black, so about half the pixels are 0,
    // and trousers (class 1) are brighter in the centre column than at the left border.
    let zeros =
        train.x.data.iter().filter(|&&v| v == 0.0).count() as f64 / train.x.data.len() as f64;
    assert!(
        (0.3..0.7).contains(&zeros),
        "fraction of zero pixels {zeros}"
    );
    let column_mean = |col: usize| {
        let trousers: Vec<&[f32]> = train
            .x
            .row_iter()
            .zip(&train.labels)
            .filter(|(_, &l)| l == 1)
            .map(|(r, _)| r)
            .collect();
        let total: f32 = trousers
            .iter()
            .flat_map(|r| (0..28).map(move |h| r[h * 28 + col]))
            .sum();
        total / (trousers.len() * 28) as f32
    };
    assert!(
        column_mean(10) > 50.0 && column_mean(0) < 5.0,
        "{} {}",
        column_mean(10),
        column_mean(0)
    );
    // No training image repeats in the test subset.
    let train_rows: std::collections::HashSet<Vec<u32>> = train
        .x
        .row_iter()
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    assert!(test
        .x
        .row_iter()
        .all(|r| !train_rows.contains(&r.iter().map(|v| v.to_bits()).collect::<Vec<_>>())));
}

#[test]
fn load_dispatches_to_the_embedded_subset_by_default() {
    let kind: DatasetKind = "fashion-mnist".parse().unwrap();
    let (train, test) = load::<f32>(&kind, &Source::default()).unwrap();
    assert_eq!(train.len(), 10_000);
    assert_eq!(test.map(|t| t.len()), Some(2_000));
    let summary = train.summary().to_string();
    assert!(
        summary.contains("samples 10000, features 784 (image 1x28x28), classes 10"),
        "{summary}"
    );
    assert!(
        summary.contains("Ankle boot") && summary.contains("1000"),
        "{summary}"
    );
}

#[test]
fn official_files_when_installed() {
    let dir = Path::new(DEBIAN_FASHION_MNIST_DIR);
    if !dir.join("train-labels-idx1-ubyte.gz").is_file() {
        println!(
            "skipped: {DEBIAN_FASHION_MNIST_DIR} is absent (Debian package dataset-fashion-mnist)"
        );
        return;
    }
    let (train, test) =
        load::<f32>(&DatasetKind::FashionMnist, &Source::Path(dir.to_path_buf())).unwrap();
    let test = test.unwrap();
    assert_eq!((train.len(), train.dim()), (60_000, 784));
    assert_eq!(test.len(), 10_000);
    assert_eq!(train.class_counts(), vec![6000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert_eq!(train.x.value_range(), Some((0.0, 255.0)));
    // Every embedded image is an official image with the same label.
    let (sub_train, sub_test) = mnist::fashion_mnist_embedded().unwrap();
    for (sub, full) in [(&sub_train, &train), (&sub_test, &test)] {
        let index: std::collections::HashMap<Vec<u32>, usize> = full
            .x
            .row_iter()
            .zip(&full.labels)
            .map(|(r, &l)| (r.iter().map(|v| v.to_bits()).collect(), l))
            .collect();
        for (row, &label) in sub.x.row_iter().zip(&sub.labels) {
            let key: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
            assert_eq!(index.get(&key), Some(&label));
        }
    }
}
