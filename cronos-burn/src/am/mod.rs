//! CRONOS-AM: deep networks trained by alternating minimization inside burn-train (Feng, Frangella
//! & Pilanci 2024). The last two layers are solved by CRONOS on the features of the whole training
//! set at the start of every epoch (or every few steps); the earlier layers are trained by any Burn
//! optimizer through the fixed head.
//!
//! * [`model`]: the paper's deep ReLU MLP ([`DeepMlp`]) and the [`HeadModel`] trait a model
//!   implements to be trained this way;
//! * [`strategy`]: [`CronosAm`], a burn-train `SupervisedLearningStrategy`, so metrics, validation,
//!   checkpointing, early stopping and renderers keep working;
//! * [`optimizer`]: [`OptimizerConfig`] / [`AnyOptimizer`], the optimizers compared in the paper
//!   chosen at run time;
//! * [`renderer`]: quiet and one-line-per-epoch renderers for runs without a terminal UI;
//! * [`run`]: [`train_deep_mlp`], one call that trains the MLP by CRONOS-AM or end to end (the
//!   baselines) on a labeled set.
//!
//! ```no_run
//! # use burn::backend::{Autodiff, Flex};
//! # use burn::data::dataloader::DataLoaderBuilder;
//! # use burn::record::CompactRecorder;
//! # use burn::train::metric::{AccuracyMetric, LossMetric};
//! # use burn::train::{Learner, SupervisedTraining, TrainingStrategy};
//! # use cronos_burn::am::{CronosAmConfig, DeepMlpConfig, QuietRenderer};
//! # use cronos_burn::optim::DAdaptAdamWConfig;
//! # use cronos_core::CronosConfig;
//! # use cronos_datasets::{ClassificationBatcher, LabeledSet};
//! # use std::sync::Arc;
//! # type B = Autodiff<Flex>;
//! # fn train(train: LabeledSet, valid: LabeledSet, dir: &str) {
//! # let device = Default::default();
//! # let batcher = ClassificationBatcher::for_set(&train);
//! # let dl_train = DataLoaderBuilder::<B, _, _>::new(batcher).batch_size(64).build(train);
//! # let dl_valid = DataLoaderBuilder::<Flex, _, _>::new(batcher).batch_size(64).build(valid);
//! let strategy = CronosAmConfig::new(CronosConfig::new().with_neurons(10)).init::<B>(&device);
//! let model = DeepMlpConfig::for_cronos(784, 1, 10).init::<B>(&device).with_frozen_head();
//! let result = SupervisedTraining::new(dir, dl_train, dl_valid)
//!     .metrics((LossMetric::new(), AccuracyMetric::new()))
//!     .num_epochs(3)
//!     .with_file_checkpointer(CompactRecorder::new())
//!     .renderer(QuietRenderer)
//!     .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy.clone())))
//!     .launch(Learner::new(model, DAdaptAdamWConfig::new().init(), 1.0));
//! # }
//! ```

mod clock;
pub mod model;
pub mod optimizer;
pub mod renderer;
pub mod run;
pub mod strategy;

pub use model::{class_scores, DeepMlp, DeepMlpConfig, HeadModel};
pub use optimizer::{AnyOptimizer, AnyOptimizerRecord, OptimizerConfig, OptimizerMismatch};
pub use renderer::{EpochRenderer, QuietRenderer};
pub use run::{
    train_deep_mlp, DeepEpoch, DeepTrainingConfig, DeepTrainingOutcome, ProgressDisplay,
    TrainingError, TrainingMethod,
};
pub use strategy::{CronosAm, CronosAmConfig, HeadSolve};
