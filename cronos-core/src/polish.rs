//! Polishing: the exact optimum on the active set that ADMM has identified, and its multipliers.
//!
//! ADMM identifies which groups are nonzero and which cone constraints are active long before its
//! iterates are accurate, and with a small beta its dual residual must fall far below beta before
//! its own multipliers certify anything (the certificate's infeasibility is the dual residual over
//! beta). As OSQP does for quadratic programs, the polish fixes that structure and solves what is
//! left exactly: per output and active block b, v_b lies in the null space N_b of its active cone
//! rows C_b (v_b = N_b w_b), and
//!
//! ```text
//! min_w 1/2 || sum_b Psi_b w_b - y ||^2 + beta sum_b ||w_b||,   Psi_b = sigma_b D_i X N_b,
//! ```
//!
//! smooth where every w_b is nonzero, is solved by Newton's method with a backtracking line search.
//! Stationarity then gives the active rows' multipliers by least squares,
//! c C_b^T mu_J = beta v_b / ||v_b|| - sigma_b X^T D_i z, so F^T z + G^T mu = beta v_b / ||v_b|| on
//! active blocks. When the structure is right the polished pair is optimal to rounding and the
//! certificate tight. ADMM's active rows are rarely exactly right, so the polish corrects them in
//! primal-dual active-set rounds (rows with negative multipliers leave, rows the polished point
//! violates join) until the set is stable; far from the solution the rounds wander and stop (see
//! `Rounds::run`), and the first round's point is the candidate, which the caller keeps only if it
//! is feasible and better than ADMM's.
//! Host linear algebra in f64 (faer), sized by the active set: a few blocks of d columns each.

use crate::host;
use crate::operator::ConvexOperator;
use crate::Formulation;
use burn::prelude::*;
use faer::{Mat, Side};

/// Floating-point operations one polish may cost, all outputs together (about 5 s on 2 cores): the
/// null spaces cost about 10 d^3 per active block, the reduced problems of t unknowns n t^2 to form
/// and about t^3 / 3 per Newton step. A ten-output problem with 784 features has t near 4,000 per
/// output, and polishing it without a bound took minutes per polish.
const MAX_FLOPS: f64 = 2e11;
/// Newton steps assumed by the cost estimate (the method usually stops well before its cap).
const ESTIMATED_NEWTON_STEPS: f64 = 10.0;
/// Newton iterations at most, and the relative gradient norm at which they stop.
const NEWTON_ITERATIONS: usize = 30;
const NEWTON_TOL: f64 = 1e-13;
/// A cone row is active when its multiplier exceeds this fraction of the largest one.
const ACTIVE_FRACTION: f64 = 1e-6;
/// A cone row is active when its slack is below this fraction of the block's largest slack.
const SLACK_FRACTION: f64 = 1e-4;

/// Active-set rounds of one polish at most (each costs a reduced solve), and the relative size
/// below which a negative multiplier or slack counts as rounding rather than a wrong row.
const ACTIVE_SET_ROUNDS: usize = 10;
const ROUND_TOL: f64 = 1e-7;

/// Relative residuals below which ADMM's structure is worth polishing (earlier it is rarely right).
const POLISH_RESIDUAL: f64 = 1e-3;
/// Factor by which the residuals must fall before the next polish...
const POLISH_SHRINK: f64 = 0.5;
/// ...or the iterations after which the structure is polished again anyway.
const POLISH_INTERVAL: usize = 100;

/// Share of the solve's time that polishing may take: after a polish the next waits at least
/// (1 - share) / share times its estimated cost in ADMM iterations.
const POLISH_SHARE: f64 = 0.25;

/// When a polish is worth its cost. A polish costs as much as tens to hundreds of ADMM iterations
/// (a dense factorization of the active set's size: about 1 s at 3,000 unknowns, against 17 ms per
/// iteration on a 2,000 x 50 ten-output problem), and it only gives something new once ADMM's
/// structure has moved: after the residuals have halved, or after [`POLISH_INTERVAL`] iterations;
/// and never sooner than its cost allows ([`POLISH_SHARE`]).
pub(crate) struct PolishSchedule {
    residual: f64,
    iteration: Option<usize>,
    spacing: usize,
}

impl Default for PolishSchedule {
    fn default() -> Self {
        Self {
            residual: POLISH_RESIDUAL,
            iteration: None,
            spacing: 0,
        }
    }
}

