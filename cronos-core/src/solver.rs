//! ADMM for the convex program (Feng, Frangella & Pilanci 2024) with an exact structured u-step
//! ([`crate::ustep`]), a penalty chosen by a short sweep ([`crate::rho`]) and a certified stop
//! ([`crate::certificate`]).
//!
//! Splitting (scaled form): min 1/2 ||F u - Y||^2 + beta ||v||_{2,1} + 1{s >= 0} s.t. u = v, G u = s.
//! One iteration, over-relaxed by 1.6 (Eckstein & Bertsekas 1992, as in OSQP):
//! 1. u = A^-1 (F^T Y / rho + v - lambda + G^T (s - nu)), A = I + F^T F / rho + G^T G
//! 2. v = group soft-threshold of u + lambda at beta / rho
//! 3. s = max(G u + nu, 0)
//! 4. lambda += u - v,  nu += G u - s
//!
//! The solve stops as `optimal` when the certificate (a feasible dual point) proves a relative gap of
//! at most `tol` and the cone constraints hold to `tol`; residuals are reported but certify nothing.

use crate::certificate::{tighten, Certificate, DualPoint};
use crate::config::CronosConfig;
use crate::error::{CronosError, Result};
use crate::host;
use crate::memory::Footprint;
use crate::network::{accuracy, map_to_network, TwoLayerNet};
use crate::observer::{IterationRecord, Observer};
use crate::operator::ConvexOperator;
use crate::patterns::{gaussian_gates, Patterns};
use crate::pcg::{self, Iterate};
use crate::polish::{polish, PolishSchedule};
use crate::prox::{group_norms, group_soft_threshold, nonnegative};
use crate::reduce;
use crate::report::{SolveReport, Status};
use crate::rho;
use crate::state::{State, WarmStart};
use crate::ustep::UStepSolver;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::DType;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Over-relaxation factor.
const RELAXATION: f64 = 1.6;
/// Iterations between exact recomputations of the u-step's tracked products (which drift by rounding).
const REFRESH_INTERVAL: usize = 10;
/// On the inexact path PCG stops once its residual is this fraction of the ADMM residuals.
const PCG_FRACTION: f64 = 0.1;

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
    /// starts below it.
    pub fn zero_solution_beta<B: Backend>(
        &self,
        x: &Tensor<B, 2>,
        y: &Tensor<B, 2>,
    ) -> Result<f64> {
        self.validate()?;
        check_rows(x, y)?;
        let patterns = Patterns::sample(x, self.neurons, self.seed, self.filter_patterns)?;
        let op = ConvexOperator::new(x.clone(), patterns.mask, Formulation::Gated);
        Ok(host::scalar(group_norms(op.ft(y.clone())).max()))
    }
}

/// The program in the solver's scaled units, with its u-step solver.
struct Problem<B: Backend> {
    op: ConvexOperator<B>,
    ustep: UStepSolver<B>,
    y: Tensor<B, 2>,
    fty: Tensor<B, 2>,
    fty_norm: f64,
    beta: f64,
    /// PCG steps per u-step on an exact path (refinement; no host reads), `None` on the inexact path.
    refinement: Option<usize>,
    pcg_max_iters: usize,
}

impl<B: Backend> Problem<B> {
    /// Objective of the network `v` maps to, its largest cone violation and max |X v|, as
    /// one-element tensors to be read with other scalars.
    fn point_measures(&self, v: &Tensor<B, 2>) -> [Tensor<B, 1>; 3] {
        let xv = self.op.xu(v);
        let fit = reduce::sum_squares(self.op.network_output(xv.clone()) - self.y.clone()) / 2.0;
        let groups = group_norms(v.clone()).sum();
        [
            fit + groups * self.beta,
            self.op.violation(xv.clone()),
            xv.abs().max(),
        ]
    }
}

/// A polished point with its objective, relative violation and certificate (scaled units).
struct Candidate<B: Backend> {
    v: Tensor<B, 2>,
    objective: f64,
    rel_violation: f64,
    dual: DualPoint<B>,
}

/// One run of ADMM: its state, the u-step point and the penalty.
#[derive(Clone)]
struct Admm<B: Backend> {
    state: State<B>,
    point: Iterate<B>,
    rho: f64,
    iterations: usize,
    pcg_tol: f64,
    pcg_iterations: usize,
    a_products: usize,
}

/// A candidate of the rho race: (still at zero, certified gap), the run and its records.
type RaceEntry<B> = ((bool, f64), Admm<B>, Vec<IterationRecord>);

