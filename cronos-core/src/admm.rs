//! One run of ADMM on the scaled program: its state, the over-relaxed iteration, the dual point
//! it certifies and the polished point on the structure it has found.
//!
//! Splitting (scaled form): min 1/2 ||F u - Y||^2 + beta ||v||_{2,1} + 1{s >= 0} s.t. u = v, G u = s.
//! One iteration, over-relaxed by 1.6 (Eckstein & Bertsekas 1992, as in OSQP):
//! 1. u = A^-1 (F^T Y / rho + v - lambda + G^T (s - nu)), A = I + F^T F / rho + G^T G
//! 2. v = group soft-threshold of u + lambda at beta / rho
//! 3. s = max(G u + nu, 0)
//! 4. lambda += u - v,  nu += G u - s

use crate::certificate::{on_host, tighten, DualPoint};
use crate::operator::ConvexOperator;
use crate::pcg::{self, Iterate};
use crate::polish::{self, polish, Skipped};
use crate::prox::{group_norms, group_soft_threshold, nonnegative};
use crate::reduce;
use crate::rows::Rows;
use crate::state::State;
use crate::ustep::UStepSolver;
use burn::prelude::*;
use burn::tensor::DType;

/// Over-relaxation factor.
const RELAXATION: f64 = 1.6;
/// Iterations between exact recomputations of the u-step's tracked products (which drift by rounding).
const REFRESH_INTERVAL: usize = 10;
/// On the inexact path PCG stops once its residual is this fraction of the ADMM residuals.
const PCG_FRACTION: f64 = 0.1;

/// The program in the solver's scaled units, with its u-step solver.
pub(crate) struct Problem<B: Backend> {
    pub(crate) op: ConvexOperator<B>,
    pub(crate) ustep: UStepSolver<B>,
    /// Targets `n x c`, F^T Y and its norm.
    pub(crate) y: Tensor<B, 2>,
    pub(crate) fty: Tensor<B, 2>,
    pub(crate) fty_norm: f64,
    pub(crate) beta: f64,
    /// Whether the u-step solver is exact: one PCG step (no host reads) then solves the u-step, up to
    /// rounding. As every u-step starts from the last one's point, that step corrects the rounding of
    /// the last (iterative refinement across iterations): a second step per iteration in f32 changed
    /// neither the iterations nor the certified gap on the ten-class 2,000 x 784 problem (512 to 1e-3)
    /// or on `bench_binary_pca50` (633 and 620 to 1e-3) and cost 14 to 21 % of the time (with the
    /// carried G^T products: 44.5 s against 35.3 and 38.1 s on the ten-class problem).
    pub(crate) exact: bool,
    pub(crate) pcg_max_iters: usize,
    /// Bytes of the memory budget left for a polish's host matrices.
    pub(crate) polish_memory: f64,
    /// When the solve's time limit runs out, if it has one.
    pub(crate) deadline: Option<std::time::Instant>,
    /// The solve's iteration limit, which without a time limit bounds what a polish may cost.
    pub(crate) max_iters: usize,
}

impl<B: Backend> Problem<B> {
    /// Estimated floating-point operations of one ADMM iteration besides its products with A: about
    /// six products of X (`n x d`, every peer's rows) with a `d x B c` block of columns (u-step,
    /// cone products, measures). See [`Admm::iteration_flops`].
    pub(crate) fn iteration_flops(&self) -> f64 {
        let (n, d) = (self.op.total_rows(), self.op.d());
        12.0 * (n * d * self.fty.dims()[1]) as f64
    }

    /// `dual` with its bound evaluated on the host in f64 if the device evaluated it in a lower
    /// precision, where its sums over many rows can round its bound above the optimum (see
    /// [`crate::checks::Checks::settle`]).
    pub(crate) fn settled(&self, dual: DualPoint<B>) -> DualPoint<B> {
        match self.y.dtype() != DType::F64 && dual.on_device() {
            true => on_host(&self.op, &self.y, &dual, self.beta),
            false => dual,
        }
    }

