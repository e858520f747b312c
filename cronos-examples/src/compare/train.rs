//! One run of the comparison, epoch by epoch, with a clock that stops while the validation set is
//! scored, so every method is charged for training alone.
//!
//! * deep task: every method trains the deep MLP through burn-train with the library's
//!   [`train_deep_mlp`]: the baselines end to end by their optimizer with the MSE loss, CRONOS-AM
//!   with its strategy ([`cronos_burn::am::CronosAm`]: the head re-solved by CRONOS on the
//!   features of the whole training set at the start of every epoch (or every `resolve_every`
//!   steps), the feature layers trained by D-Adapted AdamW at lr 1, the paper's untuned choice);
//! * two-layer task, baselines: the network trained end to end by the optimizer on minibatches of
//!   CRONOS's objective per sample, `1/(2 |B|) ||f(X_B) - Y_B||^2 + beta/(2 n) ||W||^2`, so every
//!   method minimizes the same program; by default each hidden unit feeds one output, as in
//!   CRONOS's network ([`OutputLayer`]);
//! * two-layer task, CRONOS: the convex program solved along a regularization path (each solve one
//!   "epoch"), warm-starting each beta from the previous one; the beta whose network scores best on
//!   validation is the run's, and the baselines then train the same program with it.

use super::{Arch, Beta, Method, OutputLayer};
use crate::error::CliError;
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::train::Interrupter;
use cronos_burn::am::{
    train_deep_mlp, DeepMlp, DeepMlpConfig, DeepTrainingConfig, OptimizerConfig, TrainingMethod,
};
use cronos_burn::solver::CronosSolverConfig;
use cronos_core::CronosConfig;
use cronos_datasets::{ClassificationBatch, ClassificationBatcher, LabeledSet, Matrix};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

/// Betas in CRONOS's regularization path.
pub const PATH_BETAS: usize = 10;

/// Ratio of the path's first beta to its last.
pub const PATH_SPAN: f64 = 1e4;

/// Everything a run needs besides its method, learning rate and seed.
pub struct RunSetup<'a> {
    pub train: &'a LabeledSet,
    pub valid: &'a LabeledSet,
    /// Scores each run's final network once (see [`super::task::TaskData::test`]).
    pub test: &'a LabeledSet,
    pub arch: &'a Arch,
    pub epochs: usize,
    pub batch_size: usize,
    /// The two-layer convex solve of CRONOS; its `beta` is unused (see `beta`).
    pub cronos: CronosConfig,
    /// beta of the two-layer program: fixed, or chosen by CRONOS's path.
    pub beta: Beta,
    /// Head solves of CRONOS-AM (P, beta and a short ADMM budget, since they repeat).
    pub head: CronosConfig,
    /// Gradient steps between head solves of CRONOS-AM; `None`: one per epoch.
    pub resolve_every: Option<usize>,
    /// Whether each head solve continues from the previous one.
    pub head_warm_start: bool,
    /// Where the deep task's runs keep burn-train's metric logs, a folder per run.
    pub logs: &'a Path,
    /// Stops the deep task's runs after the step in progress (Ctrl-C).
    pub stop: &'a Interrupter,
}

/// Validation accuracy and MSE after one epoch, with the training seconds so far.
#[derive(Debug, Clone, Copy)]
pub struct EpochScore {
    pub epoch: usize,
    pub seconds: f64,
    pub accuracy: f64,
    pub loss: f64,
    /// Regularized training objective of the network after this epoch, at the run's beta (gradient
    /// methods on the two-layer network; CRONOS's solves each have their own beta).
    pub objective: Option<f64>,
}

/// Training data as host matrices, with targets in the encoding of the class count.
struct Data {
    x: Matrix,
    y: Matrix,
    labels: Vec<usize>,
}

impl Data {
    fn new(set: &LabeledSet) -> Result<Self, CliError> {
        let encoding = ClassificationBatcher::for_set(set).encoding();
        Ok(Self {
            x: set.x.clone(),
            y: set.targets(encoding)?,
            labels: set.labels.clone(),
        })
    }