impl PolishSchedule {
    /// Whether to polish at `iteration`, whose larger relative residual is `residual`; a `true`
    /// counts as the polish done.
    pub(crate) fn due(&mut self, iteration: usize, residual: f64) -> bool {
        let since = |gap: usize| self.iteration.is_none_or(|last| iteration >= last + gap);
        let waited = self.iteration.is_some() && since(POLISH_INTERVAL);
        let due = since(self.spacing)
            && (residual <= self.residual || (waited && residual <= POLISH_RESIDUAL));
        if due {
            self.residual = residual.min(POLISH_RESIDUAL) * POLISH_SHRINK;
            self.iteration = Some(iteration);
        }
        due
    }

    /// Records that the last polish cost `flops`, against `iteration_flops` for one ADMM iteration.
    pub(crate) fn spent(&mut self, flops: f64, iteration_flops: f64) {
        let iterations = flops / iteration_flops.max(1.0) * (1.0 - POLISH_SHARE) / POLISH_SHARE;
        self.spacing = iterations.ceil().min(usize::MAX as f64) as usize;
    }
}

/// The polished point (`d x B c`) and cone multipliers (`n x B c`, `None` for the gated program).
pub(crate) struct Polished<B: Backend> {
    pub(crate) v: Tensor<B, 2>,
    pub(crate) mu: Option<Tensor<B, 2>>,
}

/// One active block of one output: its column in the point, sign, pattern and null-space basis.
struct Block {
    column: usize,
    sign: f64,
    pattern: usize,
    rows: Vec<usize>,
    /// The block's cone row signs 2 D_i - 1, for the multipliers.
    w: Vec<f64>,
}

/// One active-set round of one output: per block its polished point, active rows and their
/// multipliers.
struct Round {
    points: Vec<Vec<f64>>,
    rows: Vec<Vec<usize>>,
    multipliers: Vec<Vec<f64>>,
}

/// Entries in exactly one of two ascending lists.
fn differing(a: &[usize], b: &[usize]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => (i, j) = (i + 1, j + 1),
            std::cmp::Ordering::Less => (i, count) = (i + 1, count + 1),
            std::cmp::Ordering::Greater => (j, count) = (j + 1, count + 1),
        }
    }
    count + (a.len() - i) + (b.len() - j)
}

impl Block {
    /// The active rows for the next round: those whose `multipliers` (one per current row) are not
    /// negative, and those whose slack `(2 d_j - 1) x_j^T v_b` (from `xv(j)`) is negative.
    fn next_rows(&self, multipliers: &[f64], xv: impl Fn(usize) -> f64) -> Vec<usize> {
        let n = self.w.len();
        let mut current = vec![None; n];
        for (&j, &m) in self.rows.iter().zip(multipliers) {
            current[j] = Some(m);
        }
        let top = multipliers.iter().fold(0.0f64, |a, m| a.max(m.abs()));
        let slack_top = (0..n).fold(0.0f64, |a, j| a.max(xv(j).abs()));
        (0..n)
            .filter(|&j| match current[j] {
                Some(m) => m >= -ROUND_TOL * top,
                None => self.w[j] * xv(j) < -ROUND_TOL * slack_top,
            })
            .collect()
    }
}

/// The multipliers of `block`'s active rows at its polished point `vb` with residual `z`, from
/// stationarity by least squares: c C_b^T mu_J = beta v_b / ||v_b|| - sigma_b X^T D_i z (unclipped;
/// empty for a zero block or one without active rows).
fn multipliers<B: Backend>(
    op: &ConvexOperator<B>,
    x: &Mat<f64>,
    mask: &Mat<f64>,
    block: &Block,
    vb: &[f64],
    z: &[f64],
    beta: f64,
) -> Vec<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let norm = vb.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm == 0.0 || block.rows.is_empty() {
        return vec![0.0; block.rows.len()];
    }
    let fz = x.transpose() * Mat::<f64>::from_fn(n, 1, |j, _| mask[(j, block.pattern)] * z[j]);
    let rhs = Mat::<f64>::from_fn(d, 1, |r, _| beta * vb[r] / norm - block.sign * fz[(r, 0)]);
    let ct = Mat::<f64>::from_fn(d, block.rows.len(), |r, q| {
        let j = block.rows[q];
        op.cone_scale() * block.w[j] * x[(j, r)]
    });
    least_squares(&ct, &rhs)
}

