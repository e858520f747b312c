//! The exact optimum of the program on a few patterns of one output, by a primal-dual
//! interior-point method: what the polish solves on the patterns ADMM has found nonzero.
//!
//! On patterns i the program of one output restricted to them is (ReLU; the gated program has one
//! block u_i per pattern and no cone)
//!
//! ```text
//! min 1/2 || sum_i D_i X (v_i - w_i) - y ||^2 + beta sum_i (||v_i|| + ||w_i||)
//! s.t. r_b = (2 D_i - I) X v_b >= 0   for the blocks b (v_i and w_i).
//! ```
//!
//! Every cone row stays an inequality, so no active set is guessed: ADMM's active rows are rarely
//! exactly right, and active-set rounds started from them wander off far from the solution. The
//! rows get multipliers lambda_b >= 0 and slacks r_b of their own (C v_b - r_b is driven to zero
//! with the rest, so ADMM's slightly infeasible point can start the method), and Mehrotra's
//! predictor-corrector steps drive lambda_bj r_bj to zero together (where such a step is short,
//! Gondzio's centrality correctors lengthen it, on the same factorization: [`Path::centred`]);
//! the group norm is replaced by its second-order-cone barrier
//! at the same parameter mu with the epigraph variable eliminated in closed form,
//! psi(v) = min_{s > ||v||} beta s - mu log(s^2 - ||v||^2), whose gradient is beta v / s with
//! s = (mu + sqrt(mu^2 + beta^2 ||v||^2)) / beta. Where the steps converge, the pair
//! z = y - prediction, lambda satisfies sigma_b X^T D_i z + X^T (2 D_i - I) lambda_b = beta v_b / s_b
//! (of norm below beta) up to the stationarity residual: a dual point whose bound is within about
//! (rows + 2 blocks) mu of the objective. The method stops once that pair, scaled to feasibility,
//! certifies the requested gap for the restricted program at an iterate feasible to it: the
//! stationarity residual, not the complementarity, is what falls last on raw pixels, so once the
//! complementarity is small enough the multipliers are also tightened for the current point
//! ([`Path::tightened`]), which certifies the same gap several steps sooner.
//!
//! f sees only a_i = v_i - w_i, so each step eliminates w_i (with v_i = w_i + a_i) pattern by
//! pattern, which leaves the parallel sum H_v (H_v + H_w)^-1 H_w of the blocks' Hessians for a_i (a
//! d x d factorization each), and factors one dense matrix of the patterns' total width, half that
//! of all blocks, in place and in the memory of the step before; or, with fewer rows than that width,
//! the `n x n` capacitance matrix of the same system ([`crate::capacitance`]), whichever costs less
//! ([`Shape::through_samples`]); on the host in f64 (faer).

use crate::capacitance::{self, Capacitance};
use crate::certificate::feasible_scale;
use crate::dense::{cholesky_lower, lower_product, mirror_lower};
use faer::linalg::solvers::Llt;
use faer::linalg::solvers::Solve;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Mat, Par, Side};
use rayon::prelude::*;
use std::time::Instant;

/// Iterations at most.
const MAX_ITERATIONS: usize = 100;
/// Iterations the cost estimates assume (the benchmark problems take 12 to 19; all 12,000 two-class
/// raw-pixel images with 16 patterns took 24 to a tenth of the tolerance 1e-3 with the iterate's own
/// multipliers, and about 18 to half of it with tightened ones, see [`TIGHTENING_FROM`]).
pub(crate) const ESTIMATED_ITERATIONS: f64 = 15.0;
/// Steps without the certified gap halving after which a method that has met its complementarity
/// and feasibility targets stops: a block driven to zero whose dual constraint is tight (a
/// degenerate optimum) keeps its stationarity residual at a floor near beta / 4, and so the
/// certified gap, and without this the method ran all [`MAX_ITERATIONS`] steps (2,000 x 784 raw
/// pixels, P = 8).
const STALLED: usize = 5;
/// Rows of X scaled at a time in a block's Hessian: its temporary is this many rows, not n (on
/// 12,000 rows of 784 pixels, 6 MB instead of 75 MB for each thread).
const ROW_CHUNK: usize = 1024;
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

/// When and how much the multipliers are tightened ([`Path::tightened`]): once the complementarity
/// is within `FROM` times the target gap (so that the pair could certify it), with projected steps
/// costing about `SHARE` of an estimated step's flops, and at least and at most `STEPS`. The
/// barrier's own multipliers certify late on raw pixels: on all 12,000 two-class images with 16
/// patterns they certified 1e-3 at step 22 and 1e-4 at step 25, where 50 projected steps on them
/// (1.2e9 flops each, against about 1e12 a step) certified 1e-3 at step 16 and 5e-4 at step 18;
/// from then on the tightened gap follows complementarity / objective.
const TIGHTENING_FROM: f64 = 2.0;
const TIGHTENING_SHARE: f64 = 0.1;
const TIGHTENING_STEPS: (f64, f64) = (10.0, 200.0);

/// Seconds of the Gram matrix's products after which their rate decides whether the method would
/// end before the deadline (until then, or for a matrix formed sooner, the whole matrix's rate
/// decides once it is formed). The first block of 16 patterns of 784 raw pixels on 12,000 rows
/// (6.4e9 flops) takes about a tenth of a second, the whole matrix 5.8 to 6.5 s.
const RATE_SAMPLE: f64 = 0.05;

/// Why [`Program::solve`] returned no iterate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unsolved {
    /// Interrupted before its first step could begin.
    Interrupted,
    /// Its iterates stopped being finite.
    NotFinite,
    /// At the rate its first work ran, its steps would need `seconds` where the deadline leaves
    /// `left`.
    Late { seconds: f64, left: f64 },
}

/// The shape of a restricted program: `n x d` data, `patterns` patterns (ReLU: two blocks each), and
/// the bytes of host memory its method may use, which decide with the cost how its steps solve their
/// reduced systems ([`Shape::through_samples`]).
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) n: usize,
    pub(crate) d: usize,
    pub(crate) patterns: usize,
    pub(crate) relu: bool,
    pub(crate) memory: f64,
}

impl Shape {
    /// Estimated floating-point operations of [`Program::solve`].
    pub(crate) fn cost(&self) -> f64 {
        let (dense, samples) = self.reduced_costs();
        let reduced = match self.through_samples() {
            true => samples,
            false => dense,
        };
        let (n, d) = (self.n as f64, self.d as f64);
        reduced + ESTIMATED_ITERATIONS * self.blocks() * (n * d * d + 2.0 * d * d * d)
    }

    /// Estimated bytes of host memory [`Program::solve`] needs: the reduced system (densely, one
    /// matrix of the patterns' total width that also holds the Gram matrix; or the capacitance
    /// matrix's, see [`capacitance::bytes`]), and what both ways share ([`Shape::shared_bytes`]).
    pub(crate) fn bytes(&self) -> f64 {
        self.shared_bytes()
            + match self.through_samples() {
                true => capacitance::bytes(self.n, self.d, self.patterns),
                false => 8.0 * ((self.patterns * self.d) as f64).powi(2),
            }
    }

