//! CRONOS-AM as a burn-train learning strategy.
//!
//! Alternating minimization (Feng, Frangella & Pilanci 2024; digest §3.2-3.3): before the first
//! step of every epoch (or, with `resolve_every = Some(k)`, whenever a global step counter that
//! starts at 0 is a multiple of `k`) the head is re-solved by CRONOS on the features of the whole
//! training set; every step is one optimizer step on a minibatch. Gradients flow through the whole
//! network, but the head's gradients are dropped, so the optimizer only moves the feature layers
//! (and keeps its state across re-solves).
//!
//! Everything else is burn-train's own machinery: metrics, validation, checkpointing, early
//! stopping, interruption and renderers behave as with the default strategy.

use crate::am::model::HeadModel;
use crate::head::{HeadSolverConfig, HeadWeights};
use burn::data::dataloader::Progress;
use burn::module::AutodiffModule;
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::train::{
    EventProcessorTraining, InferenceStep, Learner, LearnerEvent, LearningComponentsMarker,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainStep,
    TrainingComponents, TrainingItem, ValidLoader,
};
use cronos_core::{CronosConfig, SolveReport, WarmStart};
use cronos_datasets::ClassificationBatch;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Configuration of CRONOS-AM's alternation.
#[derive(Config, Debug, PartialEq)]
pub struct CronosAmConfig {
    /// Settings of each head solve (P = `neurons` must satisfy `2 P c <= head width`; a
    /// `relative_beta` follows the features as they train).
    pub head: CronosConfig,
    /// Gradient steps between head solves (the reference code's `checkpoint`), or `None` for one
    /// solve at the start of every epoch. The reference runners solve every 10 steps of 1,024
    /// images on 10,000 training images, about once per pass over the data; counted in steps, the
    /// same spacing at another batch size or training-set size would be another schedule. On the
    /// deep task of `cronos compare` (2,000 images, batches of 100) one solve per epoch was as
    /// accurate as one every 10 steps, in half the time (`cronos-burn/README.md`, "CRONOS-AM").
    #[config(default = "None")]
    pub resolve_every: Option<usize>,
    /// Continue each head solve from the previous one's ADMM state instead of from zero: the
    /// features move little between solves, so fewer iterations are needed. The state is not part
    /// of burn-train checkpoints, so a run resumed from a checkpoint starts its first solve cold and
    /// is not bit-identical to an uninterrupted one.
    #[config(default = false)]
    pub warm_start: bool,
}

impl CronosAmConfig {
    /// The strategy, training on `device`.
    pub fn init<B: AutodiffBackend>(&self, device: &B::Device) -> CronosAm<B> {
        CronosAm {
            head: HeadSolverConfig::new(self.head.clone()),
            resolve_every: self.resolve_every.map(|every| every.max(1)),
            device: device.clone(),
            solves: Arc::new(Mutex::new(Vec::new())),
            warm: self.warm_start.then(|| Arc::new(Mutex::new(None))),
        }
    }
}

/// The warm start of the last head solve, shared between clones of the strategy.
type SharedWarmStart<B> = Arc<Mutex<Option<WarmStart<B>>>>;

/// What one head solve did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSolve {
    /// Epoch (from 1) in which the solve ran.
    pub epoch: usize,
    /// Global gradient step (from 0) before which the solve ran.
    pub step: usize,
    /// Seconds spent computing the features of the training set.
    pub feature_seconds: f64,
    /// Seconds spent in the solve and writing the head.
    pub solve_seconds: f64,
    /// The solve's report (objective, accuracy on the training set, status, ...); `None` if it
    /// failed, in which case the previous head was kept.
    pub report: Option<SolveReport>,
    /// Why the solve failed.
    pub error: Option<String>,
}

/// The CRONOS-AM learning strategy for burn-train (use with
/// `TrainingStrategy::Custom(Arc::new(strategy))`).
///
/// Works for any model implementing [`HeadModel`] (on the training backend and on its inner
/// backend) whose training step takes [`ClassificationBatch`]es, and any optimizer and learning
/// rate scheduler. Keep a clone of the strategy to read [`CronosAm::solves`] after training.
#[derive(Clone)]
pub struct CronosAm<B: AutodiffBackend> {
    head: HeadSolverConfig,
    resolve_every: Option<usize>,
    device: B::Device,
    solves: Arc<Mutex<Vec<HeadSolve>>>,
    /// The last head solve's warm start, when warm starts are on.
    warm: Option<SharedWarmStart<B::InnerBackend>>,
}

