//! One call that trains the paper's deep MLP on a labeled set, by CRONOS-AM or end to end by a
//! gradient optimizer (the baselines), through burn-train: the same network, data, loss, metrics
//! and checkpoints for both, so results compare head to head.

use crate::am::clock::EpochClock;
use crate::am::model::{DeepMlp, DeepMlpConfig};
use crate::am::optimizer::{AnyOptimizer, AnyOptimizerRecord, OptimizerConfig, OptimizerMismatch};
use crate::am::renderer::{EpochMetrics, EpochRenderer, QuietRenderer, Recording};
use crate::am::strategy::{CronosAmConfig, HeadSolve};
use crate::head::{HeadError, HeadSolverConfig};
use crate::optim::DAdaptAdamWConfig;
use burn::data::dataloader::DataLoaderBuilder;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder, RecorderError};
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::CliMetricsRenderer;
use burn::train::renderer::MetricsRenderer;
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, LearningComponentsMarker, MetricEarlyStoppingStrategy,
    StoppingCondition, SupervisedTraining, TrainingStrategy,
};
use cronos_core::CronosConfig;
use cronos_datasets::{ClassificationBatcher, DatasetError, LabeledSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use thiserror::Error;

/// How the deep MLP is trained.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum TrainingMethod {
    /// CRONOS-AM: the head is solved by CRONOS at the start of every epoch (or every
    /// `resolve_every` steps), the feature layers are trained by the optimizer through the fixed
    /// head.
    CronosAm,
    /// The baseline: every layer trained end to end by the optimizer (Burn's default step).
    Gradient,
}

/// What the metrics renderer shows.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ProgressDisplay {
    /// Nothing (CI, scripts, tests).
    Quiet,
    /// One line per epoch on stderr.
    Epochs,
    /// Burn's plain renderer: one line per batch on stdout.
    Batches,
}

/// Settings of a training run of the deep MLP.
#[derive(Config, Debug)]
pub struct DeepTrainingConfig {
    /// CRONOS-AM or end-to-end gradient training.
    #[config(default = "TrainingMethod::CronosAm")]
    pub method: TrainingMethod,
    /// Optimizer of the feature layers (CRONOS-AM) or of the whole network (baseline).
    #[config(default = "OptimizerConfig::DAdaptAdamW(DAdaptAdamWConfig::new())")]
    pub optimizer: OptimizerConfig,
    /// Constant learning rate; `None` takes [`OptimizerConfig::default_learning_rate`].
    #[config(default = "None")]
    pub learning_rate: Option<f64>,
    /// Head solves (CRONOS-AM) and the head width `2 P c` (both methods) with P = `neurons`.
    #[config(default = "DeepTrainingConfig::default_head()")]
    pub cronos: CronosConfig,
    /// Gradient steps between head solves (CRONOS-AM); `None`: one solve at the start of every
    /// epoch (see [`CronosAmConfig`]'s `resolve_every`).
    #[config(default = "None")]
    pub resolve_every: Option<usize>,
    /// Continue each head solve from the previous one (CRONOS-AM; see [`CronosAmConfig`]'s
    /// `warm_start`: fewer ADMM iterations, but a run resumed from a checkpoint is not bit-identical).
    #[config(default = false)]
    pub head_warm_start: bool,
    /// Widths of the bias-free feature layers.
    #[config(default = "vec![256, 256]")]
    pub feature_widths: Vec<usize>,
    /// Whether each head unit feeds one output ([`DeepMlpConfig::per_output_head`]).
    #[config(default = true)]
    pub per_output_head: bool,
    /// Epochs to train (the last epoch, when resuming).
    #[config(default = 2)]
    pub num_epochs: usize,
    /// Minibatch size.
    #[config(default = 100)]
    pub batch_size: usize,
    /// Seed of the initialization and of the minibatch order.
    #[config(default = 0)]
    pub seed: u64,
    /// Shuffle the training set every epoch (with `seed`); off gives the same batches every epoch.
    #[config(default = true)]
    pub shuffle: bool,
    /// Save model, optimizer and scheduler after every epoch under `<dir>/checkpoint`
    /// (full-precision named MessagePack; Burn keeps the last two and the best validation loss).
    #[config(default = false)]
    pub checkpoints: bool,
    /// Resume from the checkpoint of this epoch (saved by a run with `checkpoints`) and train the
    /// epochs after it up to `num_epochs`.
    #[config(default = "None")]
    pub resume_from: Option<usize>,
    /// Stop when the validation loss has not improved for this many epochs.
    #[config(default = "None")]
    pub early_stopping: Option<usize>,
    /// What the renderer shows.
    #[config(default = "ProgressDisplay::Quiet")]
    pub display: ProgressDisplay,
    /// Write burn-train's application log to `<dir>/experiment.log` (it installs a global logger,
    /// so only the first run of a process gets one).
    #[config(default = false)]
    pub application_log: bool,
}

