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

use crate::config::CronosConfig;
use crate::error::{CronosError, Result};
use crate::host;
use crate::network::{accuracy, map_to_network, TwoLayerNet};
use crate::nystrom::Nystrom;
use crate::observer::{IterationRecord, Observer};
use crate::operator::ConvexOperator;
use crate::patterns::{gaussian_gates, Patterns};
use crate::pcg;
use crate::prox::{group_soft_threshold, nonnegative};
use crate::precond::Sketches;
use crate::report::{SolveReport, Status};
use crate::Formulation;
use burn::prelude::*;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Iterations between rho updates, and the factor by which the residual ratio must be off to trigger one.
const RHO_INTERVAL: usize = 5;
const RHO_TRIGGER: f64 = 5.0;
/// PCG stops once its residual is this fraction of the current ADMM residuals (in u-step units).
const PCG_FRACTION: f64 = 0.1;

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

/// The ADMM iterate (all `d x B c` or `n x B c`).
struct Iterate<B: Backend> {
    u: Tensor<B, 2>,
    v: Tensor<B, 2>,
    lambda: Tensor<B, 2>,
    /// Slack s, scaled dual nu, and G^T s (ReLU program only).
    cone: Option<ConeIterate<B>>,
}

struct ConeIterate<B: Backend> {
    s: Tensor<B, 2>,
    nu: Tensor<B, 2>,
    gt_s: Tensor<B, 2>,
    gt_nu: Tensor<B, 2>,
}