    /// Whether the steps solve their reduced systems through the capacitance matrix: when that costs
    /// less, as with few rows of many features (1,000 x 784 raw pixels, four patterns), and fits the
    /// memory (on 4,000 x 784 with 16 patterns it costs a third of the dense way, and the dense way
    /// fits 2 GB where it would not).
    fn through_samples(&self) -> bool {
        let (dense, samples) = self.reduced_costs();
        samples < dense
            && self.shared_bytes() + capacitance::bytes(self.n, self.d, self.patterns)
                <= self.memory
    }

    /// The estimated floating-point operations of the reduced systems of all steps, solved densely
    /// (forming the Gram matrix once and factoring the patterns' total width every step) and through
    /// the `n x n` capacitance matrix ([`crate::capacitance`]).
    fn reduced_costs(&self) -> (f64, f64) {
        let t = (self.patterns * self.d) as f64;
        let dense = gram_cost(self.n as f64, t) + ESTIMATED_ITERATIONS * t * t * t / 3.0;
        let samples = ESTIMATED_ITERATIONS * capacitance::cost(self.n, self.d, self.patterns);
        (dense, samples)
    }

    /// The bytes both ways need: the blocks' Hessians and eliminations, per thread (the patterns'
    /// parts are formed side by side) a chunk of scaled rows and two `d x d` temporaries, an `n x d`
    /// temporary of the Gram matrix and the rows' vectors. The tightening's five `n x blocks`
    /// matrices ([`Path::tightened`]) live between steps, in what the steps' Hessians leave.
    fn shared_bytes(&self) -> f64 {
        let threads = rayon::current_num_threads() as f64;
        let chunk = ROW_CHUNK.min(self.n) as f64;
        let (n, d, blocks) = (self.n as f64, self.d as f64, self.blocks());
        8.0 * (n * d
            + threads * (chunk * d + 2.0 * d * d)
            + (blocks + 2.0 * self.patterns as f64) * d * d
            + 4.0 * blocks * n)
    }

    fn blocks(&self) -> f64 {
        let per = if self.relu { 2.0 } else { 1.0 };
        per * self.patterns as f64
    }
}

/// The part of [`Shape::cost`] that forms the Gram matrix of `n` rows and `t` columns ([`gram`]):
/// with random patterns a diagonal block holds about half the rows and any other block a quarter,
/// so the blocks' lower triangles cost about `n t^2 / 8` flops in all.
fn gram_cost(n: f64, t: f64) -> f64 {
    n * t * t / 8.0
}

/// The program of one output restricted to some patterns: data `x` (`n x d`), patterns `mask`
/// (`n x P`), targets `y`; `par` is the parallelism of the factorization of its reduced system (and
/// of the patterns' parts of a step when there are fewer patterns than threads); `memory` the bytes
/// its method may use (see [`Shape`]).
pub(crate) struct Program<'a> {
    pub(crate) x: &'a Mat<f64>,
    pub(crate) mask: &'a Mat<f64>,
    pub(crate) y: &'a [f64],
    pub(crate) beta: f64,
    pub(crate) par: Par,
    pub(crate) memory: f64,
}

/// The restricted optimum: per pattern, per block (v_i then w_i, or u_i) its point (`d` values)
/// and cone multipliers lambda (`n` values in the units of (2 D_i - I) X; empty for gated blocks).
pub(crate) struct Restricted {
    pub(crate) points: Vec<Vec<Vec<f64>>>,
    pub(crate) multipliers: Vec<Vec<Vec<f64>>>,
}

/// One block: the cone signs 2 d_j - 1 (zero on rows with x_j = 0, whose constraint holds with
/// equality and has no interior; empty for the gated program), its point, slacks and multipliers.
struct Block {
    signs: Vec<f64>,
    v: Vec<f64>,
    r: Vec<f64>,
    lambda: Vec<f64>,
}

impl Block {
    /// Whether row j has a constraint.
    fn live(&self, j: usize) -> bool {
        self.signs[j] != 0.0
    }
}