impl DeepTrainingConfig {
    /// The relative beta of [`DeepTrainingConfig::default_head`]. On the deep task of `cronos
    /// compare` (two Fashion-MNIST classes, 2,000 images, the 256-256 MLP, whose heads'
    /// zero-solution betas were 290 to 390, a head solve every 10 steps), over six seeds,
    /// CRONOS-AM's mean peak validation and test accuracies were 0.813 and 0.808 with the reference
    /// runners' beta = 1e-3 and 0.840 and 0.833 with this on T-shirt vs shirt, 0.816 and 0.793
    /// against 0.835 and 0.818 on pullover vs coat. Near 1e-3 the heads fit the training features almost exactly.
    /// A relative 1e-2 gained nothing (0.828 and 0.853 on T-shirt vs shirt). On two pairs not used
    /// to choose it, coat vs shirt and pullover vs shirt, it gave 0.854 and 0.861, 0.847 and 0.825,
    /// against 0.799 and 0.818, 0.815 and 0.781 at 1e-3; with one solve per epoch, 2 to 5 points
    /// over 1e-3 on all four pairs (`cronos-burn/README.md`, "CRONOS-AM").
    pub const HEAD_RELATIVE_BETA: f64 = 3e-3;

    /// Head-solve settings: the reference runners' P = 10 and a short ADMM budget, since the head
    /// is solved again every epoch, and each solve's beta [`Self::HEAD_RELATIVE_BETA`] of its
    /// zero-solution beta, which follows the features as they train (the runners' fixed beta is
    /// `.with_relative_beta(None).with_beta(1e-3)`). The certificate is evaluated once, at the end:
    /// such a short solve is not certified before it (the deep task's heads end at a certified gap
    /// near 1), and on a 2,000 x 256 head each evaluation costs about as much as seven of its
    /// iterations.
    pub fn default_head() -> CronosConfig {
        let iterations = 30;
        CronosConfig::new()
            .with_neurons(10)
            .with_relative_beta(Some(Self::HEAD_RELATIVE_BETA))
            .with_max_iters(iterations)
            .with_check_every(iterations)
            .with_tol(1e-3)
    }

    /// The learning rate used: `learning_rate` or the optimizer's default.
    pub fn lr(&self) -> f64 {
        self.learning_rate
            .unwrap_or_else(|| self.optimizer.default_learning_rate())
    }

    /// The network's shape for data with `d_input` features and `d_output` target columns.
    pub fn model(&self, d_input: usize, d_output: usize) -> DeepMlpConfig {
        DeepMlpConfig::for_cronos(d_input, d_output, self.cronos.neurons)
            .with_feature_widths(self.feature_widths.clone())
            .with_per_output_head(self.per_output_head)
    }
}

/// Why a run could not start.
#[derive(Debug, Error)]
pub enum TrainingError {
    /// The data cannot be batched (e.g. +-1 targets for more than two classes).
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The head cannot hold a CRONOS solution.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The settings or the data are inconsistent.
    #[error("invalid training setup: {0}")]
    Setup(String),
    /// The optimizer state of the checkpoint to resume from cannot be read.
    #[error("cannot read the optimizer checkpoint {}: {source}", path.display())]
    Checkpoint {
        /// The checkpoint file, without its extension.
        path: PathBuf,
        /// Why it cannot be read.
        source: RecorderError,
    },
    /// The checkpoint to resume from was saved by a run with a different optimizer.
    #[error("cannot resume from {}: {source}", path.display())]
    OptimizerMismatch {
        /// The optimizer's checkpoint file, without its extension.
        path: PathBuf,
        /// The two optimizers.
        source: OptimizerMismatch,
    },
}

/// One epoch of a run, as burn-train validated it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeepEpoch {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Seconds of training from the start of the run to the end of this epoch's training, without
    /// the validation passes (head solves included).
    pub seconds: f64,
    /// Accuracy on the validation set (burn-train's epoch mean, as a fraction).
    pub valid_accuracy: f64,
    /// MSE on the validation set (burn-train's epoch mean of the batches' MSE).
    pub valid_loss: f64,
}

