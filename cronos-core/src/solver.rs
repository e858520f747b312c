//! The public solve: [`Cronos`] validates the input, scales the program, sets up the u-step
//! ([`crate::ustep`]), opens with a penalty ([`crate::rho`]), runs ADMM ([`crate::admm`]) with periodic
//! certificates and polishing ([`crate::checks`]) and maps the returned point to a network.
//!
//! The solve stops as `optimal` when the certificate (a feasible dual point) proves a relative gap of
//! at most `tol` and the cone constraints hold to `tol`; residuals are reported but certify nothing.

use crate::admm::{relative_gap, Admm, Measures, Problem};
use crate::certificate::Certificate;
use crate::checks::Checks;
use crate::config::CronosConfig;
use crate::error::{CronosError, Result};
use crate::host;
use crate::memory::Footprint;
use crate::network::{hits, map_to_network, TwoLayerNet};
use crate::observer::{IterationRecord, Observer, SetUpRecord};
use crate::operator::ConvexOperator;
use crate::patterns::{sample_gates, Patterns};
use crate::prox::group_norms;
use crate::reduce;
use crate::report::{SolveReport, Status};
use crate::rho;
use crate::rows::{Collective, Rows};
use crate::state::{State, WarmStart};
use crate::ustep::UStepSolver;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::DType;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fitted network with the patterns it was built from, the solve's report, trace and certificate.
#[derive(Debug, Clone)]
pub struct Solution<B: Backend> {
    /// The network; `report.objective` is its objective.
    pub network: TwoLayerNet<B>,
    /// The gate vectors whose patterns were used (`d x P`, after filtering).
    pub gates: Tensor<B, 2>,
    /// Summary of the solve.
    pub report: SolveReport,
    /// The records of the iterations the returned point comes from (the winning sweep candidate's
    /// first iterations included).
    pub history: Vec<IterationRecord>,
    /// The dual point behind `report.lower_bound`.
    pub certificate: Certificate,
    /// The returned convex point and the operators it belongs to.
    point: Tensor<B, 2>,
    operator: ConvexOperator<B>,
    warm_start: WarmStart<B>,
}

impl<B: Backend> Solution<B> {
    /// The same network with every group kept as a neuron (zero groups as zero neurons) and zero
    /// neurons appended up to `width`, for heads of fixed width; `None` if it needs more than `width`.
    pub fn padded_network(&self, width: usize) -> Option<TwoLayerNet<B>> {
        map_to_network(&self.operator, &self.gates, &self.point, Some(width))
    }

    /// Where the solve left off, to continue it with [`Cronos::resume`].
    pub fn warm_start(&self) -> &WarmStart<B> {
        &self.warm_start
    }
}

/// A configured solve with its observers and stop flag.
pub struct Cronos<'a> {
    config: CronosConfig,
    observers: Vec<Box<dyn Observer + 'a>>,
    stop: Option<Arc<AtomicBool>>,
}

impl CronosConfig {
    /// A solver with this configuration.
    pub fn solver<'a>(&self) -> Cronos<'a> {
        Cronos {
            config: self.clone(),
            observers: Vec::new(),
            stop: None,
        }
    }

    /// The smallest beta whose solution is zero: the largest group norm of F^T Y, the correlation
    /// of one pattern's data with one output, for the patterns a solve with this configuration
    /// draws. Zero satisfies the gated program's optimality condition there, and so the ReLU
    /// program's, whose cone constraints only narrow the directions to check. A regularization path
    /// starts below it; a [`CronosConfig::relative_beta`] is a fraction of it (computed by the solve
    /// itself, on the patterns it uses).
    pub fn zero_solution_beta<B: Backend>(
        &self,
        x: &Tensor<B, 2>,
        y: &Tensor<B, 2>,
    ) -> Result<f64> {
        self.validate()?;
        check_rows(x, y)?;
        let patterns = Patterns::sample(
            x,
            self.neurons,
            self.seed,
            self.gate_sampling,
            self.filter_patterns,
        )?;
        let op = ConvexOperator::new(x.clone(), patterns.mask, Formulation::Gated);
        Ok(zero_beta(op.ft(y.clone())))
    }
}