impl Program<'_> {
    /// The optimum on `patterns` (their columns of the mask), started from `start` (ADMM's point and
    /// multipliers: any values, the method moves them inside), to a duality gap of about `gap`
    /// times the objective, or as far as it has come when `interrupted` holds (checked before every
    /// step and between the panels of its factorization); ReLU program when `relu`. No iterate
    /// ([`Unsolved`]) when the iterates are not finite, or when `interrupted` holds before the first
    /// step can begin (it is also checked between the blocks of the Gram matrix), or when the
    /// steps, at the rate of the Gram matrix's products (from [`RATE_SAMPLE`] seconds of them on)
    /// or of the first step, would not end before `deadline`.
    pub(crate) fn solve(
        &self,
        patterns: &[usize],
        relu: bool,
        start: Restricted,
        gap: f64,
        interrupted: &dyn Fn() -> bool,
        deadline: Option<Instant>,
    ) -> Result<Restricted, Unsolved> {
        let (n, d) = (self.x.nrows(), self.x.ncols());
        let masks = Mat::<f64>::from_fn(n, patterns.len(), |j, q| self.mask[(j, patterns[q])]);
        let shape = Shape {
            n,
            d,
            patterns: patterns.len(),
            relu,
            memory: self.memory,
        };
        let total = shape.cost();
        let first_step = total / ESTIMATED_ITERATIONS;
        // Whether `left` flops, at the rate of `done` flops in `took` seconds, would end after the
        // deadline.
        let late = |done: f64, took: f64, left: f64| {
            let deadline = deadline?;
            let seconds = left * took / done;
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            (seconds.is_nan() || seconds > left).then_some(Unsolved::Late { seconds, left })
        };
        let reduced = match shape.through_samples() {
            true if interrupted() => return Err(Unsolved::Interrupted),
            true => Reduced::Samples,
            false => {
                let formed = gram_cost(n as f64, (patterns.len() * d) as f64);
                let steps = total - formed;
                let stop = |done: f64, took: f64| match interrupted() {
                    true => Some(Unsolved::Interrupted),
                    false if took >= RATE_SAMPLE => {
                        late(done, took, steps + (formed - done).max(0.0))
                    }
                    false => None,
                };
                let gram = gram(self.x, &masks, self.par, &stop)?;
                if let Some(late) = late(gram.flops, gram.seconds, steps) {
                    return Err(late);
                }
                Reduced::Dense {
                    system: gram.upper,
                    gram_diagonal: gram.diagonal,
                }
            }
        };
        let live: Vec<bool> = (0..n)
            .map(|j| (0..d).any(|r| self.x[(j, r)] != 0.0))
            .collect();
        let mut blocks = Vec::new();
        for (&i, (points, multipliers)) in patterns
            .iter()
            .zip(start.points.into_iter().zip(start.multipliers))
        {
            // v_i and w_i share their pattern's cone.
            let signs: Vec<f64> = match relu {
                true => (0..n)
                    .map(|j| match live[j] {
                        true => 2.0 * self.mask[(j, i)] - 1.0,
                        false => 0.0,
                    })
                    .collect(),
                false => Vec::new(),
            };
            for (v, lambda) in points.into_iter().zip(multipliers) {
                let r = slacks(self.x, &signs, &v);
                blocks.push(Block {
                    signs: signs.clone(),
                    v,
                    r,
                    lambda,
                });
            }
        }
        let samples = matches!(reduced, Reduced::Samples);
        let mut path = Path {
            program: self,
            masks,
            reduced,
            blocks,
            relu,
            mu: 0.0,
        };
        path.shift_inside();
        let barrier_count = (path.rows() + 2 * path.blocks.len()) as f64;
        path.mu = (path.complementarity_rows() / barrier_count)
            .max(1e-3 * path.f().max(f64::MIN_POSITIVE) / barrier_count);
        let mut iterations = 0;
        let (mut best, mut stalled) = (f64::INFINITY, 0);
        let tightening_steps =
            (TIGHTENING_SHARE * first_step / (4.0 * (n * d) as f64)) / path.blocks.len() as f64;
        let tightening_steps =
            tightening_steps.clamp(TIGHTENING_STEPS.0, TIGHTENING_STEPS.1) as usize;
        let mut lipschitz = None;
        while iterations < MAX_ITERATIONS {
            let objective = path.objective();
            let mut certified = path.certified_gap(objective);
            let infeasible = path.largest_infeasibility();
            // Multipliers that certify more than the iterate's own, if they were looked for.
            let mut tightened = None;
            let near = path.complementarity() <= TIGHTENING_FROM * gap * objective;
            if relu && infeasible <= gap && certified > gap && near {
                let lipschitz = *lipschitz.get_or_insert_with(|| largest_eigenvalue(self.x));
                let (better, lambdas) = path.tightened(objective, tightening_steps, lipschitz);
                if better < certified {
                    (certified, tightened) = (better, Some(lambdas));
                }
            }
            if certified <= 0.5 * best {
                (best, stalled) = (certified, 0);
            } else {
                stalled += 1;
            }
            let stuck = stalled >= STALLED && path.complementarity() <= gap * objective;
            if infeasible <= gap && (certified <= gap || stuck) {
                if let Some(lambdas) = tightened {
                    path.adopt(&lambdas);
                }
                break;
            }
            // An interruption, or a system that no longer factors (mu near rounding), ends the
            // method where it is.
            let started = Instant::now();
            if interrupted() || path.step(interrupted).is_none() {
                break;
            }
            iterations += 1;
            // Without a Gram matrix to time, the first step says whether the rest ends in time.
            if samples && iterations == 1 {
                let took = started.elapsed().as_secs_f64();
                if let Some(late) = late(first_step, took, total - first_step) {
                    return Err(late);
                }
            }
        }
        let finite = path
            .blocks
            .iter()
            .all(|b| b.v.iter().chain(&b.lambda).all(|a| a.is_finite()));
        if !finite {
            return Err(Unsolved::NotFinite);
        }
        let chunks = path.blocks.chunks(path.per_pattern());
        Ok(Restricted {
            points: chunks
                .clone()
                .map(|c| c.iter().map(|b| b.v.clone()).collect())
                .collect(),
            multipliers: chunks
                .map(|c| c.iter().map(|b| b.lambda.clone()).collect())
                .collect(),
        })
    }
}

/// `values` as a column.
fn column(values: &[f64]) -> Mat<f64> {
    Mat::from_fn(values.len(), 1, |q, _| values[q])
}

/// The slacks (2 d_j - 1) x_j^T v of a block with cone `signs`.
fn slacks(x: &Mat<f64>, signs: &[f64], v: &[f64]) -> Vec<f64> {
    if signs.is_empty() {
        return Vec::new();
    }
    let xv = x * column(v);
    signs
        .iter()
        .enumerate()
        .map(|(j, w)| w * xv[(j, 0)])
        .collect()
}

/// The largest step in (0, 1] along `dx` that keeps `x` positive on live rows, times
/// [`BOUNDARY`] when the boundary is within reach.
fn to_boundary(blocks: &[Block], x: impl Fn(&Block) -> &[f64], dx: &[Vec<f64>]) -> f64 {
    let mut alpha: f64 = 1.0;
    for (b, db) in blocks.iter().zip(dx) {
        for (j, (value, step)) in x(b).iter().zip(db).enumerate() {
            if b.live(j) && *step < 0.0 {
                alpha = alpha.min(BOUNDARY * value / -step);
            }
        }
    }
    alpha
}

/// The dual constraint vectors `fixed` + X^T (`signs` o `lambdas`) of blocks whose cone signs and
/// multipliers are the columns of `signs` and `lambdas` (`n x blocks`), a column each.
fn dual_vectors(x: &Mat<f64>, fixed: &Mat<f64>, signs: &Mat<f64>, lambdas: &Mat<f64>) -> Mat<f64> {
    let cone = Mat::<f64>::from_fn(signs.nrows(), signs.ncols(), |j, b| {
        signs[(j, b)] * lambdas[(j, b)]
    });
    fixed + x.transpose() * cone
}

/// `steps` accelerated projected-gradient steps (FISTA) from `start` on
/// min_{lambda >= 0} 1/2 sum_b ||h_b||^2, h the blocks' [`dual_vectors`]: its gradient is
/// `signs` o (X h), whose curvature `lipschitz` (the largest eigenvalue of X^T X) bounds. Rows
/// without a constraint (sign zero) keep a zero multiplier. Host f64, unlike the solver's
/// tightening on the device ([`crate::certificate`]): a polish's certificate must keep the accuracy
/// of its f64 steps.
fn tightened_multipliers(
    x: &Mat<f64>,
    fixed: &Mat<f64>,
    signs: &Mat<f64>,
    start: Mat<f64>,
    steps: usize,
    lipschitz: f64,
) -> Mat<f64> {
    let (n, blocks) = (signs.nrows(), signs.ncols());
    let project = |j: usize, b: usize, value: f64| value.max(0.0) * signs[(j, b)].abs();
    let mut current = Mat::from_fn(n, blocks, |j, b| project(j, b, start[(j, b)]));
    let steps = if lipschitz > 0.0 { steps } else { 0 };
    let mut previous = current.clone();
    for k in 1..=steps {
        let momentum = (k as f64 - 1.0) / (k as f64 + 2.0);
        let look = Mat::<f64>::from_fn(n, blocks, |j, b| {
            current[(j, b)] + momentum * (current[(j, b)] - previous[(j, b)])
        });
        let xh = x * dual_vectors(x, fixed, signs, &look);
        let next = Mat::from_fn(n, blocks, |j, b| {
            project(j, b, look[(j, b)] - signs[(j, b)] * xh[(j, b)] / lipschitz)
        });
        previous = std::mem::replace(&mut current, next);
    }
    current
}