impl<B: AutodiffBackend> CronosAm<B> {
    /// Every head solve so far, in order (shared between clones of the strategy).
    pub fn solves(&self) -> Vec<HeadSolve> {
        self.solves.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Gradient steps between head solves; `None`: one solve at the start of every epoch.
    pub fn resolve_every(&self) -> Option<usize> {
        self.resolve_every
    }

    /// Computes the features of `batches` (the whole training set) with the inner model (no
    /// tape), solves the head with CRONOS on the inner backend and writes it into `model`, keeping
    /// parameter ids and `require_grad` flags. On failure the model is returned unchanged and the
    /// record holds the error. The record's `epoch` and `step` are 0.
    pub fn resolve_head<M>(
        &self,
        model: M,
        batches: impl IntoIterator<Item = ClassificationBatch<B>>,
    ) -> (M, HeadSolve)
    where
        M: HeadModel<B> + AutodiffModule<B>,
        M::InnerModule: HeadModel<B::InnerBackend>,
    {
        self.resolve_with(model, batches, 0, 0)
    }

    fn resolve_with<M>(
        &self,
        mut model: M,
        batches: impl IntoIterator<Item = ClassificationBatch<B>>,
        epoch: usize,
        step: usize,
    ) -> (M, HeadSolve)
    where
        M: HeadModel<B> + AutodiffModule<B>,
        M::InnerModule: HeadModel<B::InnerBackend>,
    {
        let start = Instant::now();
        let inner = model.valid();
        let (mut features, mut targets) = (Vec::new(), Vec::new());
        for batch in batches {
            features.push(inner.features(batch.x.inner()));
            targets.push(batch.targets.inner());
        }
        let feature_seconds = start.elapsed().as_secs_f64();
        let start = Instant::now();
        let width = model.head().0.weight.dims()[1];
        let solved = if features.is_empty() {
            Err("the training loader produced no batches".to_string())
        } else {
            let mut warm = self.warm.as_ref().and_then(|w| w.lock().ok());
            let from = warm.as_deref().and_then(Option::as_ref);
            self.head
                .solve_from(
                    Tensor::cat(features, 0),
                    Tensor::cat(targets, 0),
                    width,
                    from,
                )
                .map(|(weights, next)| {
                    if let Some(slot) = warm.as_deref_mut() {
                        *slot = Some(next);
                    }
                    weights
                })
                .map_err(|e| e.to_string())
                .and_then(nonzero)
        };
        let (report, error) = match solved {
            Ok(weights) => {
                let weights: HeadWeights<B> = weights.from_inner();
                let (hidden, output) = model.head_mut();
                (Some(weights.write_into(hidden, output)), None)
            }
            Err(e) => {
                log::warn!("CRONOS-AM: head solve at step {step} failed, keeping the head: {e}");
                (None, Some(e))
            }
        };
        let solve = HeadSolve {
            epoch,
            step,
            feature_seconds,
            solve_seconds: start.elapsed().as_secs_f64(),
            report,
            error,
        };
        if let Some(r) = &solve.report {
            log::info!(
                "CRONOS-AM: head solved at step {step} in {:.2}s ({} ADMM iterations, objective {:.4e}, train accuracy {:.4})",
                solve.solve_seconds,
                r.iterations,
                r.objective,
                r.train_accuracy
            );
        }
        (model, solve)
    }
}

/// `weights` unless the head is zero. A zero head passes no gradient to the layers below it, so
/// writing it would end training for good: the previous head is kept and the next solve, on moved
/// features, tries again. A short solve can return one when beta is large for its iterations
/// (every run of the deep task at beta = 10, about 3 % of its heads' zero-solution beta, got one
/// before short solves' rho grew with their beta).
fn nonzero<B: Backend>(weights: HeadWeights<B>) -> Result<HeadWeights<B>, String> {
    let report = &weights.report;
    if report.active_neurons > 0 {
        return Ok(weights);
    }
    Err(format!(
        "the solve returned a zero head (beta {:.3e}, {} ADMM iterations, certified gap {:.2e}): \
         its features need a smaller beta or more iterations",
        report.beta, report.iterations, report.rel_gap
    ))
}

/// Removes the gradients of the head's parameters, so the optimizer cannot move the head.
fn drop_head_grads<B: AutodiffBackend, M: HeadModel<B>>(
    mut grads: GradientsParams,
    model: &M,
) -> GradientsParams {
    let (hidden, output) = model.head();
    for layer in [hidden, output] {
        grads.remove::<B::InnerBackend, 2>(layer.weight.id);
        if let Some(bias) = &layer.bias {
            grads.remove::<B::InnerBackend, 1>(bias.id);
        }
    }
    grads
}

impl<B, LR, M, O> SupervisedLearningStrategy<LearningComponentsMarker<B, LR, M, O>> for CronosAm<B>
where
    B: AutodiffBackend,
    LR: LrScheduler + 'static,
    M: TrainStep<Input = ClassificationBatch<B>>
        + HeadModel<B>
        + AutodiffModule<B>
        + core::fmt::Display
        + 'static,
    M::InnerModule: InferenceStep + HeadModel<B::InnerBackend>,
    O: Optimizer<M, B> + 'static,
{
    fn fit(
        &self,
        components: TrainingComponents<LearningComponentsMarker<B, LR, M, O>>,
        mut learner: Learner<LearningComponentsMarker<B, LR, M, O>>,
        dataloader_train: TrainLoader<LearningComponentsMarker<B, LR, M, O>>,
        dataloader_valid: ValidLoader<LearningComponentsMarker<B, LR, M, O>>,
        starting_epoch: usize,
    ) -> (
        M,
        SupervisedTrainingEventProcessor<LearningComponentsMarker<B, LR, M, O>>,
    ) {
        let dl_train = dataloader_train.to_device(&self.device);
        let dl_valid = dataloader_valid.to_device(&self.device);
        learner.fork(&self.device);
        let mut processor = components.event_processor;
        let mut checkpointer = components.checkpointer;
        let mut early_stopping = components.early_stopping;
        let interrupter = components.interrupter;
        let num_epochs = components.num_epochs;

        // The schedule runs on a global step counter; a resumed run continues it (counting the
        // batches of an epoch takes one pass over the loader, which also advances its shuffle).
        let mut step = if starting_epoch > 1 {
            (starting_epoch - 1) * dl_train.iter().count()
        } else {
            0
        };
        let mut accumulator = GradientsAccumulator::new();
        let mut accumulated = 0;

        for epoch in starting_epoch..=num_epochs {
            let global = Progress::new(epoch, num_epochs);
            let mut batches = dl_train.iter();
            let mut iteration = 0;
            while let Some(batch) = batches.next() {
                iteration += 1;
                learner.lr_step();
                let due = match self.resolve_every {
                    Some(every) => step % every == 0,
                    None => iteration == 1,
                };
                if due {
                    let (model, solve) =
                        self.resolve_with(learner.model(), dl_train.iter(), epoch, step);
                    if solve.report.is_some() {
                        learner.load_model(model.into_record());
                    }
                    if let Ok(mut solves) = self.solves.lock() {
                        solves.push(solve);
                    }
                }
                step += 1;

                let progress = batches.progress();
                let out = learner.train_step(batch);
                let grads = drop_head_grads::<B, M>(out.grads, &learner.model());
                match components.grad_accumulation {
                    Some(every) => {
                        accumulator.accumulate(&learner.model(), grads);
                        accumulated += 1;
                        if accumulated >= every {
                            learner.optimizer_step(accumulator.grads());
                            accumulated = 0;
                        }
                    }
                    None => learner.optimizer_step(grads),
                }
                let item = TrainingItem::new(
                    out.item,
                    progress,
                    global.clone(),
                    Some(iteration),
                    Some(learner.lr_current()),
                );
                processor.process_train(LearnerEvent::ProcessedItem(item));
                if interrupter.should_stop() {
                    break;
                }
            }
            processor.process_train(LearnerEvent::EndEpoch(epoch));
            if interrupter.should_stop() {
                log::info!(
                    "Training interrupted: {}",
                    interrupter
                        .get_message()
                        .unwrap_or_else(|| "reason unknown".into())
                );
                break;
            }

            let model = learner.model().valid();
            let mut batches = dl_valid.iter();
            let mut iteration = 0;
            while let Some(batch) = batches.next() {
                iteration += 1;
                let progress = batches.progress();
                let item = TrainingItem::new(
                    InferenceStep::step(&model, batch),
                    progress,
                    global.clone(),
                    Some(iteration),
                    None,
                );
                processor.process_valid(LearnerEvent::ProcessedItem(item));
                if interrupter.should_stop() {
                    break;
                }
            }
            processor.process_valid(LearnerEvent::EndEpoch(epoch));

            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&learner, epoch, &components.event_store);
            }
            if let Some(early_stopping) = &mut early_stopping {
                if early_stopping.should_stop(epoch, &components.event_store) {
                    break;
                }
            }
        }
        (learner.model(), processor)
    }
}
