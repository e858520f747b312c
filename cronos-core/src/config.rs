//! Solver configuration: data, validated once, then turned into a solve with [`CronosConfig::solver`].

use crate::error::{ensure_param, CronosError};
use burn::config::Config;
use serde::{Deserialize, Serialize};

/// Which convex program to solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Formulation {
    /// The cone-constrained program, exactly equivalent to a two-layer ReLU network (Pilanci & Ergen 2020).
    #[default]
    Relu,
    /// The gated-ReLU program (no cone constraints, fixed gates), as in scnn.
    Gated,
}

impl std::str::FromStr for Formulation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "relu" => Ok(Self::Relu),
            "gated" => Ok(Self::Gated),
            other => Err(format!(
                "unknown formulation `{other}` (expected relu or gated)"
            )),
        }
    }
}

/// How the gate vectors g_i are drawn (each has i.i.d. N(0, 1) entries either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GateSampling {
    /// Antithetic pairs g, -g: the two patterns of a pair are complements, so every sample is
    /// active in one pattern of each pair, and a pair's neurons can represent the linear function
    /// `x -> x^T u` (relu(x^T u) - relu(-x^T u)). With few gates this matters: on ten-class
    /// Fashion-MNIST with P = 3 (`cronos-core/README.md`, "Gate sampling") it raised validation
    /// accuracy from 0.69 - 0.76 to 0.77 - 0.79 over three seeds.
    #[default]
    Pairs,
    /// Independent gates, as in the paper: a sample on the negative side of every gate (a share
    /// of about 2^-P on centred data) has no active neuron and is predicted 0.
    Independent,
}

impl std::str::FromStr for GateSampling {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "pairs" => Ok(Self::Pairs),
            "independent" => Ok(Self::Independent),
            other => Err(format!(
                "unknown gate sampling `{other}` (expected pairs or independent)"
            )),
        }
    }
}

/// Configuration of a CRONOS solve. Objectives follow 1/2 ||.||^2 + beta * group norms, no 1/n.
#[derive(Config, Debug, PartialEq)]
pub struct CronosConfig {
    /// Number of sampled gate vectors P (the ReLU network gets up to 2P neurons per output).
    #[config(default = 16)]
    pub neurons: usize,
    /// Group-lasso weight beta (equivalently the weight decay beta/2 of the network).
    #[config(default = 1e-3)]
    pub beta: f64,
    /// When set, beta is this fraction of the smallest beta whose solution is zero for the data of
    /// the solve (see [`CronosConfig::zero_solution_beta`]; at 1 and above the solution is zero)
    /// and `beta` is not used: the penalty then follows the scale of the data, as a
    /// regularization path's betas do, which suits repeated solves on moving data such as
    /// CRONOS-AM's heads. The report gives the beta used.
    #[config(default = "None")]
    pub relative_beta: Option<f64>,
    /// ADMM penalty rho in the solver's scaled units; `None` lets the solver choose it (see
    /// `cronos-core/src/rho.rs` and `cronos-core/README.md`).
    #[config(default = "None")]
    pub rho: Option<f64>,
    /// Tolerance on the certified relative duality gap and the relative cone violation: the status is
    /// `optimal` only when both are at most `tol`.
    #[config(default = 1e-4)]
    pub tol: f64,
    /// Maximum ADMM iterations.
    #[config(default = 2000)]
    pub max_iters: usize,
    /// Wall-clock limit in seconds.
    #[config(default = "None")]
    pub time_limit: Option<f64>,
    /// Maximum PCG iterations per ADMM iteration when the u-step core does not fit the memory budget.
    #[config(default = 50)]
    pub pcg_max_iters: usize,
    /// Memory the solve may take, in GB (host and device together): a solve whose estimated
    /// footprint (`memory.rs`) exceeds it is refused before allocating, and the u-step core is
    /// factored only when it fits in what is left (otherwise the u-step uses conjugate gradients).
    #[config(default = 2.0)]
    pub memory_budget_gb: f64,
    /// ADMM iterations between evaluations of the certificate (the dual bound) at first; later ones
    /// are spaced by a tenth of the iterations so far, so that checking takes a bounded share of a
    /// long solve.
    #[config(default = 10)]
    pub check_every: usize,
    /// Convex program to solve.
    #[config(default = "Formulation::Relu")]
    pub formulation: Formulation,
    /// Seed of the gate vectors and sketches.
    #[config(default = 0)]
    pub seed: u64,
    /// How the P gate vectors are drawn.
    #[config(default = "GateSampling::Pairs")]
    pub gate_sampling: GateSampling,
    /// Drop duplicate and all-zero patterns (as scnn; the reference keeps them).
    #[config(default = true)]
    pub filter_patterns: bool,
}

impl CronosConfig {
    /// Checks every parameter, naming the first one out of range.
    pub fn validate(&self) -> Result<(), CronosError> {
        ensure_param(
            self.neurons > 0,
            "neurons",
            self.neurons,
            "must be at least 1",
        )?;
        ensure_param(
            self.beta.is_finite() && self.beta >= 0.0,
            "beta",
            self.beta,
            "must be finite and >= 0",
        )?;
        if let Some(fraction) = self.relative_beta {
            ensure_param(
                fraction.is_finite() && fraction > 0.0,
                "relative_beta",
                fraction,
                "must be finite and > 0",
            )?;
        }
        if let Some(rho) = self.rho {
            ensure_param(
                rho.is_finite() && rho > 0.0,
                "rho",
                rho,
                "must be finite and > 0",
            )?;
        }
        ensure_param(
            self.tol.is_finite() && self.tol > 0.0,
            "tol",
            self.tol,
            "must be finite and > 0",
        )?;
        ensure_param(
            self.max_iters > 0,
            "max_iters",
            self.max_iters,
            "must be at least 1",
        )?;
        ensure_param(
            self.pcg_max_iters > 0,
            "pcg_max_iters",
            self.pcg_max_iters,
            "must be at least 1",
        )?;
        if let Some(t) = self.time_limit {
            ensure_param(
                t.is_finite() && t > 0.0,
                "time_limit",
                t,
                "must be finite and > 0",
            )?;
        }
        ensure_param(
            self.memory_budget_gb.is_finite() && self.memory_budget_gb >= 0.0,
            "memory_budget_gb",
            self.memory_budget_gb,
            "must be finite and >= 0",
        )?;
        ensure_param(
            self.check_every > 0,
            "check_every",
            self.check_every,
            "must be at least 1",
        )?;
        Ok(())
    }
}
