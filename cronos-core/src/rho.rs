//! The ADMM penalty rho, in the solver's scaled units (rows of X and Y of unit root-mean-square norm).
//!
//! With an exact u-step ADMM's iteration count depends on rho alone, and the best rho moves by orders
//! of magnitude between problems. When the factorization makes rho free (an eigendecomposed core),
//! the solver races the candidates in [`SWEEP`] for [`SWEEP_ITERATIONS`] iterations each from the
//! same cold start, in increasing order until one that has left zero does worse than the best before
//! it ([`race`]), and continues the one whose certified gap (or relative violation, if larger) is
//! smallest among those whose point has left zero. Otherwise (a Cholesky core, or the PCG path,
//! where a race's inexact u-steps cost more than they gain: `cronos-core/README.md`, "How the solver
//! works"), and for solves with fewer than [`SWEEP_MIN_BUDGET`] iterations (such as CRONOS-AM's head
//! solves, which a race would multiply), it uses [`FIXED`], and a short solve at least a multiple of
//! its relative beta ([`unraced`]).
//!
//! A race of 20 iterations judges the start; later, at every check, [`adjusted`] moves rho when one
//! of the two certified measures lags the other by ten times: the relative violation of the cone
//! constraints (which a larger rho drives down) or the certified gap (which a smaller rho closes
//! faster). On the ten-output benchmark problem the raced rho of 1e-4 closed the gap within a few
//! hundred iterations while the violation stayed near 3.5e-3 for thousands; four raises there, and
//! the rule overall, took the benchmark from 1 of 5 problems certified to 1e-3 within 60 s to 5 of 5
//! (`cronos-core/README.md`, "Benchmarks"). Only where rho is free (an eigendecomposed core, or the
//! PCG path, whose preconditioner does not depend on rho): with a Cholesky core a change would cost
//! a new factorization.

use crate::admm::{relative_gap, Admm, Measures, Problem};
use crate::host;
use crate::observer::IterationRecord;
use crate::state::State;
use burn::prelude::*;

