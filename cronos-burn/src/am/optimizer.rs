//! A run-time choice among the gradient optimizers compared in the paper (SGD, Adam, AdamW, Yogi,
//! Shampoo, D-Adaptation AdamW), as one Burn [`Optimizer`] type, so a training setup, a checkpoint
//! and a command line can name the optimizer as data.

use crate::optim::{
    DAdaptAdamW, DAdaptAdamWConfig, DAdaptAdamWRecord, Shampoo, ShampooConfig, Yogi, YogiConfig,
};
use burn::module::{AutodiffModule, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, LearningRate, MultiGradientsParams,
    Optimizer, Sgd, SgdConfig,
};
use burn::prelude::*;
use burn::record::Record;
use burn::tensor::backend::AutodiffBackend;
use thiserror::Error;

/// The short lowercase name of `$value`, one of the enums below that have a variant per optimizer
/// (config, optimizer, record), written once so that the three always agree.
macro_rules! optimizer_name {
    ($value:expr) => {
        match $value {
            Self::Sgd(_) => "sgd",
            Self::Adam(_) => "adam",
            Self::AdamW(_) => "adamw",
            Self::Yogi(_) => "yogi",
            Self::Shampoo(_) => "shampoo",
            Self::DAdaptAdamW(_) => "dadapt-adamw",
        }
    };
}

/// Which optimizer to build, with its settings. The learning rate is given separately (it is the
/// learning-rate scheduler of the training run); [`OptimizerConfig::default_learning_rate`] gives a
/// sensible constant for each.
#[derive(Config, Debug)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent (Burn).
    Sgd(SgdConfig),
    /// Adam (Burn).
    Adam(AdamConfig),
    /// AdamW (Burn).
    AdamW(AdamWConfig),
    /// Yogi (this crate).
    Yogi(YogiConfig),
    /// Shampoo (this crate).
    Shampoo(ShampooConfig),
    /// D-Adaptation AdamW (this crate); the paper's choice for CRONOS-AM's feature layers, lr 1.0.
    DAdaptAdamW(DAdaptAdamWConfig),
}

impl OptimizerConfig {
    /// Every optimizer with its default settings, in the order above.
    pub fn all() -> Vec<Self> {
        vec![
            Self::Sgd(SgdConfig::new()),
            Self::Adam(AdamConfig::new()),
            Self::AdamW(AdamWConfig::new()),
            Self::Yogi(YogiConfig::new()),
            Self::Shampoo(ShampooConfig::new()),
            Self::DAdaptAdamW(DAdaptAdamWConfig::new()),
        ]
    }

    /// The optimizer named `name` (`sgd`, `adam`, `adamw`, `yogi`, `shampoo`, `dadapt-adamw`) with
    /// default settings.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|o| o.name() == name)
    }

    /// Short lowercase name.
    pub fn name(&self) -> &'static str {
        optimizer_name!(self)
    }

    /// A constant learning rate that trains the paper's MLP (MSE loss, inputs in [0, 1])
    /// reasonably without tuning: 1.0 for D-Adaptation (it multiplies the adapted step), 0.1 for
    /// SGD, 0.05 for Shampoo, 1e-3 for Adam, AdamW and Yogi.
    pub fn default_learning_rate(&self) -> f64 {
        match self {
            Self::Sgd(_) => 0.1,
            Self::Shampoo(_) => 0.05,
            Self::DAdaptAdamW(_) => 1.0,
            Self::Adam(_) | Self::AdamW(_) | Self::Yogi(_) => 1e-3,
        }
    }

    /// The optimizer for module type `M` on backend `B`, with no state yet.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> AnyOptimizer<M, B> {
        match self {
            Self::Sgd(c) => AnyOptimizer::Sgd(c.init()),
            Self::Adam(c) => AnyOptimizer::Adam(c.init()),
            Self::AdamW(c) => AnyOptimizer::AdamW(c.init()),
            Self::Yogi(c) => AnyOptimizer::Yogi(c.init()),
            Self::Shampoo(c) => AnyOptimizer::Shampoo(c.init()),
            Self::DAdaptAdamW(c) => AnyOptimizer::DAdaptAdamW(c.init()),
        }
    }
}

/// One of the optimizers of [`OptimizerConfig`], as a single Burn [`Optimizer`].
#[derive(Clone)]
pub enum AnyOptimizer<M: AutodiffModule<B>, B: AutodiffBackend> {
    /// SGD.
    Sgd(OptimizerAdaptor<Sgd<B::InnerBackend>, M, B>),
    /// Adam.
    Adam(OptimizerAdaptor<Adam, M, B>),
    /// AdamW.
    AdamW(OptimizerAdaptor<AdamW, M, B>),
    /// Yogi.
    Yogi(OptimizerAdaptor<Yogi, M, B>),
    /// Shampoo.
    Shampoo(OptimizerAdaptor<Shampoo, M, B>),
    /// D-Adaptation AdamW.
    DAdaptAdamW(DAdaptAdamW<B>),
}

