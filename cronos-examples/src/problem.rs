//! The data a fit works on: training inputs and targets, optional validation and test pairs, read
//! from an NPZ problem or built from a dataset (class subset, split, limit, scaling, PCA, targets),
//! with the fitted preprocessing; and the raw split of a dataset that `cronos predict` reads.

use crate::cli::{DataArgs, ScaleArg, SplitArg};
use cronos_datasets::npy::read_problem_npz;
use cronos_datasets::{
    load, DatasetKind, Granularity, LabeledSet, Matrix, Pipeline, Projection, Real, Scaler,
    Scaling, Source, TargetEncoding,
};
use cronos_examples::error::{CliError, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Inputs (`n x d`) and targets (`n x c`), in the precision `T` of the solve.
#[derive(Debug, Clone)]
pub struct Pair<T> {
    pub x: Matrix<T>,
    pub y: Matrix<T>,
}

/// Everything a fit needs, plus a description for the report. `T` is the precision the data is
/// read and preprocessed in: the `--precision` of the solve, so that `float64` files reach an
/// `f64` solve unrounded.
#[derive(Debug, Clone)]
pub struct Problem<T> {
    pub train: Pair<T>,
    pub val: Option<Pair<T>>,
    /// Held-out test split when validation data was split off the training set.
    pub test: Option<Pair<T>>,
    /// The map from raw features to the inputs above, fitted on the training data; saved beside
    /// the model so that `cronos predict` can take raw inputs.
    pub preprocessing: Pipeline<T>,
    pub info: DataInfo,
}

/// Where the data came from and how it was prepared, as recorded in the report.
#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    /// `npz-problem`, or the dataset kind.
    pub kind: String,
    /// The file or directory read; `None` for the embedded subset.
    pub path: Option<PathBuf>,
    /// Class names in target order (datasets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// `signed` (one +-1 column) or `one-hot` (datasets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pca: Option<usize>,
    /// Where the validation data came from: `file`, `test-split` or `split-off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<&'static str>,
    pub n: usize,
    pub d: usize,
    pub outputs: usize,
    pub n_val: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_test: Option<usize>,
}

/// Warns on stderr when `y` is one column of 0s and 1s. The accuracy of a single output counts
/// rows where prediction and target have the same sign, the convention of +-1 targets, so a
/// target 0 never counts as correct. The targets are not remapped: a model fitted on 0/1 targets
/// predicts values near 0 and 1, which a -1/+1 remapping of the targets would not make right;
/// the warning asks for -1/+1 targets instead.
pub fn warn_zero_one_targets<T: Real>(origin: &str, y: &Matrix<T>) {
    let zero_one = y.cols == 1
        && y.data.iter().any(|&v| v.widen() == 0.0)
        && y.data.iter().all(|&v| matches!(v.widen(), 0.0 | 1.0));
    if zero_one {
        eprintln!(
            "warning: {origin}: the targets are 0/1, but the accuracy of one output counts sign \
             agreement (targets -1/+1), so rows with target 0 never count as correct; encode the \
             classes as -1/+1"
        );
    }
}

/// Classes used when neither `--data` nor `--dataset` is given: pullover vs bag.
const DEFAULT_CLASSES: [usize; 2] = [2, 8];

/// Reads the problem the arguments describe. `seed` drives splits and subsets.
pub fn load_problem<T: Real>(args: &DataArgs, seed: u64) -> Result<Problem<T>> {
    match (&args.data, &args.dataset) {
        (Some(path), _) => load_npz_problem(path),
        (None, Some(kind)) => load_dataset(kind, args, args.classes.clone(), seed),
        (None, None) => load_dataset(
            &DatasetKind::FashionMnist,
            args,
            Some(args.classes.clone().unwrap_or(DEFAULT_CLASSES.to_vec())),
            seed,
        ),
    }
}

fn load_npz_problem<T: Real>(path: &std::path::Path) -> Result<Problem<T>> {
    let p = read_problem_npz(path)?;
    let origin = path.display().to_string();
    warn_zero_one_targets(&origin, &p.y);
    if let Some(y_val) = &p.y_val {
        warn_zero_one_targets(&format!("{origin} (Y_val)"), y_val);
    }
    let val = p.x_val.zip(p.y_val).map(|(x, y)| Pair { x, y });
    let info = DataInfo {
        kind: "npz-problem".into(),
        path: Some(path.to_path_buf()),
        classes: None,
        targets: None,
        scale: None,
        pca: None,
        validation: val.as_ref().map(|_| "file"),
        n: p.x.rows,
        d: p.x.cols,
        outputs: p.y.cols,
        n_val: val.as_ref().map_or(0, |v| v.x.rows),
        n_test: None,
    };
    Ok(Problem {
        preprocessing: Pipeline::identity(p.x.cols),
        train: Pair { x: p.x, y: p.y },
        val,
        test: None,
        info,
    })
}

