//! The flags of `cronos compare`, the methods it runs and the network they share.

use crate::device::DeviceArgs;
use crate::error::CliError;
use clap::{Args, ValueEnum};
use cronos_burn::am::{DeepTrainingConfig, OptimizerConfig};
use cronos_core::{CronosConfig, GateSampling};
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

/// The two tasks of a comparison. Each has its own defaults for the flags that shape it (classes,
/// network, methods, gate vectors, PCA); a flag given on the command line applies to every task run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskKind {
    /// The paper's Fashion-MNIST table: every method trains CRONOS's two-layer network on ten
    /// classes, CRONOS by its certified regularization path.
    TwoLayer,
    /// CRONOS-AM against the baselines on a deep MLP (T-shirt vs shirt).
    Deep,
}

impl TaskKind {
    /// The name of the task's output folder and of its rows in `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TwoLayer => "two-layer",
            Self::Deep => "deep",
        }
    }

    /// Whether `method` trains this task's network: CRONOS only the two-layer one, CRONOS-AM only
    /// the deep one, the baselines both.
    fn runs(self, method: &Method) -> bool {
        match method {
            Method::Cronos => self == Self::TwoLayer,
            Method::CronosAm => self == Self::Deep,
            Method::Baseline(_) => true,
        }
    }

    fn default_classes(self) -> Classes {
        match self {
            Self::TwoLayer => Classes(Vec::new()),
            Self::Deep => Classes(vec![0, 6]),
        }
    }

    fn default_neurons(self) -> usize {
        match self {
            Self::TwoLayer => TWO_LAYER_NEURONS,
            Self::Deep => 10,
        }
    }

    fn default_pca(self) -> usize {
        match self {
            Self::TwoLayer => TWO_LAYER_PCA,
            Self::Deep => 0,
        }
    }
}

/// Gate vectors P of the two-layer task: its network has width 2 P c.
pub const TWO_LAYER_NEURONS: usize = 3;
/// Principal components the two-layer task's methods see.
pub const TWO_LAYER_PCA: usize = 50;

/// The network the gradient-trained methods share.
#[derive(Debug, Clone, PartialEq)]
pub enum Arch {
    /// One hidden ReLU layer of `width` neurons (the network CRONOS fits), connected to the
    /// outputs as `output` says.
    TwoLayer { width: usize, output: OutputLayer },
    /// Bias-free ReLU feature layers, then the two-layer head of width 2 P c (CRONOS-AM's),
    /// connected to the outputs as `output` says.
    Deep {
        feature_widths: Vec<usize>,
        output: OutputLayer,
    },
}

/// How the hidden units of the two-layer network, or of the deep network's head, feed the
/// outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputLayer {
    /// Each hidden unit feeds one output (unit j output j mod c), as in the networks CRONOS
    /// returns, whose convex program holds a separate set of neurons per output: every method
    /// then trains the same network.
    PerOutput,
    /// Every hidden unit feeds every output, as in a plain dense MLP: a larger class of networks
    /// than CRONOS's program describes (its neurons can serve several outputs at once).
    Dense,
}

impl fmt::Display for OutputLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PerOutput => write!(f, "each hidden unit feeding one output"),
            Self::Dense => write!(f, "dense output layer"),
        }
    }
}

impl OutputLayer {
    /// [`cronos_burn::am::DeepMlpConfig::per_output_head`] of this connection.
    pub fn per_output(self) -> bool {
        self == Self::PerOutput
    }
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
    parse_positive(s, true)
        .map(Beta::Fixed)
        .map_err(|_| format!("expected `path` or a number >= 0, found `{s}`"))
}

/// A finite number `> 0` (`>= 0` with `zero`), as a flag's value.
fn parse_positive(s: &str, zero: bool) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (v > 0.0 || (zero && v == 0.0)) => Ok(v),
        _ => Err(format!(
            "expected a number {} 0, found `{s}`",
            if zero { ">=" } else { ">" }
        )),
    }
}