/// The result of a run: the trained network (on the inner backend) and how well it fits.
#[derive(Debug, Clone)]
pub struct DeepTrainingOutcome<B: Backend> {
    /// The trained network.
    pub model: DeepMlp<B>,
    /// Accuracy on the whole training set (sign agreement for +-1 targets, argmax for one-hot).
    pub train_accuracy: f64,
    /// Accuracy on the validation set.
    pub valid_accuracy: f64,
    /// MSE (mean over all entries) on the training set.
    pub train_loss: f64,
    /// MSE on the validation set.
    pub valid_loss: f64,
    /// Every head solve (CRONOS-AM; empty for the baselines).
    pub head_solves: Vec<HeadSolve>,
    /// The epochs trained by this call, with their training time and validation metrics.
    pub epochs: Vec<DeepEpoch>,
    /// Wall-clock seconds of the training run, validation included.
    pub seconds: f64,
    /// Directory holding metrics logs and checkpoints.
    pub directory: PathBuf,
}

type Components<B> = LearningComponentsMarker<B, f64, DeepMlp<B>, AnyOptimizer<DeepMlp<B>, B>>;

/// The format of the checkpoints, for burn-train's checkpointer and for reading them here.
type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Trains the deep MLP on `train` (validating on `valid`) with `config`, writing burn-train's
/// metric logs (and checkpoints) under `dir`, on backend `B` and `device`. `interrupter` stops the
/// run after the step in progress when another thread (e.g. a Ctrl-C handler) calls its `stop`;
/// the outcome then holds the epochs finished.
///
/// Targets follow the class count: +-1 for two classes, one-hot otherwise; the loss is the MSE.
pub fn train_deep_mlp<B: AutodiffBackend>(
    config: &DeepTrainingConfig,
    train: &LabeledSet,
    valid: &LabeledSet,
    dir: impl AsRef<Path>,
    device: &B::Device,
    interrupter: &Interrupter,
) -> Result<DeepTrainingOutcome<B::InnerBackend>, TrainingError> {
    let dir = dir.as_ref().to_path_buf();
    let batcher = ClassificationBatcher::for_set(train);
    let classes = train.num_classes();
    let outputs = batcher.encoding().width(classes);
    check_setup(config, train, valid, outputs)?;

    B::seed(device, config.seed);
    let mut model: DeepMlp<B> = config.model(train.dim(), outputs).init(device);
    let strategy = match config.method {
        TrainingMethod::CronosAm => {
            model = model.with_frozen_head();
            let strategy = CronosAmConfig::new(config.cronos.clone())
                .with_resolve_every(config.resolve_every)
                .with_warm_start(config.head_warm_start)
                .init::<B>(device);
            Some(strategy)
        }
        TrainingMethod::Gradient => None,
    };

    let mut loader = DataLoaderBuilder::<B, _, _>::new(batcher)
        .batch_size(config.batch_size)
        .set_device(device.clone());
    if config.shuffle {
        loader = loader.shuffle(config.seed);
    }
    let dl_train = loader.build(train.clone());
    let clock = EpochClock::default();
    let dl_valid = clock.wrap(
        DataLoaderBuilder::<B::InnerBackend, _, _>::new(batcher)
            .batch_size(config.batch_size)
            .set_device(device.clone())
            .build(valid.clone()),
    );

    let mut training: SupervisedTraining<Components<B>> =
        SupervisedTraining::new(&dir, dl_train, dl_valid)
            .metrics((LossMetric::new(), AccuracyMetric::new()))
            .num_epochs(config.num_epochs)
            .with_interrupter(interrupter.clone());
    let display: Box<dyn MetricsRenderer> = match config.display {
        ProgressDisplay::Quiet => Box::new(QuietRenderer),
        ProgressDisplay::Epochs => Box::new(EpochRenderer::new()),
        ProgressDisplay::Batches => Box::new(CliMetricsRenderer::new()),
    };
    let metrics = Arc::new(Mutex::new(Vec::new()));
    training = training.renderer(Recording::new(display, metrics.clone()));
    if !config.application_log {
        training = training.with_application_logger(None);
    }
    if config.checkpoints || config.resume_from.is_some() {
        training = training.with_file_checkpointer(CheckpointRecorder::new());
    }
    if let Some(epoch) = config.resume_from {
        check_checkpoint_optimizer::<B>(&config.optimizer, &dir, epoch, device)?;
        training = training.checkpoint(epoch);
    }
    if let Some(n_epochs) = config.early_stopping {
        training = training.early_stopping(MetricEarlyStoppingStrategy::new(
            &LossMetric::<B>::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs },
        ));
    }
    training = training.with_training_strategy(match &strategy {
        Some(cronos_am) => TrainingStrategy::Custom(Arc::new(cronos_am.clone())),
        None => TrainingStrategy::Default(ExecutionStrategy::SingleDevice(device.clone())),
    });

    let start = Instant::now();
    let learner = Learner::new(model, config.optimizer.init(), config.lr());
    clock.start();
    let result = training.launch(learner);
    let seconds = start.elapsed().as_secs_f64();
    let epochs = validated_epochs(&metrics, &clock);

    let model = result.model;
    let (train_accuracy, train_loss) = evaluate::<B::InnerBackend>(&model, train, device);
    let (valid_accuracy, valid_loss) = evaluate::<B::InnerBackend>(&model, valid, device);
    Ok(DeepTrainingOutcome {
        model,
        train_accuracy,
        valid_accuracy,
        train_loss,
        valid_loss,
        head_solves: strategy.map(|s| s.solves()).unwrap_or_default(),
        epochs,
        seconds,
        directory: dir,
    })
}

