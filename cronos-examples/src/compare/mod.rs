//! `cronos compare`: CRONOS (two-layer) and CRONOS-AM (deep MLP) against Adam, AdamW, SGD with
//! momentum, Yogi, Shampoo and D-Adapted AdamW on one task, following the protocol of Feng,
//! Frangella & Pilanci (2024): every baseline's learning rate is drawn by random search,
//! log-uniform over [1e-6, 1e-2], over several seeds; CRONOS has no learning rate, and on the
//! two-layer network its beta (the program's, which the baselines then share) is chosen on
//! validation along a regularization path; CRONOS-AM is not tuned. All methods share the data, the
//! network and the epochs, and their clocks exclude evaluation.
//!
//! * [`args`]: the flags, the methods and the network;
//! * [`task`]: the data of the task and the settings a sweep's records belong to;
//! * [`sweep`]: the planned runs, run in turn on the chosen backend;
//! * [`train`]: one run, epoch by epoch;
//! * [`records`]: per-epoch and per-run records written as they happen, read back to skip runs;
//! * [`summary`]: the Markdown table, `summary.json` and the plots, drawn by [`plot`].

pub mod args;
pub mod example;
pub mod plot;
pub mod records;
pub mod summary;
pub mod sweep;
pub mod task;
pub mod train;

pub use args::{Arch, Beta, Classes, CompareArgs, Dataset, Method, BASELINES};
pub use sweep::{lr_draws, run, Outcome, LR_RANGE};
pub use task::load_task;

/// What the first Ctrl-C does to a sweep (see [`crate::interrupt`]).
pub const STOPPING_SWEEP: &str =
    "stopping after this epoch; the summary covers the finished runs, a rerun redoes the others";