/// A method of the comparison.
#[derive(Debug, Clone)]
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
    /// Tasks to run, in order, each into its own folder under --out [default: two-layer,deep, or
    /// the task of --arch when given].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub tasks: Option<Vec<TaskKind>>,
    /// Classes to keep, in order (two give +-1 targets, more one-hot targets), or `all`
    /// [default: all for two-layer, 0,6 for deep].
    #[arg(long, value_name = "I,J,...|all", value_parser = parse_classes)]
    pub classes: Option<Classes>,
    /// Side of the square images of an image folder.
    #[arg(long, default_value_t = 171)]
    pub image_size: u32,
    /// Project the features on their first K principal components (fitted on the training set)
    /// before any method sees them; 0 keeps the pixels [default: 50 for two-layer, 0 for deep].
    #[arg(long, value_name = "K")]
    pub pca: Option<usize>,
    /// Keep at most N training samples (stratified) [0: all].
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub train_limit: usize,
    /// Keep at most N validation samples (stratified) of the held-out split, at most half of it;
    /// the rest of it is the test set [0: half].
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub val_limit: usize,
    /// Methods to run, from cronos, cronos-am, adam, adamw, sgd, yogi, shampoo, dadapt-adamw; each
    /// task runs those that train its network (cronos two-layer, cronos-am deep) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Network of the gradient-trained methods: feature widths of the deep MLP, or `two-layer:W`
    /// for one hidden layer of width W; runs that network's task only [default: two-layer of
    /// CRONOS's width 2 P c, and 256,256].
    #[arg(long, value_parser = parse_arch)]
    pub arch: Option<Arch>,
    /// How the hidden units of the two-layer network and of the deep network's head feed the
    /// outputs: per-output (each unit one output, as in CRONOS's networks) or dense (every unit
    /// every output).
    #[arg(long, value_name = "HOW", default_value = "per-output")]
    pub output_layer: OutputLayer,
    /// Learning rates drawn per baseline (log-uniform over [1e-6, 1e-2] for Adam, AdamW and Yogi, the
    /// paper's range, moved by the default learning rate over Adam's for the others: SGD [1e-4, 1],
    /// Shampoo [5e-5, 0.5], D-Adaptation AdamW [1e-3, 10]; spread over the range by a shifted
    /// golden-ratio sequence, so a larger N keeps the runs of a smaller one).
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
    /// Gate vectors P of CRONOS and of CRONOS-AM's head (width 2 P c) [default: 3 for two-layer, 10
    /// for deep].
    #[arg(long)]
    pub neurons: Option<usize>,
    /// How the random gates of CRONOS and of CRONOS-AM's head are drawn: pairs (g and -g) or
    /// independent (the paper's).
    #[arg(long, value_name = "HOW", default_value = "pairs")]
    pub gate_sampling: GateSampling,
    /// ADMM iterations at most of each two-layer CRONOS solve, which stops once its certified
    /// relative gap is within 1e-3.
    #[arg(long, value_name = "K", default_value_t = 10_000)]
    pub cronos_max_iters: usize,
    /// Seconds at most of the two-layer CRONOS run, its whole path (its clock counts as its training
    /// time); each beta gets an equal share of the time left, and a solve stopped by its share
    /// reports its objective and the bound certified so far.
    #[arg(long, value_name = "S", default_value_t = 300.0,
          value_parser = |s: &str| parse_positive(s, false))]
    pub cronos_time_limit: f64,
    /// beta of each CRONOS-AM head solve as this fraction of the smallest beta whose head is zero
    /// on the features of that solve.
    #[arg(long, value_name = "F", default_value_t = DeepTrainingConfig::HEAD_RELATIVE_BETA,
          value_parser = |s: &str| parse_positive(s, false))]
    pub head_relative_beta: f64,
    /// An absolute beta for every CRONOS-AM head solve instead of --head-relative-beta (the
    /// reference runners' is 1e-3).
    #[arg(long, value_name = "B", conflicts_with = "head_relative_beta",
          value_parser = |s: &str| parse_positive(s, true))]
    pub head_beta: Option<f64>,
    /// Gradient steps between CRONOS-AM head solves [default: one solve at the start of every
    /// epoch].
    #[arg(long, value_name = "K")]
    pub resolve_every: Option<usize>,
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

/// One task of a comparison: the flags with the task's defaults filled in.
pub struct Task<'a> {
    pub kind: TaskKind,
    pub args: &'a CompareArgs,
    pub classes: Classes,
    pub methods: Vec<Method>,
    pub neurons: usize,
    pub pca: usize,
    /// The network given by --arch (see [`Task::network`] for the default).
    arch: Option<Arch>,
    /// The task's folder under --out.
    pub out: PathBuf,
}

impl Task<'_> {
    /// The network every method of the task trains, for `outputs` targets: --arch, or the deep
    /// 256-256 MLP, or the two-layer network of CRONOS's width 2 P c; its output layer is
    /// --output-layer's.
    pub fn network(&self, outputs: usize) -> Arch {
        let output = self.args.output_layer;
        match (&self.arch, self.kind) {
            (Some(Arch::TwoLayer { width, .. }), _) => Arch::TwoLayer {
                width: *width,
                output,
            },
            (Some(Arch::Deep { feature_widths, .. }), _) => Arch::Deep {
                feature_widths: feature_widths.clone(),
                output,
            },
            (None, TaskKind::TwoLayer) => Arch::TwoLayer {
                width: 2 * self.neurons * outputs,
                output,
            },
            (None, TaskKind::Deep) => Arch::Deep {
                feature_widths: vec![256, 256],
                output,
            },
        }
    }
}

