//! Every format read back from fixtures written by numpy/Python (`fixtures/make_fixtures.py`) or
//! by the `image` crate, with values recomputed from the formulas that generated them.

mod common;

use std::path::Path;

use common::{fixtures, CIFAR_FIXTURE};
use cronos_datasets::cifar::{self, CIFAR10_CLASSES, CIFAR_IMAGE};
use cronos_datasets::csv::{CsvOptions, LabelColumn};
use cronos_datasets::idx::{encode_idx, read_idx, write_idx_gz, IdxArray};
use cronos_datasets::{image_folder, load, mnist, npy, DatasetKind, Source};
use image::{ImageBuffer, Luma, Rgb};

fn cifar_pixel(global_index: usize, j: usize) -> f32 {
    ((global_index * 7 + j) % 256) as f32
}

#[test]
fn idx_directory_with_gzipped_train_and_raw_test_files() {
    let (train, test) = mnist::mnist(&fixtures().join("idx")).unwrap();
    for (set, n) in [(&train, 5), (&test, 3)] {
        assert_eq!((set.len(), set.dim()), (n, 12));
        assert_eq!(set.image_shape.map(|s| (s.height, s.width)), Some((4, 3)));
        for i in 0..n {
            assert_eq!(set.labels[i], i % 10);
            for j in 0..12 {
                assert_eq!(set.x.row(i)[j], ((i * 12 + j) * 3 % 256) as f32);
            }
        }
    }
}

#[test]
fn idx_written_here_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let images = IdxArray {
        dims: vec![3, 2, 2],
        data: (0..12).map(|v| v * 20).collect(),
    };
    let path = dir.path().join("x.gz");
    write_idx_gz(&path, &images).unwrap();
    assert_eq!(read_idx(&path).unwrap(), images);
    let raw = dir.path().join("x");
    std::fs::write(&raw, encode_idx(&images).unwrap()).unwrap();
    assert_eq!(read_idx(&raw).unwrap(), images);
}

fn check_cifar(train: &cronos_datasets::LabeledSet, test: &cronos_datasets::LabeledSet) {
    assert_eq!((train.len(), train.dim()), (10, 3072));
    assert_eq!(test.len(), 3);
    assert_eq!(train.image_shape, Some(CIFAR_IMAGE));
    assert_eq!(
        train.class_names,
        CIFAR10_CLASSES.map(String::from).to_vec()
    );
    for (set, start) in [(train, 0), (test, 10)] {
        for i in 0..set.len() {
            let g = start + i;
            assert_eq!(set.labels[i], g % 10);
            let row = set.x.row(i);
            assert!((0..3072).all(|j| row[j] == cifar_pixel(g, j)), "image {g}");
        }
    }
}

#[test]
fn cifar_python_batches_as_written_by_python2_cpickle() {
    // The directory holding cifar-10-batches-py/ is accepted as well as that folder itself.
    let (train, test) = cifar::load_dir_sized(&fixtures().join("cifar10"), CIFAR_FIXTURE).unwrap();
    check_cifar(&train, &test);
    let direct = cifar::load_dir_sized(
        &fixtures().join("cifar10/cifar-10-batches-py"),
        CIFAR_FIXTURE,
    )
    .unwrap();
    assert_eq!(direct.0, train);
}

#[test]
fn cifar_binary_batches() {
    let dir = fixtures().join("cifar10-bin");
    let (train, test) = cifar::load_dir_sized(&dir, CIFAR_FIXTURE).unwrap();
    check_cifar(&train, &test);
    // The loader of the `cifar10` kind reads the official distribution, 10,000 records a batch.
    let kind: DatasetKind = "cifar10".parse().unwrap();
    let err = load::<f32>(&kind, &Source::Path(dir.clone())).unwrap_err();
    common::assert_error_mentions(
        &err,
        &dir.join("data_batch_1.bin"),
        &["holds 2 records, expected 10000", "official CIFAR-10"],
    );
}

#[test]
fn cifar_batch_pickled_by_python3_protocol2() {
    let path = fixtures().join("cifar_py3_protocol2_batch");
    let (pixels, labels) = cifar::parse_pickle(&std::fs::read(&path).unwrap(), &path).unwrap();
    assert_eq!(labels, vec![0, 1, 2, 3]);
    assert_eq!(pixels.len(), 4 * 3072);
    assert!(pixels
        .iter()
        .enumerate()
        .all(|(k, &p)| f32::from(p) == cifar_pixel(k / 3072, k % 3072)));
}

