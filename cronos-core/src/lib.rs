//! Convex reformulation of two-layer ReLU networks (CRONOS), solved to a certified global optimum on any
//! Burn backend.
//!
//! ```text
//! min  1/2 || sum_i D_i X (v_i - w_i) - Y ||_F^2 + beta sum_i (||v_i||_2 + ||w_i||_2)
//! s.t. (2 D_i - I) X v_i >= 0,  (2 D_i - I) X w_i >= 0,     D_i = diag(1[X g_i >= 0])
//! ```
//!
//! [`CronosConfig`] describes a solve; [`Cronos`] runs it (ADMM whose u-step is solved exactly through
//! the structure of its matrix) and returns a [`Solution`] holding an ordinary [`TwoLayerNet`], a
//! [`SolveReport`] and a [`Certificate`] of optimality that anyone can check.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

mod admm;
mod background;
mod barrier;
mod capacitance;
mod certificate;
mod checks;
mod config;
mod dense;
mod error;
pub mod host;
mod memory;
pub mod network;
pub mod observer;
pub mod operator;
pub mod patterns;
mod pcg;
mod polish;
pub mod prox;
mod reduce;
mod report;
mod rho;
mod rows;
mod solver;
mod state;
mod ustep;

#[cfg(test)]
mod test_support;

pub use certificate::Certificate;
pub use config::{CronosConfig, Formulation, GateSampling};
pub use error::{CronosError, Result};
pub use network::{accuracy, accuracy_and_mse, TwoLayerNet};
pub use observer::{IterationRecord, JsonLinesTrace, Observer, SetUpRecord};
pub use report::{SolveReport, Status};
pub use rows::Collective;
pub use solver::{Cronos, Solution};
pub use state::WarmStart;
pub use ustep::UStepPath;
