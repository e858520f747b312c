//! Damage to every fixture format (truncations, overwritten bytes anywhere or in the header,
//! inserted and removed spans): each parser must return `Ok` or a `DatasetError` naming the file,
//! never panic. Complements `corrupt.rs`, which checks the messages.
//!
//! One [`damage`] strategy feeds two kinds of test: a seeded sweep of [`MUTANTS`] damages per
//! fixture, the same on every run, which also checks that some damage is noticed; and a `proptest`
//! property per parser, which draws new damages on every run and shrinks a failure to the
//! smallest damage that still fails.

mod common;

use std::path::Path;

use common::fixtures;
use cronos_datasets::{cifar, csv, idx, image_folder, npy, DatasetError};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// Damages per fixture in the seeded sweep.
const MUTANTS: usize = 300;

/// Damages per parser in each property: enough to vary between runs, few enough for seconds in CI.
const CASES: u32 = 64;

/// Where formats keep their headers (magic numbers, shapes, dtypes, counts): damage there reaches
/// the checks that size the rest of the file.
const HEADER: usize = 128;

/// One damage to a file's bytes.
#[derive(Clone, Debug)]
enum Damage {
    /// Keep a prefix (an interrupted download or copy).
    Truncate(Index),
    /// Replace a few bytes anywhere (bit rot, a bad sector).
    Overwrite(Vec<(Index, u8)>),
    /// Replace a few bytes among the first [`HEADER`].
    Header(Vec<(Index, u8)>),
    /// Insert bytes (a garbled transfer).
    Insert(Index, Vec<u8>),
    /// Remove up to 64 bytes.
    Remove(Index, usize),
}

impl Damage {
    fn apply(&self, original: &[u8]) -> Vec<u8> {
        let mut bytes = original.to_vec();
        let len = bytes.len();
        match self {
            Self::Truncate(at) => bytes.truncate(at.index(len)),
            Self::Overwrite(changes) => {
                for (at, b) in changes {
                    bytes[at.index(len)] = *b;
                }
            }
            Self::Header(changes) => {
                for (at, b) in changes {
                    bytes[at.index(len.min(HEADER))] = *b;
                }
            }
            Self::Insert(at, inserted) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
            Self::Remove(at, n) => {
                let at = at.index(len);
                bytes.drain(at..(at + n).min(len));
            }
        }
        bytes
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    let changes = || proptest::collection::vec((any::<Index>(), any::<u8>()), 1..4);
    prop_oneof![
        any::<Index>().prop_map(Damage::Truncate),
        changes().prop_map(Damage::Overwrite),
        changes().prop_map(Damage::Header),
        (
            any::<Index>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
        (any::<Index>(), 1..64usize).prop_map(|(at, n)| Damage::Remove(at, n)),
    ]
}

/// A parser under test: `Ok` or the error it returns for the file at the path.
type Parse = fn(&Path) -> Result<(), DatasetError>;

fn read_idx(p: &Path) -> Result<(), DatasetError> {
    idx::read_idx(p).map(drop)
}

fn parse_cifar_binary(p: &Path) -> Result<(), DatasetError> {
    cifar::parse_binary(&std::fs::read(p).unwrap(), p).map(drop)
}

fn parse_pickle(p: &Path) -> Result<(), DatasetError> {
    cifar::parse_pickle(&std::fs::read(p).unwrap(), p).map(drop)
}

fn read_npy(p: &Path) -> Result<(), DatasetError> {
    npy::read_npy_matrix::<f32>(p).map(drop)
}

fn read_npz_problem(p: &Path) -> Result<(), DatasetError> {
    npy::read_problem_npz::<f32>(p).map(drop)
}

fn load_npz(p: &Path) -> Result<(), DatasetError> {
    npy::load_npz::<f32>(p).map(drop)
}

fn load_csv(p: &Path) -> Result<(), DatasetError> {
    csv::load::<f32>(p, &csv::CsvOptions::default()).map(drop)
}

fn read_image(p: &Path) -> Result<(), DatasetError> {
    image_folder::read_image(p, 6).map(drop)
}

/// Writes `damage` of `fixture` to a temporary file of the same name and parses it: an error must
/// name that file. Returns whether the parser accepted the damaged file.
fn parse_damaged(fixture: &Path, damage: &Damage, parse: Parse) -> bool {
    let original = std::fs::read(fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = fixture.file_name().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, damage.apply(&original)).unwrap();
    match parse(&path) {
        Ok(()) => true,
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(&*name.to_string_lossy()),
                "{damage:?}: the error does not name the file: {message}"
            );
            false
        }
    }
}

/// The seeded sweep: [`MUTANTS`] damages of `fixture` drawn from [`damage`] with `seed`.
fn survive(fixture: &Path, seed: u64, parse: Parse) {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = damage();
    let mut rejected = 0;
    for _ in 0..MUTANTS {
        let damage = strategy.new_tree(&mut runner).unwrap().current();
        rejected += usize::from(!parse_damaged(fixture, &damage, parse));
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
        survive(&fixtures().join(name), 1, read_idx);
    }
}

#[test]
fn cifar_batches() {
    survive(
        &fixtures().join("cifar10-bin/data_batch_1.bin"),
        2,
        parse_cifar_binary,
    );
    for name in [
        "cifar10/cifar-10-batches-py/data_batch_1",
        "cifar_py3_protocol2_batch",
    ] {
        survive(&fixtures().join(name), 3, parse_pickle);
    }
}

#[test]
fn npy_and_npz_files() {
    for name in [
        "npy/x_f32.npy",
        "npy/x_f64_fortran.npy",
        "npy/labels_i64.npy",
    ] {
        survive(&fixtures().join(name), 4, read_npy);
    }
    for name in ["npy/problem.npz", "npy/problem_f32_int_labels.npz"] {
        survive(&fixtures().join(name), 5, read_npz_problem);
    }
    survive(&fixtures().join("npy/classification.npz"), 6, load_npz);
}

#[test]
fn csv_files() {
    survive(&fixtures().join("iris_like.csv"), 7, load_csv);
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
        survive(&path, seed, read_image);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn idx_parser_survives_damage(damage in damage()) {
        parse_damaged(&fixtures().join("idx/train-images-idx3-ubyte.gz"), &damage, read_idx);
        parse_damaged(&fixtures().join("idx/test-labels-idx1-ubyte"), &damage, read_idx);
    }

    #[test]
    fn npy_parser_survives_damage(damage in damage()) {
        parse_damaged(&fixtures().join("npy/x_f64_fortran.npy"), &damage, read_npy);
    }

    #[test]
    fn npz_parsers_survive_damage(damage in damage()) {
        parse_damaged(&fixtures().join("npy/problem.npz"), &damage, read_npz_problem);
        parse_damaged(&fixtures().join("npy/classification.npz"), &damage, load_npz);
    }

    #[test]
    fn csv_parser_survives_damage(damage in damage()) {
        parse_damaged(&fixtures().join("iris_like.csv"), &damage, load_csv);
    }

    #[test]
    fn cifar_binary_parser_survives_damage(damage in damage()) {
        parse_damaged(&fixtures().join("cifar10-bin/data_batch_1.bin"), &damage, parse_cifar_binary);
    }

    #[test]
    fn pickle_parser_survives_damage(damage in damage()) {
        parse_damaged(
            &fixtures().join("cifar10/cifar-10-batches-py/data_batch_1"),
            &damage,
            parse_pickle,
        );
        parse_damaged(&fixtures().join("cifar_py3_protocol2_batch"), &damage, parse_pickle);
    }
}
