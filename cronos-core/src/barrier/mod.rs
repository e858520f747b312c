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
//! Gondzio's centrality correctors lengthen it, on the same factorization: [`Path::centred`]).
//! Where the rows' work dominates a step (many rows of few features), a block works on the rows
//! its start says may be active and rows its point violates join at any step ([`working_rows`]):
//! rows left out have zero multipliers, so the dual point, and the certificate, are those of the
//! whole program, and the point ends feasible on every row. The group norm is replaced by its
//! second-order-cone barrier at the same parameter mu with the epigraph variable eliminated in closed form,
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
//!
//! The method by file: this one holds the program, its iterate and the loop ([`Program::solve`]);
//! `shape` estimates a method's cost and memory, `gram` forms the Gram matrix of the masked data,
//! `path` measures the iterate, `step` takes one predictor-corrector step, and `dual` certifies
//! the iterate and tightens its multipliers.

mod dual;
mod gram;
mod path;
mod shape;
mod step;

pub(crate) use shape::Shape;

use dual::largest_eigenvalue;
use faer::{Mat, Par};
use gram::{gram, gram_cost};
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
/// The share of a block's rows, and the rows per feature at least, that the method starts working
/// on ([`working_rows`]).
const WORKING_SHARE: f64 = 0.1;
const WORKING_PER_FEATURE: usize = 4;
/// The infeasibility (relative to the largest slack) at which a method whose working rows grew
/// may stop: rows join violated, and a method that stopped at the tolerance's infeasibility left
/// them violated by about that much (relative constraint violation 2.2e-5 on all 60,000 PCA-50
/// Fashion-MNIST images and 3.7e-5 on the 12,000 two-class raw-pixel images with P = 4, against
/// 6.5e-8 and 0 with every row; 7.6e-8 and 5.0e-8 with this).
const JOINED_FEASIBILITY: f64 = 1e-8;
/// Rows of X scaled at a time in a block's Hessian: its temporary is this many rows, not n (on
/// 12,000 rows of 784 pixels, 6 MB instead of 75 MB for each thread).
const ROW_CHUNK: usize = 1024;

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

/// One block: the cone signs 2 d_j - 1 of every row (`cone`: zero on rows with x_j = 0, whose
/// constraint holds with equality and has no interior; empty for the gated program), the rows the
/// method works on (`rows`, rows with a constraint, see [`working_rows`]) and their signs, slacks and
/// multipliers, and its point. Rows left out have zero multipliers.
struct Block {
    cone: Vec<f64>,
    rows: Vec<usize>,
    signs: Vec<f64>,
    v: Vec<f64>,
    r: Vec<f64>,
    lambda: Vec<f64>,
}

impl Block {
    /// Values of the working rows as values of every row (zero on the others).
    fn scattered(&self, values: &[f64]) -> Vec<f64> {
        let mut all = vec![0.0; self.cone.len()];
        self.scatter(values, &mut all);
        all
    }

    /// Writes values of the working rows into `all` (one value per row) at their rows.
    fn scatter(&self, values: &[f64], all: &mut [f64]) {
        for (&j, value) in self.rows.iter().zip(values) {
            all[j] = *value;
        }
    }
}