/// What one iteration measured, in scaled units, read back in one transfer.
struct Measures {
    objective: f64,
    max_violation: f64,
    rel_violation: f64,
    primal: f64,
    dual: f64,
    rel_primal: f64,
    rel_dual: f64,
    pcg_iterations: usize,
}

impl<B: Backend> Admm<B> {
    fn new(problem: &Problem<B>, state: State<B>, rho: f64, cold: bool) -> Self {
        let op = &problem.op;
        let c = problem.y.dims()[1];
        let point = if cold {
            Iterate::zero(op, c, rho, &problem.y)
        } else {
            Iterate::new(op, state.v.clone(), rho)
        };
        Self {
            state,
            point,
            rho,
            iterations: 0,
            pcg_tol: 1e-2 * problem.fty_norm / rho,
            pcg_iterations: 0,
            a_products: usize::from(!cold),
        }
    }

    /// One over-relaxed ADMM iteration.
    fn step(&mut self, p: &Problem<B>) -> Measures {
        let (op, rho, z) = (&p.op, self.rho, &self.state);
        self.iterations += 1;
        let mut rhs = p.fty.clone() / rho + z.v.clone() - z.lambda.clone();
        if let Some((s, nu)) = &z.cone {
            rhs = rhs + op.gt(s.clone() - nu.clone()).expect("cone operator");
        }
        if self.iterations.is_multiple_of(REFRESH_INTERVAL) {
            self.point = Iterate::new(op, self.point.u.clone(), rho);
            self.a_products += 1;
        }
        let (tol, max_iters) = match p.refinement {
            Some(steps) => (None, steps),
            None => (Some(self.pcg_tol), p.pcg_max_iters),
        };
        let sol = pcg::solve(op, &p.ustep, rho, rhs, self.point.clone(), tol, max_iters);
        self.pcg_iterations += sol.iterations;
        self.a_products += sol.a_products;
        self.point = sol.point;
        let u = self.point.u.clone();

        let u_hat = u.clone() * RELAXATION + z.v.clone() * (1.0 - RELAXATION);
        let v = group_soft_threshold(u_hat.clone() + z.lambda.clone(), p.beta / rho);
        let lambda = z.lambda.clone() + u_hat - v.clone();
        let mut primal_sq = reduce::sum_squares(u.clone() - v.clone());
        let mut u_sq = reduce::sum_squares(u.clone());
        let mut v_sq = reduce::sum_squares(v.clone());
        let mut dual = v.clone() - z.v.clone();
        let mut multiplier_sq = reduce::sum_squares(lambda.clone());
        let xu = op.xu_from_xz(&u, self.point.xz.clone());
        let cone = match (&z.cone, op.g_from_xu(xu)) {
            (Some((s_old, nu_old)), Some(gu)) => {
                let g_hat = gu.clone() * RELAXATION + s_old.clone() * (1.0 - RELAXATION);
                let s = nonnegative(g_hat.clone() + nu_old.clone());
                let nu = nu_old.clone() + g_hat - s.clone();
                dual = dual + op.gt(s.clone() - s_old.clone()).expect("cone operator");
                multiplier_sq = multiplier_sq.max_pair(reduce::sum_squares(
                    op.gt(nu.clone()).expect("cone operator"),
                ));
                primal_sq = primal_sq + reduce::sum_squares(gu.clone() - s.clone());
                u_sq = u_sq + reduce::sum_squares(gu);
                v_sq = v_sq + reduce::sum_squares(s.clone());
                Some((s, nu))
            }
            _ => None,
        };
        self.state = State { v, lambda, cone };
        let [objective, violation, xv_max] = p.point_measures(&self.state.v);
        let values = host::to_vec(Tensor::cat(
            vec![
                objective,
                violation,
                xv_max,
                primal_sq,
                u_sq,
                v_sq,
                reduce::sum_squares(dual),
                multiplier_sq,
            ],
            0,
        ));
        let [objective, max_violation, xv_max, primal_sq, u_sq, v_sq, dual_sq, multiplier_sq] =
            values[..].try_into().expect("eight measures");
        let primal = primal_sq.sqrt();
        let dual = rho * dual_sq.sqrt();
        let dual_scale = rho * multiplier_sq.sqrt().max(p.fty_norm / rho);
        let tiny = f64::MIN_POSITIVE;
        // Inner accuracy tied to the outer residuals: an error e in the u-step shifts the gradient by
        // rho e, so aim well below both residuals in u-step units.
        self.pcg_tol = PCG_FRACTION * primal.min(dual / rho).max(tiny);
        Measures {
            objective,
            max_violation,
            rel_violation: max_violation / xv_max.max(tiny),
            primal,
            dual,
            rel_primal: primal / u_sq.sqrt().max(v_sq.sqrt()).max(tiny),
            rel_dual: dual / dual_scale.max(tiny),
            pcg_iterations: sol.iterations,
        }
    }

