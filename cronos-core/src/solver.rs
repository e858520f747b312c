//! ADMM for the convex program (Feng, Frangella & Pilanci 2024), with residual-based stopping, adaptive
//! rho and warm-started, adaptively-terminated Nystrom PCG for the u-step.
//!
//! Splitting (scaled form): min 1/2 ||F u - Y||^2 + beta ||v||_{2,1} + 1{s >= 0} s.t. u = v, G u = s.
//! One iteration:
//! 1. u = A^-1 (F^T Y / rho + v - lambda + G^T (s - nu)), A = I + F^T F / rho + G^T G   (PCG)
//! 2. v = group soft-threshold of u + lambda at beta / rho
//! 3. s = max(G u + nu, 0)
//! 4. lambda += u - v,  nu += G u - s
//!
//! Stopping follows Boyd et al. (2011, §3.3): ||r|| <= sqrt(p) eps_abs + eps_rel max(||(u, Gu)||, ||(v, s)||)
//! and ||s|| <= sqrt(q) eps_abs + eps_rel ||rho (lambda + G^T nu)||.

use crate::anderson::Anderson;
use crate::config::CronosConfig;
use crate::error::{CronosError, Result};
use crate::host;
use crate::network::{accuracy, map_to_network, TwoLayerNet};
use crate::nystrom::Nystrom;
use crate::observer::{IterationRecord, Observer};
use crate::operator::ConvexOperator;
use crate::patterns::{gaussian_gates, Patterns};
use crate::pcg::{self, Iterate};
use crate::precond::Sketches;
use crate::prox::{group_soft_threshold, nonnegative};
use crate::report::{SolveReport, Status};
use crate::Formulation;
use burn::prelude::*;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Iterations between rho updates, and the factor by which the residual ratio must be off to trigger one.
const RHO_INTERVAL: usize = 10;
/// Iterations between evaluations of the dual bound (two products with X each) and between exact
/// recomputations of the warm start's tracked products (which drift by rounding).
const CHECK_INTERVAL: usize = 10;
const RHO_TRIGGER: f64 = 5.0;
/// PCG stops once its residual is this fraction of the current ADMM residuals (in u-step units).
const PCG_FRACTION: f64 = 0.1;
/// Over-relaxation factor (Eckstein & Bertsekas 1992; 1.6 as in OSQP).
const RELAXATION: f64 = 1.6;
/// Steps remembered by Anderson acceleration, and how much an extrapolated point may increase the
/// fixed-point residual before it is rejected.
const ANDERSON_MEMORY: usize = 10;
const ANDERSON_SAFEGUARD: f64 = 1.0;

/// A fitted network with the patterns it was built from and the solve's report and trace.
#[derive(Debug, Clone)]
pub struct Solution<B: Backend> {
    /// The network; `report.objective` is its objective.
    pub network: TwoLayerNet<B>,
    /// The gate vectors whose patterns were used (`d x P`, after filtering).
    pub gates: Tensor<B, 2>,
    /// Summary of the solve.
    pub report: SolveReport,
    /// Every iteration's record.
    pub history: Vec<IterationRecord>,
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
}

/// The point ADMM iterates on: z = (v, lambda, s, nu); u is a function of it (the u-step).
#[derive(Debug, Clone)]
struct State<B: Backend> {
    /// Group-sparse copy of u and its scaled dual, `d x B c`.
    v: Tensor<B, 2>,
    lambda: Tensor<B, 2>,
    /// Slack of G u >= 0 and its scaled dual, `n x B c` (ReLU program only).
    cone: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
}

impl<B: Backend> State<B> {
    fn parts(&self) -> Vec<Tensor<B, 2>> {
        let mut parts = vec![self.v.clone(), self.lambda.clone()];
        if let Some((s, nu)) = &self.cone {
            parts.extend([s.clone(), nu.clone()]);
        }
        parts
    }

    /// All parts as one flat vector, for Anderson acceleration.
    fn flat(&self) -> Tensor<B, 1> {
        Tensor::cat(
            self.parts()
                .into_iter()
                .map(|t| t.flatten::<1>(0, 1))
                .collect(),
            0,
        )
    }

