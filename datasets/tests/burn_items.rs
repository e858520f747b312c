//! burn-dataset items, the batcher, and dense tensors on f32 and f64 backends.

mod common;

use burn::backend::Flex;
use burn::data::dataloader::{batcher::Batcher, DataLoaderBuilder};
use burn::data::dataset::Dataset;
use burn::tensor::DType;
use common::{check_tensors, small_set};
use cronos_datasets::{mnist, ClassificationBatcher, ClassificationItem, TargetEncoding};

#[test]
fn labeled_set_is_a_burn_dataset() {
    let set = small_set();
    assert_eq!(Dataset::<ClassificationItem>::len(&set), 5);
    assert_eq!(
        set.get(3),
        Some(ClassificationItem {
            features: vec![6.0, 7.0],
            label: 2
        })
    );
    assert_eq!(Dataset::<ClassificationItem>::get(&set, 5), None);
}

#[test]
fn tensors_use_the_default_f32_dtype() {
    check_tensors::<Flex>(&Default::default(), DType::F32);
}

#[test]
fn signed_targets_for_two_classes() {
    // Labels 2, 0, 1, 2, 1: class 1 becomes -1 and class 2 becomes +1.
    let pair = small_set().select_classes(&[1, 2]).unwrap();
    let batcher = ClassificationBatcher::for_set(&pair);
    assert_eq!(batcher.encoding(), TargetEncoding::Signed);
    let items: Vec<_> = (0..pair.len()).filter_map(|i| pair.get(i)).collect();
    let batch = Batcher::<Flex, _, _>::batch(&batcher, items, &Default::default());
    assert_eq!(batch.targets.dims(), [4, 1]);
    assert_eq!(
        batch.targets.to_data().to_vec::<f32>().unwrap(),
        vec![1.0, -1.0, 1.0, -1.0]
    );
    assert_eq!(
        pair.targets(TargetEncoding::Signed).unwrap().data,
        vec![1.0, -1.0, 1.0, -1.0]
    );
    assert!(ClassificationBatcher::new(TargetEncoding::Signed, 3).is_err());
}

#[test]
fn data_loader_covers_the_embedded_test_subset() {
    let (_, test) = mnist::fashion_mnist_embedded().unwrap();
    let batcher = ClassificationBatcher::new(TargetEncoding::OneHot, 10).unwrap();
    let loader = DataLoaderBuilder::<Flex, _, _>::new(batcher)
        .batch_size(512)
        .shuffle(3)
        .build(test);
    let mut rows = 0;
    let mut counts = [0usize; 10];
    for batch in loader.iter() {
        let [n, d] = batch.x.dims();
        assert_eq!(d, 784);
        assert_eq!(batch.targets.dims(), [n, 10]);
        rows += n;
        for l in batch
            .labels
            .to_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .unwrap()
        {
            counts[l as usize] += 1;
        }
    }
    assert_eq!(rows, 2000);
    assert_eq!(counts, [200; 10]);
}