    /// The tightened dual point at the current iterate: z = Y - F u from the u-step's solution and
    /// mu = -rho nu from ADMM's cone multiplier. The u-step's optimality condition makes F^T z + G^T mu
    /// equal rho lambda (whose blocks have norm at most beta, by the prox) up to the dual residual, so
    /// the pair's infeasibility vanishes as ADMM converges; z from the network's own prediction would
    /// carry the primal error amplified by ||X|| / beta.
    fn certify(&self, p: &Problem<B>) -> DualPoint<B> {
        let prediction = p.op.f_from_xz(self.point.xz.clone());
        let mu = self
            .state
            .cone
            .as_ref()
            .map(|(_, nu)| nu.clone() * (-self.rho));
        tighten(&p.op, &p.y, prediction, mu, p.beta, p.ustep.gram_max())
    }
}

impl<B: Backend> Admm<B> {
    /// The exact optimum on the structure ADMM has found ([`crate::polish`]), with its certificate.
    fn polished(&self, p: &Problem<B>) -> Option<Candidate<B>> {
        let mu = self
            .state
            .cone
            .as_ref()
            .map(|(_, nu)| nu.clone() * (-self.rho));
        let polished = polish(&p.op, &p.y, &self.state.v, mu.as_ref(), p.beta)?;
        let [objective, violation, xv_max] = p.point_measures(&polished.v);
        let values = host::to_vec(Tensor::cat(vec![objective, violation, xv_max], 0));
        let prediction = p.op.f_from_xu(p.op.xu(&polished.v));
        let dual = tighten(
            &p.op,
            &p.y,
            prediction,
            polished.mu,
            p.beta,
            p.ustep.gram_max(),
        );
        Some(Candidate {
            v: polished.v,
            objective: values[0],
            rel_violation: values[1] / values[2].max(f64::MIN_POSITIVE),
            dual,
        })
    }
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

fn check_finite<B: Backend>(t: &Tensor<B, 2>, what: &'static str) -> Result<()> {
    let count = host::scalar(t.clone().is_finite().bool_not().int().sum().float()) as usize;
    if count == 0 {
        Ok(())
    } else {
        Err(CronosError::NonFinite { what, count })
    }
}

/// Root-mean-square row norm ||T||_F / sqrt(rows), or 1 for a zero matrix.
fn rms_row_norm<B: Backend>(t: &Tensor<B, 2>) -> f64 {
    let r = host::scalar(reduce::sum_squares(t.clone())).sqrt() / (t.dims()[0] as f64).sqrt();
    if r > 0.0 && r.is_finite() {
        r
    } else {
        1.0
    }
}

fn relative_gap(objective: f64, bound: f64) -> f64 {
    (objective - bound) / objective.abs().max(f64::MIN_POSITIVE)
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
        let [n, d] = x.dims();
        let p = self.config.neurons;
        self.config.validate()?;
        // Checked before the gates are drawn: d x P of them is already too many for some requests.
        Footprint::within_budget(&self.config, [n, d, y.dims()[1]], p, x.dtype().size())?;
        let gates = host::upload(gaussian_gates(d, p, self.config.seed), [d, p], &x);
        self.solve(x, y, gates, None)
    }