/// Candidates of the opening race, in the increasing order [`race`] needs.
pub(crate) const SWEEP: &[f64] = &[1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
/// Iterations each candidate runs before the race is judged.
pub(crate) const SWEEP_ITERATIONS: usize = 20;
/// Smallest iteration limit for which the race runs.
pub(crate) const SWEEP_MIN_BUDGET: usize = 200;

/// Whether a solve of `max_iters` iterations is short: it asks for an approximate answer quickly,
/// so it gets no race, the cheaper factorization and no polish beyond its iterations' cost.
pub(crate) fn short(max_iters: usize) -> bool {
    max_iters < SWEEP_MIN_BUDGET
}

/// rho when a change of rho would cost a refactorization or the budget is short (a short solve's
/// at least, see [`unraced`]).
pub(crate) const FIXED: f64 = 3e-2;

/// How many times its relative beta (beta over the zero-solution beta) a short solve's rho is at
/// least, see [`unraced`].
const SHRINKAGE_LIMIT: f64 = 20.0;

/// rho of a short solve (no race, and no check to adjust it before its end) for penalty `beta` whose
/// zero-solution beta is `zero_beta`: [`FIXED`], raised where needed to keep the shrinkage beta / rho
/// of the v-step within a twentieth of `zero_beta`, the largest correlation of a group with the
/// targets. At [`FIXED`] a relative beta of 3 % held every group at zero for all 30 iterations of
/// short solves on three problems (1,000 raw-pixel images, P = 4; 2,000 x 50 PCA with ten outputs,
/// P = 8; CRONOS-AM's 2,000 x 256 head, P = 10), and at 1 % the ten-output one kept 4 of its 160
/// groups; over relative betas of 1e-3 to 3e-2 and rho of 0.03 to 1, the rho with the best
/// certified gap and violation after 30 iterations grew in proportion, from 0.03 to between 0.3
/// and 1 (`cronos-core/README.md`, "How the solver works").
pub(crate) fn unraced(beta: f64, zero_beta: f64) -> f64 {
    if zero_beta > 0.0 {
        FIXED.max(SHRINKAGE_LIMIT * beta / zero_beta).min(RANGE.1)
    } else {
        FIXED
    }
}

/// rho of a solve continued from one that solved for penalty `from` (scaled units) and ended at
/// `rho`, for penalty `beta`: scaled with beta, which keeps the v-step's shrinkage beta / rho, and
/// held within [`RANGE`]. Along a regularization path the penalty falls tenfold every two or three
/// solves while rho, carried as it was, stayed where the large betas had left it: on all 60,000
/// Fashion-MNIST training images (PCA-50, ten outputs, P = 3) the first solve, at a tenth of the
/// zero-solution beta, raised rho to 1,000 to make its point feasible; at the path's smallest beta
/// (1e-4 of the first) a cold solve from rho = 1,000 was still at a certified gap of 0.96 after 300
/// s, one from 0.1 was optimal after 76 s.
pub(crate) fn carried(rho: f64, from: f64, beta: f64) -> f64 {
    match from > 0.0 && beta > 0.0 {
        true => (rho * beta / from).clamp(RANGE.0, RANGE.1),
        false => rho,
    }
}

/// Factor by which [`adjusted`] moves rho.
const ADJUSTMENT: f64 = 4.0;
/// How far one measure must lag the other before rho moves.
const LAG: f64 = 10.0;

/// The factor for rho after a check that measured certified relative gap `gap` and relative
/// violation `violation` against tolerance `tol`, at a point that is `idle` (every group zero):
/// [`ADJUSTMENT`] when the point is infeasible beyond `tol` while its gap (of either sign: an
/// infeasible point can beat the bound) is [`LAG`] times smaller, or when it is idle with a gap
/// above `tol`; its inverse when the point is feasible to `tol` but its gap exceeds `tol` and is
/// [`LAG`] times the violation, 1 otherwise.
///
/// An idle point is feasible, so the second rule would lower rho, and a smaller rho raises the
/// shrinkage beta / rho that holds every group at zero: on all 60,000 Fashion-MNIST training
/// images (PCA-50, ten classes, P = 3) at a tenth of the beta whose solution is zero, the race's
/// rho of 10 fell to 1e-6 in 11 checks and the solve returned the zero network after 600 s.
///
/// The result is kept within [`RANGE`]: a point that stays feasible while its gap does not close
/// (on 40 x 3 data fitted by a linear function, the primal residual stayed near 1) would otherwise
/// be met by ever smaller penalties, down to 1e-14 and a non-finite iterate after 258 iterations.
pub(crate) fn adjusted(rho: f64, gap: f64, violation: f64, tol: f64, idle: bool) -> f64 {
    (rho * adjustment(gap, violation, tol, idle)).clamp(RANGE.0, RANGE.1)
}

/// The penalties [`adjusted`] moves between: two decades beyond the race's candidates.
pub(crate) const RANGE: (f64, f64) = (1e-6, 1e3);

fn adjustment(gap: f64, violation: f64, tol: f64, idle: bool) -> f64 {
    if (violation > tol && gap.abs() * LAG <= violation) || (idle && gap > tol) {
        ADJUSTMENT
    } else if violation <= tol && gap > tol && violation * LAG <= gap {
        1.0 / ADJUSTMENT
    } else {
        1.0
    }
}

/// Whether every group of the point `v` is zero: a rho so small that the shrinkage beta / rho holds
/// them all there has not started.
pub(crate) fn idle<B: Backend>(v: &Tensor<B, 2>) -> bool {
    host::scalar(v.clone().abs().max()) == 0.0
}

/// A candidate of the race: its score (still at zero, certified gap), the run and its records.
type Entry<B> = ((bool, f64), Admm<B>, Vec<IterationRecord>);

/// Races the penalties of [`SWEEP`] from the cold state `cold` for [`SWEEP_ITERATIONS`] each (fewer
/// once `interrupted`); returns the winner, its records (`record` makes them from each iteration's
/// measures and the bound) and the iterations the losers ran.
///
/// The race stops at the first candidate that has left zero and scores worse than the best so far:
/// on every fixture the score falls with rho to the winner and rises after it (from 1e-4 up, where
/// 1e-4 wins, the certified gaps after 20 iterations were 0.54, 0.94, 0.99, ... on
/// `bench_binary_raw784`; 0.92, 0.15, 0.63, 0.91, ... where 1e-3 wins on `relu_binary`; on
/// `relu_binary_sparse` rho up to 0.1 held every group at zero and 1 won), so the larger candidates
/// change nothing there but the time: a race on the raw-pixel benchmark problem took 0.78 s with
/// all six, about 0.13 s each (`cronos-core/README.md`, "How the solver works").
pub(crate) fn race<B: Backend>(
    problem: &Problem<B>,
    cold: impl Fn() -> State<B>,
    record: impl Fn(&Measures, &Admm<B>, f64) -> IterationRecord,
    interrupted: impl Fn() -> bool,
) -> (Admm<B>, Vec<IterationRecord>, usize) {
    let mut best: Option<Entry<B>> = None;
    let mut iterations = 0;
    for &rho in SWEEP {
        let mut candidate = Admm::new(problem, cold(), rho, true);
        let mut records = Vec::new();
        let mut last = None;
        for _ in 0..SWEEP_ITERATIONS {
            let m = candidate.step(problem);
            records.push(record(&m, &candidate, f64::NEG_INFINITY));
            last = Some(m);
            if interrupted() {
                break;
            }
        }
        let m = last.expect("sweep iterations");
        let gap = relative_gap(m.objective, candidate.certify(problem).bound).max(m.rel_violation);
        iterations += candidate.iterations;
        // A penalty so small that the shrinkage beta / rho still holds every group at zero has not
        // started: its gap is that of the zero network, often the best early bound on many-output
        // problems, and it would win the race only to stall.
        let idle = idle(&candidate.state.v);
        // A diverged candidate loses to every other (a NaN gap would win every comparison).
        let score = if m.objective.is_finite() && !gap.is_nan() {
            (idle, gap)
        } else {
            (true, f64::INFINITY)
        };
        let past_the_best = !idle && best.as_ref().is_some_and(|(b, _, _)| score > *b);
        if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
            best = Some((score, candidate, records));
        }
        if interrupted() || past_the_best {
            break;
        }
    }
    let (_, winner, records) = best.expect("at least one candidate");
    iterations -= winner.iterations;
    (winner, records, iterations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continued_solve_keeps_the_shrinkage_of_the_one_it_continues() {
        let rho = carried(1e3, 3.762e3, 0.376);
        assert!((rho - 0.1).abs() <= 1e-3, "{rho}");
        assert_eq!(carried(0.5, 2.0, 2.0), 0.5, "same beta, same rho");
        assert_eq!(carried(1e3, 1.0, 10.0), RANGE.1, "held within the range");
        assert_eq!(carried(1e-5, 1e3, 1.0), RANGE.0);
        assert_eq!(carried(0.5, 0.0, 1.0), 0.5, "no beta to scale by");
    }

    #[test]
    fn rho_moves_toward_the_lagging_measure_only() {
        let tol = 1e-6;
        // The ten-output stall: gap closed (here below zero), violation far above tol.
        assert_eq!(adjustment(-3e-4, 3.5e-3, tol, false), ADJUSTMENT);
        // Both still moving together: an infeasible point beating the bound by as much.
        assert_eq!(adjustment(-4.6e-3, 7.1e-3, tol, false), 1.0);
        // Feasible, the gap lagging.
        assert_eq!(adjustment(9e-3, 1e-7, tol, false), 1.0 / ADJUSTMENT);
        // Feasible and certified: nothing to do.
        assert_eq!(adjustment(5e-7, 1e-7, tol, false), 1.0);
        // Early on both are far from tol and comparable.
        assert_eq!(adjustment(5e-1, 4.6e-2, tol, false), 1.0);
        // Held at zero (feasible, with a gap): only a larger rho lets it start.
        assert_eq!(adjustment(0.12, 0.0, tol, true), ADJUSTMENT);
        // At zero and certified (beta at least the zero-solution beta): nothing to do.
        assert_eq!(adjustment(5e-7, 0.0, tol, true), 1.0);
    }

    #[test]
    fn rho_stays_within_its_range() {
        let lagging_gap = |rho| adjusted(rho, 9e-3, 1e-7, 1e-6, false);
        assert_eq!(lagging_gap(1e-3), 1e-3 / ADJUSTMENT);
        assert_eq!(lagging_gap(2e-6), RANGE.0);
        assert_eq!(lagging_gap(RANGE.0), RANGE.0);
        assert_eq!(adjusted(5e2, -3e-4, 3.5e-3, 1e-6, false), RANGE.1);
    }
}