/// The active-set rounds of one output.
struct Rounds<'a, B: Backend> {
    op: &'a ConvexOperator<B>,
    x: &'a Mat<f64>,
    mask: &'a Mat<f64>,
    target: &'a [f64],
    beta: f64,
}

impl<B: Backend> Rounds<'_, B> {
    /// Runs the rounds from ADMM's `active` rows and points `start`, with `later` outputs still to
    /// polish after this one: a stable set gives a pair that meets every optimality condition of
    /// the program on these groups; when the rounds wander off (see `allowance`, or a block's null
    /// space vanishes) or run out, the first round's point, optimal on ADMM's own active rows, is
    /// the candidate. `None` when the first round does not fit `flops`.
    fn run(
        &self,
        active: &mut [Block],
        start: Vec<Vec<f64>>,
        later: usize,
        flops: &mut f64,
    ) -> Option<Round> {
        let mut points = start;
        let mut first: Option<Round> = None;
        let mut first_cost = 0.0;
        // Rounds that settle change fewer rows almost every time; one that changes more than twice
        // the fewest so far (at least 16; the first: more than a quarter of the active rows) is
        // wandering off (measured on the benchmark fixtures: such rounds went on to change
        // hundreds of rows and never settled).
        let mut allowance = active.iter().map(|b| b.rows.len()).sum::<usize>() / 4;
        for index in 0..ACTIVE_SET_ROUNDS {
            // A further round (costing about as much as the first) must leave the later outputs a
            // first round each.
            if index > 0 && *flops - first_cost < later as f64 * first_cost {
                break;
            }
            let before = *flops;
            let reduced = reduced_optimum(
                self.x,
                self.mask,
                active,
                &points,
                self.target,
                self.beta,
                flops,
            );
            let Some(next) = reduced else {
                break;
            };
            points = next;
            if index == 0 {
                first_cost = before - *flops;
            }
            let collapsed = points.iter().any(|p| p.iter().all(|&a| a == 0.0));
            let (round, next_rows) = self.round(active, &points);
            let changed: usize = round
                .rows
                .iter()
                .zip(&next_rows)
                .map(|(a, b)| differing(a, b))
                .sum();
            if changed == 0 && !collapsed {
                return Some(round);
            }
            first.get_or_insert(round);
            if collapsed || changed > allowance {
                break;
            }
            allowance = allowance.min((2 * changed).max(16));
            for (block, rows) in active.iter_mut().zip(next_rows) {
                block.rows = rows;
            }
        }
        first
    }

    /// The multipliers of the polished `points` on the blocks' active rows, and the rows the next
    /// round makes active.
    fn round(&self, active: &[Block], points: &[Vec<f64>]) -> (Round, Vec<Vec<usize>>) {
        let (x, mask) = (self.x, self.mask);
        let d = x.ncols();
        let xp = x * Mat::<f64>::from_fn(d, points.len(), |r, b| points[b][r]);
        let z: Vec<f64> = (0..x.nrows())
            .map(|j| {
                let fitted: f64 = active
                    .iter()
                    .enumerate()
                    .map(|(b, block)| block.sign * mask[(j, block.pattern)] * xp[(j, b)])
                    .sum();
                self.target[j] - fitted
            })
            .collect();
        let multipliers: Vec<Vec<f64>> = active
            .iter()
            .zip(points)
            .map(|(block, vb)| multipliers(self.op, x, mask, block, vb, &z, self.beta))
            .collect();
        let next_rows = active
            .iter()
            .enumerate()
            .map(|(b, block)| block.next_rows(&multipliers[b], |j| xp[(j, b)]))
            .collect();
        let round = Round {
            points: points.to_vec(),
            rows: active.iter().map(|b| b.rows.clone()).collect(),
            multipliers,
        };
        (round, next_rows)
    }
}