impl CompareArgs {
    /// `head` with the head solves' beta: --head-beta, or --head-relative-beta.
    pub fn head_with_beta(&self, head: CronosConfig) -> CronosConfig {
        match self.head_beta {
            Some(beta) => head.with_beta(beta).with_relative_beta(None),
            None => head.with_relative_beta(Some(self.head_relative_beta)),
        }
    }

    /// The head solves' beta as recorded in a task's settings.
    pub fn head_beta_text(&self) -> String {
        match self.head_beta {
            Some(beta) => format!("{beta:e}"),
            None => format!("{:e} of the zero-solution beta", self.head_relative_beta),
        }
    }

    /// The tasks to run, in order, each with the methods that train its network. A task none of
    /// whose methods was asked for is left out; a method asked for that fits no task run is an
    /// error.
    pub fn tasks(&self) -> Result<Vec<Task<'_>>, CliError> {
        let arch_kind = self.arch.as_ref().map(|arch| match arch {
            Arch::TwoLayer { .. } => TaskKind::TwoLayer,
            Arch::Deep { .. } => TaskKind::Deep,
        });
        let kinds = match (&self.tasks, arch_kind) {
            (Some(kinds), Some(arch)) if kinds.iter().any(|&k| k != arch) => {
                return Err(CliError(format!(
                    "--arch {} is the network of the {} task only; drop --arch or --tasks",
                    self.arch.as_ref().map_or(String::new(), Arch::to_string),
                    arch.name()
                )))
            }
            (Some(kinds), _) => kinds.clone(),
            (None, Some(arch)) => vec![arch],
            (None, None) => vec![TaskKind::TwoLayer, TaskKind::Deep],
        };
        let all: Vec<String> = ["cronos", "cronos-am"]
            .into_iter()
            .chain(BASELINES)
            .map(String::from)
            .collect();
        let names = self.methods.as_ref().unwrap_or(&all);
        let methods = names
            .iter()
            .map(|name| {
                Method::from_name(name.trim()).ok_or_else(|| {
                    CliError(format!(
                        "unknown method `{name}` (expected cronos, cronos-am or one of {})",
                        BASELINES.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for method in &methods {
            let name = method.name();
            if self.methods.is_some() && !kinds.iter().any(|k| k.runs(method)) {
                return Err(CliError(match method {
                    Method::Cronos => "cronos fits a two-layer network, not the deep MLP the \
                                       others train; compare it on the same network with --arch \
                                       two-layer:W, or use cronos-am"
                        .into(),
                    _ => format!(
                        "{name} trains a deep MLP; use --arch with feature widths, or drop {name}"
                    ),
                }));
            }
        }
        let tasks = kinds
            .into_iter()
            .map(|kind| Task {
                kind,
                args: self,
                classes: self
                    .classes
                    .clone()
                    .unwrap_or_else(|| kind.default_classes()),
                methods: methods.iter().filter(|m| kind.runs(m)).cloned().collect(),
                neurons: self.neurons.unwrap_or_else(|| kind.default_neurons()),
                pca: self.pca.unwrap_or_else(|| kind.default_pca()),
                arch: self.arch.clone(),
                out: self.out.join(kind.name()),
            })
            .filter(|task| !task.methods.is_empty())
            .collect();
        Ok(tasks)
    }
}

/// Class indices to keep; empty keeps every class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes(pub Vec<usize>);

fn parse_classes(s: &str) -> Result<Classes, String> {
    if s == "all" {
        return Ok(Classes(Vec::new()));
    }
    let classes: Vec<usize> = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse()
                .map_err(|_| format!("bad class index `{p}`"))
        })
        .collect::<Result<_, _>>()?;
    if classes.len() < 2 {
        return Err(format!(
            "a classification needs at least two classes, found {}",
            classes.len()
        ));
    }
    Ok(Classes(classes))
}

/// A layer width: a positive integer.
fn parse_width(s: &str) -> Result<usize, String> {
    match s.trim().parse() {
        Ok(0) => Err("bad width `0`: a layer needs at least one neuron".into()),
        Ok(width) => Ok(width),
        Err(_) => Err(format!("bad width `{s}`")),
    }
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    if let Some(w) = s.strip_prefix("two-layer:") {
        // The output layers are --output-layer's (see `Task::network`).
        let width = parse_width(w)?;
        return Ok(Arch::TwoLayer {
            width,
            output: OutputLayer::PerOutput,
        });
    }
    let feature_widths = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(parse_width)
        .collect::<Result<Vec<usize>, String>>()?;
    if feature_widths.is_empty() {
        return Err("no feature layer widths (e.g. `256,256`)".into());
    }
    Ok(Arch::Deep {
        feature_widths,
        output: OutputLayer::PerOutput,
    })
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TwoLayer { width, output } => write!(f, "two-layer, width {width}, {output}"),
            Self::Deep {
                feature_widths,
                output,
            } => write!(f, "deep MLP {feature_widths:?} + head, {output}"),
        }
    }
}
