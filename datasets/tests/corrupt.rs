//! Bad input of every kind gives an error naming the file and the problem, never a panic.

mod common;

use std::path::Path;

use common::{assert_error_mentions, copy_tree, fixtures, truncate, CIFAR_FIXTURE};
use cronos_datasets::idx::{encode_idx, IdxArray};
use cronos_datasets::{cifar, csv, image_folder, mnist, npy, DatasetError};

fn idx_dir(images: &IdxArray, labels: &IdxArray) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (prefix, n) in [("train", images), ("t10k", images)] {
        std::fs::write(
            dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            encode_idx(n).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            encode_idx(labels).unwrap(),
        )
        .unwrap();
    }
    dir
}

fn images(n: usize) -> IdxArray {
    IdxArray {
        dims: vec![n, 2, 2],
        data: vec![7; n * 4],
    }
}

#[test]
fn idx_missing_truncated_and_wrong_magic() {
    let empty = tempfile::tempdir().unwrap();
    let err = mnist::fashion_mnist(empty.path()).unwrap_err();
    assert_error_mentions(
        &err,
        empty.path(),
        &["train-images-idx3-ubyte", "expected one of"],
    );

    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("idx"), dir.path());
    let gz = dir.path().join("train-images-idx3-ubyte.gz");
    truncate(&gz, 30);
    assert_error_mentions(&mnist::mnist(dir.path()).unwrap_err(), &gz, &["gzip"]);

    let raw = dir.path().join("test-images-idx3-ubyte");
    truncate(&raw, 40);
    let err = mnist::load_split(dir.path(), mnist::Split::Test, &mnist::MNIST_CLASSES).unwrap_err();
    assert_error_mentions(&err, &raw, &["need 36 data bytes, found 24", "truncated"]);

    let mut bytes = std::fs::read(fixtures().join("idx/test-labels-idx1-ubyte")).unwrap();
    bytes[0] = 0x12;
    let labels = dir.path().join("test-labels-idx1-ubyte");
    std::fs::write(&labels, bytes).unwrap();
    std::fs::copy(fixtures().join("idx/test-images-idx3-ubyte"), &raw).unwrap();
    let err = mnist::load_split(dir.path(), mnist::Split::Test, &mnist::MNIST_CLASSES).unwrap_err();
    assert_error_mentions(&err, &labels, &["wrong magic number 12"]);
}

#[test]
fn idx_inconsistent_counts_and_label_range() {
    let labels = IdxArray {
        dims: vec![3],
        data: vec![0, 1, 2],
    };
    let dir = idx_dir(&images(5), &labels);
    let err = mnist::fashion_mnist(dir.path()).unwrap_err();
    assert_error_mentions(
        &err,
        &dir.path().join("train-labels-idx1-ubyte"),
        &["3 labels", "5 images"],
    );

    let labels = IdxArray {
        dims: vec![2],
        data: vec![9, 10],
    };
    let dir = idx_dir(&images(2), &labels);
    let err = mnist::fashion_mnist(dir.path()).unwrap_err();
    assert_error_mentions(
        &err,
        &dir.path().join("train-labels-idx1-ubyte"),
        &["label 10 at index 1", "expected 0..=9"],
    );

    // Images with the rank of labels.
    let dir = idx_dir(
        &IdxArray {
            dims: vec![2],
            data: vec![1, 2],
        },
        &IdxArray {
            dims: vec![2],
            data: vec![0, 1],
        },
    );
    let err = mnist::mnist(dir.path()).unwrap_err();
    assert_error_mentions(
        &err,
        &dir.path().join("train-images-idx3-ubyte"),
        &["expected 3 image dimensions"],
    );
}