    fn batch<B: Backend>(&self, rows: &[usize], device: &B::Device) -> ClassificationBatch<B> {
        let labels: Vec<i64> = rows.iter().map(|&i| self.labels[i] as i64).collect();
        ClassificationBatch {
            x: self.x.select_rows(rows).to_tensor(device),
            targets: self.y.select_rows(rows).to_tensor(device),
            labels: Tensor::from_data(TensorData::new(labels, [rows.len()]), device),
        }
    }
}

/// A finished run: its epochs, the test accuracy of its final network (CRONOS: the network of the
/// beta it chose) and, on the two-layer network, the final regularized training objective (CRONOS:
/// with its certified lower bound).
#[derive(Debug, Clone)]
pub struct Finished {
    pub scores: Vec<EpochScore>,
    pub test_accuracy: f64,
    pub objective: Option<f64>,
    pub lower_bound: Option<f64>,
    /// beta of the two-layer program the run trained (CRONOS: the one its path chose).
    pub beta: Option<f64>,
    /// Seconds CRONOS-AM spent in its head solves (part of the training time).
    pub head_seconds: Option<f64>,
}

/// Called after every epoch (on the deep task once the run is over, for each of its epochs, which
/// burn-train's interrupter stops instead); `Break` stops a two-layer baseline after that epoch.
pub type OnEpoch<'a> = dyn FnMut(EpochScore) -> Result<ControlFlow<()>, CliError> + 'a;

/// Runs `method` with learning rate `lr` (baselines) and `seed` on backend `B`, calling `on_epoch`
/// after every epoch; returns the finished run, or `None` when the run was stopped before its last
/// epoch. `beta` is the two-layer program's for a baseline (unused on the deep network).
#[allow(clippy::too_many_arguments)]
pub fn run<B: Backend>(
    setup: &RunSetup,
    method: &Method,
    lr: Option<f64>,
    beta: f64,
    seed: u64,
    device: &B::Device,
    on_epoch: &mut OnEpoch,
) -> Result<Option<Finished>, CliError> {
    // The gradient methods' optimizer and learning rate: CRONOS-AM's feature layers are trained
    // by D-Adapted AdamW at lr 1, untuned.
    let (optimizer, lr) = match method {
        Method::Cronos => return cronos::<B>(setup, seed, device, on_epoch),
        Method::CronosAm => (
            OptimizerConfig::from_name("dadapt-adamw")
                .ok_or_else(|| CliError("D-Adapted AdamW is not available".into()))?,
            1.0,
        ),
        Method::Baseline(optimizer) => (
            optimizer.clone(),
            lr.ok_or_else(|| CliError("a baseline needs a learning rate".into()))?,
        ),
    };
    match (method, setup.arch) {
        (
            _,
            Arch::Deep {
                feature_widths,
                output,
            },
        ) => deep::<B>(
            setup,
            feature_widths,
            *output,
            method,
            optimizer,
            lr,
            seed,
            device,
            on_epoch,
        ),
        (Method::CronosAm, Arch::TwoLayer { .. }) => {
            Err(CliError("cronos-am trains the deep network only".into()))
        }
        (_, Arch::TwoLayer { width, output }) => two_layer::<Autodiff<B>>(
            setup, *width, *output, &optimizer, lr, beta, seed, device, on_epoch,
        ),
    }
}