    /// The inverse of [`State::flat`], with the shapes of `self`.
    fn unflat(&self, flat: Tensor<B, 1>) -> Self {
        let mut offset = 0;
        let mut take = |like: &Tensor<B, 2>| {
            let dims = like.dims();
            let part = flat
                .clone()
                .narrow(0, offset, dims[0] * dims[1])
                .reshape(dims);
            offset += dims[0] * dims[1];
            part
        };
        let v = take(&self.v);
        let lambda = take(&self.lambda);
        let cone = self.cone.as_ref().map(|(s, nu)| (take(s), take(nu)));
        Self { v, lambda, cone }
    }

    /// Multiplies the scaled duals by `factor` (when rho changes, y / rho must follow).
    fn rescale_duals(&mut self, factor: f64) {
        self.lambda = self.lambda.clone() * factor;
        if let Some((_, nu)) = &mut self.cone {
            *nu = nu.clone() * factor;
        }
    }
}

/// Where a solve left off: ADMM's last state, its penalty rho, the gate vectors and the data scales,
/// so that [`Cronos::resume`] can continue a solve that hit a time or iteration limit or was stopped.
/// On the same data resuming continues the iteration (only Anderson's history and the best-point
/// bookkeeping restart); on other data of the same shape, such as CRONOS-AM's features after a few
/// gradient steps, it is a starting guess.
#[derive(Debug, Clone)]
pub struct WarmStart<B: Backend> {
    state: State<B>,
    rho: f64,
    gates: Tensor<B, 2>,
    /// Row scales (sx, sy) of X and Y in the solve it comes from (the state is in scaled units).
    scales: (f64, f64),
}