    /// The measures of the network `v` maps to, as one-element tensors to be read with other
    /// scalars ([`PointMeasures::read`]).
    pub(crate) fn point_measures(&self, v: &Tensor<B, 2>) -> PointMeasures<B> {
        let xv = self.op.xu(v);
        PointMeasures {
            fit: reduce::sum_squares(self.op.network_output(xv.clone()) - self.y.clone()) / 2.0,
            penalty: group_norms(v.clone()).sum() * self.beta,
            violation: self.op.violation(xv.clone()),
            xv_max: xv.abs().max(),
        }
    }
}

/// The objective of a point's network in two parts, its largest cone violation and max |X v|, each
/// over this peer's rows where it sums or maximizes over rows.
pub(crate) struct PointMeasures<B: Backend> {
    fit: Tensor<B, 1>,
    penalty: Tensor<B, 1>,
    violation: Tensor<B, 1>,
    xv_max: Tensor<B, 1>,
}

impl<B: Backend> PointMeasures<B> {
    /// Objective, largest violation and max |X v| over all rows, read in one transfer with `S`
    /// further sums over this peer's rows and `K` further values every peer shares ([`Rows::read`]).
    pub(crate) fn read<const S: usize, const K: usize>(
        self,
        rows: &Rows<B>,
        sums: [Tensor<B, 1>; S],
        shared: [Tensor<B, 1>; K],
    ) -> ([f64; 3], [f64; S], [f64; K]) {
        let (sums, maxima, shared) = rows.read(
            std::iter::once(self.fit).chain(sums).collect(),
            vec![self.violation, self.xv_max],
            std::iter::once(self.penalty).chain(shared).collect(),
        );
        (
            [sums[0] + shared[0], maxima[0], maxima[1]],
            sums[1..].try_into().expect("S sums"),
            shared[1..].try_into().expect("K shared values"),
        )
    }
}

/// A polished point with its objective, violations and certificate (scaled units).
pub(crate) struct Candidate<B: Backend> {
    pub(crate) v: Tensor<B, 2>,
    pub(crate) objective: f64,
    pub(crate) max_violation: f64,
    pub(crate) rel_violation: f64,
    pub(crate) dual: DualPoint<B>,
}

/// One run of ADMM: its state, the u-step point and the penalty.
#[derive(Clone)]
pub(crate) struct Admm<B: Backend> {
    pub(crate) state: State<B>,
    /// G^T s and G^T nu of the state's cone variables (ReLU program): the next u-step's right-hand
    /// side and this step's dual residual reuse them, so an iteration takes two products with G^T
    /// instead of three.
    cone_products: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
    point: Iterate<B>,
    pub(crate) rho: f64,
    pub(crate) iterations: usize,
    pcg_tol: f64,
    pub(crate) pcg_iterations: usize,
    pub(crate) a_products: usize,
}

/// What one iteration measured, in scaled units, read back in one transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measures {
    pub(crate) objective: f64,
    pub(crate) max_violation: f64,
    pub(crate) rel_violation: f64,
    pub(crate) primal: f64,
    pub(crate) dual: f64,
    pub(crate) rel_primal: f64,
    pub(crate) rel_dual: f64,
    pub(crate) pcg_iterations: usize,
}

impl<B: Backend> Admm<B> {
    /// A run from `state` at penalty `rho`; `cold` when the state is zero (no u-step product to redo).
    pub(crate) fn new(problem: &Problem<B>, state: State<B>, rho: f64, cold: bool) -> Self {
        let op = &problem.op;
        let c = problem.y.dims()[1];
        let point = if cold {
            Iterate::zero(op, c, rho, &problem.y)
        } else {
            Iterate::new(op, state.v.clone(), rho)
        };
        let cone_products = state.cone.as_ref().map(|(s, nu)| {
            if cold {
                (point.u.zeros_like(), point.u.zeros_like())
            } else {
                (cone_product(op, s), cone_product(op, nu))
            }
        });
        Self {
            state,
            cone_products,
            point,
            rho,
            iterations: 0,
            pcg_tol: 1e-2 * problem.fty_norm / rho,
            pcg_iterations: 0,
            a_products: usize::from(!cold),
        }
    }

