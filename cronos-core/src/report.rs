//! The summary of a finished solve, as written to `report.json`.

use crate::{Formulation, UStepPath};
use serde::{Deserialize, Serialize};

/// Why the solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The certified relative gap and the relative cone violation are both within `tol`.
    Optimal,
    /// The iteration limit was reached.
    MaxIterations,
    /// The time limit was reached.
    TimeLimit,
    /// An observer or the stop flag asked to stop.
    Stopped,
}

/// Facts about the returned network and the solve that produced it. Objectives use 1/2 ||.||^2 with no
/// 1/n, so they compare directly with other implementations of the same program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// 1/2 ||f(X) - Y||_F^2 + beta/2 (||W1||_F^2 + ||W2||_F^2) of the returned network, recomputed
    /// from its weights.
    pub objective: f64,
    /// Lower bound on the optimum proved by the certificate's dual point.
    pub lower_bound: f64,
    /// (objective - lower_bound) / |objective|: the certified relative gap. Negative beyond rounding
    /// when the returned network violates the cone constraints (within the tolerance): its units
    /// then leave their sampled patterns on some rows, and it may fit better than any network of
    /// the program, whose optimum the bound is below.
    pub rel_gap: f64,
    /// Largest absolute violation of a cone constraint (2 D_i - I) X v_i >= 0 at the returned point.
    pub max_constraint_violation: f64,
    /// `max_constraint_violation` divided by the largest |X v_i| entry.
    pub rel_constraint_violation: f64,
    /// Relative primal residual at the returned point.
    pub rel_primal_residual: f64,
    /// Relative dual residual at the returned point.
    pub rel_dual_residual: f64,
    /// ADMM iterations run, including the penalty sweep's.
    pub iterations: usize,
    /// Iterations of the penalty sweep's losing candidates.
    pub sweep_iterations: usize,
    /// PCG iterations over all u-steps.
    pub pcg_iterations: usize,
    /// Products with the u-step matrix A.
    pub a_products: usize,
    /// How the u-step was solved.
    pub u_step: UStepPath,
    /// Seconds of set-up (patterns, factorizations) before the first iteration.
    pub setup_seconds: f64,
    /// Wall-clock seconds of the whole solve.
    pub seconds: f64,
    /// Peers the rows were split over (1 unsharded) and the seconds this peer spent in sums over
    /// the peers, waiting for the slowest included (0 unsharded).
    pub peers: usize,
    /// See `peers`.
    pub collective_seconds: f64,
    /// Neurons of the returned network with nonzero weights.
    pub active_neurons: usize,
    /// Accuracy on the training data (sign agreement for one output, argmax for several).
    pub train_accuracy: f64,
    /// Patterns used after filtering.
    pub patterns: usize,
    /// Final penalty rho.
    pub rho: f64,
    /// Polishes that returned a point (see `cronos-core/README.md`, "Polishing"), cut short ones
    /// included.
    #[serde(default)]
    pub polishes: usize,
    /// Why the last polish that was due did not start, if it did not: its matrices would not fit
    /// what the memory budget leaves; in a solve without a time limit, its estimated cost exceeds
    /// what the iterations left would cost; in one with a time limit, its interior-point method
    /// would not end in the time left (with the seconds it would need). A solve with a large
    /// certified gap and this set needs a larger memory budget or a time limit that allows the
    /// polish.
    #[serde(default)]
    pub polish_skipped: Option<String>,
    /// Why the solve ended.
    pub status: Status,
    /// Program solved.
    pub formulation: Formulation,
    /// Regularization used (from `relative_beta` when the configuration sets it).
    pub beta: f64,
    /// Samples, features, outputs.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Outputs.
    pub outputs: usize,
}
