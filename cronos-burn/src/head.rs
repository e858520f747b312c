//! Solving the last two layers of any Burn model with CRONOS.
//!
//! A model whose output is `relu(h W1) W2`, with `h = features(x)` the output of its earlier layers,
//! has a convex head problem once the features are fixed: CRONOS solves it from `(h, Y)` and the
//! solution is written into the model's own two `Linear` layers. The layers keep their
//! [`ParamId`](burn::module::ParamId)s and their `require_grad` flags, so optimizer state, records
//! and checkpoints keyed by parameter stay valid; biases, if the layers have them, are set to zero
//! (the convex program has no bias).
//!
//! The head has a fixed hidden width `m`; CRONOS needs `2 P c` neurons for `P` gates and `c`
//! outputs (every convex group becomes one neuron, zero groups become zero neurons, the rest is
//! padded with zero neurons), so `m >= 2 P c` is required.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::nn::LinearConfig;
//! use burn::prelude::*;
//! use burn::tensor::Distribution;
//! use cronos_burn::head::HeadSolverConfig;
//! use cronos_core::CronosConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! // Features from the layers below the head (n x k) and targets (n x c).
//! let h = Tensor::<B, 2>::random([64, 6], Distribution::Normal(0.0, 1.0), &device);
//! let y = h.clone().sum_dim(1).clamp_min(0.0);
//! // A head of hidden width m >= 2 P c = 8.
//! let mut hidden = LinearConfig::new(6, 8).init::<B>(&device);
//! let mut output = LinearConfig::new(8, 1).init::<B>(&device);
//! let head = HeadSolverConfig::new(CronosConfig::new().with_neurons(4));
//! // On an autodiff model the solve runs on the inner backend, without a tape
//! // (`fit_into` for a model on a plain backend).
//! let report = head.fit_into_autodiff(h.inner(), y.inner(), &mut hidden, &mut output)?;
//! println!("objective {:.4}, certified lower bound {:.4}", report.objective, report.lower_bound);
//! # Ok(())
//! # }
//! ```

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use cronos_core::{CronosConfig, CronosError, Formulation, SolveReport, WarmStart};
use thiserror::Error;

/// Why a head could not be solved or written.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum HeadError {
    /// The head's hidden layer is narrower than the `2 P c` neurons CRONOS produces.
    #[error(
        "head hidden width {width} is too small for CRONOS with P = {neurons} gates and {outputs} \
         output(s): it needs at least 2 P c = {needed} neurons (use a wider head or fewer neurons)"
    )]
    Width {
        /// Hidden width m of the head.
        width: usize,
        /// Neurons needed, `2 P c`.
        needed: usize,
        /// Gates P.
        neurons: usize,
        /// Outputs c.
        outputs: usize,
    },
    /// Layers, features and targets disagree in a dimension.
    #[error("shape mismatch: {what}: expected {expected}, found {found}")]
    Shape {
        /// What was compared.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Found size.
        found: usize,
    },
    /// Gated-ReLU solutions need gate vectors, which two `Linear` layers with a ReLU cannot hold.
    #[error("a Linear -> ReLU -> Linear head needs the ReLU formulation, not the gated one")]
    Gated,
    /// The convex solve failed.
    #[error("CRONOS head solve failed: {0}")]
    Solve(#[from] CronosError),
}

/// Configuration of the head solver: the settings of the convex solve. A trained network's layers
/// change the scale of the features between solves, so repeated solves usually want
/// [`CronosConfig::relative_beta`] rather than a fixed beta.
#[derive(Config, Debug, PartialEq)]
pub struct HeadSolverConfig {
    /// Settings of the convex solve (P = `neurons`, beta, rho, tolerances, limits, seed, ...).
    pub cronos: CronosConfig,
}

/// Head weights computed by CRONOS, in `Linear` layout (`y = x W`).
#[derive(Debug, Clone)]
pub struct HeadWeights<B: Backend> {
    /// First-layer weight, `k x m`.
    pub hidden: Tensor<B, 2>,
    /// Second-layer weight, `m x c`.
    pub output: Tensor<B, 2>,
    /// Summary of the solve.
    pub report: SolveReport,
}

impl HeadSolverConfig {
    /// The smallest hidden width that holds a solution with `outputs` outputs: `2 P c`.
    pub fn required_width(&self, outputs: usize) -> usize {
        2 * self.cronos.neurons * outputs
    }

    /// Checks that a head of hidden width `width` with `outputs` outputs can hold the solution.
    pub fn check_width(&self, width: usize, outputs: usize) -> Result<(), HeadError> {
        if self.cronos.formulation == Formulation::Gated {
            return Err(HeadError::Gated);
        }
        let needed = self.required_width(outputs);
        if width < needed {
            return Err(HeadError::Width {
                width,
                needed,
                neurons: self.cronos.neurons,
                outputs,
            });
        }
        Ok(())
    }

    /// Solves the head problem for `features` (`n x k`) and `targets` (`n x c`) on their backend,
    /// returning weights of hidden width `width` (`>= 2 P c`).
    pub fn solve<B: Backend>(
        &self,
        features: Tensor<B, 2>,
        targets: Tensor<B, 2>,
        width: usize,
    ) -> Result<HeadWeights<B>, HeadError> {
        self.solve_from(features, targets, width, None)
            .map(|(weights, _)| weights)
    }