impl<B: Backend> WarmStart<B> {
    /// The state in the units of a problem with scales `scales`, checked against its shapes: points
    /// are `d x cols`, cone slacks `n x cols` and present exactly for the ReLU program.
    fn state_for(
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

/// A lower bound on the optimal value from the current multipliers (weak duality).
///
/// The dual of min 1/2 ||F u - Y||^2 + beta sum_g ||u_g|| s.t. G u >= 0 is
/// max -1/2 ||W||^2 - <W, Y> over W and mu >= 0 with ||(F^T W - G^T mu)_g|| <= beta for every group.
/// At a solution W = F u - Y and mu = -rho nu; away from it the pair (t W, t mu) is made feasible by
/// the largest admissible t and t is then chosen to maximize the bound, so the value is always a valid
/// lower bound and the gap to the objective certifies optimality.
fn dual_bound<B: Backend>(
    op: &ConvexOperator<B>,
    y: &Tensor<B, 2>,
    xv: &Tensor<B, 2>,
    state: &State<B>,
    rho: f64,
    beta: f64,
) -> f64 {
    let w = op.f_from_xu(xv.clone()) - y.clone();
    let mut h = op.ft(w.clone());
    if let Some((_, nu)) = &state.cone {
        let mu = (nu.clone() * (-rho)).clamp_min(0.0);
        h = h - op.gt(mu).expect("cone operator");
    }
    let h_max = host::scalar(h.square().sum_dim(0).max()).sqrt();
    let w_sq = sq(&w);
    let w_y = host::scalar((w * y.clone()).sum());
    if w_sq == 0.0 {
        return 0.0;
    }
    let t_max = if h_max > 0.0 {
        beta / h_max
    } else {
        f64::INFINITY
    };
    let t = (-w_y / w_sq).clamp(0.0, t_max);
    -0.5 * t * t * w_sq - t * w_y
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
    let r = norm(t) / (t.dims()[0] as f64).sqrt();
    if r > 0.0 && r.is_finite() {
        r
    } else {
        1.0
    }
}

fn norm<B: Backend>(t: &Tensor<B, 2>) -> f64 {
    sq(t).sqrt()
}

fn sq<B: Backend>(t: &Tensor<B, 2>) -> f64 {
    host::scalar(t.clone().square().sum())
}

impl<'a> Cronos<'a> {
    /// Adds an observer that receives every iteration record.
    pub fn with_observer(mut self, observer: impl Observer + 'a) -> Self {
        self.observers.push(Box::new(observer));
        self
    }

    /// Stops the solve (returning its best point so far) once `flag` becomes true, e.g. from Ctrl-C.
    pub fn with_stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Fits data `x` (`n x d`) to targets `y` (`n x c`) with Gaussian gates drawn from the seed.
    pub fn fit<B: Backend>(self, x: Tensor<B, 2>, y: Tensor<B, 2>) -> Result<Solution<B>> {
        let d = x.dims()[1];
        let p = self.config.neurons;
        self.config.validate()?;
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
        if ny != n {
            return Err(CronosError::Shape {
                what: "rows of Y vs rows of X",
                expected: n.to_string(),
                found: ny.to_string(),
            });
        }
        check_finite(&x, "X")?;
        check_finite(&y, "Y")?;
        check_finite(&gates, "gate vectors")?;
        let patterns = Patterns::new(&x, gates, cfg.filter_patterns)?;
        // Work in units where rows of X and of Y have unit root-mean-square norm, so that rho, the
        // tolerances and f32 arithmetic behave the same for pixels in [0, 255] or in [0, 1]. With
        // X = sx Xs and Y = sy Ys, u = (sy / sx) us solves the original program with beta_s = beta /
        // (sx sy), and objectives scale by sy^2; patterns and cone constraints are unchanged.
        let (sx, sy) = (rms_row_norm(&x), rms_row_norm(&y));
        let (xs, ys, beta) = (x.clone() / sx, y.clone() / sy, cfg.beta / (sx * sy));
        let op = ConvexOperator::new(xs, patterns.mask.clone(), cfg.formulation);
        let blocks = op.blocks();
        let cols = blocks * c;
        let (rank, gram_rank) = cfg.ranks(d, blocks)?;
        let relu = cfg.formulation == Formulation::Relu;
        let warm = warm
            .map(|w| Ok::<_, CronosError>((w.state_for((sx, sy), [n, d, cols], relu)?, w.rho)))
            .transpose()?;

        // One-off work: sketches of F^T F and X^T X (independent of rho).
        let n1 = d * blocks;
        let omega = host::upload(
            gaussian_gates(n1, rank, cfg.seed.wrapping_add(1)),
            [n1, rank],
            &x,
        );
        let ftf = Nystrom::new(omega, |w| op.ftf(w))?;
        let gram = match cfg.formulation {
            Formulation::Relu => {
                let omega = host::upload(
                    gaussian_gates(d, gram_rank, cfg.seed.wrapping_add(2)),
                    [d, gram_rank],
                    &x,
                );
                Some(Nystrom::new(omega, |w| op.gram(w))?)
            }
            Formulation::Gated => None,
        };
        // Sketch cost in A-product units: each sketch column is one single-output product.
        let mut a_products = (rank + gram_rank).div_ceil(cols.max(1));
        let sketches = Sketches::new(gram, ftf, d);
        let mut rho = warm.as_ref().map_or(cfg.rho, |(_, rho)| *rho);
        let mut precond = sketches.preconditioner(rho)?;

        let y_orig = y;
        let y = ys;
        let fty = op.ft(y.clone());
        let fty_norm = norm(&fty);
        let options = (&x.device(), x.dtype());
        let (mut z, mut point) = match warm {
            Some((z, _)) => {
                a_products += 1;
                let point = Iterate::new(&op, z.v.clone(), rho);
                (z, point)
            }
            None => {
                let zeros_d = Tensor::<B, 2>::zeros([d, cols], options);
                let zeros_n = Tensor::<B, 2>::zeros([n, cols], options);
                let z = State {
                    v: zeros_d.clone(),
                    lambda: zeros_d,
                    cone: relu.then(|| (zeros_n.clone(), zeros_n)),
                };
                (z, Iterate::zero(&op, c, rho, &x))
            }
        };
        let mut bound = f64::NEG_INFINITY;
        let sqrt_pri = (((d + if z.cone.is_some() { n } else { 0 }) * cols) as f64).sqrt();
        let sqrt_dual = ((d * cols) as f64).sqrt();
        let mut pcg_tol = 1e-2 * fty_norm / rho;
        let mut history: Vec<IterationRecord> = Vec::new();
        let mut best: Option<(f64, Tensor<B, 2>, usize)> = None;
        let mut pcg_total = 0;
        let mut status = Status::MaxIterations;
        let mut anderson = Anderson::new(ANDERSON_MEMORY);
        // The plain ADMM step taken before the last extrapolation, and its fixed-point residual.
        let mut fallback: Option<(State<B>, f64)> = None;
        // The last plain ADMM step, where a resumed solve continues.
        let mut last = z.clone();

        for iteration in 1..=cfg.max_iters {
            let mut rhs = fty.clone() / rho + z.v.clone() - z.lambda.clone();
            if let Some((s, nu)) = &z.cone {
                rhs = rhs + op.gt(s.clone() - nu.clone()).expect("cone operator");
            }
            if iteration % CHECK_INTERVAL == 0 {
                point = Iterate::new(&op, point.u, rho);
                a_products += 1;
            }
            let sol = pcg::solve(&op, &precond, rho, rhs, point, pcg_tol, cfg.pcg_max_iters);
            pcg_total += sol.iterations;
            a_products += sol.a_products;
            point = sol.point;
            let u = point.u.clone();

            // Over-relaxed updates: u_hat = a u + (1 - a) v replaces u in the v- and lambda-updates.
            let u_hat = u.clone() * RELAXATION + z.v.clone() * (1.0 - RELAXATION);
            let v = group_soft_threshold(u_hat.clone() + z.lambda.clone(), beta / rho);
            let lambda = z.lambda.clone() + u_hat - v.clone();
            let r_u = u.clone() - v.clone();
            let (mut pri_sq, mut u_sq, mut v_sq) = (sq(&r_u), sq(&u), sq(&v));
            let mut dual = v.clone() - z.v.clone();
            let mut dual_scale = norm(&lambda).max(fty_norm / rho);
            let xu = op.xu_from_xz(&u, point.xz.clone());
            let cone = match (&z.cone, op.g_from_xu(xu)) {
                (Some((s_old, nu_old)), Some(gu)) => {
                    let g_hat = gu.clone() * RELAXATION + s_old.clone() * (1.0 - RELAXATION);
                    let s = nonnegative(g_hat.clone() + nu_old.clone());
                    let nu = nu_old.clone() + g_hat - s.clone();
                    dual = dual + op.gt(s.clone() - s_old.clone()).expect("cone operator");
                    // Multiplier terms are measured apart: they cancel at a solution, where
                    // rho (lambda + G^T nu) = -F^T (F u - Y).
                    dual_scale = dual_scale.max(norm(&op.gt(nu.clone()).expect("cone operator")));
                    pri_sq += sq(&(gu.clone() - s.clone()));
                    u_sq += sq(&gu);
                    v_sq += sq(&s);
                    Some((s, nu))
                }
                _ => None,
            };
            let step = State { v, lambda, cone };
            let primal = pri_sq.sqrt();
            let dual_res = rho * norm(&dual);
            let pri_scale = u_sq.sqrt().max(v_sq.sqrt());
            let dual_scale = rho * dual_scale;

            let xv = op.xu(&step.v);
            let fit =
                host::scalar((op.network_output(xv.clone()) - y.clone()).square().sum()) / 2.0;
            let group_norms = host::scalar(step.v.clone().square().sum_dim(0).sqrt().sum());
            // Records are in the caller's units.
            let objective = (fit + beta * group_norms) * sy * sy;
            let max_violation = op.max_violation(xv.clone()) * sy;
            let scale_xv = host::scalar(xv.clone().abs().max()).max(f64::MIN_POSITIVE) * sy;
            let rel_violation = max_violation / scale_xv;
            // Any earlier bound is still a valid lower bound, so it is refreshed only now and then.
            if iteration % CHECK_INTERVAL == 1 {
                bound = bound.max(dual_bound(&op, &y, &xv, &step, rho, beta) * sy * sy);
            }
            let rel_gap = (objective - bound) / objective.abs().max(f64::MIN_POSITIVE);
            let record = IterationRecord {
                iteration,
                objective,
                max_violation,
                rel_violation,
                primal_residual: primal,
                dual_residual: dual_res,
                rel_primal_residual: primal / pri_scale.max(f64::MIN_POSITIVE),
                rel_dual_residual: dual_res / dual_scale.max(f64::MIN_POSITIVE),
                dual_bound: bound,
                rel_gap,
                rho,
                pcg_iterations: sol.iterations,
                seconds: start.elapsed().as_secs_f64(),
            };
            if !(objective.is_finite() && primal.is_finite() && dual_res.is_finite()) {
                return Err(CronosError::Numerical(format!(
                    "non-finite iterate at ADMM iteration {iteration} (objective {objective}, residuals {primal}, {dual_res})"
                )));
            }
            if rel_violation <= cfg.tol.max(1e-3)
                && best.as_ref().is_none_or(|(o, _, _)| objective < *o)
            {
                best = Some((objective, step.v.clone(), history.len()));
            }
            let mut stop = false;
            for obs in &mut self.observers {
                stop |= obs.observe(&record) == ControlFlow::Break(());
            }
            history.push(record);
            last = step.clone();
            let residuals_met = primal <= sqrt_pri * cfg.tol_abs + cfg.tol * pri_scale
                && dual_res <= sqrt_dual * cfg.tol_abs + cfg.tol * dual_scale;
            let certified = rel_gap <= cfg.tol && rel_violation <= cfg.tol;
            let converged = residuals_met || certified;
            if converged {
                status = Status::Converged;
                best = None;
                break;
            }
            if stop
                || self
                    .stop
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::Relaxed))
            {
                status = Status::Stopped;
                break;
            }
            if cfg
                .time_limit
                .is_some_and(|t| start.elapsed().as_secs_f64() >= t)
            {
                status = Status::TimeLimit;
                break;
            }
            // Inner accuracy tied to the outer residuals: an error e in the u-step shifts the gradient by
            // rho e, so aim well below both residuals in u-step units.
            pcg_tol = PCG_FRACTION * (primal.min(dual_res / rho)).max(f64::MIN_POSITIVE);

            let g = z.flat() - step.flat();
            let g_norm = host::scalar(g.clone().square().sum()).sqrt();
            // Safeguard: an extrapolated point whose fixed-point residual grew is discarded in favour
            // of the plain step it replaced.
            if let Some((plain, plain_norm)) = fallback.take() {
                if g_norm > ANDERSON_SAFEGUARD * plain_norm {
                    anderson.reset();
                    z = plain;
                    continue;
                }
            }
            let last_rec = history.last().expect("record pushed above");
            let ratio = (last_rec.rel_primal_residual
                / last_rec.rel_dual_residual.max(f64::MIN_POSITIVE))
            .sqrt();
            if cfg.adaptive_rho
                && iteration % RHO_INTERVAL == 0
                && ratio.is_finite()
                && !(1.0 / RHO_TRIGGER..=RHO_TRIGGER).contains(&ratio)
            {
                let new_rho = (rho * ratio).clamp(1e-8, 1e8);
                z = step;
                z.rescale_duals(rho / new_rho);
                rho = new_rho;
                precond = sketches.preconditioner(rho)?;
                anderson.reset();
                continue;
            }
            let next = anderson.next(step.flat(), g);
            z = step.unflat(next);
            fallback = anderson.extrapolated().then_some((step, g_norm));
        }

        let (v, record_index) = match best {
            Some((_, v, index)) if status != Status::Converged => (v, index),
            _ => (last.v.clone(), history.len() - 1),
        };
        let chosen = &history[record_index];
        let v = v * (sy / sx);
        let network = map_to_network(&op, &patterns.gates, &v, None).expect("unpadded mapping");
        let xv = x.clone().matmul(v.clone());
        let max_violation = op.max_violation(xv.clone());
        let scale_xv = host::scalar(xv.abs().max()).max(f64::MIN_POSITIVE);
        let report = SolveReport {
            objective: network.objective(x.clone(), y_orig.clone(), cfg.beta),
            max_constraint_violation: max_violation,
            rel_constraint_violation: max_violation / scale_xv,
            rel_primal_residual: chosen.rel_primal_residual,
            rel_dual_residual: chosen.rel_dual_residual,
            iterations: history.len(),
            pcg_iterations: pcg_total,
            a_products,
            seconds: start.elapsed().as_secs_f64(),
            active_neurons: network.active_neurons(),
            train_accuracy: accuracy(network.forward(x), y_orig),
            patterns: patterns.len(),
            rho,
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
                state: last,
                rho,
                gates: patterns.gates.clone(),
                scales: (sx, sy),
            },
            gates: patterns.gates,
            report,
            history,
            point: v,
            operator: op,
        })
    }
}