/// The working rows of a block whose rows have cone `signs`, `slacks` and `multipliers` at the start:
/// where the rows' work dominates a step ([`Shape::rows_dominate`]), the rows with a positive
/// multiplier and the [`WORKING_SHARE`] (at least [`WORKING_PER_FEATURE`] times `d`) with the
/// smallest slacks; otherwise every row with a constraint. Rows far inside their cone stay inactive
/// near a start close to the optimum and cost each step their share of its Hessians and products;
/// rows the point violates join before each step ([`Path::join_violated`]). All 60,000
/// Fashion-MNIST training images on 50 principal components, ten outputs, P = 3 (`cronos fit
/// --pca 50 --neurons 3 --beta 0.376 --tol 1e-3`): 39.9 s instead of 70.2 s with every row, the
/// same 161 ADMM iterations, certified gap 2.2e-4 (2.9e-4), relative violation 7.6e-8 (7.5e-8). On
/// raw pixels, where the factorization dominates, a quarter of the rows (12,000 x 784, P = 16;
/// rows then joined only once the method had converged) took longer than the solve with every row.
fn working_rows(
    signs: &[f64],
    slacks: &[f64],
    multipliers: &[f64],
    d: usize,
    shape: &Shape,
) -> Vec<usize> {
    let live: Vec<usize> = (0..signs.len()).filter(|&j| signs[j] != 0.0).collect();
    let keep = ((WORKING_SHARE * live.len() as f64) as usize).max(WORKING_PER_FEATURE * d);
    if keep >= live.len() || !shape.rows_dominate() {
        return live;
    }
    let mut sorted: Vec<f64> = live.iter().map(|&j| slacks[j]).collect();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted[keep];
    live.into_iter()
        .filter(|&j| slacks[j] <= cut || multipliers[j] > 0.0)
        .collect()
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
                blocks.push(Block {
                    cone: signs.clone(),
                    rows: Vec::new(),
                    signs: Vec::new(),
                    v,
                    r: Vec::new(),
                    lambda,
                });
            }
        }
        // Each block's working rows: those the start's slacks and multipliers say may be active.
        let all_slacks = cone_slacks(self.x, &stacked_points(d, &blocks), &blocks);
        for (b, slacks) in blocks.iter_mut().zip(all_slacks) {
            let rows = working_rows(&b.cone, &slacks, &b.lambda, d, &shape);
            b.signs = rows.iter().map(|&j| b.cone[j]).collect();
            b.r = rows.iter().map(|&j| slacks[j]).collect();
            b.lambda = rows.iter().map(|&j| b.lambda[j]).collect();
            b.rows = rows;
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
        // Whether rows have joined the working rows ([`Path::join_violated`]).
        let mut joined = false;
        while iterations < MAX_ITERATIONS {
            // Rows left out that the point violates join before it is measured.
            let cone = path.cone_slacks();
            if path.join_violated(&cone) {
                (joined, best, stalled) = (true, f64::INFINITY, 0);
            }
            let dual = path.dual_fit();
            let objective = path.objective(dual.f());
            let mut certified = path.certified_gap(objective, &dual);
            let infeasibility = path.infeasibility(&cone);
            let infeasible = path.largest_infeasibility(&infeasibility);
            // Multipliers that certify more than the iterate's own, if they were looked for.
            let mut tightened = None;
            let near = path.complementarity() <= TIGHTENING_FROM * gap * objective;
            if relu && infeasible <= gap && certified > gap && near {
                let lipschitz = *lipschitz.get_or_insert_with(|| largest_eigenvalue(self.x));
                let (better, lambdas) =
                    path.tightened(objective, &dual, tightening_steps, lipschitz);
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
            let feasible = match joined {
                true => gap.min(JOINED_FEASIBILITY),
                false => gap,
            };
            if infeasible <= feasible && (certified <= gap || stuck) {
                if let Some(lambdas) = tightened {
                    path.adopt(&lambdas);
                }
                break;
            }
            // An interruption, or a system that no longer factors (mu near rounding), ends the
            // method where it is.
            let started = Instant::now();
            if interrupted() || path.step(&dual.fit, &infeasibility, interrupted).is_none() {
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
                .map(|c| c.iter().map(|b| b.scattered(&b.lambda)).collect())
                .collect(),
        })
    }
}

/// The points of `blocks` (`d` values each) as the columns of one matrix.
fn stacked_points(d: usize, blocks: &[Block]) -> Mat<f64> {
    Mat::from_fn(d, blocks.len(), |p, k| blocks[k].v[p])
}

/// Per block the slacks (2 d_j - 1) x_j^T v of its working rows for its column v of `points` (`d x
/// blocks`; see [`cone_slacks`]).
fn slacks(x: &Mat<f64>, points: &Mat<f64>, blocks: &[Block]) -> Vec<Vec<f64>> {
    (cone_slacks(x, points, blocks).into_iter().zip(blocks))
        .map(|(all, b)| b.rows.iter().map(|&j| all[j]).collect())
        .collect()
}

