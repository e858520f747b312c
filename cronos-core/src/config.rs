//! Solver configuration: data, validated once, then turned into a solve with [`CronosConfig::solve`].

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

/// Configuration of a CRONOS solve. Objectives follow 1/2 ||.||^2 + beta * group norms, no 1/n.
#[derive(Config, Debug, PartialEq)]
pub struct CronosConfig {
    /// Number of sampled gate vectors P (the ReLU network gets up to 2P neurons per output).
    #[config(default = 16)]
    pub neurons: usize,
    /// Group-lasso weight beta (equivalently the weight decay beta/2 of the network).
    #[config(default = 1e-3)]
    pub beta: f64,
    /// Initial ADMM penalty rho; adapted during the solve when `adaptive_rho` is set.
    #[config(default = 0.03)]
    pub rho: f64,
    /// Rebalance rho from the ratio of the relative residuals (as in OSQP) so a bad rho cannot stall.
    #[config(default = true)]
    pub adaptive_rho: bool,
    /// Relative tolerance on the primal and dual residuals.
    #[config(default = 1e-4)]
    pub tol: f64,
    /// Absolute tolerance (per square root of dimension) added to the relative one.
    #[config(default = 1e-9)]
    pub tol_abs: f64,
    /// Maximum ADMM iterations.
    #[config(default = 2000)]
    pub max_iters: usize,
    /// Wall-clock limit in seconds.
    #[config(default = "None")]
    pub time_limit: Option<f64>,
    /// Maximum PCG iterations per ADMM iteration. Kept low: where the u-step is hard (large n d P at
    /// small rho) an inexact solve slows ADMM per iteration far less than it saves per iteration.
    #[config(default = 20)]
    pub pcg_max_iters: usize,
    /// Rank of the Nystrom sketch of F^T F (default: min(256, 2 d P)).
    #[config(default = "None")]
    pub rank: Option<usize>,
    /// Rank of the Nystrom sketch of X^T X (default: min(64, d)).
    #[config(default = "None")]
    pub gram_rank: Option<usize>,
    /// Convex program to solve.
    #[config(default = "Formulation::Relu")]
    pub formulation: Formulation,
    /// Seed of the gate vectors and sketches.
    #[config(default = 0)]
    pub seed: u64,
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
        ensure_param(
            self.rho.is_finite() && self.rho > 0.0,
            "rho",
            self.rho,
            "must be finite and > 0",
        )?;
        ensure_param(
            self.tol.is_finite() && self.tol > 0.0,
            "tol",
            self.tol,
            "must be finite and > 0",
        )?;
        ensure_param(
            self.tol_abs.is_finite() && self.tol_abs >= 0.0,
            "tol_abs",
            self.tol_abs,
            "must be finite and >= 0",
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
        for (name, rank) in [("rank", self.rank), ("gram_rank", self.gram_rank)] {
            if let Some(r) = rank {
                ensure_param(r > 0, name, r, "must be at least 1")?;
            }
        }
        Ok(())
    }

    /// Sketch ranks (F^T F, X^T X) for a problem with `d` features and `blocks` blocks per output.
    pub(crate) fn ranks(&self, d: usize, blocks: usize) -> Result<(usize, usize), CronosError> {
        let n1 = d * blocks;
        let rank = self.rank.unwrap_or(256.min(n1));
        let gram = self.gram_rank.unwrap_or(64.min(d));
        ensure_param(
            rank <= n1,
            "rank",
            rank,
            "larger than the dimension 2 d P (or d P) of the problem",
        )?;
        ensure_param(
            gram <= d,
            "gram_rank",
            gram,
            "larger than the number of features d",
        )?;
        Ok((rank, gram))
    }
}