/// The smallest beta whose solution is zero, from F^T Y (`fty`): its largest group norm.
fn zero_beta<B: Backend>(fty: Tensor<B, 2>) -> f64 {
    host::scalar(group_norms(fty).max())
}

/// Y must have a row per row of X.
fn check_rows<B: Backend>(x: &Tensor<B, 2>, y: &Tensor<B, 2>) -> Result<()> {
    let (n, ny) = (x.dims()[0], y.dims()[0]);
    if ny == n {
        Ok(())
    } else {
        Err(CronosError::Shape {
            what: "rows of Y vs rows of X",
            expected: n.to_string(),
            found: ny.to_string(),
        })
    }
}

fn check_finite<B: Backend>(t: &Tensor<B, 2>, what: &'static str, rows: &Rows<B>) -> Result<()> {
    let bad = t.clone().is_finite().bool_not().int().sum().float();
    let count = host::scalar(rows.sum(bad.cast(t.dtype()))) as usize;
    if count == 0 {
        Ok(())
    } else {
        Err(CronosError::NonFinite { what, count })
    }
}

/// The ratios sy / sx of root-mean-square row norms that an f32 solve accepts: the weights it
/// returns scale with the ratio, and their squares (in group norms and the penalty) stay about ten
/// decades inside f32's range (about 1e-38 to 3e38). With X scaled by 1e30 (ratio 1e-30) the group
/// norms underflowed to zero and an f32 solve returned the zero network.
const F32_WEIGHT_SCALES: std::ops::RangeInclusive<f64> = 1e-14..=1e14;

/// Root-mean-square row norm ||T||_F / sqrt(rows), or 1 for a zero matrix; `n` rows in all.
fn rms_row_norm<B: Backend>(t: &Tensor<B, 2>, n: usize, rows: &Rows<B>) -> f64 {
    // Squared after dividing by the largest entry: in f32 the squares of entries beyond 1.8e19
    // overflow, which left a solve on such data with a non-finite iterate.
    let (_, maxima, _) = rows.read(Vec::new(), vec![t.clone().abs().max()], Vec::new());
    let largest = maxima[0];
    if !(largest > 0.0 && largest.is_finite()) {
        return 1.0;
    }
    // The largest entry scales to 1, so the sum of squares lies in [1, n d]: positive and finite.
    let scaled = t.clone() / largest;
    largest * (host::scalar(rows.sum(reduce::sum_squares(scaled))) / n as f64).sqrt()
}

impl<'a> Cronos<'a> {
    /// Adds an observer that receives every iteration record.
    pub fn with_observer(mut self, observer: impl Observer + 'a) -> Self {
        self.observers.push(Box::new(observer));
        self
    }

    /// Stops the solve (returning its point so far) once `flag` becomes true, e.g. from Ctrl-C.
    pub fn with_stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Fits data `x` (`n x d`) to targets `y` (`n x c`) with Gaussian gates drawn from the seed.
    pub fn fit<B: Backend>(self, x: Tensor<B, 2>, y: Tensor<B, 2>) -> Result<Solution<B>> {
        self.fit_on(x, y, Rows::whole())
    }

