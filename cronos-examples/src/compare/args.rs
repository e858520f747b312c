//! The flags of `cronos compare`, the methods it runs and the network they share.

use crate::device::DeviceArgs;
use clap::{Args, ValueEnum};
use cronos_burn::am::OptimizerConfig;
use std::fmt;
use std::path::PathBuf;

/// The baselines, in the paper's order.
pub const BASELINES: [&str; 6] = ["adam", "adamw", "sgd", "yogi", "shampoo", "dadapt-adamw"];

/// Which data a comparison runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dataset {
    /// Fashion-MNIST (the embedded subset without --data-dir).
    FashionMnist,
    /// CIFAR-10 (binary or pickle batches under --data-dir).
    Cifar10,
    /// One sub-directory of images per class under --data-dir.
    ImageFolder,
}

/// The network the gradient-trained methods share.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// One hidden ReLU layer of `width` neurons (the network CRONOS fits).
    TwoLayer { width: usize },
    /// Bias-free ReLU feature layers, then the two-layer head of width 2 P c (CRONOS-AM's).
    Deep { feature_widths: Vec<usize> },
}

/// beta of the two-layer program (the weight decay beta/2 every method's objective carries).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Beta {
    /// Chosen by CRONOS on validation along its regularization path; the baselines then use it.
    Path,
    /// The same given value for every method.
    Fixed(f64),
}

impl fmt::Display for Beta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path => f.write_str("path"),
            Self::Fixed(beta) => write!(f, "{beta}"),
        }
    }
}

fn parse_beta(s: &str) -> Result<Beta, String> {
    if s == "path" {
        return Ok(Beta::Path);
    }
    match s.parse::<f64>() {
        Ok(beta) if beta.is_finite() && beta >= 0.0 => Ok(Beta::Fixed(beta)),
        _ => Err(format!("expected `path` or a number >= 0, found `{s}`")),
    }
}

/// A method of the comparison.
#[derive(Debug)]
pub enum Method {
    /// Two-layer convex solve (untuned).
    Cronos,
    /// Deep MLP by alternating minimization (untuned).
    CronosAm,
    /// End-to-end training by an optimizer, learning rate tuned by random search.
    Baseline(OptimizerConfig),
}

impl Method {
    /// The method named `name`: `cronos`, `cronos-am` or a baseline optimizer (`sgd` has momentum 0.9).
    pub fn from_name(name: &str) -> Option<Self> {
        use burn::optim::momentum::MomentumConfig;
        use burn::optim::SgdConfig;
        match name {
            "cronos" => Some(Self::Cronos),
            "cronos-am" => Some(Self::CronosAm),
            "sgd" => Some(Self::Baseline(OptimizerConfig::Sgd(
                SgdConfig::new().with_momentum(Some(MomentumConfig::new())),
            ))),
            _ => OptimizerConfig::from_name(name).map(Self::Baseline),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Cronos => "cronos",
            Self::CronosAm => "cronos-am",
            Self::Baseline(o) => o.name(),
        }
    }

    pub(crate) fn tuned(&self) -> bool {
        matches!(self, Self::Baseline(_))
    }
}

/// Settings of a comparison (the flags of `cronos compare`).
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Dataset kind.
    #[arg(long, value_enum, default_value = "fashion-mnist")]
    pub dataset: Dataset,
    /// Directory of the dataset; without it fashion-mnist uses the embedded subset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Classes to keep, in order (two give +-1 targets, more one-hot targets), or `all`.
    #[arg(long, value_name = "I,J,...|all", default_value = "0,6", value_parser = parse_classes)]
    pub classes: Classes,
    /// Side of the square images of an image folder.
    #[arg(long, default_value_t = 171)]
    pub image_size: u32,
    /// Keep at most N training samples (stratified) [0: all].
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub train_limit: usize,
    /// Keep at most N validation samples (stratified) [0: all].
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub val_limit: usize,
    /// Methods to run, from cronos, cronos-am, adam, adamw, sgd, yogi, shampoo, dadapt-adamw.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cronos-am,adam,adamw,sgd,yogi,shampoo,dadapt-adamw"
    )]
    pub methods: Vec<String>,
    /// Network of the gradient-trained methods: feature widths of the deep MLP, or `two-layer:W`
    /// for one hidden layer of width W.
    #[arg(long, default_value = "256,256", value_parser = parse_arch)]
    pub arch: Arch,
    /// Learning rates drawn per baseline (log-uniform over [1e-6, 1e-2]).
    #[arg(long, default_value_t = 10)]
    pub lr_draws: usize,
    /// Number of seeds (0, 1, ...); each run is repeated per seed.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Epochs of every gradient-trained run.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// beta of the two-layer program, or `path`: CRONOS solves 10 betas from a tenth of the one
    /// whose solution is zero down 1e4 times, each warm-started from the last, keeps the best on
    /// validation (its time counts all ten), and the baselines train with the beta it kept.
    #[arg(long, default_value = "path", value_parser = parse_beta)]
    pub beta: Beta,
    /// Gate vectors P of CRONOS and of CRONOS-AM's head (head width 2 P c).
    #[arg(long, default_value_t = 10)]
    pub neurons: usize,
    /// ADMM iterations at most of each two-layer CRONOS solve, which stops once its certified
    /// relative gap is within 1e-3.
    #[arg(long, value_name = "K", default_value_t = 10_000)]
    pub cronos_max_iters: usize,
    /// Seconds at most of the two-layer CRONOS run, its whole path (its clock counts as its training
    /// time); a solve stopped by the limit reports its objective and the bound certified so far, and
    /// the path ends there.
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    pub cronos_time_limit: f64,
    /// Gradient steps between CRONOS-AM head solves.
    #[arg(long, default_value_t = 10)]
    pub resolve_every: usize,
    /// Continue each CRONOS-AM head solve from the previous one's ADMM state instead of from zero.
    #[arg(long)]
    pub head_warm_start: bool,
    /// Output directory of records, summary and plots.
    #[arg(long, value_name = "DIR", default_value = "runs/compare")]
    pub out: PathBuf,
    /// Backend, device and precision.
    #[command(flatten)]
    pub device: DeviceArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Class indices to keep; empty keeps every class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes(pub Vec<usize>);

fn parse_classes(s: &str) -> Result<Classes, String> {
    if s == "all" {
        return Ok(Classes(Vec::new()));
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse()
                .map_err(|_| format!("bad class index `{p}`"))
        })
        .collect::<Result<_, _>>()
        .map(Classes)
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    if let Some(w) = s.strip_prefix("two-layer:") {
        let width = w.parse().map_err(|_| format!("bad width `{w}`"))?;
        return Ok(Arch::TwoLayer { width });
    }
    let feature_widths = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.trim().parse().map_err(|_| format!("bad width `{p}`")))
        .collect::<Result<Vec<usize>, String>>()?;
    Ok(Arch::Deep { feature_widths })
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TwoLayer { width } => write!(f, "two-layer, width {width}"),
            Self::Deep { feature_widths } => write!(f, "deep MLP {feature_widths:?} + head"),
        }
    }
}
