//! The task of a comparison: its training, validation and test data, and the settings its records
//! belong to.

use super::args::{Arch, Dataset, Task};
use crate::error::CliError;
use clap::ValueEnum;
use cronos_datasets::preprocess::{Granularity, Scaler, Scaling};
use cronos_datasets::projection::Projection;
use cronos_datasets::LabeledSet;

/// The data of a task, pixels scaled to [0, 1] by the training range, then projected on the
/// training set's first principal components if the task asks for them.
pub struct TaskData {
    pub train: LabeledSet,
    /// Scores every epoch; what tuning (learning rates, CRONOS's beta) and peak accuracies see.
    pub valid: LabeledSet,
    /// Held out from every choice: scores the final network of each run once, so the method's best
    /// run, chosen on validation, has an accuracy that the choice did not flatter.
    pub test: LabeledSet,
}

/// The data of `task`. The dataset's held-out split is divided by class: validation takes
/// `--val-limit` samples of it (0: half), at most half, and the test set the rest.
pub fn load_task(task: &Task) -> Result<TaskData, CliError> {
    let args = task.args;
    if let Some(dir) = &args.data_dir {
        if !dir.exists() {
            return Err(CliError(format!(
                "data directory {} does not exist",
                dir.display()
            )));
        }
    }
    let (train, held_out) = match (args.dataset, &args.data_dir) {
        (Dataset::FashionMnist, None) => cronos_datasets::mnist::fashion_mnist_embedded()?,
        (Dataset::FashionMnist, Some(dir)) => cronos_datasets::mnist::fashion_mnist(dir)?,
        (Dataset::Cifar10, Some(dir)) => cronos_datasets::cifar::load_dir(dir)?,
        (Dataset::ImageFolder, Some(dir)) => {
            let all = cronos_datasets::image_folder::load(dir, args.image_size)?;
            all.stratified_split(0.2, 0)?
        }
        (kind, None) => {
            let name = kind
                .to_possible_value()
                .map_or_else(|| format!("{kind:?}"), |v| v.get_name().to_string());
            return Err(CliError(format!(
                "--dataset {name} needs --data-dir (only fashion-mnist is embedded)"
            )));
        }
    };
    let classes = |set: LabeledSet| -> Result<LabeledSet, CliError> {
        Ok(if task.classes.0.is_empty() {
            set
        } else {
            set.select_classes(&task.classes.0)?
        })
    };
    let (train, held_out) = (classes(train)?, classes(held_out)?);
    let mut train = match args.train_limit {
        limit if limit > 0 && limit < train.len() => {
            train
                .stratified_split(limit as f64 / train.len() as f64, 0)?
                .1
        }
        _ => train,
    };
    if held_out.len() < 2 {
        return Err(CliError(format!(
            "the held-out split has {} sample(s) of the chosen classes: validation and test need \
             one each at least",
            held_out.len()
        )));
    }
    let half = held_out.len() / 2;
    let val_size = match args.val_limit {
        0 => half,
        limit => limit.min(half),
    };
    let (mut test, mut valid) =
        held_out.stratified_split(val_size as f64 / held_out.len() as f64, 0)?;
    let scaler = Scaler::fit(&train.x, Scaling::UnitRange, Granularity::Scalar)?;
    for set in [&mut train, &mut valid, &mut test] {
        scaler.apply(&mut set.x)?;
    }
    if task.pca > 0 {
        let projection = Projection::pca(&train.x, task.pca)
            .map_err(|e| CliError(format!("invalid value {} for --pca: {e}", task.pca)))?;
        for set in [&mut train, &mut valid, &mut test] {
            set.x = projection.apply(&set.x)?;
            set.image_shape = None;
        }
    }
    Ok(TaskData { train, valid, test })
}

/// Records only compare when the task is the same: the first sweep writes `settings.json` in the
/// task's folder, later sweeps there must match it (methods, seeds and learning-rate draws may
/// change).
pub(crate) fn check_settings(task: &Task, arch: &Arch, data: &TaskData) -> Result<(), CliError> {
    let args = task.args;
    let mut settings = serde_json::json!({
        "dataset": format!("{:?}", args.dataset),
        "data_dir": args.data_dir,
        "classes": task.classes.0,
        "image_size": args.image_size,
        "pca": task.pca,
        "train_samples": data.train.len(),
        "valid_samples": data.valid.len(),
        "test_samples": data.test.len(),
        "arch": arch.to_string(),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "neurons": task.neurons,
        "gate_sampling": format!("{:?}", args.gate_sampling),
        "cronos_max_iters": args.cronos_max_iters,
        "cronos_time_limit": args.cronos_time_limit,
        "resolve_every": args.resolve_every,
        "head_warm_start": args.head_warm_start,
        "precision": format!("{:?}", args.device.precision),
        // Draws of one sampling scheme only: records of independent draws are not mixed in.
        "lr_sampling": "log-uniform, golden-ratio sequence",
    });
    // beta only shapes the two-layer program; deep runs recorded before it was a setting still match.
    // And the head's beta the deep one.
    if matches!(arch, Arch::TwoLayer { .. }) {
        settings["beta"] = args.beta.to_string().into();
    } else {
        settings["head_beta"] = args.head_beta_text().into();
    }
    let path = task.out.join("settings.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let previous: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CliError(format!("cannot parse {}: {e}", path.display())))?;
            if previous != settings {
                return Err(CliError(format!(
                    "{} holds runs of other settings ({previous}); choose another --out",
                    task.out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&task.out).map_err(|e| CliError::io("create", &task.out, e))?;
            let text =
                serde_json::to_string_pretty(&settings).map_err(|e| CliError(e.to_string()))?;
            std::fs::write(&path, text + "\n").map_err(|e| CliError::io("write", &path, e))
        }
        Err(e) => Err(CliError::io("read", &path, e)),
    }
}
