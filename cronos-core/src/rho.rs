//! The ADMM penalty rho, in the solver's scaled units (rows of X and Y of unit root-mean-square norm).
//!
//! With an exact u-step ADMM's iteration count depends on rho alone, and the best rho moves by orders
//! of magnitude between problems. When the factorization makes rho free, the solver races the
//! candidates in [`SWEEP`] for [`SWEEP_ITERATIONS`] iterations each from the same cold start and
//! continues the one whose certified gap (or relative violation, if larger) is smallest among those
//! whose point has left zero. Otherwise (a Cholesky core, or the PCG path), and for solves with fewer
//! than [`SWEEP_MIN_BUDGET`] iterations (such as CRONOS-AM's head solves, which a race would
//! multiply), it uses [`FIXED`].

/// Candidates of the opening race.
pub(crate) const SWEEP: &[f64] = &[1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
/// Iterations each candidate runs before the race is judged.
pub(crate) const SWEEP_ITERATIONS: usize = 20;
/// Smallest iteration limit for which the race runs.
pub(crate) const SWEEP_MIN_BUDGET: usize = 200;
/// rho when a change of rho would cost a refactorization or the budget is short.
pub(crate) const FIXED: f64 = 3e-2;
