//! CRONOS as a Burn solver: a configuration that fits data and returns an ordinary Burn module.
//!
//! ```text
//! CronosSolverConfig --fit(X, Y)--> FittedMlp { model: TwoLayerMlp, report, history }
//! ```
//!
//! The fit runs on whatever backend `X` lives on; the returned [`TwoLayerMlp`] is a plain
//! [`Module`](burn::module::Module): save it with [`TwoLayerMlp::save`] or any Burn recorder
//! (`save_file`), load it on another device, precision or backend, or keep training it with a Burn
//! optimizer.

use crate::model::TwoLayerMlp;
use burn::prelude::*;
use cronos_core::{CronosConfig, CronosError, IterationRecord, SolveReport};

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
        let solution = self.solver.solver().fit(x, y)?;
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
