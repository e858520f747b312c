//! Model files: the sidecar records the SHA-256 of the weights, damaged weights and sidecars that
//! do not describe the weights are errors naming the file, and files saved before checksums were
//! recorded still load.

use burn::backend::flex::{Flex, FlexDevice};
use burn::prelude::*;
use cronos_burn::model::{config_path, Checksum, ModelFileError, TwoLayerMlp, TwoLayerMlpConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Saves a random network; returns its path and its outputs on fixed inputs.
fn saved(dir: &Path, gated: bool) -> (std::path::PathBuf, Vec<f32>) {
    let path = dir.join(if gated { "gated.bpk" } else { "relu.bpk" });
    let model = TwoLayerMlpConfig::new(3, 4, 2)
        .with_gated(gated)
        .init::<Flex>(&FlexDevice);
    // Burn initializes parameters lazily, each clone on its own: the outputs come first, so the
    // saved clone holds the weights they were computed with.
    let expected = outputs(&model);
    model.save(&path).unwrap();
    (path, expected)
}

fn load(path: &Path) -> Result<(TwoLayerMlp<Flex>, Checksum), ModelFileError> {
    TwoLayerMlp::<Flex>::load_with_checksum(path, &FlexDevice)
}

fn sidecar(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(config_path(path)).unwrap()).unwrap()
}

fn edit_sidecar(path: &Path, field: &str, value: Value) {
    let mut json = sidecar(path);
    match value {
        Value::Null => json.as_object_mut().unwrap().remove(field),
        value => json.as_object_mut().unwrap().insert(field.into(), value),
    };
    std::fs::write(config_path(path), json.to_string()).unwrap();
}

fn message(result: Result<(TwoLayerMlp<Flex>, Checksum), ModelFileError>) -> String {
    match result {
        Ok(_) => panic!("the damaged model loaded"),
        Err(e) => e.to_string(),
    }
}

fn outputs(model: &TwoLayerMlp<Flex>) -> Vec<f32> {
    let x = Tensor::<Flex, 2>::from_floats([[1.0, -2.0, 0.5], [0.3, 0.2, -0.1]], &FlexDevice);
    model.forward(x).into_data().to_vec().unwrap()
}

#[test]
fn sidecar_records_the_sha256_of_the_weights_and_loading_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    for gated in [false, true] {
        let (path, expected) = saved(dir.path(), gated);
        let digest: String = Sha256::digest(std::fs::read(&path).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sidecar(&path)["sha256"], Value::String(digest.clone()));
        let (loaded, checksum) = load(&path).unwrap();
        assert_eq!(checksum, Checksum::Matched(digest));
        assert_eq!(outputs(&loaded), expected);
    }
}

#[test]
fn flipped_bytes_in_the_weights_are_an_error_naming_the_file_and_both_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved(dir.path(), false);
    let recorded = sidecar(&path)["sha256"].as_str().unwrap().to_string();
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0x40;
    bytes[n - 9] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = message(load(&path));
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    let digests: Vec<&str> = err
        .split_whitespace()
        .filter(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    assert_eq!(digests.len(), 2, "{err}");
    assert_ne!(digests[0], recorded, "the digest found comes first: {err}");
    assert_eq!(digests[1], recorded, "{err}");
}

#[test]
fn truncated_weights_are_reported_as_damage_with_or_without_a_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved(dir.path(), true);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = message(load(&path));
    assert!(err.contains("SHA-256"), "{err}");
    // Without a checksum to compare, decoding fails: the message says why in our words.
    edit_sidecar(&path, "sha256", Value::Null);
    for keep in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = message(load(&path));
        assert!(err.contains("truncated or corrupt"), "{keep}: {err}");
        assert!(!err.contains("0.14"), "{keep}: {err}");
        assert_eq!(err.lines().count(), 1, "{keep}: {err}");
    }
}

#[test]
fn sidecar_fields_that_do_not_describe_the_weights_are_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (relu, _) = saved(dir.path(), false);
    let (gated, _) = saved(dir.path(), true);
    let cases = [
        (
            &gated,
            "gated",
            Value::Bool(false),
            "`gated` is false, but there are gate vectors",
        ),
        (
            &relu,
            "gated",
            Value::Bool(true),
            "`gated` is true, but there are no gate vectors",
        ),
        (
            &relu,
            "hidden",
            7.into(),
            "`hidden` is 7, but there are 4 columns of the first layer",
        ),
        (
            &relu,
            "d_input",
            5.into(),
            "`d_input` is 5, but there are 3 rows of the first layer",
        ),
        (
            &relu,
            "d_output",
            1.into(),
            "`d_output` is 1, but there are 2 columns",
        ),
    ];
    for (path, field, value, expected) in cases {
        let original = std::fs::read(config_path(path)).unwrap();
        edit_sidecar(path, field, value);
        let err = message(load(path));
        assert!(
            err.starts_with(&config_path(path).display().to_string()),
            "{err}"
        );
        assert!(err.contains(expected), "{field}: {err}");
        std::fs::write(config_path(path), original).unwrap();
    }
}

#[test]
fn models_saved_without_a_checksum_load_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = saved(dir.path(), true);
    edit_sidecar(&path, "sha256", Value::Null);
    let (loaded, checksum) = load(&path).unwrap();
    assert_eq!(checksum, Checksum::NotRecorded);
    assert_eq!(outputs(&loaded), expected);
    assert_eq!(
        outputs(&TwoLayerMlp::load(&path, &FlexDevice).unwrap()),
        expected
    );
}