/// Per block the slacks (2 d_j - 1) x_j^T v of all its rows for its column v of `points` (`d x
/// blocks`), from one product with X for all blocks (empty for gated blocks, which have no cone).
fn cone_slacks(x: &Mat<f64>, points: &Mat<f64>, blocks: &[Block]) -> Vec<Vec<f64>> {
    if blocks.iter().all(|b| b.cone.is_empty()) {
        return vec![Vec::new(); blocks.len()];
    }
    let xv = x * points;
    blocks
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let products = xv.col_as_slice(k);
            b.cone.iter().zip(products).map(|(w, a)| w * a).collect()
        })
        .collect()
}

/// How the steps solve their reduced systems ([`Shape::through_samples`]).
enum Reduced {
    /// Densely: `system` holds the Gram matrix of the masked data in its strict upper triangle (see
    /// [`gram()`]) and the last step's factor in its lower.
    Dense {
        system: Mat<f64>,
        gram_diagonal: Vec<f64>,
    },
    /// Through the capacitance matrix, factored by each step ([`step::Factored`]).
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

#[cfg(test)]
mod tests {
    use super::{working_rows, Program, Restricted, Shape, Unsolved};
    use faer::Mat;
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

    /// Where the rows' work dominates a step, a block starts on the rows with the smallest slacks
    /// (a tenth, at least four per feature) and those with a positive multiplier, never on a row
    /// without a constraint; otherwise on every row with a constraint.
    #[test]
    fn a_block_starts_on_the_rows_that_may_be_active() {
        let (n, d) = (1000, 2);
        let signs: Vec<f64> = (0..n).map(|j| if j == 3 { 0.0 } else { 1.0 }).collect();
        let slacks: Vec<f64> = (0..n).map(|j| j as f64).collect();
        let mut multipliers = vec![0.0; n];
        multipliers[500] = 1.0;
        let shape = |n, d, patterns| Shape {
            n,
            d,
            patterns,
            relu: true,
            memory: f64::INFINITY,
        };
        assert!(shape(n, d, 1).rows_dominate());
        let rows = working_rows(&signs, &slacks, &multipliers, d, &shape(n, d, 1));
        let expected: Vec<usize> = (0..=100).filter(|&j| j != 3).chain([500]).collect();
        assert_eq!(rows, expected);
        // 1,000 rows of 784 features with 16 patterns: the factorization dominates.
        assert!(!shape(n, 784, 16).rows_dominate());
        let all = working_rows(&signs, &slacks, &multipliers, 784, &shape(n, 784, 16));
        assert_eq!(all, (0..n).filter(|&j| j != 3).collect::<Vec<_>>());
    }

