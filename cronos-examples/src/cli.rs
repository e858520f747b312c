//! Command-line arguments of `cronos` (clap derive). Values are parsed here; checks that need the data
//! (shapes, class indices, ranks) happen where the data is loaded.

use clap::{Args, Parser, Subcommand, ValueEnum};
use cronos_core::{CronosConfig, Formulation, GateSampling};
use cronos_datasets::DatasetKind;
use cronos_examples::device::DeviceArgs;
use std::path::PathBuf;

/// Train two-layer ReLU networks to a global optimum by convex optimization (CRONOS).
///
/// Every error is reported as one line on stderr and exits with status 2.
#[derive(Debug, Parser)]
#[command(name = "cronos", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fit a network to an NPZ problem or a dataset and write a JSON report.
    ///
    /// Ctrl-C stops the solve: the best point so far is reported (status "stopped") and the command
    /// exits with status 130. A second Ctrl-C aborts at once.
    #[command(allow_negative_numbers = true)]
    Fit(Box<FitArgs>),
    /// Predict with a saved model and write the predictions as an `.npy` matrix.
    ///
    /// Inputs are raw features: the preprocessing that `fit` applied (scaling, PCA), saved beside
    /// the model in MODEL.preprocess.json, is applied to them first. A model without that file
    /// takes inputs as they are.
    Predict(PredictArgs),
    /// Compare CRONOS (two-layer task) and CRONOS-AM (deep task) with tuned gradient optimizers.
    ///
    /// Writes, per task under --out/TASK, per-epoch records (epochs.csv, epochs.jsonl), finished
    /// runs (runs.jsonl), summary.md, summary.json and plots (val_accuracy, on the two-layer task
    /// objective; SVG and PNG), and summary.md and summary.json of every task under --out; a rerun
    /// skips finished runs.
    Compare(Box<cronos_examples::compare::CompareArgs>),
    /// Inspect datasets.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Print shape, value range and class counts of the training and test splits.
    Info(InfoArgs),
}

/// Where the training data comes from: an NPZ problem, or a dataset with its preprocessing.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// NPZ problem with `X` (n x d), `Y` (n x c) and optionally `X_val`, `Y_val`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dataset", "data_dir", "classes", "scale", "pca", "val_fraction", "train_limit"])]
    pub data: Option<PathBuf>,
    /// Dataset kind: fashion-mnist, mnist, cifar10, image-folder, image-folder:SIZE, npz, npy, csv or csv:COLUMN
    /// [default when --data is not given: fashion-mnist, classes 2,8, scaled to [0, 1]].
    #[arg(long, value_name = "KIND")]
    pub dataset: Option<DatasetKind>,
    /// Directory (or file) of the dataset; without it fashion-mnist uses the embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Classes to keep, in order (two classes give +-1 targets, more give one-hot targets).
    #[arg(long, value_delimiter = ',', value_name = "I,J,...")]
    pub classes: Option<Vec<usize>>,
    /// Feature scaling fitted on the training split [default: unit for images, none otherwise].
    #[arg(long, value_enum)]
    pub scale: Option<ScaleArg>,
    /// Project the features onto their K leading principal components (fitted on training data).
    #[arg(long, value_name = "K")]
    pub pca: Option<usize>,
    /// Hold out this fraction of every training class as validation data (the test split, if
    /// any, is then reported as test accuracy) [default: validate on the test split].
    #[arg(long, value_name = "F")]
    pub val_fraction: Option<f64>,
    /// Keep at most N training samples (a stratified subset).
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
}

/// Feature scaling of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScaleArg {
    /// Map the training range to [0, 1] (one range for images, one per feature otherwise).
    Unit,
    /// Subtract the training mean and divide by the standard deviation.
    Standardize,
    /// Keep values as stored.
    None,
}