#[test]
fn npy_matrices_in_every_float_layout() {
    let expected: Vec<f32> = (0..15).map(|v| v as f32 / 2.0).collect();
    for name in ["x_f32.npy", "x_f64_fortran.npy", "x_big_endian.npy"] {
        let m = npy::read_npy_matrix::<f32>(&fixtures().join("npy").join(name)).unwrap();
        assert_eq!((m.rows, m.cols), (5, 3), "{name}");
        assert_eq!(m.data, expected, "{name}");
    }
    assert_eq!(
        npy::read_npy_labels(&fixtures().join("npy/labels_i64.npy")).unwrap(),
        vec![0, 2, 1, 2, 0]
    );
    assert_eq!(
        npy::read_npy_labels(&fixtures().join("npy/labels_u8.npy")).unwrap(),
        vec![1, 0, 1]
    );
}

#[test]
fn npz_problem_with_validation_arrays() {
    let p = npy::read_problem_npz::<f32>(&fixtures().join("npy/problem.npz")).unwrap();
    assert_eq!((p.x.rows, p.x.cols), (5, 3));
    assert_eq!((p.y.rows, p.y.cols), (5, 2));
    assert_eq!(p.y.row(3), &[3.0, -3.0]);
    let x_val = p.x_val.unwrap();
    assert_eq!(x_val.data, (0..6).map(|v| v as f32).collect::<Vec<_>>());
    assert_eq!(p.y_val.unwrap().data, vec![0.0, 0.0, 1.0, -1.0]);

    // Compressed archive, float32 inputs, integer targets as one column, no validation part.
    let p =
        npy::read_problem_npz::<f32>(&fixtures().join("npy/problem_f32_int_labels.npz")).unwrap();
    assert_eq!((p.y.rows, p.y.cols), (5, 1));
    assert_eq!(p.y.data, vec![3.0, 1.0, 4.0, 1.0, 5.0]);
    assert!(p.x_val.is_none() && p.y_val.is_none());
    // The same archive as a classification set: integer targets are class indices.
    let (set, test) =
        npy::load_npz::<f32>(&fixtures().join("npy/problem_f32_int_labels.npz")).unwrap();
    assert_eq!(set.labels, vec![3, 1, 4, 1, 5]);
    assert_eq!(set.num_classes(), 6);
    assert!(test.is_none());
}

#[test]
fn npz_named_arrays_of_any_rank_up_to_two() {
    let path = fixtures().join("npy/named.npz");
    let gate = npy::read_npz_matrix::<f32>(&path, "gate").unwrap();
    assert_eq!(
        (gate.rows, gate.cols, gate.data),
        (3, 1, vec![1.0, 0.0, 1.0])
    );
    let scale = npy::read_npz_matrix::<f32>(&path, "scale").unwrap();
    assert_eq!((scale.rows, scale.cols, scale.data), (1, 1, vec![2.5]));
    let y = npy::read_npz_matrix::<f32>(&fixtures().join("npy/problem.npz"), "Y").unwrap();
    assert_eq!((y.rows, y.cols), (5, 2));
    let err = npy::read_npz_matrix::<f32>(&path, "bias")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("named.npz") && err.contains("required array bias is missing"),
        "{err}"
    );
}

#[test]
fn npz_and_npy_directory_classification_sets() {
    let kind: DatasetKind = "npz".parse().unwrap();
    let (train, test) = load::<f32>(
        &kind,
        &Source::Path(fixtures().join("npy/classification.npz")),
    )
    .unwrap();
    assert_eq!(train.labels, vec![1, 0, 1, 1, 0]);
    assert_eq!(train.num_classes(), 2);
    let test = test.unwrap();
    assert_eq!(test.labels, vec![0, 1]);
    assert_eq!(test.x.row(1), &[3.0, 4.0, 5.0]);

    let (one_hot, _) = npy::load_npz::<f32>(&fixtures().join("npy/one_hot.npz")).unwrap();
    assert_eq!(one_hot.labels, vec![0, 2, 2]);
    assert_eq!(one_hot.num_classes(), 4);

    let (train, test) =
        load::<f32>(&DatasetKind::Npy, &Source::Path(fixtures().join("npy/set"))).unwrap();
    assert_eq!(train.labels, vec![0, 1, 1, 0, 1]);
    assert_eq!(train.x.row(4), &[6.0, 6.5, 7.0]);
    assert_eq!(test.unwrap().labels, vec![1, 0]);
}