    /// Fits with user-supplied gate vectors (`d x P`).
    pub fn fit_with_gates<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Tensor<B, 2>,
    ) -> Result<Solution<B>> {
        self.solve(x, y, gates, None)
    }

    /// Continues from `from` (an earlier [`Solution::warm_start`]) with its gates and rho; the
    /// iteration and time limits count afresh. `x` and `y` must have the shapes of the earlier solve.
    pub fn resume<B: Backend>(
        self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        from: &WarmStart<B>,
    ) -> Result<Solution<B>> {
        self.solve(x, y, from.gates.clone(), Some(from))
    }

    fn solve<B: Backend>(
        mut self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Tensor<B, 2>,
        warm: Option<&WarmStart<B>>,
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
        check_finite(&x, "X")?;
        check_finite(&y, "Y")?;
        check_finite(&gates, "gate vectors")?;
        let patterns = Patterns::new(&x, gates, cfg.filter_patterns)?;
        // Work in units where rows of X and of Y have unit root-mean-square norm, so that rho, the
        // tolerances and f32 arithmetic behave the same for pixels in [0, 255] or in [0, 1]. With
        // X = sx Xs and Y = sy Ys, u = (sy / sx) us solves the original program with beta_s = beta /
        // (sx sy), and objectives scale by sy^2; patterns and cone constraints are unchanged.
        let (sx, sy) = (rms_row_norm(&x), rms_row_norm(&y));
        let op = ConvexOperator::new(x.clone() / sx, patterns.mask.clone(), cfg.formulation);
        let cols = op.blocks() * c;
        let relu = cfg.formulation == Formulation::Relu;
        let warm = warm
            .map(|w| Ok::<_, CronosError>((w.state_for((sx, sy), [n, d, cols], relu)?, w.rho)))
            .transpose()?;
        let stop_flag = self.stop.clone();
        let out_of_time = |start: &Instant| {
            cfg.time_limit
                .is_some_and(|t| start.elapsed().as_secs_f64() >= t)
        };
        let interrupted = || {
            stop_flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
                || out_of_time(&start)
        };

        let initial_rho = warm
            .as_ref()
            .map(|(_, rho)| *rho)
            .or(cfg.rho)
            .unwrap_or(rho::FIXED);
        let core_budget = cfg.memory_budget_gb * 1e9 - footprint.total();
        let ustep = UStepSolver::new(&op, initial_rho, core_budget, &interrupted)?;
        // Stopped or out of time during set-up: one cheap iteration from the cold start, no race.
        let cut_short = interrupted();
        let ys = y.clone() / sy;
        let fty = op.ft(ys.clone());
        let exact = ustep.path().is_exact();
        let problem = Problem {
            fty_norm: host::scalar(reduce::sum_squares(fty.clone())).sqrt(),
            fty,
            y: ys,
            beta: cfg.beta / (sx * sy),
            refinement: exact.then_some(if x.dtype() == DType::F64 { 1 } else { 2 }),
            pcg_max_iters: if cut_short { 1 } else { cfg.pcg_max_iters },
            ustep,
            op,
        };
        let setup_seconds = start.elapsed().as_secs_f64();

        let zeros = |rows: usize| Tensor::<B, 2>::zeros([rows, cols], (&x.device(), x.dtype()));
        let cold = || State {
            v: zeros(d),
            lambda: zeros(d),
            cone: relu.then(|| (zeros(n), zeros(n))),
        };
        let mut history: Vec<IterationRecord> = Vec::new();
        let mut sweep_iterations = 0;
        let record = |m: &Measures, run: &Admm<B>, bound: f64, start: &Instant| IterationRecord {
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
        let mut run = match (warm, cfg.rho) {
            (Some((state, rho)), _) => Admm::new(&problem, state, rho, false),
            (None, Some(rho)) => Admm::new(&problem, cold(), rho, true),
            (None, None)
                if cut_short
                    || !problem.ustep.rho_is_free()
                    || cfg.max_iters < rho::SWEEP_MIN_BUDGET =>
            {
                Admm::new(&problem, cold(), rho::FIXED, true)
            }
            (None, None) => {
                // A short race between penalties, continued from the best (rho::sweep explains).
                let mut best: Option<RaceEntry<B>> = None;
                for &rho in rho::SWEEP {
                    let mut candidate = Admm::new(&problem, cold(), rho, true);
                    let mut records = Vec::new();
                    for _ in 0..rho::SWEEP_ITERATIONS {
                        let m = candidate.step(&problem);
                        records.push(record(&m, &candidate, f64::NEG_INFINITY, &start));
                        if interrupted() {
                            break;
                        }
                    }
                    let m = records.last().expect("sweep iterations");
                    let dual = candidate.certify(&problem);
                    let gap =
                        relative_gap(m.objective / (sy * sy), dual.bound).max(m.rel_violation);
                    sweep_iterations += candidate.iterations;
                    // A penalty so small that the shrinkage beta / rho still holds every group at
                    // zero has not started: its gap is that of the zero network, often the best
                    // early bound on many-output problems, and it would win the race only to stall.
                    let idle = host::scalar(candidate.state.v.clone().abs().max()) == 0.0;
                    // A diverged candidate loses to every other (a NaN gap would win every comparison).
                    let score = if m.objective.is_finite() && !gap.is_nan() {
                        (idle, gap)
                    } else {
                        (true, f64::INFINITY)
                    };
                    if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                        best = Some((score, candidate, records));
                    }
                    if interrupted() {
                        break;
                    }
                }
                let (_, winner, records) = best.expect("at least one candidate");
                sweep_iterations -= winner.iterations;
                history = records;
                winner
            }
        };

        let mut best_dual: Option<DualPoint<B>> = None;
        let mut best_polished: Option<Candidate<B>> = None;
        let mut polish_schedule = PolishSchedule::default();
        let mut status = Status::MaxIterations;
        let mut last: Option<Measures> = None;
        while run.iterations < cfg.max_iters {
            let m = run.step(&problem);
            if !(m.objective.is_finite() && m.primal.is_finite() && m.dual.is_finite()) {
                return Err(CronosError::Numerical(format!(
                    "non-finite iterate at ADMM iteration {} (objective {}, residuals {}, {})",
                    run.iterations, m.objective, m.primal, m.dual
                )));
            }
            let limit = run.iterations == cfg.max_iters || interrupted();
            if run.iterations.is_multiple_of(cfg.check_every) || limit {
                let mut duals = vec![run.certify(&problem)];
                let residual = m.rel_primal.max(m.rel_dual);
                let due = polish_schedule.due(run.iterations, residual);
                if let Some(candidate) = due.then(|| run.polished(&problem)).flatten() {
                    duals.push(candidate.dual.clone());
                    let better = candidate.rel_violation <= cfg.tol
                        && best_polished
                            .as_ref()
                            .is_none_or(|b| candidate.objective < b.objective);
                    if better {
                        best_polished = Some(candidate);
                    }
                }
                for dual in duals {
                    if best_dual.as_ref().is_none_or(|b| dual.bound > b.bound) {
                        best_dual = Some(dual);
                    }
                }
            }
            let bound = best_dual.as_ref().map_or(f64::NEG_INFINITY, |b| b.bound);
            let rec = record(&m, &run, bound, &start);
            let mut stop = false;
            for obs in &mut self.observers {
                stop |= obs.observe(&rec) == ControlFlow::Break(());
            }
            history.push(rec);
            let certifies = |objective: f64, violation: f64| {
                relative_gap(objective, bound) <= cfg.tol && violation <= cfg.tol
            };
            let certified = certifies(m.objective, m.rel_violation)
                || best_polished
                    .as_ref()
                    .is_some_and(|c| certifies(c.objective, c.rel_violation));
            last = Some(m);
            if certified {
                status = Status::Optimal;
                break;
            }
            if stop
                || stop_flag
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::Relaxed))
            {
                status = Status::Stopped;
                break;
            }
            if out_of_time(&start) {
                status = Status::TimeLimit;
                break;
            }
        }

        // The polished point is returned when it is feasible to the tolerance and no worse.
        let admm = last.as_ref().map_or((f64::INFINITY, f64::INFINITY), |m| {
            (m.objective, m.rel_violation)
        });
        let point = match best_polished {
            Some(c) if c.objective <= admm.0 || admm.1 > cfg.tol => c.v,
            _ => run.state.v.clone(),
        };
        let op = &problem.op;
        let v = point * (sy / sx);
        let network = map_to_network(op, &patterns.gates, &v, None).expect("unpadded mapping");
        let xv = x.clone().matmul(v.clone());
        let max_violation = op.max_violation(xv.clone());
        let scale_xv = host::scalar(xv.abs().max()).max(f64::MIN_POSITIVE);
        let objective = network.objective(x.clone(), y.clone(), cfg.beta);
        let best_dual = match best_dual {
            Some(dual) => dual,
            None => run.certify(&problem),
        };
        let certificate = Certificate::new(
            &best_dual,
            sy,
            op.cone_scale(),
            op.patterns(),
            cfg.beta,
            objective,
        );
        let last = last.as_ref();
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
            active_neurons: network.active_neurons(),
            train_accuracy: accuracy(network.forward(x), y),
            patterns: patterns.len(),
            rho: run.rho,
            status,
            formulation: cfg.formulation,
            beta: cfg.beta,
            n,
            d,
            outputs: c,
        };
        Ok(Solution {
            network,
            warm_start: WarmStart {
                state: run.state,
                rho: run.rho,
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