#[derive(Debug, Clone, Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Gate vectors (d x P) as an `.npy` matrix, or the `gates` array of an `.npz` archive;
    /// replaces the P random gates of --neurons.
    #[arg(long, value_name = "FILE")]
    pub gates: Option<PathBuf>,
    /// Number of sampled gate vectors P (up to 2P neurons per output).
    #[arg(long, value_name = "P", default_value_t = CronosConfig::new().neurons)]
    pub neurons: usize,
    /// Regularization beta (group lasso; weight decay beta/2 on the network).
    #[arg(long, default_value_t = CronosConfig::new().beta)]
    pub beta: f64,
    /// beta as this fraction of the smallest beta whose solution is zero for the data (at 1 and
    /// above the network is zero) instead of --beta; the report gives the beta used.
    #[arg(long, value_name = "F", conflicts_with = "beta")]
    pub relative_beta: Option<f64>,
    /// ADMM penalty rho in the solver's scaled units [default: chosen by the solver].
    #[arg(long)]
    pub rho: Option<f64>,
    /// Tolerance of the certified relative duality gap and of the relative cone violation.
    #[arg(long, default_value_t = CronosConfig::new().tol)]
    pub tol: f64,
    /// Maximum ADMM iterations.
    #[arg(long, value_name = "K", default_value_t = CronosConfig::new().max_iters)]
    pub max_iters: usize,
    /// Wall-clock limit of the solve in seconds.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Maximum conjugate-gradient iterations per ADMM iteration when the u-step core does not fit
    /// the memory budget.
    #[arg(long, value_name = "K", default_value_t = CronosConfig::new().pcg_max_iters)]
    pub pcg_max_iters: usize,
    /// Memory the solve may take, in GB: a fit estimated to need more is refused before it
    /// allocates, and the exact u-step core is factored only within what is left.
    #[arg(long, value_name = "GB", default_value_t = CronosConfig::new().memory_budget_gb)]
    pub memory_budget: f64,
    /// Convex program: relu (exact ReLU network) or gated (gated ReLU).
    #[arg(long, default_value = "relu")]
    pub formulation: Formulation,
    /// How the random gates are drawn: pairs (g and -g, so every sample is active in one
    /// pattern of each pair) or independent (the paper's).
    #[arg(long, value_name = "HOW", default_value = "pairs")]
    pub gate_sampling: GateSampling,
    /// Seed of the gate vectors and data subsets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Split the rows over this many peers on the device, one thread each, whose sums over rows are
    /// all-reduces (`cronos-burn/README.md`: "Sharded solves"); 1 solves unsharded.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Where to write the JSON report (parent directories are created).
    #[arg(long, value_name = "FILE")]
    pub report: PathBuf,
    /// Save the network as a Burn record (`FILE`, with its shape in `FILE.json` and the
    /// preprocessing of the data in `FILE.preprocess.json`, which `predict` applies).
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Write the certificate of optimality as an `.npz` archive: the network (`W1`, `W2`), `gates`,
    /// the dual point (`z`, `mu`), `beta`, `objective` and `lower_bound` (README: "Checking a solve").
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// Write one JSON line per iteration to this file while solving.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A split of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    Train,
    Test,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// Model saved by `cronos fit --save-model`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Inputs: an `.npz` archive with `X` (and optionally `Y`, to print accuracy), or an `.npy`
    /// matrix, of raw features like those given to `fit`.
    #[arg(long, value_name = "FILE", required_unless_present = "dataset", conflicts_with_all = ["dataset", "data_dir", "classes", "split"])]
    pub data: Option<PathBuf>,
    /// Predict on a dataset instead (same kinds as `fit`); its targets give the accuracy.
    #[arg(long, value_name = "KIND")]
    pub dataset: Option<DatasetKind>,
    /// Directory (or file) of the dataset; without it fashion-mnist uses the embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Classes to keep, in order: give the ones the model was fitted on.
    #[arg(long, value_delimiter = ',', value_name = "I,J,...")]
    pub classes: Option<Vec<usize>>,
    /// Which split of the dataset to predict on.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Where to write the n x c predictions (float64 `.npy`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
}

#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// Dataset kind: fashion-mnist, mnist, cifar10, image-folder, image-folder:SIZE, npz, npy, csv or csv:COLUMN.
    pub kind: DatasetKind,
    /// Directory (or file) of the dataset; without it fashion-mnist uses the embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn negative_numbers_reach_validation() {
        let cli =
            Cli::try_parse_from(["cronos", "fit", "--report", "r.json", "--beta", "-1"]).unwrap();
        let Command::Fit(args) = cli.command else {
            panic!("not fit")
        };
        assert_eq!(args.beta, -1.0);
    }

    #[test]
    fn data_conflicts_with_dataset_options() {
        let err = Cli::try_parse_from([
            "cronos",
            "fit",
            "--report",
            "r.json",
            "--data",
            "p.npz",
            "--classes",
            "1,2",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn predict_reads_a_file_or_a_dataset() {
        let parse = |extra: &[&str]| {
            let base = ["cronos", "predict", "--model", "m.bpk", "--out", "p.npy"];
            Cli::try_parse_from(base.iter().chain(extra)).map(|cli| cli.command)
        };
        let Ok(Command::Predict(args)) = parse(&["--dataset", "mnist", "--classes", "3,5"]) else {
            panic!("not predict")
        };
        assert_eq!(
            (args.split, args.classes),
            (SplitArg::Test, Some(vec![3, 5]))
        );
        assert!(parse(&["--data", "x.npy"]).is_ok());
        let kind = |extra: &[&str]| parse(extra).unwrap_err().kind();
        assert_eq!(kind(&[]), clap::error::ErrorKind::MissingRequiredArgument);
        let both = ["--data", "x.npy", "--split", "train"];
        assert_eq!(kind(&both), clap::error::ErrorKind::ArgumentConflict);
    }
}