/// The deep task's run of `method` (a gradient method, with `optimizer` at `lr`) through
/// burn-train ([`train_deep_mlp`]); its epochs reach `on_epoch` once the run is over.
#[allow(clippy::too_many_arguments)]
fn deep<B: Backend>(
    setup: &RunSetup,
    feature_widths: &[usize],
    output: OutputLayer,
    method: &Method,
    optimizer: OptimizerConfig,
    lr: f64,
    seed: u64,
    device: &B::Device,
    on_epoch: &mut OnEpoch,
) -> Result<Option<Finished>, CliError> {
    let cronos_am = matches!(method, Method::CronosAm);
    let config = DeepTrainingConfig::new()
        .with_method(if cronos_am {
            TrainingMethod::CronosAm
        } else {
            TrainingMethod::Gradient
        })
        .with_optimizer(optimizer)
        .with_learning_rate(Some(lr))
        .with_cronos(setup.head.clone())
        .with_resolve_every(setup.resolve_every)
        .with_head_warm_start(setup.head_warm_start)
        .with_feature_widths(feature_widths.to_vec())
        .with_per_output_head(output.per_output())
        .with_num_epochs(setup.epochs)
        .with_batch_size(setup.batch_size)
        .with_seed(seed);
    let dir = setup
        .logs
        .join(format!("{}-lr{lr:e}-seed{seed}", method.name()));
    // burn-train appends to the metric logs of an earlier attempt at the same run.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| CliError::io("remove", &dir, e))?;
    }
    let outcome =
        train_deep_mlp::<Autodiff<B>>(&config, setup.train, setup.valid, &dir, device, setup.stop)
            .map_err(|e| CliError(format!("{} run failed: {e}", method.name())))?;
    let scores: Vec<EpochScore> = outcome
        .epochs
        .iter()
        .map(|e| EpochScore {
            epoch: e.epoch,
            seconds: e.seconds,
            accuracy: e.valid_accuracy,
            loss: e.valid_loss,
            objective: None,
        })
        .collect();
    for &s in &scores {
        // The run is over, so a request to stop it has nothing left to stop.
        let _ = on_epoch(s)?;
    }
    if scores.len() < setup.epochs {
        return Ok(None);
    }
    let head = outcome
        .head_solves
        .iter()
        .map(|s| s.feature_seconds + s.solve_seconds)
        .sum();
    let (test_accuracy, _) = score(
        |x| outcome.model.forward(x),
        &Data::new(setup.test)?,
        device,
    );
    Ok(Some(Finished {
        scores,
        test_accuracy,
        objective: None,
        lower_bound: None,
        beta: None,
        head_seconds: cronos_am.then_some(head),
    }))
}

/// A baseline on the two-layer program: minibatch steps on CRONOS's objective per sample, scored
/// after every epoch with the clock stopped.
#[allow(clippy::too_many_arguments)]
fn two_layer<B: burn::tensor::backend::AutodiffBackend>(
    setup: &RunSetup,
    width: usize,
    output: OutputLayer,
    optimizer: &OptimizerConfig,
    lr: f64,
    beta: f64,
    seed: u64,
    device: &B::Device,
    on_epoch: &mut OnEpoch,
) -> Result<Option<Finished>, CliError> {
    let train = Data::new(setup.train)?;
    let valid = Data::new(setup.valid)?;
    let test = Data::new(setup.test)?;
    B::seed(device, seed);
    let n = train.x.rows as f64;
    let mut model = DeepMlpConfig::new(train.x.cols, width, train.y.cols)
        .with_feature_widths(vec![])
        .with_per_output_head(output.per_output())
        .init::<B>(device);
    let mut optim = optimizer.init::<B, _>();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..train.x.rows).collect();
    let batch_size = setup.batch_size.max(1);
    let mut trained = Duration::ZERO;
    let mut scores = Vec::with_capacity(setup.epochs);
    for epoch in 1..=setup.epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        for rows in order.chunks(batch_size) {
            let batch = train.batch::<B>(rows, device);
            let residual = model.forward(batch.x) - batch.targets;
            let loss = residual.square().sum() / (2.0 * rows.len() as f64)
                + weight_norm_sq(&model) * (beta / (2.0 * n));
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        // Wait for queued device work, so the clock holds the epoch's training only.
        let _ = B::sync(device);
        trained += start.elapsed();
        let inner = model.valid();
        let (accuracy, loss) = score(|x| inner.forward(x), &valid, device);
        let s = EpochScore {
            epoch,
            seconds: trained.as_secs_f64(),
            accuracy,
            loss,
            objective: Some(objective(&inner, &train, beta, device)),
        };
        scores.push(s);
        if on_epoch(s)?.is_break() && epoch < setup.epochs {
            return Ok(None);
        }
    }
    let inner = model.valid();
    let (test_accuracy, _) = score(|x| inner.forward(x), &test, device);
    Ok(Some(Finished {
        objective: scores.last().and_then(|s| s.objective),
        scores,
        test_accuracy,
        lower_bound: None,
        beta: Some(beta),
        head_seconds: None,
    }))
}