    /// Like [`HeadSolverConfig::solve`], continuing from the warm start of an earlier head solve
    /// (e.g. on the features before a few gradient steps) and returning this solve's warm start.
    /// A warm start that no longer fits (another number of patterns survived filtering) is dropped
    /// for a cold start.
    pub fn solve_from<B: Backend>(
        &self,
        features: Tensor<B, 2>,
        targets: Tensor<B, 2>,
        width: usize,
        warm: Option<&WarmStart<B>>,
    ) -> Result<(HeadWeights<B>, WarmStart<B>), HeadError> {
        let c = targets.dims()[1];
        self.check_width(width, c)?;
        let resumed = warm.map(|w| {
            self.cronos
                .solver()
                .resume(features.clone(), targets.clone(), w)
        });
        let solution = match resumed {
            Some(Err(CronosError::WarmStart { .. })) => {
                self.cronos.solver().fit(features, targets)?
            }
            Some(result) => result?,
            None => self.cronos.solver().fit(features, targets)?,
        };
        let network = solution.padded_network(width).ok_or(HeadError::Width {
            width,
            needed: self.required_width(c),
            neurons: self.cronos.neurons,
            outputs: c,
        })?;
        let warm = solution.warm_start().clone();
        Ok((
            HeadWeights {
                hidden: network.w1,
                output: network.w2,
                report: solution.report,
            },
            warm,
        ))
    }

    /// Solves the head on the backend of `features` and writes it into `hidden` (`k x m`) and
    /// `output` (`m x c`), keeping their parameter ids and `require_grad` flags and zeroing biases.
    /// On an autodiff backend prefer [`HeadSolverConfig::fit_into_autodiff`], which solves without
    /// the autodiff wrapper.
    pub fn fit_into<B: Backend>(
        &self,
        features: Tensor<B, 2>,
        targets: Tensor<B, 2>,
        hidden: &mut Linear<B>,
        output: &mut Linear<B>,
    ) -> Result<SolveReport, HeadError> {
        let width = check_layers(hidden, output, &features, &targets)?;
        let weights = self.solve(features, targets, width)?;
        Ok(weights.write_into(hidden, output))
    }

    /// Like [`HeadSolverConfig::fit_into`] for the layers of an autodiff model: the solve runs on
    /// the inner backend (`features` and `targets` are inner tensors, e.g. `h.inner()` or from
    /// `model.valid()`), and the weights are written back with [`Tensor::from_inner`].
    pub fn fit_into_autodiff<B: AutodiffBackend>(
        &self,
        features: Tensor<B::InnerBackend, 2>,
        targets: Tensor<B::InnerBackend, 2>,
        hidden: &mut Linear<B>,
        output: &mut Linear<B>,
    ) -> Result<SolveReport, HeadError> {
        let width = check_layers(hidden, output, &features, &targets)?;
        let weights = self.solve(features, targets, width)?;
        Ok(weights.from_inner::<B>().write_into(hidden, output))
    }
}

/// Checks the layers against the data (which may live on another backend, e.g. the inner one) and
/// returns the hidden width.
fn check_layers<B: Backend, F: Backend>(
    hidden: &Linear<B>,
    output: &Linear<B>,
    features: &Tensor<F, 2>,
    targets: &Tensor<F, 2>,
) -> Result<usize, HeadError> {
    let [k, m] = hidden.weight.dims();
    check_dims(
        k,
        m,
        output.weight.dims(),
        &features.dims(),
        &targets.dims(),
    )?;
    Ok(m)
}

/// Checks a head `k x m`, `m x c` against features `n x k` and targets `n x c`.
fn check_dims(
    k: usize,
    m: usize,
    output: [usize; 2],
    features: &[usize; 2],
    targets: &[usize; 2],
) -> Result<(), HeadError> {
    let checks = [
        (
            "features vs input width of the head's first layer",
            k,
            features[1],
        ),
        (
            "output layer inputs vs hidden width of the first layer",
            m,
            output[0],
        ),
        (
            "target columns vs outputs of the head's second layer",
            output[1],
            targets[1],
        ),
        ("target rows vs feature rows", features[0], targets[0]),
    ];
    for (what, expected, found) in checks {
        if expected != found {
            return Err(HeadError::Shape {
                what,
                expected,
                found,
            });
        }
    }
    Ok(())
}

impl<B: Backend> HeadWeights<B> {
    /// The same weights as (untracked) tensors of an autodiff backend over `B`.
    pub fn from_inner<A: AutodiffBackend<InnerBackend = B>>(self) -> HeadWeights<A> {
        HeadWeights {
            hidden: Tensor::from_inner(self.hidden),
            output: Tensor::from_inner(self.output),
            report: self.report,
        }
    }

    /// Writes the weights into `hidden` and `output` (see [`set_weight`]) and returns the report.
    pub fn write_into(self, hidden: &mut Linear<B>, output: &mut Linear<B>) -> SolveReport {
        *hidden = set_weight(hidden.clone(), self.hidden);
        *output = set_weight(output.clone(), self.output);
        self.report
    }
}

/// Replaces the weight of `layer` by `weight` (`d_in x d_out`) and zeroes its bias, keeping the
/// parameter ids, the `require_grad` flags, the device and the dtype of the layer. The new values
/// are leaves of the autodiff graph (never the result of a tracked operation), so a trainable
/// layer keeps receiving gradients.
pub fn set_weight<B: Backend>(mut layer: Linear<B>, weight: Tensor<B, 2>) -> Linear<B> {
    layer.weight = replace_param(layer.weight, |old| {
        weight.to_device(&old.device()).cast(old.dtype())
    });
    layer.bias = layer
        .bias
        .map(|bias| replace_param(bias, |old| old.zeros_like()));
    layer
}

/// `param.map` that keeps the old value's `require_grad` and makes the new value a leaf.
fn replace_param<B: Backend, const D: usize>(
    param: Param<Tensor<B, D>>,
    new: impl FnOnce(Tensor<B, D>) -> Tensor<B, D>,
) -> Param<Tensor<B, D>> {
    param.map(|old| {
        let require_grad = old.is_require_grad();
        new(old.detach()).detach().set_require_grad(require_grad)
    })
}
