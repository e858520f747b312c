//! ADMM's iteration state, and the warm start that carries it from one solve to the next.

use crate::error::{CronosError, Result};
use burn::prelude::*;

/// The point ADMM iterates on: z = (v, lambda, s, nu); u is a function of it (the u-step).
#[derive(Debug, Clone)]
pub(crate) struct State<B: Backend> {
    /// Group-sparse copy of u and its scaled dual, `d x B c`.
    pub(crate) v: Tensor<B, 2>,
    pub(crate) lambda: Tensor<B, 2>,
    /// Slack of G u >= 0 and its scaled dual, `n x B c` (ReLU program only).
    pub(crate) cone: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
}

/// Where a solve left off: ADMM's last state, its penalty rho and the beta it solved for, the gate
/// vectors and the data scales, so that [`crate::Cronos::resume`] can continue a solve that hit a
/// time or iteration limit or was stopped.
/// On the same data resuming continues the iteration (only Anderson's history and the best-point
/// bookkeeping restart); on other data of the same shape, such as CRONOS-AM's features after a few
/// gradient steps, it is a starting guess.
#[derive(Debug, Clone)]
pub struct WarmStart<B: Backend> {
    pub(crate) state: State<B>,
    pub(crate) rho: f64,
    /// beta in the scaled units of the solve it comes from ([`crate::rho::carried`]).
    pub(crate) beta: f64,
    pub(crate) gates: Tensor<B, 2>,
    /// Row scales (sx, sy) of X and Y in the solve it comes from (the state is in scaled units).
    pub(crate) scales: (f64, f64),
}

impl<B: Backend> WarmStart<B> {
    /// The state in the units of a problem with scales `scales`, checked against its shapes: points
    /// are `d x cols`, cone slacks `n x cols` and present exactly for the ReLU program.
    pub(crate) fn state_for(
        &self,
        scales: (f64, f64),
        [n, d, cols]: [usize; 3],
        relu: bool,
    ) -> Result<State<B>> {
        let shape = |what: &'static str, expected: [usize; 2], found: [usize; 2]| {
            if expected == found {
                Ok(())
            } else {
                Err(CronosError::WarmStart {
                    what,
                    expected: format!("{} x {}", expected[0], expected[1]),
                    found: format!("{} x {}", found[0], found[1]),
                })
            }
        };
        let name = |cone: bool| if cone { "relu" } else { "gated" };
        if self.state.cone.is_some() != relu {
            return Err(CronosError::WarmStart {
                what: "warm start formulation",
                expected: name(relu).into(),
                found: name(!relu).into(),
            });
        }
        shape(
            "warm start point (d x blocks * outputs)",
            [d, cols],
            self.state.v.dims(),
        )?;
        // A point u in original units is (sy / sx) times the scaled one; slacks G u scale with sy.
        let point = (self.scales.1 / self.scales.0) / (scales.1 / scales.0);
        let slack = self.scales.1 / scales.1;
        let cone = match &self.state.cone {
            Some((s, nu)) => {
                shape(
                    "warm start cone slack (n x blocks * outputs)",
                    [n, cols],
                    s.dims(),
                )?;
                Some((s.clone() * slack, nu.clone() * slack))
            }
            None => None,
        };
        Ok(State {
            v: self.state.v.clone() * point,
            lambda: self.state.lambda.clone() * point,
            cone,
        })
    }
}
