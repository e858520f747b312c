//! `cronos compare`: CRONOS (two-layer) and CRONOS-AM (deep MLP) against Adam, AdamW, SGD with
//! momentum, Yogi, Shampoo and D-Adapted AdamW on one task, following the protocol of Feng,
//! Frangella & Pilanci (2024): every baseline's learning rate is drawn by random search,
//! log-uniform over [1e-6, 1e-2], over several seeds; CRONOS has no learning rate, and on the
//! two-layer network its beta (the program's, which the baselines then share) is chosen on
//! validation along a regularization path; CRONOS-AM is not tuned. All methods share the data, the
//! network and the epochs, and their clocks exclude evaluation.
//!
//! * [`records`]: per-epoch and per-run records written as they happen, read back to skip runs;
//! * [`train`]: one run, epoch by epoch;
//! * [`summary`]: the Markdown table and the accuracy-against-time plot.

pub mod example;
mod glyphs;
pub mod records;
pub mod summary;
pub mod train;

use clap::{Args, ValueEnum};
use cronos_burn::am::OptimizerConfig;
use cronos_burn::device::{run_on, BackendTask, DeviceSpec, Precision};
use cronos_core::CronosError;
use cronos_datasets::preprocess::{Granularity, Scaler, Scaling, TargetEncoding};
use cronos_datasets::{DatasetError, LabeledSet};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use records::{EpochRecord, RecordWriter, RunRecord};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A failed comparison, as one line.
#[derive(Debug)]
pub struct CompareError(pub String);

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line: Vec<&str> = self.0.lines().map(str::trim).collect();
        f.write_str(&line.join(" "))
    }
}

impl std::error::Error for CompareError {}

impl CompareError {
    fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Self(format!("cannot {action} {}: {err}", path.display()))
    }
}

impl From<DatasetError> for CompareError {
    fn from(e: DatasetError) -> Self {
        Self(e.to_string())
    }
}

impl From<CronosError> for CompareError {
    fn from(e: CronosError) -> Self {
        Self(e.to_string())
    }
}

/// What the first Ctrl-C does to a sweep (see [`crate::interrupt`]).
pub const STOPPING_SWEEP: &str =
    "stopping after this epoch; the summary covers the finished runs, a rerun redoes the others";