fn load_dataset<T: Real>(
    kind: &DatasetKind,
    args: &DataArgs,
    classes: Option<Vec<usize>>,
    seed: u64,
) -> Result<Problem<T>> {
    let (mut train, mut test) = load_classes(kind, args.data_dir.as_deref(), classes.as_deref())?;
    if train.num_classes() < 2 {
        return Err(CliError(format!(
            "classification needs at least 2 classes, the data has {}",
            train.num_classes()
        )));
    }
    let (mut val, validation) = match args.val_fraction {
        Some(f) => {
            if !(f > 0.0 && f < 1.0) {
                return Err(CliError(format!(
                    "invalid value {f} for --val-fraction: must be in (0, 1)"
                )));
            }
            let (rest, val) = train.stratified_split(f, seed)?;
            train = rest;
            (Some(val), Some("split-off"))
        }
        None => {
            let val = test.take();
            let validation = val.as_ref().map(|_| "test-split");
            (val, validation)
        }
    };
    if let Some(limit) = args.train_limit {
        train = limit_samples(&train, limit, seed)?;
    }
    if train.is_empty() {
        return Err(CliError("no training samples left".into()));
    }

    let is_image = train.image_shape.is_some();
    let scale = args.scale.unwrap_or(if is_image {
        ScaleArg::Unit
    } else {
        ScaleArg::None
    });
    let scaling = match scale {
        ScaleArg::Unit => Some(Scaling::UnitRange),
        ScaleArg::Standardize => Some(Scaling::Standardize),
        ScaleArg::None => None,
    };
    let mut sets: Vec<&mut LabeledSet<T>> = [Some(&mut train), val.as_mut(), test.as_mut()]
        .into_iter()
        .flatten()
        .collect();
    let mut preprocessing = Pipeline::identity(sets[0].dim());
    if let Some(scaling) = scaling {
        let granularity = if is_image {
            Granularity::Scalar
        } else {
            Granularity::PerFeature
        };
        let scaler = Scaler::fit(&sets[0].x, scaling, granularity)?;
        for set in sets.iter_mut() {
            scaler.apply(&mut set.x)?;
        }
        preprocessing.scaler = Some(scaler);
    }
    if let Some(k) = args.pca {
        if k == 0 || k > sets[0].dim() {
            return Err(CliError(format!(
                "invalid value {k} for --pca: must be between 1 and the {} features",
                sets[0].dim()
            )));
        }
        let projection = Projection::pca(&sets[0].x, k)?;
        for set in sets.iter_mut() {
            set.x = projection.apply(&set.x)?;
            set.image_shape = None;
        }
        preprocessing.projection = Some(projection);
    }

    let encoding = TargetEncoding::for_classes(train.num_classes());
    let pair = |set: &LabeledSet<T>| -> Result<Pair<T>> {
        Ok(Pair {
            x: set.x.clone(),
            y: set.targets(encoding)?,
        })
    };
    let train_pair = pair(&train)?;
    let val_pair = val.as_ref().map(pair).transpose()?;
    let test_pair = test.as_ref().map(pair).transpose()?;
    let info = DataInfo {
        kind: kind.to_string(),
        path: args.data_dir.clone(),
        classes: Some(train.class_names.clone()),
        targets: Some(match encoding {
            TargetEncoding::Signed => "signed",
            TargetEncoding::OneHot => "one-hot",
        }),
        scale: Some(match scale {
            ScaleArg::Unit => "unit",
            ScaleArg::Standardize => "standardize",
            ScaleArg::None => "none",
        }),
        pca: args.pca,
        validation,
        n: train_pair.x.rows,
        d: train_pair.x.cols,
        outputs: train_pair.y.cols,
        n_val: val_pair.as_ref().map_or(0, |v| v.x.rows),
        n_test: test_pair.as_ref().map(|t| t.x.rows),
    };
    Ok(Problem {
        train: train_pair,
        val: val_pair,
        test: test_pair,
        preprocessing,
        info,
    })
}