#[test]
fn csv_with_header_and_string_labels() {
    let set = cronos_datasets::csv::load::<f32>(
        &fixtures().join("iris_like.csv"),
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!((set.len(), set.dim()), (4, 2));
    assert_eq!(set.class_names, vec!["setosa", "versicolor", "virginica"]);
    assert_eq!(set.labels, vec![0, 0, 1, 2]);
    assert_eq!(set.x.row(2), &[7.0, 3.2]);
    let by_name = CsvOptions {
        label_column: LabelColumn::Name("species".into()),
        ..CsvOptions::default()
    };
    assert_eq!(
        cronos_datasets::csv::load::<f32>(&fixtures().join("iris_like.csv"), &by_name).unwrap(),
        set
    );
}

#[test]
fn csv_without_header_and_integer_labels_first() {
    let kind: DatasetKind = "csv:0".parse().unwrap();
    let (set, test) = load::<f32>(
        &kind,
        &Source::Path(fixtures().join("numeric_first_label.csv")),
    )
    .unwrap();
    assert!(test.is_none());
    assert_eq!(set.labels, vec![1, 0, 2]);
    assert_eq!(set.class_names, vec!["0", "1", "2"]);
    assert_eq!(set.x.data, vec![0.5, 0.25, 1.5, -2.0, 2.5, 1000.0]);
}

fn write_png_rgb(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    ImageBuffer::from_fn(w, h, |x, y| Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

#[test]
fn image_folders_sorted_resized_and_centre_cropped() {
    let root = tempfile::tempdir().unwrap();
    for class in ["zebra", "ant"] {
        std::fs::create_dir(root.path().join(class)).unwrap();
    }
    std::fs::write(root.path().join("README"), "not a class").unwrap();
    // A wide image: black, white, black thirds. Cropping keeps only the white centre.
    write_png_rgb(&root.path().join("zebra/b.png"), 60, 20, |x, _| {
        if (20..40).contains(&x) {
            [255; 3]
        } else {
            [0; 3]
        }
    });
    write_png_rgb(&root.path().join("zebra/a.PNG"), 8, 8, |_, _| [255, 0, 0]);
    ImageBuffer::from_fn(30, 30, |_, _| Luma([128u8]))
        .save(root.path().join("ant/grey.jpg"))
        .unwrap();
    std::fs::write(root.path().join("ant/.hidden"), "skipped").unwrap();

    let kind: DatasetKind = "image-folder:16".parse().unwrap();
    let (set, test) = load::<f32>(&kind, &Source::Path(root.path().to_path_buf())).unwrap();
    assert!(test.is_none());
    assert_eq!(set.class_names, vec!["ant", "zebra"]);
    assert_eq!(set.labels, vec![0, 1, 1]);
    assert_eq!((set.len(), set.dim()), (3, 3 * 16 * 16));
    let plane = 256;
    // Grey JPEG: every channel close to 128 (lossy codec).
    assert!(set.x.row(0).iter().all(|&v| (v - 128.0).abs() <= 3.0));
    // Red PNG (sorted first within zebra as a.PNG): CHW, red plane 255, others 0.
    let red = set.x.row(1);
    assert!(red[..plane].iter().all(|&v| v == 255.0) && red[plane..].iter().all(|&v| v == 0.0));
    // Wide image: the centre crop is white apart from a thin filtered border.
    let wide = set.x.row(2);
    let white = wide.iter().filter(|&&v| v > 250.0).count();
    assert!(white >= 3 * 16 * 14, "{white} white values");

    // train/ and val/ sub-folders are picked up as the two parts.
    let split = tempfile::tempdir().unwrap();
    for part in ["train", "val"] {
        for class in ["a", "b"] {
            let dir = split.path().join(part).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            write_png_rgb(&dir.join("x.png"), 5, 7, |x, y| [x as u8, y as u8, 9]);
        }
    }
    let (train, val) = image_folder_parts(split.path(), 4);
    assert_eq!((train.len(), val.len()), (2, 2));
    assert_eq!(train.image_shape.map(|s| s.width), Some(4));
}

fn image_folder_parts(
    root: &Path,
    size: u32,
) -> (cronos_datasets::LabeledSet, cronos_datasets::LabeledSet) {
    let (train, val) = load::<f32>(
        &DatasetKind::ImageFolder { size },
        &Source::Path(root.to_path_buf()),
    )
    .unwrap();
    let direct = image_folder::load(&root.join("train"), size).unwrap();
    assert_eq!(direct, train);
    (train, val.unwrap())
}