    /// Fits this peer's block of rows `x` (`n_k x d`) and `y` (`n_k x c`) of a problem sharded over
    /// the peers of `collective` (see [`Collective`]), with `gates` (`d x P`) or Gaussian gates drawn
    /// from the seed; every peer calls this with the same configuration and gates. Each peer's
    /// solution holds the same network and report (`n` counts every row), and the certificate's
    /// rows and the warm start's cone state of its own rows.
    ///
    /// The sample-space core does not shard (it couples the rows of every peer): the u-step core is
    /// in pattern space. A polish runs on peer 0 on every peer's rows, gathered there for it.
    pub fn fit_shard<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Option<Tensor<B, 2>>,
        collective: std::sync::Arc<dyn Collective<B>>,
    ) -> Result<Solution<B>> {
        let rows = Rows::shard(collective);
        match gates {
            Some(gates) => self.solve(x, y, gates, None, rows),
            None => self.fit_on(x, y, rows),
        }
    }

    fn fit_on<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        rows: Rows<B>,
    ) -> Result<Solution<B>> {
        let [n, d] = x.dims();
        let p = self.config.neurons;
        self.config.validate()?;
        // Checked before the gates are drawn: d x P of them is already too many for some requests.
        Footprint::within_budget(&self.config, [n, d, y.dims()[1]], p, x.dtype().size())?;
        let gates = sample_gates(d, p, self.config.seed, self.config.gate_sampling);
        let gates = host::upload(gates, [d, p], &x);
        self.solve(x, y, gates, None, rows)
    }

    /// Fits with user-supplied gate vectors (`d x P`).
    pub fn fit_with_gates<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Tensor<B, 2>,
    ) -> Result<Solution<B>> {
        self.solve(x, y, gates, None, Rows::whole())
    }

    /// Continues from `from` (an earlier [`Solution::warm_start`]) with its gates and rho (scaled
    /// by this solve's beta over the one `from` solved for); the iteration and time limits count
    /// afresh. `x` and `y` must have the shapes of the earlier solve.
    /// A resumed solve polishes from its first check on (residuals below 1e-1), since it starts
    /// from the structure of a nearby solution.
    pub fn resume<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        from: &WarmStart<B>,
    ) -> Result<Solution<B>> {
        self.solve(x, y, from.gates.clone(), Some(from), Rows::whole())
    }

    fn solve<B: Backend>(
        mut self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Tensor<B, 2>,
        warm: Option<&WarmStart<B>>,
        rows: Rows<B>,
    ) -> Result<Solution<B>> {
        let start = Instant::now();
        let cfg = self.config.clone();
        cfg.validate()?;
        let [n, d] = x.dims();
        let [ny, c] = y.dims();
        if n == 0 || d == 0 || c == 0 {
            return Err(CronosError::Empty(format!(
                "X is {n} x {d}, Y is {ny} x {c}"
            )));
        }
        check_rows(&x, &y)?;
        let footprint =
            Footprint::within_budget(&cfg, [n, d, c], gates.dims()[1], x.dtype().size())?;
        check_finite(&x, "X", &rows)?;
        check_finite(&y, "Y", &rows)?;
        check_finite(&gates, "gate vectors", &Rows::whole())?;
        let patterns = Patterns::on_rows(&x, gates, cfg.filter_patterns, &rows)?;
        let total_rows = rows.total(n, &x);
        // Work in units where rows of X and of Y have unit root-mean-square norm, so that rho, the
        // tolerances and f32 arithmetic behave the same for pixels in [0, 255] or in [0, 1]. With
        // X = sx Xs and Y = sy Ys, u = (sy / sx) us solves the original program with beta_s = beta /
        // (sx sy), and objectives scale by sy^2; patterns and cone constraints are unchanged.
        let (sx, sy) = (
            rms_row_norm(&x, total_rows, &rows),
            rms_row_norm(&y, total_rows, &rows),
        );
        let ratio = sy / sx;
        if x.dtype() == DType::F32 && !F32_WEIGHT_SCALES.contains(&ratio) {
            return Err(CronosError::Scale {
                x_scale: sx,
                y_scale: sy,
                ratio,
            });
        }
        let op = ConvexOperator::on_rows(
            x.clone() / sx,
            patterns.mask.clone(),
            cfg.formulation,
            rows.clone(),
        )
        .with_outputs(c);
        let cols = op.blocks() * c;
        let relu = cfg.formulation == Formulation::Relu;
        let warm = warm
            .map(|w| Ok::<_, CronosError>((w.state_for((sx, sy), [n, d, cols], relu)?, w)))
            .transpose()?;
        let stop_flag = self.stop.clone();
        let stopped = || {
            stop_flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
        };
        // When the time limit runs out; none without a limit (or one too far off to represent).
        let deadline = cfg
            .time_limit
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
            .and_then(|t| start.checked_add(t));
        let out_of_time = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
        // This peer's own test, for waiting on its factorizations, and the one the peers agree on,
        // for every decision of the solve.
        let interrupted_here = || stopped() || out_of_time();
        let interrupted = || rows.agreed(interrupted_here(), &x);

        let ys = y.clone() / sy;
        let fty = op.ft(ys.clone());
        // The zero-solution beta of these patterns, in scaled units: the scale of a relative beta
        // and of short solves' rho.
        let zero = zero_beta(fty.clone());
        // beta in the caller's units (the objective, the certificate and the report use it).
        let beta_used = match cfg.relative_beta {
            Some(fraction) => fraction * zero * sx * sy,
            None => cfg.beta,
        };
        let beta = beta_used / (sx * sy);
        // A short solve's set-up is most of its time: it gets the cheaper factorization.
        let long = !rho::short(cfg.max_iters);
        let initial_rho = match (warm.as_ref().map(|(_, w)| (w.rho, w.beta)), cfg.rho) {
            (Some((rho, from)), _) => rho::carried(rho, from, beta),
            (None, Some(rho)) => rho,
            (None, None) if long => rho::FIXED,
            (None, None) => rho::unraced(beta, zero),
        };
        let core_budget = cfg.memory_budget_gb * 1e9 - footprint.total();
        let ustep = UStepSolver::new(&op, initial_rho, long, core_budget, &interrupted_here)?;
        rows.check()?;
        // Stopped or out of time during set-up: one cheap iteration from the cold start, no race.
        let cut_short = interrupted();
        let problem = Problem {
            fty_norm: host::scalar(reduce::sum_squares(fty.clone())).sqrt(),
            fty,
            y: ys,
            beta,
            exact: ustep.path().is_exact(),
            pcg_max_iters: if cut_short { 1 } else { cfg.pcg_max_iters },
            polish_memory: core_budget - ustep.core_resident_bytes(),
            deadline,
            max_iters: cfg.max_iters,
            ustep,
            op,
        };
        let setup_seconds = start.elapsed().as_secs_f64();
        let set_up = SetUpRecord {
            u_step: problem.ustep.path(),
            seconds: setup_seconds,
            core_over_budget: problem.ustep.over_budget(),
        };
        for observer in &mut self.observers {
            observer.set_up(&set_up);
        }

        let zeros = |rows: usize| Tensor::<B, 2>::zeros([rows, cols], (&x.device(), x.dtype()));
        let cold = || State {
            v: zeros(d),
            lambda: zeros(d),
            cone: relu.then(|| (zeros(n), zeros(n))),
        };
        // Records are in the caller's units.
        let record = |m: &Measures, run: &Admm<B>, bound: f64| IterationRecord {
            iteration: run.iterations,
            objective: m.objective * sy * sy,
            max_violation: m.max_violation * sy,
            rel_violation: m.rel_violation,
            primal_residual: m.primal,
            dual_residual: m.dual,
            rel_primal_residual: m.rel_primal,
            rel_dual_residual: m.rel_dual,
            dual_bound: bound * sy * sy,
            rel_gap: relative_gap(m.objective, bound),
            rho: run.rho,
            pcg_iterations: m.pcg_iterations,
            seconds: start.elapsed().as_secs_f64(),
        };
        let resumed = warm.is_some();
        let opening = |rho| (Admm::new(&problem, cold(), rho, true), Vec::new(), 0);
        let (mut run, mut history, sweep_iterations) = match (warm, cfg.rho) {
            (Some((state, _)), _) => (
                Admm::new(&problem, state, initial_rho, false),
                Vec::new(),
                0,
            ),
            (None, Some(rho)) => opening(rho),
            // Only an eigendecomposed core races: on the PCG path rho is free too, but the race's
            // 120 inexact u-steps delay the polish (see `rho`).
            (None, None) if cut_short || !long || !problem.ustep.path().is_eigen() => {
                opening(initial_rho)
            }
            (None, None) => rho::race(&problem, cold, record, interrupted),
        };
        rows.check()?;

        let mut checks = Checks::new(cfg.check_every, cfg.tol, resumed);
        let mut status = Status::MaxIterations;
        let mut last: Option<Measures> = None;
        while run.iterations < cfg.max_iters {
            let m = run.step(&problem);
            rows.check()?;
            if !(m.objective.is_finite() && m.primal.is_finite() && m.dual.is_finite()) {
                return Err(CronosError::Numerical(format!(
                    "non-finite iterate at ADMM iteration {} (objective {}, residuals {}, {})",
                    run.iterations, m.objective, m.primal, m.dual
                )));
            }
            let limit = run.iterations == cfg.max_iters || interrupted();
            let checked = checks.run(&run, &problem, &m, limit, &interrupted_here);
            if checked && problem.ustep.rho_is_free() {
                let gap = relative_gap(m.objective, checks.bound());
                let idle = rho::idle(&run.state.v);
                let rho = rho::adjusted(run.rho, gap, m.rel_violation, cfg.tol, idle);
                if rho != run.rho {
                    run = run.with_rho(&problem, rho);
                }
            }
            // Records and the stop test see the point the solve would return now.
            let now = checks.returned(&m);
            let rec = record(&now, &run, checks.bound());
            let mut observer_stop = false;
            for obs in &mut self.observers {
                observer_stop |= obs.observe(&rec) == ControlFlow::Break(());
            }
            history.push(rec);
            last = Some(m);
            let ended = if checks.certifies(&now) {
                Some(Status::Optimal)
            } else if rows.agreed(observer_stop || stopped(), &x) {
                Some(Status::Stopped)
            } else if rows.agreed(out_of_time(), &x) {
                Some(Status::TimeLimit)
            } else {
                None
            };
            if let Some(ended) = ended {
                status = ended;
                break;
            }
        }

        // The polished point is returned when it is feasible to the tolerance and no worse.
        let point = match last.as_ref().and_then(|m| checks.chosen(m)) {
            Some(candidate) => candidate.v.clone(),
            None => run.state.v.clone(),
        };
        let op = &problem.op;
        let v = point * (sy / sx);
        let network = map_to_network(op, &patterns.gates, &v, None).expect("unpadded mapping");
        let xv = x.clone().matmul(v.clone());
        let [loss, penalty] = network.objective_terms(x.clone(), y.clone(), beta_used);
        let (sums, maxima, shared) = rows.read(
            vec![loss, hits(network.forward(x), y)],
            vec![op.violation(xv.clone()), xv.abs().max()],
            vec![penalty],
        );
        let (objective, train_accuracy) = (sums[0] + shared[0], sums[1] / total_rows as f64);
        let max_violation = maxima[0];
        let scale_xv = maxima[1].max(f64::MIN_POSITIVE);
        checks.settle(&problem);
        let best_dual = match checks.dual {
            Some(dual) => dual,
            None => problem.settled(run.certify(&problem)),
        };
        let certificate = Certificate::new(
            &best_dual,
            sy,
            op.cone_scale(),
            op.patterns(),
            beta_used,
            objective,
        );
        let report = SolveReport {
            objective,
            lower_bound: certificate.lower_bound,
            rel_gap: relative_gap(objective, certificate.lower_bound),
            max_constraint_violation: max_violation,
            rel_constraint_violation: max_violation / scale_xv,
            rel_primal_residual: last.map_or(f64::NAN, |m| m.rel_primal),
            rel_dual_residual: last.map_or(f64::NAN, |m| m.rel_dual),
            iterations: run.iterations + sweep_iterations,
            sweep_iterations,
            pcg_iterations: run.pcg_iterations,
            a_products: run.a_products,
            u_step: problem.ustep.path(),
            setup_seconds,
            seconds: start.elapsed().as_secs_f64(),
            peers: rows.peers(),
            collective_seconds: rows.collective_seconds(),
            active_neurons: network.active_neurons(),
            train_accuracy,
            patterns: patterns.len(),
            rho: run.rho,
            polishes: checks.polishes,
            polish_skipped: checks.skipped.map(|s| s.to_string()),
            status,
            formulation: cfg.formulation,
            beta: beta_used,
            n: total_rows,
            d,
            outputs: c,
        };
        rows.check()?;
        Ok(Solution {
            network,
            warm_start: WarmStart {
                state: run.state,
                rho: run.rho,
                beta,
                gates: patterns.gates.clone(),
                scales: (sx, sy),
            },
            gates: patterns.gates,
            report,
            history,
            certificate,
            point: v,
            operator: problem.op,
        })
    }
}