#[test]
fn cifar_binary_truncated_bad_label_and_missing_batch() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("cifar10-bin"), dir.path());
    let batch = dir.path().join("data_batch_3.bin");
    truncate(&batch, 3073 + 100);
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &batch,
        &["3173", "not a multiple of the 3073-byte record"],
    );

    std::fs::copy(fixtures().join("cifar10-bin/data_batch_3.bin"), &batch).unwrap();
    let test = dir.path().join("test_batch.bin");
    let mut bytes = std::fs::read(&test).unwrap();
    bytes[3073] = 12;
    std::fs::write(&test, bytes).unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &test,
        &["label 12 of record 1", "0..=9"],
    );

    std::fs::remove_file(&test).unwrap();
    let err = cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err();
    assert!(matches!(err, DatasetError::Io { .. }));
    assert_error_mentions(&err, &test, &["cannot read"]);

    let meta = dir.path().join("batches.meta.txt");
    std::fs::write(&meta, "cat\ndog\n").unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &meta,
        &["expected 10 class names, found 2"],
    );

    let empty = tempfile::tempdir().unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(empty.path(), CIFAR_FIXTURE).unwrap_err(),
        empty.path(),
        &["data_batch_1.bin"],
    );
}

#[test]
fn cifar_batches_cut_on_a_record_boundary_or_empty_are_rejected() {
    // The official count is required unless another is given, in both formats.
    for (fixture, first) in [
        ("cifar10-bin", "data_batch_1.bin"),
        ("cifar10/cifar-10-batches-py", "data_batch_1"),
    ] {
        let dir = fixtures().join(fixture);
        assert_error_mentions(
            &cifar::load_dir(&dir).unwrap_err(),
            &dir.join(first),
            &[
                "holds 2 records, expected 10000",
                "official CIFAR-10",
                "record boundary",
            ],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("cifar10-bin"), dir.path());
    let batch = dir.path().join("data_batch_4.bin");
    truncate(&batch, 3073);
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &batch,
        &["holds 1 records, expected 2"],
    );
    std::fs::copy(fixtures().join("cifar10-bin/data_batch_4.bin"), &batch).unwrap();
    let test = dir.path().join("test_batch.bin");
    std::fs::write(&test, b"").unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &test,
        &["holds 0 records, expected 3"],
    );
}

#[test]
fn cifar_pickle_truncated_wrong_type_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join("cifar10/cifar-10-batches-py"), dir.path());
    let batch = dir.path().join("data_batch_2");
    let full = std::fs::read(&batch).unwrap();
    for keep in [0, 1, 40, 300, full.len() / 2, full.len() - 1] {
        truncate(&batch, keep);
        let err = cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err();
        assert_error_mentions(&err, &batch, &["pickle"]);
        std::fs::write(&batch, &full).unwrap();
    }
    // Garbage bytes instead of a pickle.
    std::fs::write(&batch, vec![0x80, 0x02, 0xff, 0x00, 0x13]).unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &batch,
        &["corrupt or truncated pickle"],
    );
    // A pickled list (protocol 2 of `[1, 2]`).
    std::fs::write(&batch, b"\x80\x02]q\x00(K\x01K\x02e.").unwrap();
    assert_error_mentions(
        &cifar::load_dir_sized(dir.path(), CIFAR_FIXTURE).unwrap_err(),
        &batch,
        &["expected a pickled dict, found a list of 2"],
    );

    let float = fixtures().join("bad_cifar_float_batch");
    let err = cifar::parse_pickle(&std::fs::read(&float).unwrap(), &float).unwrap_err();
    assert_error_mentions(&err, &float, &["holds 49152 bytes, expected 6144", "uint8"]);
    let count = fixtures().join("bad_cifar_count_batch");
    let err = cifar::parse_pickle(&std::fs::read(&count).unwrap(), &count).unwrap_err();
    assert_error_mentions(
        &err,
        &count,
        &["'data' has 2 rows but 'labels' has 3 entries"],
    );
}