fn check_setup(
    config: &DeepTrainingConfig,
    train: &LabeledSet,
    valid: &LabeledSet,
    outputs: usize,
) -> Result<(), TrainingError> {
    let setup = |msg: String| Err(TrainingError::Setup(msg));
    if train.is_empty() || valid.is_empty() {
        return setup(format!(
            "empty data: {} training and {} validation samples",
            train.len(),
            valid.len()
        ));
    }
    if valid.dim() != train.dim() {
        return setup(format!(
            "validation samples have {} features, training samples {}",
            valid.dim(),
            train.dim()
        ));
    }
    if valid.labels.iter().any(|&l| l >= train.num_classes()) {
        return setup("validation labels outside the training classes".into());
    }
    if config.batch_size == 0 || config.num_epochs == 0 {
        return setup("batch_size and num_epochs must be at least 1".into());
    }
    if config.resume_from.is_some_and(|e| e >= config.num_epochs) {
        return setup(format!(
            "resume_from = {:?} leaves no epoch to train with num_epochs = {}",
            config.resume_from, config.num_epochs
        ));
    }
    if config.method == TrainingMethod::CronosAm {
        let head = HeadSolverConfig::new(config.cronos.clone());
        head.check_width(config.model(train.dim(), outputs).head_width, outputs)?;
        config
            .cronos
            .validate()
            .map_err(|e| TrainingError::Setup(e.to_string()))?;
    }
    Ok(())
}

/// Checks that the optimizer state in the checkpoint of `epoch` under `dir` was saved by
/// `optimizer`. burn-train loads the checkpoint itself once the run has started and can only panic
/// on the state of another optimizer, so the state is read once more here, up front, to turn a run
/// resumed with a different optimizer into an error.
fn check_checkpoint_optimizer<B: AutodiffBackend>(
    optimizer: &OptimizerConfig,
    dir: &Path,
    epoch: usize,
    device: &B::Device,
) -> Result<(), TrainingError> {
    // burn-train's file checkpointer names the optimizer's files `optim-<epoch>`.
    let path = dir.join("checkpoint").join(format!("optim-{epoch}"));
    let record: AnyOptimizerRecord<B> = match CheckpointRecorder::new().load(path.clone(), device) {
        Ok(record) => record,
        Err(source) => return Err(TrainingError::Checkpoint { path, source }),
    };
    record
        .check_saved_by(optimizer)
        .map_err(|source| TrainingError::OptimizerMismatch { path, source })
}

/// The validated epochs of the run, with their validation means from `metrics` (the renderer's
/// record) and their training time from `clock`.
fn validated_epochs(metrics: &Mutex<Vec<EpochMetrics>>, clock: &EpochClock) -> Vec<DeepEpoch> {
    let Ok(metrics) = metrics.lock() else {
        return Vec::new();
    };
    metrics
        .iter()
        .filter_map(|m| Some((m.epoch, m.valid("Accuracy")?, m.valid("Loss")?)))
        .zip(clock.training_seconds())
        .map(|((epoch, accuracy, loss), seconds)| DeepEpoch {
            epoch,
            seconds,
            valid_accuracy: accuracy / 100.0,
            valid_loss: loss,
        })
        .collect()
}

/// Accuracy and MSE of `model` on the whole of `set`.
fn evaluate<B: Backend>(model: &DeepMlp<B>, set: &LabeledSet, device: &B::Device) -> (f64, f64) {
    let encoding = ClassificationBatcher::for_set(set).encoding();
    let Ok(targets) = set.targets(encoding) else {
        return (f64::NAN, f64::NAN);
    };
    cronos_core::accuracy_and_mse(
        model.forward(set.x.to_tensor::<B>(device)),
        targets.to_tensor::<B>(device),
    )
}
