//! `cronos compare`: CRONOS (two-layer task) and CRONOS-AM (deep task) against Adam, AdamW, SGD with
//! momentum, Yogi, Shampoo and D-Adapted AdamW, following the protocol of Feng,
//! Frangella & Pilanci (2024): every baseline's learning rate is drawn by random search,
//! log-uniform over [1e-6, 1e-2] (Adam's units; moved to each optimizer's, [`lr_range`]; spread
//! over the range, [`lr_draws`]), over several seeds; CRONOS has no learning rate, and on the
//! two-layer network its beta (the program's, which the baselines then share) is chosen on
//! validation along a regularization path; CRONOS-AM is not tuned. All methods share the data, the
//! network and the epochs, and their clocks exclude evaluation. Every choice is made on the
//! validation set; a test set held out from all of them scores each run's final network.
//!
//! * [`args`]: the flags, the tasks with their defaults, the methods and the network;
//! * [`task`]: the data of a task (training, validation and test sets) and the settings its records
//!   belong to;
//! * [`sweep`]: task by task, the planned runs, run in turn on the chosen backend;
//! * [`train`]: one run, epoch by epoch;
//! * [`records`]: per-epoch and per-run records written as they happen, read back to skip runs;
//! * [`summary`]: per task the Markdown table, `summary.json` and the plots, drawn by [`plot`], and
//!   the summary of every task.

use crate::error::CliError;
use crate::interrupt::install_ctrl_c;
use burn::train::Interrupter;

pub mod args;
pub mod example;
pub mod plot;
pub mod records;
pub mod summary;
pub mod sweep;
pub mod task;
pub mod train;

pub use args::{
    Arch, Beta, Classes, CompareArgs, Dataset, Method, OutputLayer, Task, TaskKind, BASELINES,
};
pub use sweep::{lr_draws, lr_range, run, Outcome, LR_RANGE};
pub use task::load_task;

/// What the first Ctrl-C does to a sweep (see [`crate::interrupt`]).
const STOPPING_SWEEP: &str =
    "stopping after this epoch; the summary covers the finished runs, a rerun redoes the others";

/// The stop flag of a sweep, set by the first Ctrl-C: burn-train's interrupter, so that the deep
/// task's runs stop after their step in progress, and the sweep after its run in progress.
pub fn stop_on_ctrl_c() -> Result<Interrupter, CliError> {
    let stop = Interrupter::new();
    let flag = stop.clone();
    install_ctrl_c(STOPPING_SWEEP, move || flag.stop(Some("Ctrl-C"))).map_err(CliError)?;
    Ok(stop)
}