#[test]
fn image_folder_unsupported_corrupt_and_truncated_images() {
    let root = tempfile::tempdir().unwrap();
    let class = root.path().join("cls");
    std::fs::create_dir(&class).unwrap();
    let good = class.join("a.png");
    image::ImageBuffer::from_fn(9, 9, |x, _| image::Luma([x as u8]))
        .save(&good)
        .unwrap();
    assert!(image_folder::load(root.path(), 4).is_ok());

    let gif = class.join("b.gif");
    std::fs::write(&gif, b"GIF89a").unwrap();
    assert_error_mentions(
        &image_folder::load(root.path(), 4).unwrap_err(),
        &gif,
        &["unsupported image file", ".gif"],
    );
    std::fs::remove_file(&gif).unwrap();

    let broken = class.join("c.jpg");
    std::fs::write(&broken, b"this is not a jpeg").unwrap();
    assert_error_mentions(
        &image_folder::load(root.path(), 4).unwrap_err(),
        &broken,
        &["cannot decode image"],
    );
    std::fs::remove_file(&broken).unwrap();

    let png = std::fs::read(&good).unwrap();
    let cut = class.join("d.png");
    std::fs::write(&cut, &png[..png.len() / 2]).unwrap();
    assert_error_mentions(
        &image_folder::load(root.path(), 4).unwrap_err(),
        &cut,
        &["cannot decode image"],
    );
    std::fs::remove_file(&cut).unwrap();

    std::fs::create_dir(root.path().join("empty")).unwrap();
    assert_error_mentions(
        &image_folder::load(root.path(), 4).unwrap_err(),
        Path::new("empty"),
        &["holds no images"],
    );

    let none = tempfile::tempdir().unwrap();
    assert_error_mentions(
        &image_folder::load(none.path(), 4).unwrap_err(),
        none.path(),
        &["no class sub-folders"],
    );
    let missing = none.path().join("nowhere");
    assert_error_mentions(
        &image_folder::load(&missing, 4).unwrap_err(),
        &missing,
        &["cannot read"],
    );
}

#[test]
fn npy_bad_values_dtypes_ranks_and_truncation() {
    let npy_dir = fixtures().join("npy");
    let cases: [(&str, &[&str]); 4] = [
        ("bad_nan.npy", &["row 0, column 1 is NaN"]),
        ("bad_inf.npy", &["row 1, column 0 is inf"]),
        ("bad_complex.npy", &["unsupported dtype <c8"]),
        ("bad_rank3.npy", &["rank 3", "[2, 2, 2]"]),
    ];
    for (name, problem) in cases {
        let path = npy_dir.join(name);
        assert_error_mentions(
            &npy::read_npy_matrix::<f32>(&path).unwrap_err(),
            &path,
            problem,
        );
    }
    let path = npy_dir.join("bad_float_labels.npy");
    assert_error_mentions(
        &npy::read_npy_labels(&path).unwrap_err(),
        &path,
        &["integer dtype"],
    );
    let path = npy_dir.join("bad_negative_labels.npy");
    assert_error_mentions(
        &npy::read_npy_labels(&path).unwrap_err(),
        &path,
        &["label -1 at index 1 is negative"],
    );
    let path = npy_dir.join("x_f32.npy");
    assert_error_mentions(
        &npy::read_npy_labels(&path).unwrap_err(),
        &path,
        &["shape (n,) or (n, 1)"],
    );

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("x.npy");
    let full = std::fs::read(npy_dir.join("x_f32.npy")).unwrap();
    std::fs::write(&copy, &full[..full.len() - 4]).unwrap();
    assert_error_mentions(
        &npy::read_npy_matrix::<f32>(&copy).unwrap_err(),
        &copy,
        &["truncated", "needs 60 data bytes, found 56"],
    );
    for keep in [0, 5, 20] {
        std::fs::write(&copy, &full[..keep]).unwrap();
        assert_error_mentions(
            &npy::read_npy_matrix::<f32>(&copy).unwrap_err(),
            &copy,
            &["not a valid NPY header"],
        );
    }
    let mut bad_magic = full.clone();
    bad_magic[1] = b'X';
    std::fs::write(&copy, bad_magic).unwrap();
    assert_error_mentions(
        &npy::read_npy_matrix::<f32>(&copy).unwrap_err(),
        &copy,
        &["not a valid NPY header"],
    );
    let missing = dir.path().join("absent.npy");
    assert_error_mentions(
        &npy::read_npy_matrix::<f32>(&missing).unwrap_err(),
        &missing,
        &["cannot read"],
    );
}