/// Polishes the ADMM point `v` (`d x B c`) with cone multipliers `mu` (`n x B c`, ReLU program), for
/// targets `y` (`n x c`) and regularization `beta`, all in the solver's scaled units; `None` when
/// the polished problems would cost more than [`MAX_FLOPS`]. Also returns the estimated floating-point
/// operations spent.
pub(crate) fn polish<B: Backend>(
    op: &ConvexOperator<B>,
    y: &Tensor<B, 2>,
    v: &Tensor<B, 2>,
    mu: Option<&Tensor<B, 2>>,
    beta: f64,
) -> (Option<Polished<B>>, f64) {
    let [n, d] = op.x().dims();
    let (blocks, p) = (op.blocks(), op.patterns());
    let cols = v.dims()[1];
    let c = cols / blocks;
    let x = host::to_faer(op.x().clone());
    let mask = host::to_faer(op.mask().clone());
    let yh = host::to_faer(y.clone());
    let vh = host::to_faer(v.clone());
    let muh = mu.map(|m| host::to_faer(m.clone()));
    let relu = op.formulation() == Formulation::Relu;
    let mut v_out = Mat::<f64>::zeros(d, cols);
    let mut mu_out = Mat::<f64>::zeros(n, cols);
    let mut flops = MAX_FLOPS;
    // X v for every column, once (faer's blocked product, not element loops over rows of X).
    let xv = &x * &vh;
    for k in 0..c {
        let mut active: Vec<Block> = (0..blocks)
            .map(|b| b * c + k)
            .filter(|&col| (0..d).any(|r| vh[(r, col)] != 0.0))
            .map(|col| {
                let b = col / c;
                let pattern = b % p;
                let sign = if relu && b >= p { -1.0 } else { 1.0 };
                let w: Vec<f64> = (0..n).map(|j| 2.0 * mask[(j, pattern)] - 1.0).collect();
                // Active rows: a positive multiplier, or a slack (2 d_j - 1) x_j^T v_b that is
                // negligible next to the largest.
                let slack: Vec<f64> = (0..n).map(|j| w[j] * xv[(j, col)]).collect();
                let slack_top = slack.iter().fold(0.0f64, |a, s| a.max(s.abs()));
                let rows: Vec<usize> = match &muh {
                    Some(m) => {
                        let top = (0..n).map(|j| m[(j, col)]).fold(0.0, f64::max);
                        (0..n)
                            .filter(|&j| {
                                (top > 0.0 && m[(j, col)] > ACTIVE_FRACTION * top)
                                    || slack[j] <= SLACK_FRACTION * slack_top
                            })
                            .collect()
                    }
                    None => Vec::new(),
                };
                Block {
                    column: col,
                    sign,
                    pattern,
                    rows,
                    w,
                }
            })
            .collect();
        let target: Vec<f64> = (0..n).map(|j| yh[(j, k)]).collect();
        let start = active
            .iter()
            .map(|b| (0..d).map(|r| vh[(r, b.column)]).collect())
            .collect();
        let rounds = Rounds {
            op,
            x: &x,
            mask: &mask,
            target: &target,
            beta,
        };
        let Some(round) = rounds.run(&mut active, start, c - k - 1, &mut flops) else {
            return (None, MAX_FLOPS - flops);
        };
        for (b, block) in active.iter().enumerate() {
            for (r, value) in round.points[b].iter().enumerate() {
                v_out[(r, block.column)] = *value;
            }
            for (&j, m) in round.rows[b].iter().zip(&round.multipliers[b]) {
                mu_out[(j, block.column)] = m.max(0.0);
            }
        }
    }
    let polished = Polished {
        v: host::upload_faer(&v_out, v),
        mu: relu.then(|| host::upload_faer(&mu_out, v)),
    };
    (Some(polished), MAX_FLOPS - flops)
}

