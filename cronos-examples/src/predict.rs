//! `cronos predict`: load a saved model, apply the preprocessing saved with it to raw inputs (a
//! matrix file or a dataset split), predict and write the predictions.

use crate::cli::{PredictArgs, SplitArg};
use crate::files::write_atomic;
use crate::outputs::check_writable;
use crate::preprocessing;
use crate::problem::{load_split, warn_zero_one_targets};
use burn::prelude::*;
use cronos_burn::device::{run_on, BackendTask, Precision};
use cronos_burn::model::{config_path, unverified_warning, Checksum, TwoLayerMlp};
use cronos_core::{accuracy_and_mse, host};
use cronos_datasets::npy::npy_bytes;
use cronos_datasets::npy::{read_inputs_npz, read_npy_matrix};
use cronos_datasets::{Matrix, Real};
use cronos_examples::error::{CliError, Result};
use std::path::Path;

/// Predictions and, when the inputs came with targets, their accuracy and mean squared error.
pub struct Prediction {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
    pub scores: Option<(f64, f64)>,
}

/// Runs `cronos predict`: writes the predictions to `--out`.
pub fn run(args: &PredictArgs) -> Result<Prediction> {
    match args.device.precision {
        Precision::F32 => run_in::<f32>(args),
        Precision::F64 => run_in::<f64>(args),
    }
}

/// [`run`] with the inputs read and preprocessed in `T`, the precision of the forward pass.
fn run_in<T: Real>(args: &PredictArgs) -> Result<Prediction> {
    check_writable("--out", &args.out)?;
    let (origin, x, y) = read_inputs::<T>(args)?;
    if let Some(y) = &y {
        warn_zero_one_targets(&origin, y);
    }
    let saved = preprocessing::load(&args.model)?;
    let x = match &saved {
        Some((path, pipeline)) => pipeline.apply(x).map_err(|e| {
            CliError(format!(
                "{origin}: {e} (raw features for the preprocessing in {})",
                path.display()
            ))
        })?,
        None => x,
    };
    let task = PredictTask {
        model: &args.model,
        x: &x,
        y: y.as_ref(),
        preprocessing: saved.as_ref().map(|(path, _)| path.as_path()),
    };
    let prediction = run_on(args.device.device, args.device.precision, task)??;
    if let Some(y) = y.filter(|_| prediction.scores.is_none()) {
        eprintln!(
            "warning: no scores: the targets have {} columns, the model {} outputs (for a \
             dataset, give the --classes the model was fitted on)",
            y.cols, prediction.cols
        );
    }
    write_atomic(
        &args.out,
        &npy_bytes(prediction.rows, prediction.cols, &prediction.values),
    )?;
    Ok(prediction)
}

/// The raw inputs, their targets when known, and where they came from (for messages).
fn read_inputs<T: Real>(args: &PredictArgs) -> Result<(String, Matrix<T>, Option<Matrix<T>>)> {
    let Some(kind) = &args.dataset else {
        let path = args
            .data
            .as_deref()
            .ok_or_else(|| CliError("give the inputs with --data FILE or --dataset KIND".into()))?;
        let (x, y) = read_matrices(path)?;
        return Ok((path.display().to_string(), x, y));
    };
    let split = match args.split {
        SplitArg::Train => "train",
        SplitArg::Test => "test",
    };
    let pair = load_split(
        kind,
        args.data_dir.as_deref(),
        args.classes.as_deref(),
        args.split,
    )?;
    Ok((format!("{kind} {split} split"), pair.x, Some(pair.y)))
}

/// `X` (and `Y` when present) of an `.npz` archive, or the matrix of an `.npy` file.
fn read_matrices<T: Real>(path: &Path) -> Result<(Matrix<T>, Option<Matrix<T>>)> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if !is_npz {
        return Ok((read_npy_matrix(path)?, None));
    }
    // Targets are optional; they are only used to print scores.
    Ok(read_inputs_npz(path)?)
}

struct PredictTask<'a, T> {
    model: &'a Path,
    x: &'a Matrix<T>,
    y: Option<&'a Matrix<T>>,
    /// The preprocessing file `x` went through, if any (named when `x` does not fit the model).
    preprocessing: Option<&'a Path>,
}

impl<T: Real> BackendTask for PredictTask<'_, T> {
    type Output = Result<Prediction>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Prediction> {
        for file in [self.model.to_path_buf(), config_path(self.model)] {
            if !file.is_file() {
                return Err(CliError(format!(
                    "model file {} does not exist",
                    file.display()
                )));
            }
        }
        let (model, checksum) = TwoLayerMlp::<B>::load_with_checksum(self.model, &device)?;
        if checksum == Checksum::NotRecorded {
            eprintln!("warning: {}", unverified_warning(self.model));
        }
        let config = model.config();
        if config.d_input != self.x.cols {
            let found = match self.preprocessing {
                Some(p) => format!("the preprocessing in {} gives {}", p.display(), self.x.cols),
                None => format!("the inputs have {}", self.x.cols),
            };
            return Err(CliError(format!(
                "the model {} takes {} features, {found}",
                self.model.display(),
                config.d_input,
            )));
        }
        let pred = model.forward(self.x.to_tensor::<B>(&device));
        let [rows, cols] = pred.dims();
        let scores = self
            .y
            .filter(|y| y.cols == cols)
            .map(|y| accuracy_and_mse(pred.clone(), y.to_tensor::<B>(&device)));
        Ok(Prediction {
            rows,
            cols,
            values: host::to_vec(pred),
            scores,
        })
    }
}
