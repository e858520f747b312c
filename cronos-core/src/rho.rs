//! The ADMM penalty rho, in the solver's scaled units (rows of X and Y of unit root-mean-square norm).
//!
//! With an exact u-step ADMM's iteration count depends on rho alone, and the best rho moves by orders
//! of magnitude between problems. When the factorization makes rho free, the solver races the
//! candidates in [`SWEEP`] for [`SWEEP_ITERATIONS`] iterations each from the same cold start and
//! continues the one whose certified gap (or relative violation, if larger) is smallest. Otherwise
//! (a Cholesky core, or the PCG path) it uses [`FIXED`].

/// Candidates of the opening race.
pub(crate) const SWEEP: &[f64] = &[1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
/// Iterations each candidate runs before the race is judged.
pub(crate) const SWEEP_ITERATIONS: usize = 20;
/// rho when a change of rho would cost a refactorization.
pub(crate) const FIXED: f64 = 1e-2;
