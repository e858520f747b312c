//! The preprocessing saved beside a model: `MODEL.preprocess.json` holds the fitted [`Pipeline`]
//! (scaling, PCA) that maps raw features to the model's inputs. `fit --save-model` writes it and
//! `predict` applies it, so predictions can be made on raw inputs of the kind `fit` was given.

use crate::files::write_atomic;
use cronos_datasets::{Pipeline, Real};
use cronos_examples::error::{CliError, Result};
use std::path::{Path, PathBuf};

/// `MODEL.preprocess.json`, beside the model's own `MODEL.json` (`cronos_burn::model::config_path`).
pub fn sidecar_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".preprocess.json");
    PathBuf::from(name)
}

/// Writes the pipeline beside `model`. It is written even when it does nothing, so that a model
/// saved again over an older one never keeps the older one's preprocessing.
pub fn save<T: Real>(model: &Path, pipeline: &Pipeline<T>) -> Result<()> {
    let path = sidecar_path(model);
    let json = serde_json::to_string_pretty(pipeline)
        .map_err(|e| CliError(format!("cannot serialize {}: {e}", path.display())))?;
    write_atomic(&path, format!("{json}\n").as_bytes())
}

/// The pipeline saved beside `model` and its path, or `None` when there is no such file (a model
/// saved before preprocessing was recorded, or by the library API). The file is read in the
/// precision of the inputs it will map, whichever precision the fit ran in.
pub fn load<T: Real>(model: &Path) -> Result<Option<(PathBuf, Pipeline<T>)>> {
    let path = sidecar_path(model);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::io("read", &path, e)),
    };
    let corrupt = |e: &dyn std::fmt::Display| {
        CliError(format!(
            "preprocessing file {} is corrupt: {e}",
            path.display()
        ))
    };
    let pipeline: Pipeline<T> = serde_json::from_str(&text).map_err(|e| corrupt(&e))?;
    pipeline.check().map_err(|e| corrupt(&e))?;
    Ok(Some((path, pipeline)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.bpk");
        assert!(load::<f32>(&model).unwrap().is_none());
        let mut pipeline = Pipeline::<f32>::identity(2);
        pipeline.scaler = Some(cronos_datasets::Scaler {
            shift: vec![0.1, -3.0],
            scale: vec![1.0 / 3.0, 7.0],
        });
        save(&model, &pipeline).unwrap();
        let (path, loaded) = load(&model).unwrap().unwrap();
        assert_eq!(path, dir.path().join("m.bpk.preprocess.json"));
        assert_eq!(loaded, pipeline, "f32 values survive JSON exactly");

        let err = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let e = load::<f32>(&model).unwrap_err().to_string();
            assert!(e.contains("m.bpk.preprocess.json is corrupt"), "{e}");
            e
        };
        assert!(err(r#"{"input_dim": 2, "scaler": null}"#).contains("missing field `projection`"));
        assert!(
            err(r#"{"input_dim": 2, "scaler": null, "projection": null, "pca": 3}"#)
                .contains("unknown field `pca`")
        );
        assert!(err(
            r#"{"input_dim": 3, "scaler": {"shift": [0, 0], "scale": [1, 1]}, "projection": null}"#
        )
        .contains("field scaler.shift"));
        assert!(err("{").contains("EOF"));
    }
}