    /// A start far from the optimum works on rows the optimum leaves slack and lacks rows it
    /// needs: those join when the point violates them, and the method ends at the optimum of the
    /// whole program (that of a cold start, whose working rows are all rows: its slacks tie at
    /// zero), feasible on every row.
    #[test]
    fn rows_the_optimum_needs_join_and_the_solve_ends_feasible_on_every_row() {
        let (n, d, beta) = (600, 3, 0.05);
        let mut state = 7u64;
        let x = Mat::<f64>::from_fn(n, d, |_, _| {
            state = (state.wrapping_mul(6364136223846793005)).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        });
        let dot = |j: usize, v: &[f64]| (0..d).map(|p| x[(j, p)] * v[p]).sum::<f64>();
        let gate = [1.0, 0.5, -0.3];
        let mask = Mat::<f64>::from_fn(n, 1, |j, _| f64::from(u8::from(dot(j, &gate) >= 0.0)));
        let y: Vec<f64> = (0..n).map(|j| dot(j, &[0.2, 1.0, 0.4]).max(0.0)).collect();
        let program = Program {
            x: &x,
            mask: &mask,
            y: &y,
            beta,
            par: faer::Par::Seq,
            memory: f64::INFINITY,
        };
        let start = |v: [f64; 3], w: [f64; 3]| Restricted {
            points: vec![vec![v.to_vec(), w.to_vec()]],
            multipliers: vec![vec![vec![0.0; n]; 2]],
        };
        let solve = |from: Restricted, gap: f64| {
            (program.solve(&[0], true, from, gap, &|| false, None)).expect("solvable")
        };
        let objective = |solved: &Restricted| {
            let [v, w] = [&solved.points[0][0], &solved.points[0][1]];
            let a: Vec<f64> = v.iter().zip(w).map(|(v, w)| v - w).collect();
            let fit: f64 = (0..n)
                .map(|j| (mask[(j, 0)] * dot(j, &a) - y[j]).powi(2))
                .sum();
            let norm = |u: &[f64]| u.iter().map(|a| a * a).sum::<f64>().sqrt();
            0.5 * fit + beta * (norm(v) + norm(w))
        };
        let signs: Vec<f64> = (0..n).map(|j| 2.0 * mask[(j, 0)] - 1.0).collect();
        let cold = solve(start([0.0; 3], [0.0; 3]), 1e-10);
        let (v, w) = ([0.0, 0.0, 3.0], [3.0, 0.0, 0.0]);
        // The rows the warm start works on lack some that are active at the optimum.
        let shape = Shape {
            n,
            d,
            patterns: 1,
            relu: true,
            memory: f64::INFINITY,
        };
        let zeros = vec![0.0; n];
        let slacks: Vec<f64> = (0..n).map(|j| signs[j] * dot(j, &v)).collect();
        let working = working_rows(&signs, &slacks, &zeros, d, &shape);
        let largest = cold.multipliers[0][0].iter().fold(0.0f64, |a, &l| a.max(l));
        let needed = (0..n).filter(|&j| cold.multipliers[0][0][j] > 1e-6 * largest);
        assert!(needed.clone().count() > 0);
        assert!(needed.into_iter().any(|j| !working.contains(&j)));
        // Rows that joined end feasible also where the gap asked for is loose.
        for gap in [1e-10, 1e-3] {
            let warm = solve(start(v, w), gap);
            let (found, expected) = (objective(&warm), objective(&cold));
            assert!(
                (found - expected).abs() <= gap.max(1e-8) * expected,
                "gap {gap}: objective {found} against {expected} from a cold start"
            );
            for point in &warm.points[0] {
                let products: Vec<f64> = (0..n).map(|j| signs[j] * dot(j, point)).collect();
                let scale = products.iter().fold(0.0f64, |a, p| a.max(p.abs()));
                let worst = products.iter().fold(0.0f64, |a, &p| a.min(p));
                assert!(
                    worst >= -1e-8 * scale,
                    "gap {gap}: a row violated by {worst} ({scale})"
                );
            }
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

    /// A block started far out along a direction the fit does not see (X's second column is zero)
    /// must shrink to zero there: with X = diag(1, 0), y = (3, 0) and beta = 1 the optimum is
    /// (2, 0). Along its point psi is almost flat: with psi's own curvature the steps from
    /// (2, 1e3) overshoot zero further each time (the second coordinate ended near 7e50); with the
    /// curvature raised where the step would pass zero ([`Path::hessian`]) the method reaches
    /// the optimum.
    #[test]
    fn a_block_far_out_along_an_unseen_direction_shrinks_to_the_optimum() {
        let x = Mat::<f64>::from_fn(2, 2, |j, q| f64::from(u8::from(j == 0 && q == 0)));
        let mask = Mat::<f64>::from_fn(2, 1, |_, _| 1.0);
        let y = [3.0, 0.0];
        let program = Program {
            x: &x,
            mask: &mask,
            y: &y,
            beta: 1.0,
            par: faer::Par::Seq,
            memory: f64::INFINITY,
        };
        let start = Restricted {
            points: vec![vec![vec![2.0, 1e3]]],
            multipliers: vec![vec![vec![]]],
        };
        let solved = program
            .solve(&[0], false, start, 1e-12, &|| false, None)
            .expect("solvable");
        assert_within(&solved.points[0][0], &[2.0, 0.0], 1e-5, "u");
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
