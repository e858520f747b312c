//! Preprocessing on real data (the embedded Fashion-MNIST subset), the way the solver uses it:
//! a class pair, +-1 targets, downsampling, scaling fitted on train, a stratified split, and a
//! projection to fewer features.

use cronos_datasets::mnist::fashion_mnist_embedded;
use cronos_datasets::{
    Granularity, ImageShape, Matrix, Projection, Scaler, Scaling, TargetEncoding,
};

fn column_variances(m: &Matrix) -> Vec<f64> {
    (0..m.cols)
        .map(|j| {
            let col: Vec<f64> = m.row_iter().map(|r| f64::from(r[j])).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (col.len() - 1) as f64
        })
        .collect()
}

#[test]
fn binary_pair_scaled_split_and_projected() {
    let (train, test) = fashion_mnist_embedded().unwrap();
    // T-shirt/top (0) against Shirt (6).
    let train = train
        .select_classes(&[0, 6])
        .unwrap()
        .downsample(2)
        .unwrap();
    let mut test = test.select_classes(&[0, 6]).unwrap().downsample(2).unwrap();
    assert_eq!(train.class_names, vec!["T-shirt/top", "Shirt"]);
    assert_eq!(train.class_counts(), vec![1000, 1000]);
    assert_eq!(test.class_counts(), vec![200, 200]);
    assert_eq!(
        train.image_shape,
        Some(ImageShape {
            channels: 1,
            height: 14,
            width: 14
        })
    );

    let y = train.targets(TargetEncoding::Signed).unwrap();
    assert_eq!((y.rows, y.cols), (2000, 1));
    assert_eq!(y.data.iter().sum::<f32>(), 0.0);
    assert!(y.data.iter().all(|&v| v == 1.0 || v == -1.0));

    let scaler = Scaler::fit(&train.x, Scaling::UnitRange, Granularity::Scalar).unwrap();
    let mut train = train;
    scaler.apply(&mut train.x).unwrap();
    scaler.apply(&mut test.x).unwrap();
    assert_eq!(train.x.value_range(), Some((0.0, 1.0)));
    let (lo, hi) = test.x.value_range().unwrap();
    assert!(lo >= 0.0 && hi <= 1.0);

    let (fit, val) = train.stratified_split(0.1, 42).unwrap();
    assert_eq!(fit.class_counts(), vec![900, 900]);
    assert_eq!(val.class_counts(), vec![100, 100]);

    let pca = Projection::pca(&fit.x, 20).unwrap();
    let z = pca.apply(&fit.x).unwrap();
    assert_eq!((z.rows, z.cols), (1800, 20));
    let var = column_variances(&z);
    assert!(var.windows(2).all(|w| w[0] >= w[1] * 0.999), "{var:?}");
    // The leading components of image data carry a large share of the total variance.
    let total: f64 = column_variances(&fit.x).iter().sum();
    assert!(
        var.iter().sum::<f64>() / total > 0.6,
        "{} of {total}",
        var.iter().sum::<f64>()
    );
    // Centred on the training mean: projected training columns average to zero.
    for j in 0..z.cols {
        let mean = z.row_iter().map(|r| f64::from(r[j])).sum::<f64>() / z.rows as f64;
        assert!(mean.abs() < 1e-3, "column {j} mean {mean}");
    }
    assert_eq!(pca.apply(&test.x).unwrap().cols, 20);

    let rp = Projection::gaussian(196, 50, 9).unwrap();
    let r = rp.apply(&val.x).unwrap();
    assert_eq!((r.rows, r.cols), (200, 50));
}

#[test]
fn standardized_multiclass_with_one_hot_targets() {
    let (train, test) = fashion_mnist_embedded().unwrap();
    let (mut x, mut xt) = (train.x.clone(), test.x.clone());
    let scaler = Scaler::fit(&x, Scaling::Standardize, Granularity::PerFeature).unwrap();
    scaler.apply(&mut x).unwrap();
    scaler.apply(&mut xt).unwrap();
    let var = column_variances(&x);
    // Every non-constant pixel has unit variance (population vs sample normalisation aside).
    assert!(
        var.iter().all(|&v| v < 1e-9 || (v - 1.0).abs() < 1e-3),
        "{var:?}"
    );
    let y = train.targets(TargetEncoding::OneHot).unwrap();
    assert_eq!((y.rows, y.cols), (10_000, 10));
    assert!(y
        .row_iter()
        .zip(&train.labels)
        .all(|(r, &l)| r[l] == 1.0 && r.iter().sum::<f32>() == 1.0));
}