/// The largest eigenvalue of X^T X, by power iteration, with a margin for
/// what the iterations leave (a step of 1 / this in [`Path::tightened`] must not overshoot).
fn largest_eigenvalue(x: &Mat<f64>) -> f64 {
    const ITERATIONS: usize = 30;
    const MARGIN: f64 = 1.05;
    let mut v = Mat::<f64>::from_fn(x.ncols(), 1, |p, _| 1.0 + (p % 7) as f64 / 7.0);
    let mut estimate = 0.0;
    for _ in 0..ITERATIONS {
        let w = x.transpose() * (x * &v);
        let norm = w.norm_l2();
        if norm == 0.0 {
            return 0.0;
        }
        estimate = norm / v.norm_l2();
        v = w / norm;
    }
    MARGIN * estimate
}

/// What [`gram`] formed: the Gram matrix's strict upper triangle in a matrix whose lower triangle
/// each step overwrites with its system and factor (so the largest matrix of the method is held
/// once), its diagonal, and the flops of its products with the seconds they took.
struct Gram {
    upper: Mat<f64>,
    diagonal: Vec<f64>,
    flops: f64,
    seconds: f64,
}

/// The Gram matrix of the masked data [D_1 X ... D_P X] (`masks` n x P, of zeros and ones).
/// Block (i, j) is X^T diag(m_i m_j) X, a symmetric matrix equal to block (j, i), formed from the
/// rows both patterns hold as a lower triangle: with random patterns an eighth of the flops of the
/// square product over all rows, and none for the complementary patterns of a gate pair. After
/// every block's product `stop` is given the flops and seconds of the products so far and says
/// whether to give up, and why. The matrix is allocated only after the first block: first touching
/// its memory is slow (3.3 s for the 1.3 GB of 16 patterns of 784 features on the 2-core machine),
/// and a method too slow for its deadline can be told so by the first block's rate instead.
fn gram(
    x: &Mat<f64>,
    masks: &Mat<f64>,
    par: Par,
    stop: &dyn Fn(f64, f64) -> Option<Unsolved>,
) -> Result<Gram, Unsolved> {
    let (n, d, patterns) = (x.nrows(), x.ncols(), masks.ncols());
    let width = patterns * d;
    let mut upper = None;
    // One block and the rows it is formed from, reused by every block.
    let mut block = Mat::<f64>::zeros(d, d);
    let mut rows = Mat::<f64>::zeros(n, d);
    let (mut flops, mut seconds) = (0.0, 0.0);
    for i in 0..patterns {
        for j in i..patterns {
            let shared: Vec<usize> = (0..n)
                .filter(|&r| masks[(r, i)] * masks[(r, j)] != 0.0)
                .collect();
            for p in 0..d {
                for (k, &r) in shared.iter().enumerate() {
                    rows[(k, p)] = x[(r, p)];
                }
            }
            let rows = rows.as_ref().subrows(0, shared.len());
            block.fill(0.0);
            let started = Instant::now();
            lower_product(block.as_mut(), rows.transpose(), rows, 1.0, par);
            seconds += started.elapsed().as_secs_f64();
            flops += (shared.len() * d * d) as f64;
            if let Some(reason) = stop(flops, seconds) {
                return Err(reason);
            }
            mirror_lower(block.as_mut());
            upper
                .get_or_insert_with(|| Mat::<f64>::zeros(width, width))
                .submatrix_mut(i * d, j * d, d, d)
                .copy_from(&block);
        }
    }
    let upper = upper.unwrap_or_else(|| Mat::zeros(width, width));
    Ok(Gram {
        diagonal: (0..width).map(|q| upper[(q, q)]).collect(),
        upper,
        flops,
        seconds,
    })
}

/// Writes the Gram matrix into the lower triangle of `system` from its strict upper triangle and
/// `diagonal` (see [`gram`]; block (i, j) is block (j, i), and a diagonal block of `d` columns is
/// symmetric).
fn restore_gram(system: &mut Mat<f64>, diagonal: &[f64], d: usize) {
    for i in 0..system.nrows() / d.max(1) {
        let (top, mut bottom) = system.as_mut().split_at_row_mut(i * d);
        for j in 0..i {
            bottom
                .as_mut()
                .submatrix_mut(0, j * d, d, d)
                .copy_from(top.as_ref().submatrix(j * d, i * d, d, d));
        }
        let o = i * d;
        for q in 0..d {
            system[(o + q, o + q)] = diagonal[o + q];
            for p in q + 1..d {
                system[(o + p, o + q)] = system[(o + q, o + p)];
            }
        }
    }
}

/// How the steps solve their reduced systems ([`Shape::through_samples`]).
enum Reduced {
    /// Densely: `system` holds the Gram matrix of the masked data in its strict upper triangle (see
    /// [`gram`]) and the last step's factor in its lower.
    Dense {
        system: Mat<f64>,
        gram_diagonal: Vec<f64>,
    },
    /// Through the capacitance matrix, factored by each step ([`Factored::capacitance`]).
    Samples,
}

/// The iterate of the interior-point method.
struct Path<'a> {
    program: &'a Program<'a>,
    /// The patterns' columns of the mask, `n x patterns`.
    masks: Mat<f64>,
    reduced: Reduced,
    blocks: Vec<Block>,
    relu: bool,
    /// The barrier parameter of psi (and the complementarity target of the last step).
    mu: f64,
}

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
struct Factored {
    eliminated: Vec<Option<Elimination>>,
    capacitance: Option<Capacitance>,
}

