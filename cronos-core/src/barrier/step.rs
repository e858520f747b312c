//! One predictor-corrector step of the method: the blocks' Hessians, the elimination of w_i, the
//! reduced system's factorization, and the step with its centrality correctors.

use super::gram::restore_gram;
use super::{slacks, Block, Path, Reduced, ROW_CHUNK};
use crate::capacitance::Capacitance;
use crate::dense::{cholesky_lower, lower_product, mirror_lower};
use faer::linalg::solvers::Llt;
use faer::linalg::solvers::Solve;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Mat, Par, Side};
use rayon::prelude::*;

/// Fraction of the way to the boundary of r >= 0 and lambda >= 0 that a step may go.
const BOUNDARY: f64 = 0.995;
/// Centrality correctors per step at most ([`Path::centred`]), the box around the centring target
/// they move the products r_j lambda_j into, how much longer than the step they aim, and the
/// step length from which a step gets none.
const CORRECTORS: usize = 3;
const CENTRAL: (f64, f64) = (0.1, 10.0);
const STRETCH: f64 = 0.2;
const SHORT_STEP: f64 = 0.5;
/// Reduction of mu per step of the gated program, which has no complementarity to adapt it.
const GATED_REDUCTION: f64 = 0.1;

/// The elimination of w_i for one pattern of the ReLU program (with v_i = w_i + a_i): the factor
/// of H_v + H_w and H_v, the blocks' Hessians.
struct Elimination {
    sum: Llt<f64>,
    hv: Mat<f64>,
}

/// A step of the point (per block), the slacks and the multipliers (per block and row), and the
/// length it can take.
struct Move {
    dv: Vec<Mat<f64>>,
    dr: Vec<Vec<f64>>,
    dl: Vec<Vec<f64>>,
    alpha: f64,
}

/// One step's system, factored: per pattern the elimination of b_i (ReLU program), then the
/// reduced system for the stacked a_i (in [`Reduced::Dense`], or here).
pub(super) struct Factored {
    eliminated: Vec<Option<Elimination>>,
    capacitance: Option<Capacitance>,
}

/// The largest step in (0, 1] along `dx` that keeps `x` positive, times [`BOUNDARY`] when the
/// boundary is within reach.
fn to_boundary(blocks: &[Block], x: impl Fn(&Block) -> &[f64], dx: &[Vec<f64>]) -> f64 {
    let mut alpha: f64 = 1.0;
    for (b, db) in blocks.iter().zip(dx) {
        for (value, step) in x(b).iter().zip(db) {
            if *step < 0.0 {
                alpha = alpha.min(BOUNDARY * value / -step);
            }
        }
    }
    alpha
}