type AdaptorState<O, B> = hashbrown::HashMap<ParamId, AdaptorRecord<O, B>>;

/// Saved state of an [`AnyOptimizer`]: the state of the optimizer it holds.
#[derive(Record)]
pub enum AnyOptimizerRecord<B: AutodiffBackend> {
    /// SGD state.
    Sgd(AdaptorState<Sgd<B::InnerBackend>, B>),
    /// Adam state.
    Adam(AdaptorState<Adam, B>),
    /// AdamW state.
    AdamW(AdaptorState<AdamW, B>),
    /// Yogi state.
    Yogi(AdaptorState<Yogi, B>),
    /// Shampoo state.
    Shampoo(AdaptorState<Shampoo, B>),
    /// D-Adaptation AdamW state.
    DAdaptAdamW(DAdaptAdamWRecord<B>),
}

macro_rules! each_optimizer {
    ($value:expr, $o:ident => $body:expr) => {
        match $value {
            AnyOptimizer::Sgd($o) => $body,
            AnyOptimizer::Adam($o) => $body,
            AnyOptimizer::AdamW($o) => $body,
            AnyOptimizer::Yogi($o) => $body,
            AnyOptimizer::Shampoo($o) => $body,
            AnyOptimizer::DAdaptAdamW($o) => $body,
        }
    };
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> AnyOptimizer<M, B> {
    /// Short lowercase name, as [`OptimizerConfig::name`].
    pub fn name(&self) -> &'static str {
        optimizer_name!(self)
    }
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> Optimizer<M, B> for AnyOptimizer<M, B> {
    type Record = AnyOptimizerRecord<B>;

    fn step(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        each_optimizer!(self, o => o.step(lr, module, grads))
    }

    fn step_multi(&mut self, lr: LearningRate, module: M, grads: MultiGradientsParams) -> M {
        each_optimizer!(self, o => o.step_multi(lr, module, grads))
    }

    fn to_record(&self) -> Self::Record {
        match self {
            Self::Sgd(o) => AnyOptimizerRecord::Sgd(o.to_record()),
            Self::Adam(o) => AnyOptimizerRecord::Adam(o.to_record()),
            Self::AdamW(o) => AnyOptimizerRecord::AdamW(o.to_record()),
            Self::Yogi(o) => AnyOptimizerRecord::Yogi(o.to_record()),
            Self::Shampoo(o) => AnyOptimizerRecord::Shampoo(o.to_record()),
            Self::DAdaptAdamW(o) => {
                AnyOptimizerRecord::DAdaptAdamW(Optimizer::<M, B>::to_record(o))
            }
        }
    }

    /// Loads the state saved from the same kind of optimizer.
    ///
    /// # Panics
    /// If the record was saved by a different optimizer: Burn's `load_record` cannot fail, so a
    /// caller that reads a record of unknown origin checks it first with
    /// [`AnyOptimizerRecord::check_saved_by`] (as [`train_deep_mlp`](crate::am::train_deep_mlp)
    /// does before resuming).
    fn load_record(self, record: Self::Record) -> Self {
        use AnyOptimizerRecord as R;
        match (self, record) {
            (Self::Sgd(o), R::Sgd(r)) => Self::Sgd(o.load_record(r)),
            (Self::Adam(o), R::Adam(r)) => Self::Adam(o.load_record(r)),
            (Self::AdamW(o), R::AdamW(r)) => Self::AdamW(o.load_record(r)),
            (Self::Yogi(o), R::Yogi(r)) => Self::Yogi(o.load_record(r)),
            (Self::Shampoo(o), R::Shampoo(r)) => Self::Shampoo(o.load_record(r)),
            (Self::DAdaptAdamW(o), R::DAdaptAdamW(r)) => {
                Self::DAdaptAdamW(Optimizer::<M, B>::load_record(o, r))
            }
            (optimizer, record) => panic!(
                "{}",
                OptimizerMismatch {
                    expected: optimizer.name(),
                    found: record.name(),
                }
            ),
        }
    }
}

impl<B: AutodiffBackend> AnyOptimizerRecord<B> {
    /// Name of the optimizer that saved this state.
    pub fn name(&self) -> &'static str {
        optimizer_name!(self)
    }

    /// Checks that this state was saved by the optimizer `config` builds, before it is given to
    /// [`Optimizer::load_record`], which can only panic on a mismatch.
    pub fn check_saved_by(&self, config: &OptimizerConfig) -> Result<(), OptimizerMismatch> {
        if self.name() == config.name() {
            Ok(())
        } else {
            Err(OptimizerMismatch {
                expected: config.name(),
                found: self.name(),
            })
        }
    }
}

/// Saved optimizer state (e.g. of a checkpoint) that belongs to a different optimizer than the
/// one it is to be loaded into: a run resumed with another optimizer than the one it started with.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("the optimizer state was saved by `{found}`, but this run uses `{expected}`")]
pub struct OptimizerMismatch {
    /// Name of the optimizer of the run.
    pub expected: &'static str,
    /// Name of the optimizer that saved the state.
    pub found: &'static str,
}
