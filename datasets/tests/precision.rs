//! `float64` data keeps its precision from the file to the preprocessed matrix when read as `f64`,
//! and read as `f32` it is rounded once, with values beyond the `f32` range refused by name rather
//! than turned into infinities.

use cronos_datasets::csv::CsvOptions;
use cronos_datasets::npy::{self, read_npy_matrix, read_problem_npz, write_npz};
use cronos_datasets::{
    load, DatasetError, DatasetKind, Granularity, Matrix, Pipeline, Projection, Scaler, Scaling,
    Source,
};

/// Values that `f32` cannot hold exactly, or at all (`1e39`), or only as a subnormal.
const AWKWARD: [f64; 6] = [1e8 + 1.0, 1e8, 0.1, -1e39, 1e-300, 123_456_789.123_456_78];

fn bits(values: &[f64]) -> Vec<u64> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn npz_float64_round_trips_bit_exactly_as_f64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("problem.npz");
    let y = [1.0, -1.0, 1.0];
    write_npz(&path, &[("X", &[3, 2], &AWKWARD), ("Y", &[3], &y)]).unwrap();
    let p = read_problem_npz::<f64>(&path).unwrap();
    assert_eq!((p.x.rows, p.x.cols), (3, 2));
    assert_eq!(bits(&p.x.data), bits(&AWKWARD));
    assert_eq!(p.y.data, y);

    // As f32 the same file is refused at the value that does not fit, naming the array.
    let err = read_problem_npz::<f32>(&path).unwrap_err();
    assert!(matches!(err, DatasetError::OutOfRange { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("problem.npz:X") && text.contains("row 1, column 1"),
        "{text}"
    );
    assert!(text.contains("-1e39") && text.contains("float32"), "{text}");
}

#[test]
fn float64_within_the_f32_range_is_rounded_once_as_f32() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npz");
    let values = [1e8 + 1.0, 0.1, 1e-300, -3.0];
    write_npz(&path, &[("X", &[2, 2], &values)]).unwrap();
    let m = npy::read_npz_matrix::<f32>(&path, "X").unwrap();
    assert_eq!(m.data, values.map(|v| v as f32));
    assert_eq!(m.data[0], 1e8);
    let m = npy::read_npz_matrix::<f64>(&path, "X").unwrap();
    assert_eq!(bits(&m.data), bits(&values));
}

#[test]
fn npy_and_labelled_npz_keep_f64() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set.npz");
    let y = [1.0, -1.0, -1.0];
    write_npz(&set, &[("X", &[3, 2], &AWKWARD), ("Y", &[3], &y)]).unwrap();
    let (train, test) = load::<f64>(&DatasetKind::Npz, &Source::Path(set.clone())).unwrap();
    assert!(test.is_none());
    assert_eq!(bits(&train.x.data), bits(&AWKWARD));
    assert_eq!(train.labels, vec![1, 0, 0]);
    let err = load::<f32>(&DatasetKind::Npz, &Source::Path(set)).unwrap_err();
    assert!(err.to_string().contains("does not fit float32"), "{err}");

    // A single `.npy` file (as numpy writes it) through the same conversion.
    let npy_path = dir.path().join("x.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }".to_string();
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    AWKWARD
        .iter()
        .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(&npy_path, bytes).unwrap();
    let m = read_npy_matrix::<f64>(&npy_path).unwrap();
    assert_eq!((m.rows, m.cols), (6, 1));
    assert_eq!(bits(&m.data), bits(&AWKWARD));
    let err = read_npy_matrix::<f32>(&npy_path).unwrap_err().to_string();
    assert!(
        err.contains("x.npy") && err.contains("row 3, column 0"),
        "{err}"
    );
}

#[test]
fn csv_fields_parse_straight_into_f64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    std::fs::write(
        &path,
        "a,b,label\n100000001,0.1,x\n123456789.12345678,-1e39,y\n",
    )
    .unwrap();
    let set = cronos_datasets::csv::load::<f64>(&path, &CsvOptions::default()).unwrap();
    assert_eq!(
        bits(&set.x.data),
        bits(&[1e8 + 1.0, 0.1, 123_456_789.123_456_78, -1e39])
    );
    let err = cronos_datasets::csv::load::<f32>(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, DatasetError::OutOfRange { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("data.csv") && text.contains("line 3, column 1") && text.contains("-1e39"),
        "{text}"
    );
}

#[test]
fn standardizing_f64_keeps_differences_f32_cannot_see() {
    // Two features around 1e8 that differ by 1: exactly +-1 after standardizing in f64; in f32
    // the raw values already coincide.
    let raw = vec![1e8 + 1.0, 1e8 - 1.0, 1e8 - 1.0, 1e8 + 1.0];
    let x = Matrix::new(2, 2, raw.clone()).unwrap();
    let scaler = Scaler::fit(&x, Scaling::Standardize, Granularity::PerFeature).unwrap();
    assert_eq!(scaler.shift, vec![1e8, 1e8]);
    assert_eq!(scaler.scale, vec![1.0, 1.0]);
    let mut scaled = x.clone();
    scaler.apply(&mut scaled).unwrap();
    assert_eq!(scaled.data, vec![1.0, -1.0, -1.0, 1.0]);

    let narrow = Matrix::new(2, 2, raw.iter().map(|&v| v as f32).collect()).unwrap();
    let mut narrow_scaled = narrow.clone();
    Scaler::fit(&narrow, Scaling::Standardize, Granularity::PerFeature)
        .unwrap()
        .apply(&mut narrow_scaled)
        .unwrap();
    assert_eq!(narrow_scaled.data, vec![0.0; 4]);

    // A pipeline of that scaler and an exact (identity) projection changes no bit, and survives
    // a JSON round trip as f64.
    let identity = Projection {
        center: vec![0.0, 0.0],
        basis: Matrix::new(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap(),
    };
    let pipeline = Pipeline {
        input_dim: 2,
        scaler: Some(scaler),
        projection: Some(identity),
    };
    pipeline.check().unwrap();
    let shifted = Matrix::new(1, 2, vec![1e8 + 0.5, 1e8 - 0.25]).unwrap();
    assert_eq!(pipeline.apply(shifted).unwrap().data, vec![0.5, -0.25]);
    let json = serde_json::to_string(&pipeline).unwrap();
    assert_eq!(
        serde_json::from_str::<Pipeline<f64>>(&json).unwrap(),
        pipeline
    );
}

#[test]
fn pca_of_f64_data_keeps_small_differences_around_a_large_offset() {
    // Points 1e8 + t * (1, 1) + noise * (1, -1): the leading component is the diagonal and the
    // projected values are t * sqrt(2), centred, which f32 inputs round away.
    let mut data = Vec::new();
    for i in 0..10 {
        let t = f64::from(i) - 4.5;
        let noise = if i % 2 == 0 { 1e-3 } else { -1e-3 };
        data.extend([1e8 + t + noise, 1e8 + t - noise]);
    }
    let x = Matrix::new(10, 2, data).unwrap();
    let pca = Projection::pca(&x, 1).unwrap();
    let y = pca.apply(&x).unwrap();
    for (i, v) in y.data.iter().enumerate() {
        let expected = (i as f64 - 4.5) * std::f64::consts::SQRT_2;
        assert!((v - expected).abs() < 1e-6, "row {i}: {v} vs {expected}");
    }
}