/// The optimum of the reduced problem for the blocks' current active rows, from `start` (one point of
/// `d` values per block); `None` when its estimated cost exceeds what is left of `flops` (which it
/// then spends). A block whose rows leave no null space is zero.
fn reduced_optimum(
    x: &Mat<f64>,
    mask: &Mat<f64>,
    blocks: &[Block],
    start: &[Vec<f64>],
    target: &[f64],
    beta: f64,
    flops: &mut f64,
) -> Option<Vec<Vec<f64>>> {
    let (n, d) = (x.nrows(), x.ncols());
    // Each null space is an eigendecomposition of a d x d Gram matrix (about 10 d^3).
    let null_cost = blocks.len() as f64 * 10.0 * (d as f64).powi(3);
    if null_cost > *flops {
        return None;
    }
    *flops -= null_cost;
    let nulls: Vec<Mat<f64>> = blocks
        .iter()
        .map(|b| null_space(x, &b.rows, &b.w, d).unwrap_or_else(|| Mat::zeros(d, 0)))
        .collect();
    let widths: Vec<usize> = nulls.iter().map(|m| m.ncols()).collect();
    let total: usize = widths.iter().sum();
    let t = total as f64;
    let cost = n as f64 * t * t + ESTIMATED_NEWTON_STEPS * t * t * t / 3.0;
    if cost > *flops {
        return None;
    }
    *flops -= cost;
    // Psi = [sigma_b D_i X N_b] and the starting w_b = N_b^T v_b.
    let mut psi = Mat::<f64>::zeros(n, total);
    let mut w = vec![0.0; total];
    let mut offset = 0;
    for ((block, null), v) in blocks.iter().zip(&nulls).zip(start) {
        let xn = x * null;
        // Column by column: faer matrices are column-major.
        for q in 0..null.ncols() {
            for j in 0..n {
                psi[(j, offset + q)] = block.sign * mask[(j, block.pattern)] * xn[(j, q)];
            }
        }
        for q in 0..null.ncols() {
            w[offset + q] = (0..d).map(|r| null[(r, q)] * v[r]).sum();
        }
        offset += null.ncols();
    }
    let w = newton(&psi, target, &widths, w, beta);
    let mut offset = 0;
    Some(
        nulls
            .iter()
            .map(|null| {
                let k = null.ncols();
                let point = (0..d)
                    .map(|r| (0..k).map(|q| null[(r, q)] * w[offset + q]).sum())
                    .collect();
                offset += k;
                point
            })
            .collect(),
    )
}

/// Orthonormal basis of {u : (2 d_j - 1) x_j^T u = 0 for j in `rows`}; `None` if only u = 0 is left.
fn null_space(x: &Mat<f64>, rows: &[usize], w: &[f64], d: usize) -> Option<Mat<f64>> {
    if rows.is_empty() {
        return Some(Mat::<f64>::identity(d, d));
    }
    // Right singular vectors of C (|J| x d) beyond its numerical rank, from C^T C (d x d).
    let rows_c = Mat::<f64>::from_fn(rows.len(), d, |q, a| w[rows[q]] * x[(rows[q], a)]);
    let gram = rows_c.transpose() * &rows_c;
    let evd = gram.self_adjoint_eigen(Side::Lower).ok()?;
    let s = evd.S().column_vector();
    let top = s[d - 1].max(0.0);
    let kept: Vec<usize> = (0..d).filter(|&i| s[i] <= 1e-12 * top).collect();
    if kept.is_empty() {
        return None;
    }
    let u = evd.U();
    Some(Mat::from_fn(d, kept.len(), |r, q| u[(r, kept[q])]))
}

/// Newton's method with backtracking on 1/2 ||Psi w - y||^2 + beta sum_b ||w_b||, blocks of `widths`.
fn newton(psi: &Mat<f64>, y: &[f64], widths: &[usize], mut w: Vec<f64>, beta: f64) -> Vec<f64> {
    let total = w.len();
    // Products with the t x t Gram matrix go through faer (blocked, vectorized): element loops
    // over its rows cost most of a polish at a few thousand unknowns.
    let column = |v: &[f64]| Mat::<f64>::from_fn(v.len(), 1, |q, _| v[q]);
    let gram = psi.transpose() * psi;
    let psi_t_y: Vec<f64> = {
        let product = psi.transpose() * column(y);
        (0..total).map(|q| product[(q, 0)]).collect()
    };
    let gram_times = |w: &[f64]| {
        let product = &gram * column(w);
        (0..total).map(|q| product[(q, 0)]).collect::<Vec<f64>>()
    };
    let yy: f64 = y.iter().map(|a| a * a).sum();
    // ||Psi w - y||^2 = w^T (Psi^T Psi) w - 2 w^T Psi^T y + y^T y: no pass over the n rows.
    let objective = |w: &[f64]| {
        let gw = gram_times(w);
        let quadratic: f64 = (0..total).map(|q| w[q] * (gw[q] - 2.0 * psi_t_y[q])).sum();
        let mut offset = 0;
        let mut norms = 0.0;
        for &k in widths {
            norms += w[offset..offset + k]
                .iter()
                .map(|a| a * a)
                .sum::<f64>()
                .sqrt();
            offset += k;
        }
        (quadratic + yy) / 2.0 + beta * norms
    };
    let scale = psi_t_y.iter().map(|a| a * a).sum::<f64>().sqrt().max(beta);
    let mut current = objective(&w);
    for _ in 0..NEWTON_ITERATIONS {
        let mut hessian = gram.clone();
        let mut gradient: Vec<f64> = gram_times(&w)
            .iter()
            .zip(&psi_t_y)
            .map(|(gw, py)| gw - py)
            .collect();
        let mut offset = 0;
        for &k in widths {
            let wb = &w[offset..offset + k];
            let norm = wb.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 0.0 {
                for a in 0..k {
                    gradient[offset + a] += beta * wb[a] / norm;
                    for b in 0..k {
                        let identity = if a == b { 1.0 } else { 0.0 };
                        hessian[(offset + a, offset + b)] +=
                            beta / norm * (identity - wb[a] * wb[b] / (norm * norm));
                    }
                }
            }
            offset += k;
        }
        if gradient.iter().map(|g| g * g).sum::<f64>().sqrt() <= NEWTON_TOL * scale {
            break;
        }
        let rhs = Mat::<f64>::from_fn(total, 1, |q, _| -gradient[q]);
        let Some(step) = hessian.llt(Side::Lower).ok().map(|llt| {
            use faer::linalg::solvers::Solve;
            llt.solve(&rhs)
        }) else {
            break;
        };
        let slope: f64 = (0..total).map(|q| gradient[q] * step[(q, 0)]).sum();
        let mut t = 1.0;
        let mut accepted = false;
        while t > 1e-10 {
            let trial: Vec<f64> = (0..total).map(|q| w[q] + t * step[(q, 0)]).collect();
            let value = objective(&trial);
            if value <= current + 1e-4 * t * slope {
                w = trial;
                current = value;
                accepted = true;
                break;
            }
            t /= 2.0;
        }
        if !accepted {
            break;
        }
    }
    w
}