#[test]
fn npz_missing_arrays_shape_mismatch_nan_and_corruption() {
    let npy_dir = fixtures().join("npy");
    let cases: [(&str, &[&str]); 4] = [
        ("bad_problem_no_y.npz", &["required array Y is missing"]),
        ("bad_problem_rows.npz", &["X has 5 rows but Y has 4"]),
        (
            "bad_problem_val_cols.npz",
            &["X_val has 2 columns but X has 3"],
        ),
        (
            "bad_problem_nan.npz",
            &["bad_problem_nan.npz:Y", "row 3, column 0 is NaN"],
        ),
    ];
    for (name, problem) in cases {
        let path = npy_dir.join(name);
        assert_error_mentions(
            &npy::read_problem_npz::<f32>(&path).unwrap_err(),
            &path,
            problem,
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("p.npz");
    let full = std::fs::read(npy_dir.join("problem.npz")).unwrap();
    std::fs::write(&copy, &full[..full.len() / 2]).unwrap();
    assert_error_mentions(
        &npy::read_problem_npz::<f32>(&copy).unwrap_err(),
        &copy,
        &["not a valid NPZ"],
    );

    // Damage the compressed data of a member: the zip layer's CRC or inflate check fails.
    let full = std::fs::read(npy_dir.join("problem_f32_int_labels.npz")).unwrap();
    let mut damaged = full.clone();
    for b in &mut damaged[60..90] {
        *b ^= 0x5a;
    }
    std::fs::write(&copy, damaged).unwrap();
    let err = npy::read_problem_npz::<f32>(&copy).unwrap_err();
    assert_error_mentions(&err, &copy, &[]);

    // Regression targets cannot serve as class labels.
    let path = npy_dir.join("regression.npz");
    assert_error_mentions(
        &npy::load_npz::<f32>(&path).unwrap_err(),
        &path,
        &["regression.npz:Y", "one column of real values"],
    );
    // Without any labels.
    let path = npy_dir.join("bad_problem_no_y.npz");
    assert_error_mentions(
        &npy::load_npz::<f32>(&path).unwrap_err(),
        &path,
        &["required array y (or Y) is missing"],
    );
}

#[test]
fn csv_nan_text_ragged_empty_and_missing() {
    let cases: [(&str, &[&str]); 3] = [
        ("bad_nan.csv", &["line 3, column 1", "NaN is not finite"]),
        (
            "bad_text.csv",
            &["line 2, column 1: expected a number, found 'four'"],
        ),
        ("bad_ragged.csv", &["malformed CSV"]),
    ];
    for (name, problem) in cases {
        let path = fixtures().join(name);
        assert_error_mentions(
            &csv::load::<f32>(&path, &csv::CsvOptions::default()).unwrap_err(),
            &path,
            problem,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert_error_mentions(
        &csv::load::<f32>(&empty, &csv::CsvOptions::default()).unwrap_err(),
        &empty,
        &["file is empty"],
    );
    let missing = dir.path().join("missing.csv");
    assert_error_mentions(
        &csv::load::<f32>(&missing, &csv::CsvOptions::default()).unwrap_err(),
        &missing,
        &["cannot read"],
    );
    let options = csv::CsvOptions {
        label_column: csv::LabelColumn::Index(7),
        ..csv::CsvOptions::default()
    };
    let path = fixtures().join("iris_like.csv");
    assert_error_mentions(
        &csv::load::<f32>(&path, &options).unwrap_err(),
        &path,
        &["label column 7 not found among 3 columns"],
    );
}