fn check_finite<B: Backend>(t: &Tensor<B, 2>, what: &'static str) -> Result<()> {
    let count = host::scalar(t.clone().is_finite().bool_not().int().sum().float()) as usize;
    if count == 0 {
        Ok(())
    } else {
        Err(CronosError::NonFinite { what, count })
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
        self.fit_with_gates(x, y, gates)
    }

    /// Fits with user-supplied gate vectors (`d x P`).
    pub fn fit_with_gates<B: Backend>(
        mut self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        gates: Tensor<B, 2>,
    ) -> Result<Solution<B>> {
        let start = Instant::now();
        let cfg = self.config.clone();
        cfg.validate()?;
        let [n, d] = x.dims();
        let [ny, c] = y.dims();
        if n == 0 || d == 0 || c == 0 {
            return Err(CronosError::Empty(format!("X is {n} x {d}, Y is {ny} x {c}")));
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
        let op = ConvexOperator::new(x.clone(), patterns.mask.clone(), cfg.formulation);
        let blocks = op.blocks();
        let cols = blocks * c;
        let (rank, gram_rank) = cfg.ranks(d, blocks)?;

        // One-off work: sketches of F^T F and X^T X (independent of rho).
        let n1 = d * blocks;
        let omega = host::upload(gaussian_gates(n1, rank, cfg.seed.wrapping_add(1)), [n1, rank], &x);
        let ftf = Nystrom::new(omega, |w| op.ftf(w))?;
        let gram = match cfg.formulation {
            Formulation::Relu => {
                let omega = host::upload(gaussian_gates(d, gram_rank, cfg.seed.wrapping_add(2)), [d, gram_rank], &x);
                Some(Nystrom::new(omega, |w| op.gram(w))?)
            }
            Formulation::Gated => None,
        };
        // Sketch cost in A-product units: each sketch column is one single-output product.
        let mut a_products = (rank + gram_rank).div_ceil(cols.max(1));
        let sketches = Sketches::new(gram, ftf, d);
        let mut rho = cfg.rho;
        let mut precond = sketches.preconditioner(rho)?;

        let fty = op.ft(y.clone());
        let options = (&x.device(), x.dtype());
        let zeros_d = Tensor::<B, 2>::zeros([d, cols], options);
        let zeros_n = Tensor::<B, 2>::zeros([n, cols], options);
        let mut it = Iterate {
            u: zeros_d.clone(),
            v: zeros_d.clone(),
            lambda: zeros_d.clone(),
            cone: (cfg.formulation == Formulation::Relu).then(|| ConeIterate {
                s: zeros_n.clone(),
                nu: zeros_n,
                gt_s: zeros_d.clone(),
                gt_nu: zeros_d,
            }),
        };
        let sqrt_pri = (((d + if it.cone.is_some() { n } else { 0 }) * cols) as f64).sqrt();
        let sqrt_dual = ((d * cols) as f64).sqrt();
        let mut pcg_tol = 1e-2 * norm(&fty) / rho;
        let mut history: Vec<IterationRecord> = Vec::new();
        let mut best: Option<(f64, Tensor<B, 2>, usize)> = None;
        let mut pcg_total = 0;
        let mut status = Status::MaxIterations;

        for iteration in 1..=cfg.max_iters {
            let mut rhs = fty.clone() / rho + it.v.clone() - it.lambda.clone();
            if let Some(k) = &it.cone {
                rhs = rhs + k.gt_s.clone() - k.gt_nu.clone();
            }
            let sol = pcg::solve(&op, &precond, rho, rhs, it.u.clone(), pcg_tol, cfg.pcg_max_iters);
            pcg_total += sol.iterations;
            a_products += sol.a_products;

            // v-step: group soft-threshold, one group per column.
            let v_new = group_soft_threshold(sol.u.clone() + it.lambda.clone(), cfg.beta / rho);
            let dv = v_new.clone() - it.v.clone();
            let r_u = sol.u.clone() - v_new.clone();
            it.lambda = it.lambda + r_u.clone();

            let (mut pri_sq, mut u_sq, mut v_sq) = (sq(&r_u), sq(&sol.u), sq(&v_new));
            let mut dual = dv;
            let mut dual_scale = it.lambda.clone();
            if let (Some(k), Some(gu)) = (&mut it.cone, op.g_from_xu(sol.xu.clone())) {
                let s_new = nonnegative(gu.clone() + k.nu.clone());
                let r_s = gu.clone() - s_new.clone();
                k.nu = k.nu.clone() + r_s.clone();
                let gt_s_new = op.gt(s_new.clone()).expect("cone operator exists");
                k.gt_nu = op.gt(k.nu.clone()).expect("cone operator exists");
                dual = dual + gt_s_new.clone() - k.gt_s.clone();
                dual_scale = dual_scale + k.gt_nu.clone();
                pri_sq += sq(&r_s);
                u_sq += sq(&gu);
                v_sq += sq(&s_new);
                k.s = s_new;
                k.gt_s = gt_s_new;
            }
            it.u = sol.u;
            it.v = v_new;
            let primal = pri_sq.sqrt();
            let dual_res = rho * norm(&dual);
            let pri_scale = u_sq.sqrt().max(v_sq.sqrt());
            let dual_scale = rho * norm(&dual_scale);

            let xv = op.xu(&it.v);
            let fit = host::scalar((op.network_output(xv.clone()) - y.clone()).square().sum()) / 2.0;
            let group_norms = host::scalar(it.v.clone().square().sum_dim(0).sqrt().sum());
            let objective = fit + cfg.beta * group_norms;
            let max_violation = op.max_violation(xv.clone());
            let scale_xv = host::scalar(xv.abs().max()).max(f64::MIN_POSITIVE);
            let record = IterationRecord {
                iteration,
                objective,
                max_violation,
                primal_residual: primal,
                dual_residual: dual_res,
                rel_primal_residual: primal / pri_scale.max(f64::MIN_POSITIVE),
                rel_dual_residual: dual_res / dual_scale.max(f64::MIN_POSITIVE),
                rho,
                pcg_iterations: sol.iterations,
                seconds: start.elapsed().as_secs_f64(),
            };
            if !(objective.is_finite() && primal.is_finite() && dual_res.is_finite()) {
                return Err(CronosError::Numerical(format!(
                    "non-finite iterate at ADMM iteration {iteration} (objective {objective}, residuals {primal}, {dual_res})"
                )));
            }
            let feasible = max_violation / scale_xv <= cfg.tol.max(1e-3);
            if feasible && best.as_ref().is_none_or(|(o, _, _)| objective < *o) {
                best = Some((objective, it.v.clone(), history.len()));
            }
            let mut stop = false;
            for obs in &mut self.observers {
                stop |= obs.observe(&record) == ControlFlow::Break(());
            }
            history.push(record);
            let converged = primal <= sqrt_pri * cfg.tol_abs + cfg.tol * pri_scale
                && dual_res <= sqrt_dual * cfg.tol_abs + cfg.tol * dual_scale;
            if converged {
                status = Status::Converged;
                best = None;
                break;
            }
            if stop || self.stop.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
                status = Status::Stopped;
                break;
            }
            if cfg.time_limit.is_some_and(|t| start.elapsed().as_secs_f64() >= t) {
                status = Status::TimeLimit;
                break;
            }

            let last = history.last().expect("record pushed above");
            if cfg.adaptive_rho && iteration % RHO_INTERVAL == 0 {
                let ratio = (last.rel_primal_residual / last.rel_dual_residual.max(f64::MIN_POSITIVE)).sqrt();
                if ratio.is_finite() && !(1.0 / RHO_TRIGGER..=RHO_TRIGGER).contains(&ratio) {
                    let new_rho = (rho * ratio).clamp(1e-8, 1e8);
                    // Scaled duals are y / rho: rescale them so the unscaled duals are unchanged.
                    let factor = rho / new_rho;
                    it.lambda = it.lambda * factor;
                    if let Some(k) = &mut it.cone {
                        k.nu = k.nu.clone() * factor;
                        k.gt_nu = k.gt_nu.clone() * factor;
                    }
                    rho = new_rho;
                    precond = sketches.preconditioner(rho)?;
                }
            }
            // Inner accuracy tied to the outer residuals: an error e in the u-step shifts the gradient by
            // rho e, so aim well below both residuals in u-step units.
            pcg_tol = PCG_FRACTION * (primal.min(dual_res / rho)).max(f64::MIN_POSITIVE);
        }

        let (v, record_index) = match best {
            Some((_, v, index)) if status != Status::Converged => (v, index),
            _ => (it.v, history.len() - 1),
        };
        let chosen = &history[record_index];
        let network = map_to_network(&op, &patterns.gates, &v);
        let xv = op.xu(&v);
        let max_violation = op.max_violation(xv.clone());
        let scale_xv = host::scalar(xv.abs().max()).max(f64::MIN_POSITIVE);
        let report = SolveReport {
            objective: network.objective(x.clone(), y.clone(), cfg.beta),
            max_constraint_violation: max_violation,
            rel_constraint_violation: max_violation / scale_xv,
            rel_primal_residual: chosen.rel_primal_residual,
            rel_dual_residual: chosen.rel_dual_residual,
            iterations: history.len(),
            pcg_iterations: pcg_total,
            a_products,
            seconds: start.elapsed().as_secs_f64(),
            active_neurons: network.active_neurons(),
            train_accuracy: accuracy(network.forward(x), y),
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
            gates: patterns.gates,
            report,
            history,
        })
    }
}
