//! Seeded random damage (byte changes and truncations) to every fixture format: each parser must
//! return `Ok` or `Err`, never panic. Complements `corrupt.rs`, which checks the messages.

mod common;

use std::path::Path;

use common::fixtures;
use cronos_datasets::{cifar, csv, idx, image_folder, npy};
use rand::{rngs::StdRng, Rng, SeedableRng};

const MUTANTS: usize = 300;

/// Yields damaged copies of `original`: a few random bytes replaced, or a random prefix.
fn mutants(original: &[u8], seed: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..MUTANTS).map(move |k| {
        if k % 3 == 0 {
            original[..rng.random_range(0..original.len())].to_vec()
        } else {
            let mut bytes = original.to_vec();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            bytes
        }
    })
}

/// Runs `parse` on every mutant of `fixture`, written to a temporary file with the same name.
fn survive(fixture: &Path, seed: u64, parse: impl Fn(&Path) -> bool) {
    let original = std::fs::read(fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(fixture.file_name().unwrap());
    let mut rejected = 0;
    for bytes in mutants(&original, seed) {
        std::fs::write(&path, &bytes).unwrap();
        rejected += usize::from(!parse(&path));
    }
    // Most damage must be noticed (a changed pixel value legitimately is not).
    assert!(
        rejected > 0,
        "no mutant of {} was rejected",
        fixture.display()
    );
}

#[test]
fn idx_files() {
    for name in [
        "idx/train-images-idx3-ubyte.gz",
        "idx/test-labels-idx1-ubyte",
    ] {
        survive(&fixtures().join(name), 1, |p| idx::read_idx(p).is_ok());
    }
}

#[test]
fn cifar_batches() {
    let bin = fixtures().join("cifar10-bin/data_batch_1.bin");
    survive(&bin, 2, |p| {
        cifar::parse_binary(&std::fs::read(p).unwrap(), p).is_ok()
    });
    for name in [
        "cifar10/cifar-10-batches-py/data_batch_1",
        "cifar_py3_protocol2_batch",
    ] {
        survive(&fixtures().join(name), 3, |p| {
            cifar::parse_pickle(&std::fs::read(p).unwrap(), p).is_ok()
        });
    }
}

#[test]
fn npy_and_npz_files() {
    for name in [
        "npy/x_f32.npy",
        "npy/x_f64_fortran.npy",
        "npy/labels_i64.npy",
    ] {
        survive(&fixtures().join(name), 4, |p| {
            npy::read_npy_matrix(p).is_ok()
        });
    }
    for name in ["npy/problem.npz", "npy/problem_f32_int_labels.npz"] {
        survive(&fixtures().join(name), 5, |p| {
            npy::read_problem_npz(p).is_ok()
        });
    }
    survive(&fixtures().join("npy/classification.npz"), 6, |p| {
        npy::load_npz(p).is_ok()
    });
}

#[test]
fn csv_files() {
    survive(&fixtures().join("iris_like.csv"), 7, |p| {
        csv::load(p, &csv::CsvOptions::default()).is_ok()
    });
}

#[test]
fn png_and_jpeg_images() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    let jpg = dir.path().join("b.jpg");
    image::ImageBuffer::from_fn(12, 9, |x, y| image::Rgb([x as u8 * 20, y as u8 * 25, 7]))
        .save(&png)
        .unwrap();
    image::ImageBuffer::from_fn(12, 9, |x, _| image::Luma([x as u8 * 20]))
        .save(&jpg)
        .unwrap();
    for (path, seed) in [(png, 8), (jpg, 9)] {
        survive(&path, seed, |p| image_folder::read_image(p, 6).is_ok());
    }
}