impl Path<'_> {
    /// Rows with a constraint, over all blocks.
    fn rows(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.signs.iter().filter(|&&w| w != 0.0).count())
            .sum()
    }

    /// What the pair's bound may lack: lambda^T r over the rows and 2 mu per block (psi's share).
    fn complementarity(&self) -> f64 {
        self.complementarity_rows() + 2.0 * self.mu * self.blocks.len() as f64
    }

    /// lambda^T r over the rows.
    fn complementarity_rows(&self) -> f64 {
        self.blocks
            .iter()
            .map(|b| b.r.iter().zip(&b.lambda).map(|(r, l)| r * l).sum::<f64>())
            .sum()
    }

    /// Moves the slacks and multipliers of a start inside their orthants, as Mehrotra's starting
    /// point does: first above zero by half again the largest deficit, then both by half the
    /// complementarity per unit of the other, so that no pair starts near zero.
    fn shift_inside(&mut self) {
        let live = |b: &Block| {
            (0..b.signs.len())
                .filter(|&j| b.live(j))
                .collect::<Vec<_>>()
        };
        let lowest = |of: &dyn Fn(&Block, usize) -> f64| {
            self.blocks
                .iter()
                .flat_map(|b| live(b).into_iter().map(|j| of(b, j)))
                .fold(f64::INFINITY, f64::min)
        };
        let dr = (-1.5 * lowest(&|b, j| b.r[j])).max(0.0);
        let dl = (-1.5 * lowest(&|b, j| b.lambda[j])).max(0.0);
        let (mut product, mut sum_r, mut sum_l) = (0.0, 0.0, 0.0);
        for b in &self.blocks {
            for j in live(b) {
                let (r, l) = (b.r[j] + dr, b.lambda[j] + dl);
                product += r * l;
                sum_r += r;
                sum_l += l;
            }
        }
        // A start with no complementarity to speak of (zero multipliers) is moved by a small
        // fraction of the slacks and multipliers instead, and a start at zero by the targets' scale
        // (slacks and multipliers are both in the units of y).
        let rows = self.rows().max(1) as f64;
        let floor = match 1e-3 * (sum_r + sum_l) / rows {
            0.0 => {
                let yy: f64 = self.program.y.iter().map(|v| v * v).sum();
                (yy / self.program.x.nrows() as f64).sqrt().max(1.0)
            }
            floor => floor,
        };
        let shift_r = dr + (0.5 * product / sum_l.max(f64::MIN_POSITIVE)).max(floor);
        let shift_l = dl + (0.5 * product / sum_r.max(f64::MIN_POSITIVE)).max(floor);
        for b in &mut self.blocks {
            for j in live(b) {
                b.r[j] += shift_r;
                b.lambda[j] += shift_l;
            }
        }
    }

    /// The largest |C v - r| over the blocks relative to the largest slack.
    fn largest_infeasibility(&self) -> f64 {
        let (mut e, mut r) = (0.0f64, 0.0f64);
        for b in &self.blocks {
            e = self.infeasibility(b).iter().fold(e, |a, v| a.max(v.abs()));
            r = b.r.iter().fold(r, |a, v| a.max(v.abs()));
        }
        e / r.max(f64::MIN_POSITIVE)
    }

    /// C v - r of block `b`: how far its slacks are from its point's.
    fn infeasibility(&self, b: &Block) -> Vec<f64> {
        slacks(self.program.x, &b.signs, &b.v)
            .iter()
            .zip(&b.r)
            .map(|(cv, r)| cv - r)
            .collect()
    }

    /// Blocks per pattern: v_i and w_i, or u_i.
    fn per_pattern(&self) -> usize {
        if self.relu {
            2
        } else {
            1
        }
    }

    /// The stacked a_i (v_i - w_i, or u_i).
    fn a(&self) -> Mat<f64> {
        let d = self.program.x.ncols();
        let patterns = self.blocks.len() / self.per_pattern();
        Mat::from_fn(patterns * d, 1, |q, _| {
            let (i, r) = (q / d, q % d);
            match self.relu {
                true => self.blocks[2 * i].v[r] - self.blocks[2 * i + 1].v[r],
                false => self.blocks[i].v[r],
            }
        })
    }

    /// The residual sum_i D_i X a_i - y of the fit.
    fn residual(&self) -> Vec<f64> {
        let d = self.program.x.ncols();
        let a = self.a();
        let a = Mat::<f64>::from_fn(d, self.masks.ncols(), |p, i| a[(i * d + p, 0)]);
        let xa = self.program.x * a;
        (0..xa.nrows())
            .map(|j| {
                let prediction: f64 = (0..xa.ncols())
                    .map(|i| self.masks[(j, i)] * xa[(j, i)])
                    .sum();
                prediction - self.program.y[j]
            })
            .collect()
    }

    /// The gradient of f with respect to the stacked a_i, X^T D_i (residual) per pattern.
    fn fit(&self) -> Mat<f64> {
        let (x, d) = (self.program.x, self.program.x.ncols());
        let residual = self.residual();
        let masked = Mat::<f64>::from_fn(x.nrows(), self.masks.ncols(), |j, i| {
            self.masks[(j, i)] * residual[j]
        });
        let gradient = x.transpose() * masked;
        Mat::from_fn(gradient.ncols() * d, 1, |q, _| gradient[(q % d, q / d)])
    }

    /// The fit term at the current point.
    fn f(&self) -> f64 {
        0.5 * self.residual().iter().map(|e| e * e).sum::<f64>()
    }

    /// The objective of the restricted program at the current point.
    fn objective(&self) -> f64 {
        let norms: f64 = self
            .blocks
            .iter()
            .map(|b| b.v.iter().map(|a| a * a).sum::<f64>().sqrt())
            .sum();
        self.f() + self.program.beta * norms
    }

    /// The epigraph variable s of psi at `v`.
    fn epigraph(&self, v: &[f64]) -> f64 {
        let beta = self.program.beta;
        let norm2: f64 = v.iter().map(|a| a * a).sum();
        (self.mu + (self.mu * self.mu + beta * beta * norm2).sqrt()) / beta
    }

    /// Per block (a column each) the part of its dual constraint's vector that the multipliers do
    /// not change, sigma_b X^T D_i z with z = y - prediction: its pattern's part of `fit` (see
    /// [`Path::fit`]) with the opposite sign for v_i and u_i, the same for w_i.
    fn dual_fit(&self, fit: &Mat<f64>) -> Mat<f64> {
        let d = self.program.x.ncols();
        Mat::from_fn(d, self.blocks.len(), |p, index| {
            let i = index / self.per_pattern();
            let sign = match self.relu && index % 2 == 1 {
                true => 1.0,
                false => -1.0,
            };
            sign * fit[(i * d + p, 0)]
        })
    }

    /// The blocks' cone signs as columns (`n x blocks`; zero on rows without a constraint and for
    /// gated blocks).
    fn signs(&self) -> Mat<f64> {
        let n = self.program.x.nrows();
        Mat::from_fn(n, self.blocks.len(), |j, index| {
            self.blocks[index].signs.get(j).copied().unwrap_or(0.0)
        })
    }

    /// The blocks' multipliers as columns (`n x blocks`; zero for gated blocks).
    fn lambdas(&self) -> Mat<f64> {
        let n = self.program.x.nrows();
        Mat::from_fn(n, self.blocks.len(), |j, index| {
            self.blocks[index].lambda.get(j).copied().unwrap_or(0.0)
        })
    }

    /// The duality gap, relative to `objective` (the current one), that z = y - prediction certifies
    /// for the restricted program with multipliers whose dual constraint vectors are the columns of
    /// `h`, once scaled into the dual constraints ||sigma_b X^T D_i z + C_b^T lambda_b|| <= beta (see
    /// [`crate::certificate`]).
    fn gap_of(&self, objective: f64, h: &Mat<f64>) -> f64 {
        let h_max = (0..h.ncols())
            .map(|b| h.col(b).squared_norm_l2())
            .fold(0.0, f64::max);
        let z: Vec<f64> = self.residual().iter().map(|e| -e).collect();
        let zy = z.iter().zip(self.program.y).map(|(z, y)| z * y).sum();
        let zz = z.iter().map(|z| z * z).sum();
        let (_, bound) = feasible_scale(zy, zz, h_max, self.program.beta);
        (objective - bound) / objective.abs().max(f64::MIN_POSITIVE)
    }

    /// The duality gap, relative to `objective`, that the iterate certifies with its own multipliers.
    fn certified_gap(&self, objective: f64) -> f64 {
        let fixed = self.dual_fit(&self.fit());
        let h = dual_vectors(self.program.x, &fixed, &self.signs(), &self.lambdas());
        self.gap_of(objective, &h)
    }

    /// Multipliers that certify the current point better than its own, and the gap they certify:
    /// `steps` projected-gradient steps from the iterate's own ([`tightened_multipliers`]). The
    /// iterate's multipliers serve its steps, and their stationarity residual is what falls last on
    /// raw pixels; with z fixed, the best multipliers are an independent nonnegative least-squares
    /// problem per block. `lipschitz` is the largest eigenvalue of X^T X.
    fn tightened(&self, objective: f64, steps: usize, lipschitz: f64) -> (f64, Mat<f64>) {
        let x = self.program.x;
        let fixed = self.dual_fit(&self.fit());
        let signs = self.signs();
        let lambdas = tightened_multipliers(x, &fixed, &signs, self.lambdas(), steps, lipschitz);
        let h = dual_vectors(x, &fixed, &signs, &lambdas);
        (self.gap_of(objective, &h), lambdas)
    }

    /// Makes `lambdas` (`n x blocks`) the blocks' multipliers.
    fn adopt(&mut self, lambdas: &Mat<f64>) {
        for (index, b) in self.blocks.iter_mut().enumerate() {
            for (j, lambda) in b.lambda.iter_mut().enumerate() {
                *lambda = lambdas[(j, index)];
            }
        }
    }

    /// (2 d_j - 1) values_j on the live rows of `b`, as a column.
    fn weighted(&self, b: &Block, values: &[f64]) -> Mat<f64> {
        Mat::from_fn(b.signs.len(), 1, |j, _| b.signs[j] * values[j])
    }

    /// Factors the system of one step: per block the Hessian of psi plus X^T diag(lambda / r) X.
    /// With v_i = w_i + a_i, minimizing the pattern's quadratic over w_i leaves H_v - H_v (H_v +
    /// H_w)^-1 H_v, the parallel sum of the two blocks, for a_i; only lower triangles are formed
    /// where the result is symmetric. The patterns' parts are formed side by side, each on one
    /// thread, when there are enough of them to keep every thread busy: at d = 784 a product
    /// split over two threads ran at about 45 GFLOP/s, and these parts were 60 % of a step.
    fn factor(&mut self, interrupted: &dyn Fn() -> bool) -> Option<Factored> {
        let d = self.program.x.ncols();
        let side_by_side = self.masks.ncols() >= rayon::current_num_threads();
        let par = if side_by_side {
            Par::Seq
        } else {
            self.program.par
        };
        // Per pattern the matrix its a_i adds to the system, and its elimination (ReLU program).
        let pattern = |blocks: &[Block]| -> Option<(Mat<f64>, Option<Elimination>)> {
            match blocks {
                [u] => Some((self.hessian(u, par), None)),
                [v, w] => {
                    let hv = self.hessian(v, par);
                    let sum = (&hv + self.hessian(w, par)).llt(Side::Lower).ok()?;
                    let mut m = hv.clone();
                    solve_lower_triangular_in_place(sum.L(), m.as_mut(), par);
                    let mut schur = hv.clone();
                    lower_product(schur.as_mut(), m.transpose(), m.as_ref(), -1.0, par);
                    Some((schur, Some(Elimination { sum, hv })))
                }
                _ => unreachable!("one or two blocks per pattern"),
            }
        };
        let per = self.per_pattern();
        let reduced: Vec<_> = match side_by_side {
            true => self
                .blocks
                .par_chunks(per)
                .map(pattern)
                .collect::<Option<_>>()?,
            false => self
                .blocks
                .chunks(per)
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

    /// The Hessian of psi plus X^T diag(lambda / r) X for block `b`, both triangles.
    fn hessian(&self, b: &Block, par: Par) -> Mat<f64> {
        let x = self.program.x;
        let (n, d) = (x.nrows(), x.ncols());
        let beta = self.program.beta;
        // psi'' = (beta / s) (I - beta / (s Q) v v^T), Q = beta s - mu.
        let s = self.epigraph(&b.v);
        let q = beta * s - self.mu;
        let mut h = Mat::<f64>::from_fn(d, d, |p, r| {
            let identity = if p == r { beta / s } else { 0.0 };
            identity - beta * beta / (s * s * q) * b.v[p] * b.v[r]
        });
        if !b.signs.is_empty() {
            let weights: Vec<f64> = (0..n)
                .map(|j| match b.live(j) {
                    true => (b.lambda[j] / b.r[j]).sqrt(),
                    false => 0.0,
                })
                .collect();
            for o in (0..n).step_by(ROW_CHUNK) {
                let rows = ROW_CHUNK.min(n - o);
                let scaled = Mat::<f64>::from_fn(rows, d, |j, p| x[(o + j, p)] * weights[o + j]);
                lower_product(h.as_mut(), scaled.transpose(), scaled.as_ref(), 1.0, par);
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
        // Per block its gradient beta v / s - C^T (target / r).
        let gradients: Vec<Mat<f64>> = self
            .blocks
            .iter()
            .zip(infeasible.iter().zip(targets))
            .map(|(b, (e, target))| {
                let s = self.epigraph(&b.v);
                let mut g = Mat::<f64>::from_fn(d, 1, |p, _| beta * b.v[p] / s);
                if !b.signs.is_empty() {
                    let ratio: Vec<f64> = (0..b.signs.len())
                        .map(|j| match b.live(j) {
                            true => (target[j] - b.lambda[j] * e[j]) / b.r[j],
                            false => 0.0,
                        })
                        .collect();
                    g -= x.transpose() * self.weighted(b, &ratio);
                }
                g
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
        let x = self.program.x;
        self.blocks
            .iter()
            .zip(dv.iter().zip(infeasible.iter().zip(targets)))
            .map(|(b, (step, (e, target)))| {
                let direction: Vec<f64> = (0..step.nrows()).map(|p| step[(p, 0)]).collect();
                let dr: Vec<f64> = slacks(x, &b.signs, &direction)
                    .iter()
                    .zip(e)
                    .map(|(c, e)| c + e)
                    .collect();
                let dl = (0..b.signs.len())
                    .map(|j| match b.live(j) {
                        true => target[j] / b.r[j] - b.lambda[j] - b.lambda[j] / b.r[j] * dr[j],
                        false => 0.0,
                    })
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
                for j in (0..b.signs.len()).filter(|&j| b.live(j)) {
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

    /// One predictor-corrector step; `None` when its system does not factor or `interrupted` holds
    /// during the factorization.
    fn step(&mut self, interrupted: &dyn Fn() -> bool) -> Option<()> {
        let factored = self.factor(interrupted)?;
        let fit = self.fit();
        let infeasible: Vec<Vec<f64>> = self.blocks.iter().map(|b| self.infeasibility(b)).collect();
        let zeros: Vec<Vec<f64>> = self
            .blocks
            .iter()
            .map(|b| vec![0.0; b.signs.len()])
            .collect();
        let rows = self.rows();
        let (sigma, chosen) = if rows == 0 {
            let chosen = self.move_for(&factored, &fit, &infeasible, &zeros);
            (GATED_REDUCTION, chosen)
        } else {
            // Predictor: the affine step (targets zero) says how far mu can fall.
            let mu = self.complementarity_rows() / rows as f64;
            let affine_step = self.move_for(&factored, &fit, &infeasible, &zeros);
            let Move { dr, dl, alpha, .. } = &affine_step;
            let affine: f64 = self
                .blocks
                .iter()
                .zip(dr.iter().zip(dl))
                .map(|(b, (dr, dl))| {
                    (0..b.signs.len())
                        .filter(|&j| b.live(j))
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
            let corrector = self.move_for(&factored, &fit, &infeasible, &targets);
            let chosen = self.centred(&factored, &fit, &infeasible, targets, corrector, sigma * mu);
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

#[cfg(test)]
mod tests {
    use super::{
        dual_vectors, gram, largest_eigenvalue, tightened_multipliers, Program, Restricted, Shape,
        Unsolved,
    };
    use faer::{Mat, Par};
    use std::time::{Duration, Instant};

    fn solve(x: &Mat<f64>, y: &[f64], beta: f64, relu: bool) -> Restricted {
        solve_until(x, y, beta, relu, &|| false, None).expect("solvable")
    }

    fn solve_until(
        x: &Mat<f64>,
        y: &[f64],
        beta: f64,
        relu: bool,
        interrupted: &dyn Fn() -> bool,
        deadline: Option<Instant>,
    ) -> Result<Restricted, Unsolved> {
        let (n, d) = (x.nrows(), x.ncols());
        let mask = Mat::<f64>::from_fn(n, 1, |_, _| 1.0);
        let blocks = if relu { 2 } else { 1 };
        let cold = Restricted {
            points: vec![vec![vec![0.0; d]; blocks]],
            multipliers: vec![vec![vec![0.0; if relu { n } else { 0 }]; blocks]],
        };
        let program = Program {
            x,
            mask: &mask,
            y,
            beta,
            par: faer::get_global_parallelism(),
            memory: f64::INFINITY,
        };
        program.solve(&[0], relu, cold, 1e-12, interrupted, deadline)
    }

    fn assert_close(found: &[f64], expected: &[f64], what: &str) {
        assert_within(found, expected, 1e-7, what);
    }

    fn assert_within(found: &[f64], expected: &[f64], tolerance: f64, what: &str) {
        for (f, e) in found.iter().zip(expected) {
            assert!(
                (f - e).abs() < tolerance,
                "{what}: found {found:?}, expected {expected:?}"
            );
        }
    }

    /// The strict upper triangle and the diagonal hold X^T diag(m_i m_j) X in block (i, j), also
    /// for patterns that share no row (the last is the complement of the first); the flops count
    /// the rows each block was formed from.
    #[test]
    fn the_gram_matrix_holds_every_block_of_the_masked_data() {
        let (n, d, p) = (137, 3, 4);
        let x = Mat::<f64>::from_fn(n, d, |j, q| ((j * 7 + q * 13) % 17) as f64 / 17.0 - 0.5);
        let masks = Mat::<f64>::from_fn(n, p, |j, i| match i {
            3 => f64::from(u8::from(j % 2 == 1)),
            _ => f64::from(u8::from((j + i) % (i + 2) == 0)),
        });
        let formed = gram(&x, &masks, Par::Seq, &|_, _| None).expect("not interrupted");
        let (system, diagonal, flops) = (formed.upper, formed.diagonal, formed.flops);
        let shared = |i: usize, k: usize| {
            (0..n)
                .filter(|&j| masks[(j, i)] * masks[(j, k)] != 0.0)
                .count()
        };
        let rows: usize = (0..p)
            .flat_map(|i| (i..p).map(move |k| (i, k)))
            .map(|(i, k)| shared(i, k))
            .sum();
        assert_eq!(shared(0, 3), 0, "the complementary patterns share rows");
        assert_eq!(flops, (rows * d * d) as f64);
        for (q, r) in (0..p * d).flat_map(|q| (0..p * d).map(move |r| (q, r))) {
            let (i, a, k, b) = (q / d, q % d, r / d, r % d);
            let expected: f64 = (0..n)
                .map(|j| masks[(j, i)] * masks[(j, k)] * x[(j, a)] * x[(j, b)])
                .sum();
            let found = match q.cmp(&r) {
                std::cmp::Ordering::Less => system[(q, r)],
                std::cmp::Ordering::Equal => diagonal[q],
                std::cmp::Ordering::Greater => system[(r, q)],
            };
            assert!(
                (found - expected).abs() < 1e-9,
                "entry ({q}, {r}): {found} instead of {expected}"
            );
        }
        let stopped = gram(&x, &masks, Par::Seq, &|_, _| Some(Unsolved::Interrupted));
        assert_eq!(stopped.err(), Some(Unsolved::Interrupted));
    }

    /// Data with no structure to it: a fixed pseudo-random matrix of entries in [-0.5, 0.5).
    fn scattered(rows: usize, cols: usize, seed: usize) -> Mat<f64> {
        Mat::from_fn(rows, cols, |j, q| {
            ((j * 37 + q * 101 + seed * 13) % 97) as f64 / 97.0 - 0.5
        })
    }

    /// The power iteration's estimate bounds the largest eigenvalue of X^T X (faer's symmetric
    /// eigensolver) from above, within its margin.
    #[test]
    fn the_largest_eigenvalue_is_bounded_within_its_margin() {
        let x = scattered(40, 6, 1);
        let gram = x.transpose() * &x;
        let exact = gram
            .self_adjoint_eigenvalues(faer::Side::Lower)
            .expect("symmetric")
            .into_iter()
            .fold(0.0, f64::max);
        let estimate = largest_eigenvalue(&x);
        assert!(
            estimate >= exact && estimate <= 1.05 * exact * (1.0 + 1e-9),
            "{estimate} for {exact}"
        );
        assert_eq!(largest_eigenvalue(&Mat::zeros(3, 2)), 0.0);
    }

    /// The tightened multipliers solve min_{lambda >= 0} 1/2 sum_b ||h_b||^2: they meet its
    /// optimality conditions (lambda >= 0, gradient g = signs o (X h) >= 0, lambda_j g_j = 0), which
    /// the start (zero) does not, and rows without a constraint keep a zero multiplier.
    #[test]
    fn tightened_multipliers_meet_their_optimality_conditions() {
        let (n, d, blocks) = (30, 5, 3);
        let x = scattered(n, d, 2);
        let fixed = scattered(d, blocks, 3);
        let signs = Mat::<f64>::from_fn(n, blocks, |j, b| match (j + b) % 5 {
            0 => 0.0,
            1 | 3 => -1.0,
            _ => 1.0,
        });
        let lambdas = tightened_multipliers(
            &x,
            &fixed,
            &signs,
            Mat::zeros(n, blocks),
            5000,
            largest_eigenvalue(&x),
        );
        let gradient = |lambdas: &Mat<f64>| {
            let xh = &x * dual_vectors(&x, &fixed, &signs, lambdas);
            Mat::<f64>::from_fn(n, blocks, |j, b| signs[(j, b)] * xh[(j, b)])
        };
        let start = gradient(&Mat::zeros(n, blocks));
        assert!(
            (0..n).any(|j| (0..blocks).any(|b| start[(j, b)] < -1e-3)),
            "zero multipliers are already optimal"
        );
        let g = gradient(&lambdas);
        for (j, b) in (0..n).flat_map(|j| (0..blocks).map(move |b| (j, b))) {
            let (lambda, g) = (lambdas[(j, b)], g[(j, b)]);
            assert!(lambda >= 0.0, "lambda {lambda} at ({j}, {b})");
            if signs[(j, b)] == 0.0 {
                assert_eq!(lambda, 0.0, "row without a constraint at ({j}, {b})");
                continue;
            }
            assert!(g >= -1e-8, "gradient {g} at ({j}, {b})");
            assert!(
                (lambda * g).abs() <= 1e-8,
                "lambda {lambda}, gradient {g} at ({j}, {b})"
            );
        }
    }

    /// With orthonormal columns, min 1/2 ||X u - X c||^2 + beta ||u|| is solved by group
    /// soft-thresholding: u = (1 - beta / ||c||) c. The method stops on its certified gap (1e-12),
    /// which bounds the objective's error; the point's is of its square root.
    #[test]
    fn gated_block_is_soft_thresholded() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let x = Mat::<f64>::from_fn(3, 2, |j, q| [[s, 0.0], [s, 0.0], [0.0, 1.0]][j][q]);
        let c = [3.0, -4.0];
        let y: Vec<f64> = (0..3)
            .map(|j| x[(j, 0)] * c[0] + x[(j, 1)] * c[1])
            .collect();
        let solved = solve(&x, &y, 1.0, false);
        assert_within(&solved.points[0][0], &[3.0 * 0.8, -4.0 * 0.8], 1e-5, "u");
    }

    /// X = I (two rows), every row in the pattern: the cones are the positive quadrant, and
    /// y = (c1, -c2) with c1, c2 > beta is fitted by v = (c1 - beta, 0), w = (0, c2 - beta), each
    /// with one active row whose multiplier is beta (from the optimality conditions
    /// X^T z + X^T lambda_v = beta v / ||v||, -X^T z + X^T lambda_w = beta w / ||w||, z = (beta, -beta)).
    #[test]
    fn relu_blocks_meet_their_active_rows_with_the_known_multipliers() {
        let x = Mat::<f64>::identity(2, 2);
        let beta = 0.5;
        let solved = solve(&x, &[2.0, -3.0], beta, true);
        assert_close(&solved.points[0][0], &[1.5, 0.0], "v");
        assert_close(&solved.points[0][1], &[0.0, 2.5], "w");
        assert_close(&solved.multipliers[0][0], &[0.0, beta], "lambda_v");
        assert_close(&solved.multipliers[0][1], &[beta, 0.0], "lambda_w");
    }

    /// A solve interrupted while it forms its Gram matrix returns nothing; one interrupted after
    /// that takes no step and returns its start (here zero).
    #[test]
    fn an_interrupted_solve_returns_where_it_is() {
        let x = Mat::<f64>::identity(2, 2);
        let (y, beta) = ([2.0, -3.0], 0.5);
        let stopped = solve_until(&x, &y, beta, true, &|| true, None);
        assert_eq!(stopped.err(), Some(Unsolved::Interrupted));
        // One pattern: one block of the Gram matrix, then the test before the first step.
        let calls = std::cell::Cell::new(0);
        let after_gram = || {
            calls.set(calls.get() + 1);
            calls.get() > 1
        };
        let solved = solve_until(&x, &y, beta, true, &after_gram, None).expect("a point");
        assert_close(&solved.points[0][0], &[0.0, 0.0], "v");
        assert_close(&solved.points[0][1], &[0.0, 0.0], "w");
    }

    /// A solve whose steps would end after its deadline (here one already past) takes none and
    /// says how long they would take where no time is left; with time to spare it solves.
    #[test]
    fn a_solve_that_cannot_end_before_its_deadline_takes_no_step() {
        let x = Mat::<f64>::identity(2, 2);
        let (y, beta) = ([2.0, -3.0], 0.5);
        let never = || false;
        let late = solve_until(&x, &y, beta, true, &never, Some(Instant::now())).err();
        let Some(Unsolved::Late { seconds, left }) = late else {
            panic!("a solve past its deadline returned {late:?}");
        };
        assert!(
            seconds > 0.0 && left == 0.0,
            "{seconds} s needed, {left} s left"
        );
        let later = Instant::now() + Duration::from_secs(3600);
        let solved = solve_until(&x, &y, beta, true, &never, Some(later)).expect("solved");
        assert_close(&solved.points[0][0], &[1.5, 0.0], "v");
    }

    /// Through the capacitance matrix (4 rows, two patterns of 12 features) there is no Gram matrix
    /// to time: the first step is timed instead, and a solve whose steps would end after its
    /// deadline returns nothing, as does one interrupted before its first step; with time to spare
    /// it reaches its certified gap.
    #[test]
    fn a_solve_through_the_capacitance_matrix_keeps_its_deadline() {
        let (n, d) = (4, 12);
        let shape = |memory| Shape {
            n,
            d,
            patterns: 2,
            relu: true,
            memory,
        };
        assert!(shape(f64::INFINITY).through_samples());
        // Where the capacitance matrix's memory is not left, the steps factor densely.
        assert!(!shape(shape(f64::INFINITY).bytes() - 1.0).through_samples());
        let x = Mat::<f64>::from_fn(n, d, |j, q| ((j * 5 + q * 3) % 7) as f64 / 7.0 - 0.4);
        let mask = Mat::<f64>::from_fn(n, 2, |j, i| f64::from(u8::from((j + i) % 2 == 0)));
        let y = [1.0, -0.5, 0.3, 0.8];
        let program = Program {
            x: &x,
            mask: &mask,
            y: &y,
            beta: 0.1,
            par: faer::Par::Seq,
            memory: f64::INFINITY,
        };
        let cold = || Restricted {
            points: vec![vec![vec![0.0; d]; 2]; 2],
            multipliers: vec![vec![vec![0.0; n]; 2]; 2],
        };
        let solve = |deadline| program.solve(&[0, 1], true, cold(), 1e-9, &|| false, deadline);
        assert!(matches!(
            solve(Some(Instant::now())).err(),
            Some(Unsolved::Late { .. })
        ));
        let stopped = program.solve(&[0, 1], true, cold(), 1e-9, &|| true, None);
        assert_eq!(stopped.err(), Some(Unsolved::Interrupted));
        let later = Instant::now() + Duration::from_secs(3600);
        assert!(solve(Some(later)).is_ok());
    }
}