/// The two-layer program's objective `1/2 ||f(X) - Y||^2 + beta/2 ||W||^2` of `model` on the
/// whole training set.
fn objective<B: Backend>(model: &DeepMlp<B>, train: &Data, beta: f64, device: &B::Device) -> f64 {
    let pred = model.forward(train.x.to_tensor(device));
    let residual = (pred - train.y.to_tensor(device)).square().sum() / 2.0;
    cronos_core::host::scalar(residual + weight_norm_sq(model) * (beta / 2.0))
}

/// `||W1||^2 + ||W2||^2` of the two-layer head (the whole two-layer network), `W2` as the network
/// applies it ([`DeepMlp::head_output_weight`]).
fn weight_norm_sq<B: Backend>(model: &DeepMlp<B>) -> Tensor<B, 1> {
    model.head_hidden.weight.val().square().sum() + model.head_output_weight().square().sum()
}

/// CRONOS on the two-layer network: one solve per beta of the path (a fixed beta is a path of one),
/// each an "epoch" scored on validation; the run keeps the beta with the best validation accuracy,
/// the largest among ties. Its clock counts every solve. `on_epoch` cannot cut the path short: it
/// is one run, finished or not at all.
fn cronos<B: Backend>(
    setup: &RunSetup,
    seed: u64,
    device: &B::Device,
    on_epoch: &mut OnEpoch,
) -> Result<Option<Finished>, CliError> {
    let Arch::TwoLayer { width, .. } = setup.arch else {
        return Err(CliError("cronos fits the two-layer network only".into()));
    };
    let train = Data::new(setup.train)?;
    let valid = Data::new(setup.valid)?;
    let test = Data::new(setup.test)?;
    let config = CronosSolverConfig {
        solver: setup.cronos.clone().with_seed(seed),
        width: Some(*width),
    };
    let mut lap = Instant::now();
    let (x, y) = (
        train.x.to_tensor::<B>(device),
        train.y.to_tensor::<B>(device),
    );
    let betas = match setup.beta {
        Beta::Fixed(beta) => vec![beta],
        Beta::Path => path_betas(config.solver.zero_solution_beta(&x, &y)?),
    };
    let mut scores = Vec::with_capacity(betas.len());
    // The best solve so far and its validation accuracy.
    let mut best: Option<(f64, Finished)> = None;
    let mut failure = None;
    let mut clock = Duration::ZERO;
    config.fit_path(x, y, &betas, |beta, fitted| {
        let _ = B::sync(device);
        clock += lap.elapsed();
        let (accuracy, loss) = score(|x| fitted.model.forward(x), &valid, device);
        let report = &fitted.report;
        if best.as_ref().is_none_or(|(a, _)| accuracy > *a) {
            let (test_accuracy, _) = score(|x| fitted.model.forward(x), &test, device);
            let chosen = Finished {
                scores: Vec::new(),
                test_accuracy,
                objective: Some(report.objective),
                lower_bound: Some(report.lower_bound),
                beta: Some(beta),
                head_seconds: None,
            };
            best = Some((accuracy, chosen));
        }
        lap = Instant::now();
        let s = EpochScore {
            epoch: scores.len() + 1,
            seconds: clock.as_secs_f64(),
            accuracy,
            loss,
            objective: None,
        };
        scores.push(s);
        match on_epoch(s) {
            Ok(_) => ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (_, chosen) = best
        .ok_or_else(|| CliError("the CRONOS path ran out of time before its first solve".into()))?;
    Ok(Some(Finished { scores, ..chosen }))
}

/// The path's betas: [`PATH_BETAS`] values, log-spaced from a tenth of the beta whose solution is
/// zero down to [`PATH_SPAN`] times less.
pub fn path_betas(zero: f64) -> Vec<f64> {
    let steps = (PATH_BETAS - 1).max(1) as f64;
    (0..PATH_BETAS)
        .map(|k| zero / 10.0 * PATH_SPAN.powf(-(k as f64) / steps))
        .collect()
}

/// Accuracy and MSE of `forward` on `data`.
fn score<B: Backend>(
    forward: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>,
    data: &Data,
    device: &B::Device,
) -> (f64, f64) {
    cronos_core::accuracy_and_mse(forward(data.x.to_tensor(device)), data.y.to_tensor(device))
}