    /// This run continued at penalty `rho`: the scaled multipliers (unscaled ones over rho) are
    /// rescaled so that the unscaled ones, and with them the iteration, carry over.
    pub(crate) fn with_rho(self, problem: &Problem<B>, rho: f64) -> Self {
        let ratio = self.rho / rho;
        let rescaled = |(s, nu): (Tensor<B, 2>, Tensor<B, 2>)| (s, nu * ratio);
        Self {
            point: Iterate::new(&problem.op, self.state.v.clone(), rho),
            state: State {
                v: self.state.v,
                lambda: self.state.lambda * ratio,
                cone: self.state.cone.map(rescaled),
            },
            cone_products: self.cone_products.map(rescaled),
            rho,
            pcg_tol: 1e-2 * problem.fty_norm / rho,
            a_products: self.a_products + 1,
            ..self
        }
    }

    /// One over-relaxed ADMM iteration.
    pub(crate) fn step(&mut self, p: &Problem<B>) -> Measures {
        let (op, rho, z) = (&p.op, self.rho, &self.state);
        self.iterations += 1;
        let mut rhs = p.fty.clone() / rho + z.v.clone() - z.lambda.clone();
        if let Some((gts, gtnu)) = &self.cone_products {
            rhs = rhs + gts.clone() - gtnu.clone();
        }
        if self.iterations.is_multiple_of(REFRESH_INTERVAL) {
            self.point = Iterate::new(op, self.point.u.clone(), rho);
            self.a_products += 1;
        }
        let (tol, max_iters) = if p.exact {
            (None, 1)
        } else {
            (Some(self.pcg_tol), p.pcg_max_iters)
        };
        let sol = pcg::solve(op, &p.ustep, rho, rhs, self.point.clone(), tol, max_iters);
        self.pcg_iterations += sol.iterations;
        self.a_products += sol.a_products;
        self.point = sol.point;
        let u = self.point.u.clone();

        let u_hat = u.clone() * RELAXATION + z.v.clone() * (1.0 - RELAXATION);
        let v = group_soft_threshold(u_hat.clone() + z.lambda.clone(), p.beta / rho);
        let lambda = z.lambda.clone() + u_hat - v.clone();
        // Squared norms in two parts: over u-space (shared by the peers) and over rows (the cone's).
        let primal_sq = reduce::sum_squares(u.clone() - v.clone());
        let u_sq = reduce::sum_squares(u.clone());
        let v_sq = reduce::sum_squares(v.clone());
        let none = || primal_sq.zeros_like();
        let (mut cone_primal_sq, mut cone_u_sq, mut cone_v_sq) = (none(), none(), none());
        let mut dual = v.clone() - z.v.clone();
        let mut multiplier_sq = reduce::sum_squares(lambda.clone());
        let xu = op.xu_from_xz(&u, self.point.xz.clone());
        let cone = match (&z.cone, &self.cone_products, op.g_from_xu(xu)) {
            (Some((s_old, nu_old)), Some((gts_old, _)), Some(gu)) => {
                let g_hat = gu.clone() * RELAXATION + s_old.clone() * (1.0 - RELAXATION);
                let s = nonnegative(g_hat.clone() + nu_old.clone());
                let nu = nu_old.clone() + g_hat - s.clone();
                let (gts, gtnu) = (cone_product(op, &s), cone_product(op, &nu));
                dual = dual + gts.clone() - gts_old.clone();
                multiplier_sq = multiplier_sq.max_pair(reduce::sum_squares(gtnu.clone()));
                cone_primal_sq = reduce::sum_squares(gu.clone() - s.clone());
                cone_u_sq = reduce::sum_squares(gu);
                cone_v_sq = reduce::sum_squares(s.clone());
                Some(((s, nu), (gts, gtnu)))
            }
            _ => None,
        };
        let (cone, cone_products) = cone.unzip();
        self.cone_products = cone_products;
        self.state = State { v, lambda, cone };
        let (
            [objective, max_violation, xv_max],
            [cone_primal_sq, cone_u_sq, cone_v_sq],
            [primal_sq, u_sq, v_sq, dual_sq, multiplier_sq],
        ) = p.point_measures(&self.state.v).read(
            op.rows(),
            [cone_primal_sq, cone_u_sq, cone_v_sq],
            [
                primal_sq,
                u_sq,
                v_sq,
                reduce::sum_squares(dual),
                multiplier_sq,
            ],
        );
        let (primal_sq, u_sq, v_sq) = (
            primal_sq + cone_primal_sq,
            u_sq + cone_u_sq,
            v_sq + cone_v_sq,
        );
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
    pub(crate) fn certify(&self, p: &Problem<B>) -> DualPoint<B> {
        let prediction = p.op.f_from_xz(self.point.xz.clone());
        tighten(
            &p.op,
            &p.y,
            prediction,
            self.cone_multiplier(),
            p.beta,
            p.ustep.gram_max(),
        )
    }

    /// Estimated floating-point operations of one of this run's iterations: those every iteration
    /// takes ([`Problem::iteration_flops`]) and its u-step's products with A at their average so far.
    /// An exact u-step takes none; PCG tens: on all 12,000 two-class raw-pixel images with 16
    /// patterns, 45 a step, which made an iteration about fifteen times the estimate without them.
    pub(crate) fn iteration_flops(&self, p: &Problem<B>) -> f64 {
        let products = self.a_products as f64 / self.iterations.max(1) as f64;
        p.iteration_flops() + products * p.op.a_product_flops(p.y.dims()[1])
    }

    /// The cone multiplier mu = -rho nu of the ReLU program's constraints (unscaled), `None` for
    /// the gated program.
    fn cone_multiplier(&self) -> Option<Tensor<B, 2>> {
        let (_, nu) = self.state.cone.as_ref()?;
        Some(nu.clone() * (-self.rho))
    }

    /// The exact optimum on the structure ADMM has found ([`crate::polish`]), with its certificate.
    /// Also returns the polish's estimated floating-point operations; why it was skipped, if it
    /// was. The polish ends early, with the point it has reached, once `interrupted` holds.
    pub(crate) fn polished(
        &self,
        p: &Problem<B>,
        gap: f64,
        interrupted: &(dyn Fn() -> bool + Sync),
    ) -> Result<(Option<Candidate<B>>, f64), Skipped> {
        let mu = self.cone_multiplier();
        let v = &self.state.v;
        let limits = polish::Limits {
            gap,
            memory: p.polish_memory,
            interrupted,
            deadline: p.deadline,
            flops_left: p.max_iters.saturating_sub(self.iterations) as f64
                * self.iteration_flops(p),
            short: crate::rho::short(p.max_iters),
        };
        let (polished, flops) = polish(&p.op, &p.y, v, mu.as_ref(), p.beta, &limits)?;
        let Some(polished) = polished else {
            return Ok((None, flops));
        };
        let ([objective, violation, xv_max], [], []) =
            p.point_measures(&polished.v).read(p.op.rows(), [], []);
        // The polish's dual point is evaluated on the host in f64; the device's multipliers,
        // tightened from the polish's, can do better. In f32 the device's sums over the rows
        // round at about 1e-7 of their terms, which on many rows can put its bound above the
        // optimum, so there its point is evaluated on the host too: on all 60,000 PCA-50
        // Fashion-MNIST images (ten outputs, P = 3, beta a tenth of the zero-solution beta) the
        // device gave 28706.12 where the network's objective is 28705.652 and the pair, recomputed
        // in f64, proves 28705.650.
        let prediction = p.op.f_from_xu(p.op.xu(&polished.v));
        let device = tighten(
            &p.op,
            &p.y,
            prediction,
            polished.mu,
            p.beta,
            p.ustep.gram_max(),
        );
        let device = p.settled(device);
        let dual = match polished.dual.bound > device.bound {
            true => polished.dual,
            false => device,
        };
        let candidate = Candidate {
            v: polished.v,
            objective,
            max_violation: violation,
            rel_violation: violation / xv_max.max(f64::MIN_POSITIVE),
            dual,
        };
        Ok((Some(candidate), flops))
    }
}

/// G^T t for a cone variable `t` (`n x B c`) of the ReLU program.
fn cone_product<B: Backend>(op: &ConvexOperator<B>, t: &Tensor<B, 2>) -> Tensor<B, 2> {
    op.gt(t.clone())
        .expect("the cone variables belong to the ReLU program")
}

/// (objective - bound) / |objective|.
pub(crate) fn relative_gap(objective: f64, bound: f64) -> f64 {
    (objective - bound) / objective.abs().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host;
    use crate::test_support::{gaussian, operator, B};
    use crate::ustep::UStepPath;
    use crate::Formulation;

    /// The ReLU program on 40 samples at penalty `rho`, its u-step exact or, under a zero memory
    /// budget, PCG of at most 10 steps; and a cold run of it.
    fn cold_run(rho: f64, exact: bool) -> (Problem<B>, Admm<B>) {
        let n = 40;
        let op = operator(n, Formulation::Relu);
        let y = gaussian(n, 1, 3);
        let fty = op.ft(y.clone());
        let budget = if exact { 1e9 } else { 0.0 };
        let problem = Problem {
            ustep: UStepSolver::new(&op, rho, false, budget, &|| false).unwrap(),
            fty_norm: host::scalar(reduce::sum_squares(fty.clone())).sqrt(),
            fty,
            y,
            beta: 1e-2,
            exact,
            pcg_max_iters: 10,
            polish_memory: 1e9,
            deadline: None,
            max_iters: 100,
            op,
        };
        let zeros = |rows| Tensor::zeros([rows, problem.op.blocks()], &Default::default());
        let cold = State {
            v: zeros(problem.op.d()),
            lambda: zeros(problem.op.d()),
            cone: Some((zeros(n), zeros(n))),
        };
        let run = Admm::new(&problem, cold, rho, true);
        (problem, run)
    }

    /// After a change of rho, which rescales nu, the G^T s and G^T nu that the next iteration uses
    /// equal fresh products (every iteration recomputes them; only the change of rho carries them).
    #[test]
    fn cone_products_follow_a_change_of_rho() {
        let rho = 0.05;
        let (problem, mut run) = cold_run(rho, true);
        for _ in 0..10 {
            run.step(&problem);
        }
        let run = run.with_rho(&problem, 4.0 * rho);
        let (s, nu) = run.state.cone.clone().unwrap();
        let (gts, gtnu) = run.cone_products.clone().unwrap();
        for (what, carried, t) in [("G^T s", gts, s), ("G^T nu", gtnu, nu)] {
            let fresh = cone_product(&problem.op, &t);
            let scale = host::scalar(fresh.clone().abs().max());
            assert!(scale > 0.0, "{what} is zero: nothing to compare");
            let err = host::scalar((carried - fresh).abs().max()) / scale;
            assert!(err < 1e-12, "{what}: carried differs from fresh by {err:e}");
        }
    }

    /// With PCG for the u-step, an iteration's estimated flops exceed those every iteration takes by
    /// the products with A that PCG took: at least its steps per iteration (as the iterations'
    /// measures count them, not the run's product counter) times one product's flops, and at most
    /// one product more (A u is recomputed every tenth iteration).
    #[test]
    fn an_iteration_estimate_counts_the_products_of_pcg() {
        let (problem, mut run) = cold_run(0.05, false);
        assert_eq!(problem.ustep.path(), UStepPath::Pcg);
        let iterations = 20;
        let steps: usize = (0..iterations)
            .map(|_| run.step(&problem).pcg_iterations)
            .sum();
        let per_iteration = steps as f64 / iterations as f64;
        assert!(
            per_iteration > 1.0,
            "{per_iteration} PCG steps an iteration: nothing to count"
        );
        let product = problem.op.a_product_flops(1);
        let products = (run.iteration_flops(&problem) - problem.iteration_flops()) / product;
        assert!(
            (per_iteration..=per_iteration + 1.0).contains(&products),
            "{products} products with A estimated an iteration, PCG took {per_iteration}"
        );
    }
}