/// The least-squares solution of A m = b (A `d x q`, full column rank expected) through the normal
/// equations with a tiny ridge, as a vector.
fn least_squares(a: &Mat<f64>, b: &Mat<f64>) -> Vec<f64> {
    use faer::linalg::solvers::Solve;
    let q = a.ncols();
    let mut normal = a.transpose() * a;
    let ridge = 1e-14 * (0..q).map(|i| normal[(i, i)]).fold(0.0, f64::max);
    for i in 0..q {
        normal[(i, i)] += ridge.max(f64::MIN_POSITIVE);
    }
    let rhs = a.transpose() * b;
    match normal.llt(Side::Lower) {
        Ok(llt) => {
            let m = llt.solve(&rhs);
            (0..q).map(|i| m[(i, 0)]).collect()
        }
        Err(_) => vec![0.0; q],
    }
}

#[cfg(test)]
mod tests {
    use super::{differing, Block, PolishSchedule};

    #[test]
    fn counts_the_entries_in_exactly_one_list() {
        assert_eq!(differing(&[1, 3, 5], &[1, 3, 5]), 0);
        assert_eq!(differing(&[1, 3, 5], &[3, 4]), 3);
        assert_eq!(differing(&[], &[2, 7]), 2);
    }

    #[test]
    fn active_rows_drop_negative_multipliers_and_take_violated_rows() {
        // Rows 0 and 2 active; row 2's multiplier is negative. Slacks (2 d_j - 1) x_j^T v:
        // row 1 violated, row 3 satisfied, row 4 violated by rounding only.
        let block = Block {
            column: 0,
            sign: 1.0,
            pattern: 0,
            rows: vec![0, 2],
            w: vec![1.0, -1.0, 1.0, 1.0, 1.0],
        };
        let xv = [0.0, 0.5, 0.0, 2.0, -1e-12];
        assert_eq!(block.next_rows(&[3.0, -1.0], |j| xv[j]), vec![0, 1]);
        // A multiplier negative by rounding stays.
        assert_eq!(block.next_rows(&[3.0, -1e-10], |j| xv[j]), vec![0, 1, 2]);
    }

    #[test]
    fn polishes_when_residuals_halve_or_after_an_interval() {
        let mut s = PolishSchedule::default();
        assert!(!s.due(10, 2e-3), "residuals above the threshold");
        assert!(s.due(20, 8e-4));
        assert!(!s.due(30, 5e-4), "not yet halved");
        assert!(s.due(40, 3e-4));
        assert!(!s.due(139, 2e-4));
        assert!(s.due(140, 2e-4), "an interval after the last polish");
        assert!(s.due(150, 5e-5));
        // A polish worth 100 iterations waits 300 before the next, however fast residuals fall.
        s.spent(100.0, 1.0);
        assert!(!s.due(449, 1e-6));
        assert!(s.due(450, 1e-6));
    }
}