impl Path<'_> {
    /// Factors the system of one step: per block the Hessian of psi plus X^T diag(lambda / r) X.
    /// With v_i = w_i + a_i, minimizing the pattern's quadratic over w_i leaves H_v - H_v (H_v +
    /// H_w)^-1 H_v, the parallel sum of the two blocks, for a_i; only lower triangles are formed
    /// where the result is symmetric. The patterns' parts are formed side by side, each on one
    /// thread, when there are enough of them to keep every thread busy: at d = 784 a product
    /// split over two threads ran at about 45 GFLOP/s, and these parts were 60 % of a step.
    fn factor(
        &mut self,
        fit: &Mat<f64>,
        infeasible: &[Vec<f64>],
        interrupted: &dyn Fn() -> bool,
    ) -> Option<Factored> {
        let d = self.program.x.ncols();
        let side_by_side = self.masks.ncols() >= rayon::current_num_threads();
        let par = if side_by_side {
            Par::Seq
        } else {
            self.program.par
        };
        // Per pattern the matrix its a_i adds to the system, and its elimination (ReLU program).
        let per = self.per_pattern();
        let pattern = |(i, blocks): (usize, &[Block])| -> Option<(Mat<f64>, Option<Elimination>)> {
            // The Lagrangian's derivative along block k's point, less psi's: the fit's (v_i sees
            // the gradient of a_i, w_i its negative) less lambda^T C v, with C v = r + (C v - r).
            let along = |k: usize, sign: f64| {
                let b = &blocks[k];
                let fit: f64 = (0..d).map(|p| fit[(i * d + p, 0)] * b.v[p]).sum();
                let rows: f64 = (b.r.iter().zip(&infeasible[i * per + k]))
                    .zip(&b.lambda)
                    .map(|((r, e), l)| (r + e) * l)
                    .sum();
                sign * fit - rows
            };
            match blocks {
                [u] => Some((self.hessian(u, along(0, 1.0), par), None)),
                [v, w] => {
                    let hv = self.hessian(v, along(0, 1.0), par);
                    let sum = (&hv + self.hessian(w, along(1, -1.0), par))
                        .llt(Side::Lower)
                        .ok()?;
                    let mut m = hv.clone();
                    solve_lower_triangular_in_place(sum.L(), m.as_mut(), par);
                    let mut schur = hv.clone();
                    lower_product(schur.as_mut(), m.transpose(), m.as_ref(), -1.0, par);
                    Some((schur, Some(Elimination { sum, hv })))
                }
                _ => unreachable!("one or two blocks per pattern"),
            }
        };
        let reduced: Vec<_> = match side_by_side {
            true => self
                .blocks
                .par_chunks(per)
                .enumerate()
                .map(pattern)
                .collect::<Option<_>>()?,
            false => self
                .blocks
                .chunks(per)
                .enumerate()
                .map(pattern)
                .collect::<Option<_>>()?,
        };
        let (blocks, eliminated): (Vec<_>, Vec<_>) = reduced.into_iter().unzip();
        let capacitance = match &mut self.reduced {
            Reduced::Dense {
                system,
                gram_diagonal,
            } => {
                restore_gram(system, gram_diagonal, d);
                for (i, block) in blocks.iter().enumerate() {
                    let o = i * d;
                    for q in 0..d {
                        for p in q..d {
                            system[(o + p, o + q)] += block[(p, q)];
                        }
                    }
                }
                cholesky_lower(system.as_mut(), self.program.par, interrupted)?;
                None
            }
            Reduced::Samples => Some(Capacitance::new(
                self.program.x,
                &self.masks,
                blocks,
                side_by_side,
                self.program.par,
                interrupted,
            )?),
        };
        Some(Factored {
            eliminated,
            capacitance,
        })
    }

    /// The solution of the last [`Path::factor`]'s reduced system for `rhs`.
    fn solve_reduced(&self, factored: &Factored, rhs: &Mat<f64>) -> Mat<f64> {
        if let Some(capacitance) = &factored.capacitance {
            return capacitance.solve(rhs);
        }
        let Reduced::Dense { system, .. } = &self.reduced else {
            unreachable!("a reduced system without a capacitance matrix is dense");
        };
        let par = self.program.par;
        let mut x = rhs.clone();
        solve_lower_triangular_in_place(system.as_ref(), x.as_mut(), par);
        solve_upper_triangular_in_place(system.transpose(), x.as_mut(), par);
        x
    }

    /// The Hessian of psi plus X^T diag(lambda / r) X for block `b`, both triangles, with psi's
    /// curvature along the block's point v raised where Newton's step would take the block past
    /// zero; `outside` is the Lagrangian's derivative along v but for psi's part: the fit's
    /// (its gradient times v) less the rows' (lambda^T C v).
    ///
    /// The group norm is smoothed by its barrier only within about mu / beta of zero: further out
    /// psi is almost flat along v (curvature about mu / |v|^2), so when the Lagrangian falls
    /// along -v (a block that is shrinking), Newton's model sends the block far past zero and the
    /// multipliers of its rows cut the step of every block short. On the embedded two-class
    /// images with P = 16 (`cronos fit` with its defaults) single blocks were sent about 500
    /// times their norm, steps went 0.001 to 0.06 of the way, and the method took 28 steps. With
    /// psi's curvature along v at least the Lagrangian's slope along v over |v|^2, at which the
    /// step along v alone would end at zero, it took 17 (49 s to 27 s for the solve), and every
    /// benchmark problem took the same steps to the same gaps as before (2026-12-05). A centred
    /// block, whose slope is near zero, keeps psi's curvature.
    fn hessian(&self, b: &Block, outside: f64, par: Par) -> Mat<f64> {
        let x = self.program.x;
        let d = x.ncols();
        let beta = self.program.beta;
        // psi'' = (beta / s) (I - beta / (s Q) v v^T), Q = beta s - mu.
        let s = self.epigraph(&b.v);
        let q = beta * s - self.mu;
        let norm2: f64 = b.v.iter().map(|a| a * a).sum();
        // The Lagrangian's derivative along v: psi's (beta |v|^2 / s) and the rest.
        let slope = beta * norm2 / s + outside;
        let radial = beta / s - beta * beta / (s * s * q) * norm2;
        let raise = match norm2 > 0.0 {
            true => (slope / norm2 - radial).max(0.0) / norm2,
            false => 0.0,
        };
        let mut h = Mat::<f64>::from_fn(d, d, |p, r| {
            let identity = if p == r { beta / s } else { 0.0 };
            identity + (raise - beta * beta / (s * s * q)) * b.v[p] * b.v[r]
        });
        if !b.signs.is_empty() {
            let m = b.rows.len();
            let weights: Vec<f64> = (b.lambda.iter().zip(&b.r))
                .map(|(l, r)| (l / r).sqrt())
                .collect();
            let mut scaled = Mat::<f64>::zeros(ROW_CHUNK.min(m), d);
            for o in (0..m).step_by(ROW_CHUNK) {
                let rows = ROW_CHUNK.min(m - o);
                let (weights, indices) = (&weights[o..o + rows], &b.rows[o..o + rows]);
                for p in 0..d {
                    let column = x.col_as_slice(p);
                    let target = &mut scaled.col_as_slice_mut(p)[..rows];
                    for ((t, &j), w) in target.iter_mut().zip(indices).zip(weights) {
                        *t = column[j] * w;
                    }
                }
                let chunk = scaled.subrows(0, rows);
                lower_product(h.as_mut(), chunk.transpose(), chunk, 1.0, par);
            }
            mirror_lower(h.as_mut());
        }
        h
    }

    /// The step of every block for complementarity targets `targets` (per block and row): the
    /// Newton step on f + psi with the rows' multipliers lambda_j = target_j / r_j linearized.
    /// `infeasible` holds C v - r per block.
    fn direction(
        &self,
        factored: &Factored,
        fit: &Mat<f64>,
        infeasible: &[Vec<f64>],
        targets: &[Vec<f64>],
    ) -> Vec<Mat<f64>> {
        let x = self.program.x;
        let d = x.ncols();
        let beta = self.program.beta;
        // Per block its gradient beta v / s - C^T ((target - lambda (C v - r)) / r), the rows'
        // parts of all blocks from one product with X^T.
        let mut cone = Mat::<f64>::zeros(d, self.blocks.len());
        if self.relu {
            let mut ratios = Mat::<f64>::zeros(x.nrows(), self.blocks.len());
            for (k, (b, (e, target))) in (self.blocks.iter())
                .zip(infeasible.iter().zip(targets))
                .enumerate()
            {
                let column = ratios.col_as_slice_mut(k);
                for (q, &j) in b.rows.iter().enumerate() {
                    column[j] = b.signs[q] * (target[q] - b.lambda[q] * e[q]) / b.r[q];
                }
            }
            cone = x.transpose() * ratios;
        }
        let gradients: Vec<Mat<f64>> = (self.blocks.iter().enumerate())
            .map(|(k, b)| {
                let s = self.epigraph(&b.v);
                Mat::<f64>::from_fn(d, 1, |p, _| beta * b.v[p] / s - cone[(p, k)])
            })
            .collect();
        let mut rhs = -fit;
        // Per ReLU pattern S^-1 (g_v + g_w), S = H_v + H_w: the part of w_i's step that does not
        // depend on a_i's.
        let mut kept = Vec::new();
        for (i, (pair, elimination)) in gradients
            .chunks(self.per_pattern())
            .zip(&factored.eliminated)
            .enumerate()
        {
            let reduced = match (pair, elimination) {
                ([u], None) => u.clone(),
                ([v, w], Some(Elimination { sum, hv })) => {
                    let c = sum.solve(v + w);
                    let reduced = v - hv * &c;
                    kept.push(c);
                    reduced
                }
                _ => unreachable!("one or two blocks per pattern"),
            };
            for p in 0..d {
                rhs[(i * d + p, 0)] -= reduced[(p, 0)];
            }
        }
        let da = self.solve_reduced(factored, &rhs);
        let mut steps = Vec::new();
        for (i, elimination) in factored.eliminated.iter().enumerate() {
            let dai = Mat::<f64>::from_fn(d, 1, |p, _| da[(i * d + p, 0)]);
            match elimination {
                None => steps.push(dai),
                Some(Elimination { sum, hv }) => {
                    let dw = -(sum.solve(hv * &dai) + &kept[steps.len() / 2]);
                    steps.push(&dw + &dai);
                    steps.push(dw);
                }
            }
        }
        steps
    }

    /// The slack and multiplier steps that go with the point steps `dv` for `targets`, with
    /// `infeasible` holding C v - r per block.
    fn rows_step(
        &self,
        dv: &[Mat<f64>],
        infeasible: &[Vec<f64>],
        targets: &[Vec<f64>],
    ) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let directions =
            Mat::<f64>::from_fn(self.program.x.ncols(), dv.len(), |p, k| dv[k][(p, 0)]);
        let products = slacks(self.program.x, &directions, &self.blocks);
        self.blocks
            .iter()
            .zip(products.iter().zip(infeasible.iter().zip(targets)))
            .map(|(b, (products, (e, target)))| {
                let dr: Vec<f64> = products.iter().zip(e).map(|(c, e)| c + e).collect();
                let dl = (0..b.signs.len())
                    .map(|j| target[j] / b.r[j] - b.lambda[j] - b.lambda[j] / b.r[j] * dr[j])
                    .collect();
                (dr, dl)
            })
            .unzip()
    }

    /// The step length along slack steps `dr` and multiplier steps `dl`: one for both, since the
    /// stationarity residual couples the point and the multipliers (separate primal and dual lengths,
    /// as for linear programs, took 24 steps instead of 12 on the raw-pixel benchmark problem).
    fn step_length(&self, dr: &[Vec<f64>], dl: &[Vec<f64>]) -> f64 {
        to_boundary(&self.blocks, |b| &b.r, dr).min(to_boundary(&self.blocks, |b| &b.lambda, dl))
    }

    /// The full step for complementarity `targets`: the point's, the slacks' and the multipliers'
    /// parts and its length.
    fn move_for(
        &self,
        factored: &Factored,
        fit: &Mat<f64>,
        infeasible: &[Vec<f64>],
        targets: &[Vec<f64>],
    ) -> Move {
        let dv = self.direction(factored, fit, infeasible, targets);
        let (dr, dl) = self.rows_step(&dv, infeasible, targets);
        let alpha = self.step_length(&dr, &dl);
        Move { dv, dr, dl, alpha }
    }

    /// Gondzio's multiple centrality correctors (Gondzio 1996; Colombo & Gondzio 2008): the
    /// products r_j lambda_j that the step `chosen` would leave at a longer trial length are moved
    /// into [`CENTRAL`] times `centre` by adding the difference to their targets, and the corrected
    /// step is kept while it lengthens the step by at least a tenth of the stretch. Each corrector
    /// reuses the step's factorization, so it costs a solve and a product with X per block.
    fn centred(
        &self,
        factored: &Factored,
        fit: &Mat<f64>,
        infeasible: &[Vec<f64>],
        mut targets: Vec<Vec<f64>>,
        mut chosen: Move,
        centre: f64,
    ) -> Move {
        if chosen.alpha >= SHORT_STEP {
            return chosen;
        }
        let (low, high) = (CENTRAL.0 * centre, CENTRAL.1 * centre);
        for _ in 0..CORRECTORS {
            let trial = (chosen.alpha + STRETCH).min(1.0);
            for (b, (target, (dr, dl))) in self
                .blocks
                .iter()
                .zip(targets.iter_mut().zip(chosen.dr.iter().zip(&chosen.dl)))
            {
                for j in 0..b.signs.len() {
                    let product = (b.r[j] + trial * dr[j]) * (b.lambda[j] + trial * dl[j]);
                    target[j] += match product {
                        p if p < low => low - p,
                        p if p > high => (high - p).max(-high),
                        _ => 0.0,
                    };
                }
            }
            let corrected = self.move_for(factored, fit, infeasible, &targets);
            if corrected.alpha < chosen.alpha + 0.1 * STRETCH {
                break;
            }
            chosen = corrected;
        }
        chosen
    }

    /// One predictor-corrector step from the current iterate, whose fit's gradient is `fit`
    /// ([`Path::fit_of`]) and whose C v - r per block is `infeasible` ([`Path::infeasibility`]);
    /// `None` when its system does not factor or `interrupted` holds during the factorization.
    pub(super) fn step(
        &mut self,
        fit: &Mat<f64>,
        infeasible: &[Vec<f64>],
        interrupted: &dyn Fn() -> bool,
    ) -> Option<()> {
        let factored = self.factor(fit, infeasible, interrupted)?;
        let zeros: Vec<Vec<f64>> = self
            .blocks
            .iter()
            .map(|b| vec![0.0; b.signs.len()])
            .collect();
        let rows = self.rows();
        let (sigma, chosen) = if rows == 0 {
            let chosen = self.move_for(&factored, fit, infeasible, &zeros);
            (GATED_REDUCTION, chosen)
        } else {
            // Predictor: the affine step (targets zero) says how far mu can fall.
            let mu = self.complementarity_rows() / rows as f64;
            let affine_step = self.move_for(&factored, fit, infeasible, &zeros);
            let Move { dr, dl, alpha, .. } = &affine_step;
            let affine: f64 = self
                .blocks
                .iter()
                .zip(dr.iter().zip(dl))
                .map(|(b, (dr, dl))| {
                    (0..b.signs.len())
                        .map(|j| (b.r[j] + alpha * dr[j]) * (b.lambda[j] + alpha * dl[j]))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / rows as f64;
            let sigma = (affine / mu).clamp(0.0, 1.0).powi(3);
            self.mu = mu;
            // Corrector: centring at sigma mu with Mehrotra's second-order term.
            let targets: Vec<Vec<f64>> = dr
                .iter()
                .zip(dl)
                .map(|(dr, dl)| dr.iter().zip(dl).map(|(r, l)| sigma * mu - r * l).collect())
                .collect();
            let corrector = self.move_for(&factored, fit, infeasible, &targets);
            let chosen = self.centred(&factored, fit, infeasible, targets, corrector, sigma * mu);
            (sigma, chosen)
        };
        let Move { dv, dr, dl, alpha } = chosen;
        for (b, (step, (dr, dl))) in self
            .blocks
            .iter_mut()
            .zip(dv.iter().zip(dr.iter().zip(&dl)))
        {
            for (p, v) in b.v.iter_mut().enumerate() {
                *v += alpha * step[(p, 0)];
            }
            for (r, d) in b.r.iter_mut().zip(dr) {
                *r += alpha * d;
            }
            for (l, d) in b.lambda.iter_mut().zip(dl) {
                *l += alpha * d;
            }
        }
        // psi's parameter follows the centring target, falling at most a thousandfold a step.
        self.mu *= sigma.max(1e-3);
        Some(())
    }
}
