//! Optimizers that Burn 0.21 lacks, used as baselines and for CRONOS-AM's feature layers:
//! Yogi, Shampoo and D-Adaptation AdamW.
//!
//! [`Yogi`] and [`Shampoo`] are per-tensor [`SimpleOptimizer`](burn::optim::SimpleOptimizer)s,
//! used through [`OptimizerAdaptor`](burn::optim::adaptor::OptimizerAdaptor) (`config.init()`);
//! [`DAdaptAdamW`] keeps a global step-size estimate and implements
//! [`Optimizer`](burn::optim::Optimizer) for any module directly. All three save and restore
//! their state with `to_record` / `load_record`.

mod dadapt_adamw;
mod shampoo;
mod yogi;

pub use dadapt_adamw::{DAdaptAdamW, DAdaptAdamWConfig, DAdaptAdamWRecord, DAdaptAdamWState};
pub use shampoo::{
    inverse_root, Shampoo, ShampooBlock, ShampooConfig, ShampooFactor, ShampooGrafting,
    ShampooState,
};
pub use yogi::{Yogi, YogiConfig, YogiState};