/// Learning rates of the random search: log-uniform over this range (the paper's).
pub const LR_RANGE: (f64, f64) = (1e-6, 1e-2);

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

    fn tuned(&self) -> bool {
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
    /// Backend and device: flex, ndarray, wgpu[:N] or cuda[:N].
    #[arg(long, default_value = "flex")]
    pub device: DeviceSpec,
    /// Floating-point precision: f32 or f64.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    pub precision: Precision,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: cronos_burn::device::DeviceError| e.0)
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

/// Training and validation sets of the task, pixels scaled to [0, 1] by the training range.
pub fn load_task(args: &CompareArgs) -> Result<(LabeledSet, LabeledSet), CompareError> {
    if let Some(dir) = &args.data_dir {
        if !dir.exists() {
            return Err(CompareError(format!(
                "data directory {} does not exist",
                dir.display()
            )));
        }
    }
    let (train, valid) = match (args.dataset, &args.data_dir) {
        (Dataset::FashionMnist, None) => cronos_datasets::mnist::fashion_mnist_embedded()?,
        (Dataset::FashionMnist, Some(dir)) => cronos_datasets::mnist::fashion_mnist(dir)?,
        (Dataset::Cifar10, Some(dir)) => cronos_datasets::cifar::load_dir(dir)?,
        (Dataset::ImageFolder, Some(dir)) => {
            let all = cronos_datasets::image_folder::load(dir, args.image_size)?;
            all.stratified_split(0.2, 0)?
        }
        (kind, None) => {
            return Err(CompareError(format!(
                "{kind:?} needs --data-dir (only fashion-mnist is embedded)"
            )))
        }
    };
    let pick = |set: LabeledSet, limit: usize| -> Result<LabeledSet, CompareError> {
        let set = if args.classes.0.is_empty() {
            set
        } else {
            set.select_classes(&args.classes.0)?
        };
        Ok(if limit > 0 && limit < set.len() {
            set.stratified_split(limit as f64 / set.len() as f64, 0)?.1
        } else {
            set
        })
    };
    let mut train = pick(train, args.train_limit)?;
    let mut valid = pick(valid, args.val_limit)?;
    let scaler = Scaler::fit(&train.x, Scaling::UnitRange, Granularity::Scalar)?;
    scaler.apply(&mut train.x)?;
    scaler.apply(&mut valid.x)?;
    Ok((train, valid))
}

/// Records only compare when the task is the same: the first sweep writes `settings.json` under
/// `--out`, later sweeps there must match it (methods, seeds and learning-rate draws may change).
fn check_settings(
    args: &CompareArgs,
    train: &LabeledSet,
    valid: &LabeledSet,
) -> Result<(), CompareError> {
    let mut settings = serde_json::json!({
        "dataset": format!("{:?}", args.dataset),
        "data_dir": args.data_dir,
        "classes": args.classes.0,
        "image_size": args.image_size,
        "train_samples": train.len(),
        "valid_samples": valid.len(),
        "arch": args.arch.to_string(),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "neurons": args.neurons,
        "cronos_max_iters": args.cronos_max_iters,
        "cronos_time_limit": args.cronos_time_limit,
        "resolve_every": args.resolve_every,
        "head_warm_start": args.head_warm_start,
        "precision": format!("{:?}", args.precision),
    });
    // beta only shapes the two-layer program; deep runs recorded before it was a setting still match.
    if matches!(args.arch, Arch::TwoLayer { .. }) {
        settings["beta"] = args.beta.to_string().into();
    }
    let path = args.out.join("settings.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let previous: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CompareError(format!("cannot parse {}: {e}", path.display())))?;
            if previous != settings {
                return Err(CompareError(format!(
                    "{} holds runs of other settings ({previous}); choose another --out",
                    args.out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&args.out)
                .map_err(|e| CompareError::io("create", &args.out, e))?;
            let text =
                serde_json::to_string_pretty(&settings).map_err(|e| CompareError(e.to_string()))?;
            std::fs::write(&path, text + "\n").map_err(|e| CompareError::io("write", &path, e))
        }
        Err(e) => Err(CompareError::io("read", &path, e)),
    }
}

/// One planned run.
struct Plan {
    method: usize,
    lr: Option<f64>,
    seed: u64,
}

/// The learning rates drawn for `method`: the same on every rerun, different per method.
pub fn lr_draws(method: &str, draws: usize) -> Vec<f64> {
    let salt = method.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = StdRng::seed_from_u64(salt);
    let (lo, hi) = (LR_RANGE.0.log10(), LR_RANGE.1.log10());
    (0..draws)
        .map(|_| 10f64.powf(rng.random_range(lo..hi)))
        .collect()
}

/// What a finished comparison reports.
pub struct Outcome {
    /// Runs done by this invocation.
    pub ran: usize,
    /// Runs skipped because a previous invocation finished them.
    pub skipped: usize,
    /// Whether the stop flag ended the sweep before every planned run was done.
    pub interrupted: bool,
    /// The Markdown summary (also in `summary.md`).
    pub summary: String,
    pub seconds: f64,
}

/// Runs the comparison `args` describes, writing records, `summary.md` and the plots under `--out`.
/// Once `stop` is set, the sweep ends after the epoch in progress (its record is written; the
/// unfinished run is redone by a rerun) and the summary covers the runs finished so far.
pub fn run(args: &CompareArgs, stop: &AtomicBool) -> Result<Outcome, CompareError> {
    let start = Instant::now();
    let methods = args
        .methods
        .iter()
        .map(|name| {
            Method::from_name(name.trim()).ok_or_else(|| {
                CompareError(format!(
                    "unknown method `{name}` (expected cronos, cronos-am or one of {})",
                    BASELINES.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if matches!(args.arch, Arch::TwoLayer { .. })
        && methods.iter().any(|m| matches!(m, Method::CronosAm))
    {
        return Err(CompareError(
            "cronos-am trains a deep MLP; use --arch with feature widths, or drop cronos-am".into(),
        ));
    }
    let with_cronos = methods.iter().any(|m| matches!(m, Method::Cronos));
    if matches!(args.arch, Arch::Deep { .. }) && with_cronos {
        return Err(CompareError(
            "cronos fits a two-layer network, not the deep MLP the others train; compare it on the \
             same network with --arch two-layer:W, or use cronos-am"
                .into(),
        ));
    }
    if matches!(args.arch, Arch::TwoLayer { .. }) && args.beta == Beta::Path && !with_cronos {
        return Err(CompareError(
            "--beta path takes the two-layer program's beta from CRONOS's path: add cronos to \
             --methods, or give --beta a number"
                .into(),
        ));
    }
    if args.epochs == 0 || args.seeds == 0 {
        return Err(CompareError(
            "--epochs and --seeds must be at least 1".into(),
        ));
    }
    let (train, valid) = load_task(args)?;
    if let Arch::TwoLayer { width } = args.arch {
        // CRONOS's network must not be wider than everyone else's.
        let classes = train.num_classes();
        let c = TargetEncoding::for_classes(classes).width(classes);
        let cronos_width = 2 * args.neurons * c;
        if with_cronos && width < cronos_width {
            return Err(CompareError(format!(
                "the two-layer network has width {width}, below CRONOS's 2 P c = {cronos_width} \
                 (P = {}, c = {c}): use --arch two-layer:{cronos_width} or more, or fewer --neurons",
                args.neurons
            )));
        }
    }
    let mut plans = Vec::new();
    for seed in 0..args.seeds {
        for (i, m) in methods.iter().enumerate() {
            if m.tuned() {
                for lr in lr_draws(m.name(), args.lr_draws) {
                    plans.push(Plan {
                        method: i,
                        lr: Some(lr),
                        seed,
                    });
                }
            } else {
                plans.push(Plan {
                    method: i,
                    lr: None,
                    seed,
                });
            }
        }
    }
    // CRONOS first: a path's beta is the baselines' of the same seed.
    plans.sort_by_key(|p| !matches!(methods[p.method], Method::Cronos));
    check_settings(args, &train, &valid)?;
    let mut writer = RecordWriter::open(&args.out)?;
    let (finished, _) = records::load(&args.out)?;
    let done: HashSet<_> = finished
        .iter()
        .map(|r| records::key(&r.method, r.lr, r.seed))
        .collect();
    let todo: Vec<&Plan> = plans
        .iter()
        .filter(|p| !done.contains(&records::key(methods[p.method].name(), p.lr, p.seed)))
        .collect();
    let skipped = plans.len() - todo.len();
    let chosen_betas = finished
        .iter()
        .filter(|r| r.method == Method::Cronos.name())
        .filter_map(|r| Some((r.seed, r.beta?)))
        .collect();

    let task = SweepTask {
        args,
        methods: &methods,
        todo: &todo,
        train: &train,
        valid: &valid,
        writer: &mut writer,
        attempt: records::new_attempt(),
        chosen_betas,
        stop,
    };
    let ran = run_on(args.device, args.precision, task).map_err(|e| CompareError(e.0))??;

    // Seeds and learning rates are counted from the records, which may hold runs of earlier
    // invocations with other --seeds, --lr-draws or --methods; the task itself is fixed by
    // `settings.json`.
    let task = format!(
        "{:?}, classes {:?}: {} training / {} validation samples, {} epochs, network {}",
        args.dataset,
        args.classes.0,
        train.len(),
        valid.len(),
        args.epochs,
        args.arch,
    );
    let (runs, epochs) = records::load(&args.out)?;
    let kind = match args.arch {
        Arch::TwoLayer { .. } => "two-layer",
        Arch::Deep { .. } => "deep",
    };
    let summary = summary::write(&args.out, kind, &task, &runs, &epochs)?;
    Ok(Outcome {
        ran,
        skipped,
        interrupted: ran < todo.len(),
        summary,
        seconds: start.elapsed().as_secs_f64(),
    })
}

struct SweepTask<'a> {
    args: &'a CompareArgs,
    methods: &'a [Method],
    todo: &'a [&'a Plan],
    train: &'a LabeledSet,
    valid: &'a LabeledSet,
    writer: &'a mut RecordWriter,
    /// Tags the epoch rows and run records of this invocation.
    attempt: String,
    /// The beta CRONOS's path chose, per seed (from earlier invocations' records and this one's).
    chosen_betas: HashMap<u64, f64>,
    stop: &'a AtomicBool,
}

impl SweepTask<'_> {
    /// beta of the two-layer program for a run of `method` and `seed`; 0 where none is used: CRONOS
    /// brings its own (fixed or its path's), and the deep network's loss is MSE, without weight decay.
    fn beta(&self, method: &Method, seed: u64) -> Result<f64, CompareError> {
        if matches!(method, Method::Cronos) || matches!(self.args.arch, Arch::Deep { .. }) {
            return Ok(0.0);
        }
        match self.args.beta {
            Beta::Fixed(beta) => Ok(beta),
            Beta::Path => self.chosen_betas.get(&seed).copied().ok_or_else(|| {
                CompareError(format!(
                    "no CRONOS run of seed {seed} has chosen beta for the baselines"
                ))
            }),
        }
    }
}

impl BackendTask for SweepTask<'_> {
    /// The number of runs finished.
    type Output = Result<usize, CompareError>;

    fn run<B: burn::prelude::Backend>(mut self, device: B::Device) -> Self::Output {
        let args = self.args;
        let setup = train::RunSetup {
            train: self.train,
            valid: self.valid,
            arch: &args.arch,
            epochs: args.epochs,
            batch_size: args.batch_size,
            cronos: cronos_burn::am::DeepTrainingConfig::paper_head()
                .with_neurons(args.neurons)
                .with_max_iters(args.cronos_max_iters)
                .with_time_limit(Some(args.cronos_time_limit)),
            beta: args.beta,
            head: cronos_burn::am::DeepTrainingConfig::paper_head().with_neurons(args.neurons),
            resolve_every: args.resolve_every,
            head_warm_start: args.head_warm_start,
        };
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(self.todo.len() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let stop = self.stop;
        let mut finished = 0;
        for plan in self.todo {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let method = &self.methods[plan.method];
            let beta = self.beta(method, plan.seed)?;
            let label = format!(
                "{} lr {} seed {}",
                method.name(),
                records::lr_text(plan.lr),
                plan.seed
            );
            bar.set_message(label.clone());
            let writer = &mut *self.writer;
            let mut on_epoch = |s: train::EpochScore| {
                bar.set_message(format!("{label} epoch {}: acc {:.3}", s.epoch, s.accuracy));
                writer.epoch(&EpochRecord {
                    method: method.name().into(),
                    lr: plan.lr,
                    seed: plan.seed,
                    epoch: s.epoch,
                    seconds: s.seconds,
                    val_accuracy: s.accuracy,
                    val_loss: s.loss,
                    attempt: self.attempt.clone(),
                })?;
                Ok(if stop.load(Ordering::SeqCst) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            };
            let Some(result) = train::run::<B>(
                &setup,
                method,
                plan.lr,
                beta,
                plan.seed,
                &device,
                &mut on_epoch,
            )?
            else {
                break;
            };
            let scores = &result.scores;
            let peak = scores.iter().map(|s| s.accuracy).fold(f64::NAN, f64::max);
            let last = scores.last().copied();
            self.writer.run(&RunRecord {
                method: method.name().into(),
                lr: plan.lr,
                seed: plan.seed,
                seconds: last.map_or(0.0, |s| s.seconds),
                peak_val_accuracy: peak,
                final_val_accuracy: last.map_or(f64::NAN, |s| s.accuracy),
                objective: result.objective,
                lower_bound: result.lower_bound,
                beta: result.beta,
                attempt: self.attempt.clone(),
            })?;
            if let (Method::Cronos, Some(beta)) = (method, result.beta) {
                self.chosen_betas.insert(plan.seed, beta);
            }
            finished += 1;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(finished)
    }
}
