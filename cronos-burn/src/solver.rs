//! CRONOS as a Burn solver: a configuration that fits data and returns an ordinary Burn module.
//!
//! ```text
//! CronosSolverConfig --fit(X, Y)--> FittedMlp { model: TwoLayerMlp, report, history }
//! ```
//!
//! The fit runs on whatever backend `X` lives on; the returned [`TwoLayerMlp`] is a plain
//! [`Module`]: save it with [`TwoLayerMlp::save`] or any Burn recorder
//! (`save_file`), load it on another device, precision or backend, or keep training it with a Burn
//! optimizer.

use crate::model::TwoLayerMlp;
use burn::prelude::*;
use cronos_core::{CronosConfig, CronosError, IterationRecord, Solution, SolveReport};
use std::ops::ControlFlow;
use std::time::Instant;

/// Configuration of a CRONOS fit that produces a Burn module.
///
/// `solver` holds every setting of the convex solve (neurons P, beta, rho, tolerances, limits,
/// formulation, seed, ...); `width` chooses the shape of the returned network.
#[derive(Config, Debug, PartialEq)]
pub struct CronosSolverConfig {
    /// Settings of the convex solve.
    pub solver: CronosConfig,
    /// Hidden width of the returned network. `None` keeps only the neurons with nonzero weights
    /// (the compact network); `Some(m)` keeps every convex group as a neuron, zero ones included,
    /// and pads with zero neurons to exactly `m` (fails if the solve needs more than `m`).
    #[config(default = "None")]
    pub width: Option<usize>,
}

/// A network fitted by CRONOS, with the solve's report and per-iteration trace.
#[derive(Debug, Clone)]
pub struct FittedMlp<B: Backend> {
    /// The fitted network as a Burn module.
    pub model: TwoLayerMlp<B>,
    /// Summary of the solve (objective, residuals, accuracy, time, status).
    pub report: SolveReport,
    /// Every ADMM iteration's record.
    pub history: Vec<IterationRecord>,
}

impl CronosSolverConfig {
    /// Fits data `x` (`n x d`) to targets `y` (`n x c`: +-1 for one output, one-hot for classes)
    /// on the backend and device of `x`.
    pub fn fit<B: Backend>(
        &self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
    ) -> Result<FittedMlp<B>, CronosError> {
        self.fitted(self.solver.solver().fit(x, y)?)
    }

    /// Solves the program for each beta of `betas` in turn, each solve continuing from the previous
    /// one's ADMM state (its gates and rho), which is how a regularization path is cheap: from large
    /// beta to small, each solution is close to the next. `visit` receives each beta's network, for
    /// example to score it on validation data, and ends the path early with `ControlFlow::Break`.
    /// The solver's time limit bounds the whole path: each solve gets an equal share of the time
    /// left among the betas not yet solved (what a quick solve leaves passes on to the next), so a
    /// limit that is too short for the path cuts every solve short, each reporting its certified
    /// gap, rather than dropping the path's small betas; the path ends once no time is left.
    /// Returns the number of solves made. [`CronosConfig::zero_solution_beta`]
    /// tells where a path should start; the betas are absolute (the solver's `relative_beta` is
    /// not used).
    pub fn fit_path<B: Backend>(
        &self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        betas: &[f64],
        mut visit: impl FnMut(f64, FittedMlp<B>) -> ControlFlow<()>,
    ) -> Result<usize, CronosError> {
        let start = Instant::now();
        let mut warm = None;
        for (solves, &beta) in betas.iter().enumerate() {
            let left = self
                .solver
                .time_limit
                .map(|limit| limit - start.elapsed().as_secs_f64());
            if left.is_some_and(|t| t <= 0.0) {
                return Ok(solves);
            }
            let share = left.map(|t| t / (betas.len() - solves) as f64);
            let solver = self
                .solver
                .clone()
                .with_beta(beta)
                .with_relative_beta(None)
                .with_time_limit(share)
                .solver();
            let solution = match &warm {
                None => solver.fit(x.clone(), y.clone())?,
                Some(from) => solver.resume(x.clone(), y.clone(), from)?,
            };
            warm = Some(solution.warm_start().clone());
            if visit(beta, self.fitted(solution)?).is_break() {
                return Ok(solves + 1);
            }
        }
        Ok(betas.len())
    }

    /// The Burn module of `solution`, in the width this configuration asks for.
    fn fitted<B: Backend>(&self, solution: Solution<B>) -> Result<FittedMlp<B>, CronosError> {
        let network = match self.width {
            None => solution.network.clone(),
            Some(width) => {
                solution
                    .padded_network(width)
                    .ok_or_else(|| CronosError::Parameter {
                        name: "width",
                        value: width.to_string(),
                        reason:
                            "smaller than the neurons of the solution (2 P c for ReLU, P c gated)",
                    })?
            }
        };
        Ok(FittedMlp {
            model: TwoLayerMlp::from(network),
            report: solution.report,
            history: solution.history,
        })
    }
}

impl<B: Backend> FittedMlp<B> {
    /// Predictions of the fitted network, `n x c`.
    pub fn predict(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.model.forward(x)
    }
}

impl<B: Backend> From<FittedMlp<B>> for TwoLayerMlp<B> {
    fn from(fitted: FittedMlp<B>) -> Self {
        fitted.model
    }
}
