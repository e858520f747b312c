//! The periodic checks of a solve: when to certify and polish, the best bound and polished point so
//! far, and which point the solve would return now.
//!
//! A check costs as much as ten ADMM iterations or more (the certificate's projected steps on the cone
//! multipliers take two products with X each), so checks are spaced by `check_every` iterations at
//! first and then by a tenth of the iterations so far: on long solves checking takes a bounded share of
//! the time, and a solve stops at most about 10 % later than a check at every iteration would allow.

use crate::admm::{relative_gap, Admm, Candidate, Measures, Problem};
use crate::certificate::DualPoint;
use crate::polish::{self, PolishSchedule, Skipped};
use burn::prelude::*;

/// Later checks come after this fraction (1 / `CHECK_SPACING`) of the iterations so far.
const CHECK_SPACING: usize = 10;

/// The duality gap (relative) that a polish certifies for its restricted program before it stops:
/// inside the tolerance, so that a polish on the right blocks certifies the whole program at once
/// (the returned network's objective, evaluated in the solve's precision, can differ from the
/// polish's by about 1e-6 of it in f32), and no closer to rounding than f64 allows. Half: the last
/// decades cost a step each or more (on all 12,000 two-class raw-pixel images with P = 16 and tol
/// 1e-3, 25 steps of about 10 s to a tenth, 18 to a half, see [`crate::barrier`]); the benchmark
/// problems certify at their first polish either way.
fn polish_gap(tol: f64) -> f64 {
    (tol / 2.0).max(1e-13)
}

/// The best dual bound and polished point found by the checks so far.
pub(crate) struct Checks<B: Backend> {
    every: usize,
    next: usize,
    tol: f64,
    polish: PolishSchedule,
    /// The dual point with the highest bound.
    pub(crate) dual: Option<DualPoint<B>>,
    /// The polished point with the lowest objective among those feasible to `tol`.
    pub(crate) polished: Option<Candidate<B>>,
    /// Polishes that returned a point (cut short or not).
    pub(crate) polishes: usize,
    /// Why the last polish that was due did not start, if it did not.
    pub(crate) skipped: Option<Skipped>,
}

impl<B: Backend> Checks<B> {
    /// Checks at least every `every` iterations, polished points accepted at violation `tol`; a
    /// `warm`-started solve polishes sooner ([`PolishSchedule::new`]).
    pub(crate) fn new(every: usize, tol: f64, warm: bool) -> Self {
        Self {
            every,
            next: every,
            tol,
            polish: PolishSchedule::new(warm),
            dual: None,
            polished: None,
            polishes: 0,
            skipped: None,
        }
    }

    /// Certifies `run`'s point, and polishes it when a polish is due, if a check is due now or
    /// `force` (the last iteration) asks for one; whether it checked. No polish starts once
    /// `interrupted` (the stop flag or the time limit) holds, and one under way ends within a step.
    pub(crate) fn run(
        &mut self,
        run: &Admm<B>,
        problem: &Problem<B>,
        m: &Measures,
        force: bool,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> bool {
        if !force && run.iterations < self.next {
            return false;
        }
        self.next = run.iterations + self.every.max(run.iterations / CHECK_SPACING);
        let mut duals = vec![run.certify(problem)];
        let residual = m.rel_primal.max(m.rel_dual);
        let spent = run.iterations as f64 * run.iteration_flops(problem);
        let outputs = problem.y.dims()[1];
        let paid = spent >= polish::whole_cost(&problem.op, outputs, problem.polish_memory);
        // Every peer of a sharded solve decides alike: from summed values, and from whether any
        // peer has been interrupted.
        let due = self.polish.due(run.iterations, residual, paid)
            && !problem.op.rows().agreed(interrupted(), &problem.y);
        let outcome = due.then(|| run.polished(problem, polish_gap(self.tol), interrupted));
        if let Some(outcome) = &outcome {
            self.skipped = outcome.as_ref().err().copied();
        }
        let candidate = outcome.and_then(Result::ok).and_then(|(candidate, flops)| {
            self.polish.spent(flops, run.iteration_flops(problem));
            candidate
        });
        self.polishes += usize::from(candidate.is_some());
        if let Some(candidate) = candidate {
            duals.push(candidate.dual.clone());
            let better = candidate.rel_violation <= self.tol
                && self
                    .polished
                    .as_ref()
                    .is_none_or(|b| candidate.objective < b.objective);
            if better {
                self.polished = Some(candidate);
            }
        }
        for dual in duals {
            if self.dual.as_ref().is_none_or(|b| dual.bound > b.bound) {
                self.dual = Some(dual);
            }
        }
        if self.certifies(&self.returned(m)) {
            self.settle(problem);
        }
        true
    }

    /// Evaluates the best dual point's bound on the host in f64 if the device evaluated it in a
    /// lower precision, so that a solve certifies and reports only what its exported certificate
    /// proves. In f32 the device's sums over the rows round at about 1e-7 of their terms, which
    /// on many rows can put the bound above the optimum (all 60,000 PCA-50 Fashion-MNIST images,
    /// see [`crate::admm::Admm::polished`]). Called where the bound would certify the solve and
    /// before the solve reports it (on every peer of a sharded solve alike: the peers' sums are
    /// added).
    pub(crate) fn settle(&mut self, problem: &Problem<B>) {
        self.dual = self.dual.take().map(|dual| problem.settled(dual));
    }

    /// The best lower bound so far (scaled units), minus infinity before the first check.
    pub(crate) fn bound(&self) -> f64 {
        self.dual.as_ref().map_or(f64::NEG_INFINITY, |d| d.bound)
    }

    /// The polished point when the solve would return it rather than ADMM's point of measures `m`:
    /// when it is no worse, or ADMM's point is not feasible to the tolerance.
    pub(crate) fn chosen(&self, m: &Measures) -> Option<&Candidate<B>> {
        self.polished
            .as_ref()
            .filter(|c| c.objective <= m.objective || m.rel_violation > self.tol)
    }

    /// `m` with the objective and violations of the point the solve would return now.
    pub(crate) fn returned(&self, m: &Measures) -> Measures {
        match self.chosen(m) {
            Some(c) => Measures {
                objective: c.objective,
                max_violation: c.max_violation,
                rel_violation: c.rel_violation,
                ..*m
            },
            None => *m,
        }
    }

    /// Whether the point of measures `m` (from [`Checks::returned`]) is certified optimal: its
    /// relative gap to the best bound and its relative violation are within the tolerance.
    pub(crate) fn certifies(&self, m: &Measures) -> bool {
        relative_gap(m.objective, self.bound()) <= self.tol && m.rel_violation <= self.tol
    }
}