/// The training and test sets of `kind`, reduced to `classes` (relabelled in that order).
fn load_classes<T: Real>(
    kind: &DatasetKind,
    data_dir: Option<&Path>,
    classes: Option<&[usize]>,
) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    let (mut train, mut test) = load(kind, &Source::from_option(data_dir.map(Path::to_path_buf)))?;
    if let Some(classes) = classes {
        check_classes(classes, &train)?;
        train = train.select_classes(classes)?;
        test = test.map(|t| t.select_classes(classes)).transpose()?;
    }
    Ok((train, test))
}

/// One split of a dataset with the classes and targets a fit on it uses, and its features as
/// stored: `cronos predict` applies the preprocessing saved with the model itself.
pub fn load_split<T: Real>(
    kind: &DatasetKind,
    data_dir: Option<&Path>,
    classes: Option<&[usize]>,
    split: SplitArg,
) -> Result<Pair<T>> {
    let (train, test) = load_classes(kind, data_dir, classes)?;
    let set = match split {
        SplitArg::Train => train,
        SplitArg::Test => test.ok_or_else(|| {
            CliError(format!(
                "the {kind} data has no test split: use --split train"
            ))
        })?,
    };
    let y = set.targets(TargetEncoding::for_classes(set.num_classes()))?;
    Ok(Pair { x: set.x, y })
}

fn check_classes<T: Real>(classes: &[usize], set: &LabeledSet<T>) -> Result<()> {
    if let Some(&bad) = classes.iter().find(|&&c| c >= set.num_classes()) {
        return Err(CliError(format!(
            "invalid class {bad} in --classes: the data has classes 0..={}",
            set.num_classes().saturating_sub(1)
        )));
    }
    let mut sorted = classes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != classes.len() {
        return Err(CliError("--classes lists a class twice".into()));
    }
    if classes.len() < 2 {
        return Err(CliError("--classes needs at least 2 classes".into()));
    }
    Ok(())
}

/// At most `limit` samples, drawn per class in proportion to the class sizes.
fn limit_samples<T: Real>(set: &LabeledSet<T>, limit: usize, seed: u64) -> Result<LabeledSet<T>> {
    if limit == 0 {
        return Err(CliError(
            "invalid value 0 for --train-limit: must be at least 1".into(),
        ));
    }
    if limit >= set.len() {
        return Ok(set.clone());
    }
    // The "validation" part of a stratified split holds round(fraction * class size) per class.
    let (_, kept) = set.stratified_split(limit as f64 / set.len() as f64, seed)?;
    if kept.len() <= limit {
        return Ok(kept);
    }
    let rows: Vec<usize> = (0..limit).collect();
    Ok(kept.select_rows(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(labels: Vec<usize>, classes: usize) -> LabeledSet {
        let n = labels.len();
        let x = Matrix::new(n, 1, (0..n).map(|i| i as f32).collect()).unwrap();
        let names = (0..classes).map(|c| format!("c{c}")).collect();
        LabeledSet::new(x, labels, names, None).unwrap()
    }

    #[test]
    fn limit_keeps_at_most_the_limit_and_every_class() {
        let s = set((0..101).map(|i| i % 3).collect(), 3);
        for limit in [1, 10, 50, 100] {
            let kept = limit_samples(&s, limit, 7).unwrap();
            assert!(
                kept.len() <= limit && kept.len() + 3 >= limit,
                "{}",
                kept.len()
            );
        }
        let kept = limit_samples(&s, 30, 7).unwrap();
        assert!(
            kept.class_counts().iter().all(|&c| c >= 9),
            "{:?}",
            kept.class_counts()
        );
        assert_eq!(limit_samples(&s, 500, 7).unwrap().len(), 101);
        assert!(limit_samples(&s, 0, 7).is_err());
    }

    #[test]
    fn classes_are_checked() {
        let s = set(vec![0, 1, 2], 3);
        assert!(check_classes(&[0, 2], &s).is_ok());
        assert!(check_classes(&[0, 3], &s)
            .unwrap_err()
            .0
            .contains("invalid class 3"));
        assert!(check_classes(&[1, 1], &s).is_err());
        assert!(check_classes(&[1], &s).is_err());
    }
}
