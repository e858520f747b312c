//! Per-iteration records and the observers that receive them (progress displays, trace files, stops).

use crate::UStepPath;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::ops::ControlFlow;

/// What one ADMM iteration did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    /// 1-based ADMM iteration.
    pub iteration: usize,
    /// Training objective of the network the current point maps to.
    pub objective: f64,
    /// Largest absolute cone-constraint violation of that network's convex point.
    pub max_violation: f64,
    /// `max_violation` divided by the largest |X v_i| entry.
    pub rel_violation: f64,
    /// ||r_primal|| = ||(u - v, G u - s)||.
    pub primal_residual: f64,
    /// ||s_dual|| = rho ||(v - v_prev) + G^T (s - s_prev)||.
    pub dual_residual: f64,
    /// Primal residual relative to the size of the iterates.
    pub rel_primal_residual: f64,
    /// Dual residual relative to the size of the dual variables.
    pub rel_dual_residual: f64,
    /// Lower bound on the optimal objective from the current multipliers (weak duality).
    pub dual_bound: f64,
    /// (objective - dual_bound) / |objective|: a certificate of optimality.
    pub rel_gap: f64,
    /// Penalty used in this iteration.
    pub rho: f64,
    /// PCG iterations of this iteration's u-step.
    pub pcg_iterations: usize,
    /// Seconds since the solve started.
    pub seconds: f64,
}

/// How a solve takes its u-steps, told once, when set-up ends: a solve whose exact core does not fit
/// the memory budget runs tens of PCG products an iteration instead of one, and says so before the
/// first of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUpRecord {
    /// The u-step's path.
    pub u_step: UStepPath,
    /// Seconds since the solve started.
    pub seconds: f64,
    /// Where the exact core did not fit the memory budget (the path is then PCG): the bytes it needs
    /// and those the budget leaves it.
    pub core_over_budget: Option<(f64, f64)>,
}

/// Receives every iteration record; returning `ControlFlow::Break` stops the solve, which then returns
/// its best point so far.
pub trait Observer {
    /// Called after each ADMM iteration.
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()>;

    /// Called once, when set-up ends, before the first iteration; nothing by default.
    fn set_up(&mut self, _record: &SetUpRecord) {}
}

/// A borrowed observer receives both calls (a closure around it would forward only the records).
impl Observer for &mut dyn Observer {
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()> {
        (**self).observe(record)
    }

    fn set_up(&mut self, record: &SetUpRecord) {
        (**self).set_up(record);
    }
}

impl<F: FnMut(&IterationRecord) -> ControlFlow<()>> Observer for F {
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()> {
        self(record)
    }
}

/// Writes each record as one JSON line and flushes it, so a trace survives an interrupted solve.
pub struct JsonLinesTrace<W: Write> {
    out: W,
    /// The first write error, if any; later records are not written.
    pub error: Option<std::io::Error>,
}

impl<W: Write> JsonLinesTrace<W> {
    /// Traces into `out`.
    pub fn new(out: W) -> Self {
        Self { out, error: None }
    }
}

impl<W: Write> Observer for JsonLinesTrace<W> {
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()> {
        if self.error.is_none() {
            let line = serde_json::to_string(record).map_err(std::io::Error::other);
            let written = line.and_then(|l| {
                writeln!(self.out, "{l}")?;
                self.out.flush()
            });
            self.error = written.err();
        }
        ControlFlow::Continue(())
    }
}
