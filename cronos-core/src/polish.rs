//! Polishing: the exact optimum on the blocks that ADMM has found nonzero, and its multipliers.
//!
//! ADMM identifies which groups are nonzero long before its iterates are accurate, and with a small
//! beta its dual residual must fall far below beta before its own multipliers certify anything (the
//! certificate's infeasibility is the dual residual over beta). As OSQP does for quadratic
//! programs, the polish fixes that structure and solves what is left exactly: per output, the
//! program on ADMM's nonzero blocks (on all of them when that costs little more, see
//! [`WHOLE_COST`]), with all their cone rows, by an interior-point method
//! ([`crate::barrier`]). Its point is feasible to rounding and its dual pair (z from its prediction,
//! the barrier's multipliers on the blocks it solved, ADMM's on the others) certifies it whenever
//! ADMM's groups are the optimal ones; the caller keeps the point only if it is better than ADMM's.
//! Host linear algebra in f64 (faer), sized by the active blocks (one dense matrix of their width,
//! d columns per pattern, or of the rows where there are fewer) and bounded by an estimated cost and
//! by what the memory budget leaves.
//! The stop flag and the time limit end it between interior-point steps; what it has reached by then
//! still counts (its dual point bounds the optimum whatever its accuracy).

use crate::barrier;
use crate::certificate::{host_dual, DualPoint, HostRows};
use crate::host;
use crate::operator::ConvexOperator;
use crate::rows::Rows;
use crate::Formulation;
use burn::prelude::*;
use faer::{Mat, Par};
use rayon::prelude::*;
use std::time::Instant;

/// Floating-point operations one polish may cost, all outputs together (see
/// [`barrier::Shape::cost`]), in a solve without a time limit, unless the iterations the solve has
/// left would cost more (with a time limit, each output's polish is skipped when its steps would
/// not end in time, see [`barrier::Program::solve`]): about a minute of interior-point steps on 2
/// cores. On raw pixels ADMM's own dual point bounds almost nothing, so the iterations a skipped
/// polish leaves to ADMM buy no certificate: `cronos fit` with its defaults (the embedded two-class
/// images, 2,000 x 784, 16 patterns, estimated 1.8e12), whose 2,000 iterations cost less, ran them
/// all (22 s) to a certified gap of 0.89 under the bound of 6e11 this was before; polished, it is
/// optimal after 27 s. All 12,000 two-class raw-pixel images with 4 patterns (estimated 1.3e12) are
/// optimal after 32 s; with 16 patterns (1.4e13) the iterations' PCG u-steps, about 45 products
/// with A each, make the iterations left cost more than the polish (see
/// [`crate::admm::Admm::iteration_flops`]), which certifies the solve after 228.5 s.
const MAX_FLOPS: f64 = 3e12;

/// Estimated floating-point operations of one output's polish (see [`barrier::Shape::cost`]) up to
/// which the outputs are polished side by side, one per thread, however few they are. Ten outputs of
/// 2,000 x 50 data with 3 patterns each (5e8 each) took 0.87 s one after the other, their steps too
/// small for a parallel factorization to keep two cores busy. Larger outputs go side by side when
/// there are at least as many as threads: much of a step on many rows (its products with X and its
/// work per row) keeps one thread busy, not all of them. On all 60,000 Fashion-MNIST training images
/// (PCA-50, ten outputs, P = 3, 1.5e10 each, beta 0.376) the ten polishes took 58 s one after the
/// other and about 47 s two at a time (the solve 84 s and 74 s).
const SIDE_BY_SIDE_FLOPS: f64 = 1e10;

/// How many times the cost of the program on ADMM's nonzero patterns the polish pays to solve an
/// output's whole program instead, which needs no guess of the nonzero patterns. On all 60,000
/// Fashion-MNIST training images (PCA-50, ten outputs, P = 3, beta 174.6) the first polish found
/// two of the three patterns nonzero in some outputs and certified a gap of only 0.17 (all 60
/// neurons are active at the optimum): the solve polished again and ended at its 300-s limit with a
/// gap of 4.9e-2; with every pattern (1.5 times the cost there) it was optimal after 125 s. Only
/// when the whole programs fit the memory left and the cost a solve affords.
const WHOLE_COST: f64 = 2.0;

/// Relative residuals below which ADMM's nonzero patterns are worth polishing. The first check below
/// 1e-2 came after 51 to 147 iterations on the benchmark problems and its polish certified them to
/// 1e-6 at once. Polishing at the first check (below 1e-1, iteration 21) certified them as well and
/// saved up to a fifth of their time, but on larger cold problems it gambles a long polish on
/// patterns ADMM has not settled yet (1,000 x 784 raw pixels, 16 patterns: no iteration for over a
/// minute), so only a warm start, which brings the patterns of a nearby solution, polishes that
/// early ([`WARM_POLISH_RESIDUAL`]), or a solve whose iterations have already cost as much as the
/// polish would (see [`PolishSchedule::due`]).
const POLISH_RESIDUAL: f64 = 1e-2;
/// [`POLISH_RESIDUAL`] of a warm-started solve, and of a solve whose iterations have paid for a
/// polish. The two-layer task's regularization path of `cronos compare` (ten outputs, each solve
/// warm-started from the last) took 5.5 s instead of 9.0 s, every solve certified at its first
/// polish.
const WARM_POLISH_RESIDUAL: f64 = 1e-1;
/// Factor by which the residuals must fall before the next polish...
const POLISH_SHRINK: f64 = 0.5;
/// ...or the iterations after which the structure is polished again anyway.
const POLISH_INTERVAL: usize = 100;

/// Share of the solve's time that polishing may take: after a polish the next waits at least
/// (1 - share) / share times its estimated cost in ADMM iterations.
const POLISH_SHARE: f64 = 0.25;

/// When a polish is worth its cost. A polish costs as much as tens to hundreds of ADMM iterations
/// (12 to 19 interior-point steps on the benchmark problems, each factoring a matrix of the patterns'
/// width or of the rows: about 3 s in all for 4 patterns of 784 features on 1,000 rows), and it
/// only gives something new once ADMM's structure has moved: after the residuals have halved, or
/// after [`POLISH_INTERVAL`] iterations; and never sooner than its cost allows ([`POLISH_SHARE`]).
pub(crate) struct PolishSchedule {
    /// Residuals below which polishing starts ([`POLISH_RESIDUAL`] or [`WARM_POLISH_RESIDUAL`]).
    threshold: f64,
    residual: f64,
    iteration: Option<usize>,
    spacing: usize,
}

impl PolishSchedule {
    /// The schedule of a solve, warm-started or not.
    pub(crate) fn new(warm: bool) -> Self {
        let threshold = match warm {
            true => WARM_POLISH_RESIDUAL,
            false => POLISH_RESIDUAL,
        };
        Self {
            threshold,
            residual: threshold,
            iteration: None,
            spacing: 0,
        }
    }

    /// Whether to polish at `iteration`, whose larger relative residual is `residual`; `paid` says
    /// whether the iterations so far have cost as much as polishing every output's whole program
    /// would ([`whole_cost`]); a `true` counts as the polish done.
    ///
    /// A solve whose iterations have paid for a polish polishes whatever its residuals, and again
    /// [`POLISH_INTERVAL`] iterations later: the polish then at most doubles the time spent (by
    /// the estimates), and the residuals may stay above [`POLISH_RESIDUAL`] for long. On all
    /// 60,000 Fashion-MNIST training images (PCA-50, ten outputs, P = 3, a tenth of the
    /// zero-solution beta) the dual residual stayed above 1e-1 for 300 iterations and, once rho
    /// had risen to 1,000 to make the point feasible, near 1e-2 for 1,000 more: the solve polished
    /// after 127 s and was optimal after 141 s; polishing at iteration 61, when its iterations had
    /// paid, it was optimal after 51 s.
    pub(crate) fn due(&mut self, iteration: usize, residual: f64, paid: bool) -> bool {
        let since = |gap: usize| self.iteration.is_none_or(|last| iteration >= last + gap);
        let waited = since(POLISH_INTERVAL);
        let due = since(self.spacing)
            && (residual <= self.residual || (waited && (paid || residual <= self.threshold)));
        if due {
            self.residual = residual.min(self.threshold) * POLISH_SHRINK;
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

/// The polished point (`d x B c`) and cone multipliers (`n x B c`, `None` for the gated program),
/// and their dual point evaluated on the host in f64 ([`host_dual`]).
pub(crate) struct Polished<B: Backend> {
    pub(crate) v: Tensor<B, 2>,
    pub(crate) mu: Option<Tensor<B, 2>>,
    pub(crate) dual: DualPoint<B>,
}

/// Why a polish that was due did not start (in [`crate::SolveReport::polish_skipped`] as text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Skipped {
    /// Its host matrices would need `needed` bytes where the memory budget leaves `left`.
    Memory { needed: f64, left: f64 },
    /// Without a time limit, its estimated cost exceeds what the solve affords (see [`MAX_FLOPS`]).
    Cost { estimated: f64, affordable: f64 },
    /// With a time limit, its interior-point method would need `seconds` (estimated at the rate its
    /// first work ran) where the limit leaves `left`.
    Time { seconds: f64, left: f64 },
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory { needed, left } => write!(
                f,
                "its matrices need {:.2} GB where the memory budget leaves {:.2} GB (a larger \
                 memory budget lets it run)",
                needed / 1e9,
                left.max(0.0) / 1e9
            ),
            Self::Cost {
                estimated,
                affordable,
            } => write!(
                f,
                "its estimated {estimated:.1e} flops exceed the {affordable:.1e} a solve without \
                 a time limit affords (a time limit that allows it, or more iterations, lets it run)"
            ),
            Self::Time { seconds, left } => write!(
                f,
                "its interior-point method would need about {seconds:.0} s ({:.0} steps at the \
                 rate measured as it started) where the time limit leaves {:.0} s (a longer time \
                 limit lets it run)",
                barrier::ESTIMATED_ITERATIONS,
                left.max(0.0)
            ),
        }
    }
}

/// What a polish may take: the duality gap, relative to the objective, to which it solves the
/// blocks it solves; the bytes of host memory it may use; the test that ends it early (checked
/// between interior-point steps); the solve's deadline, if it has a time limit; and the estimated
/// floating-point operations of the ADMM iterations the solve has left (see [`MAX_FLOPS`]), and
/// whether the solve is short (see [`Limits::affordable`]).
pub(crate) struct Limits<'a> {
    pub(crate) gap: f64,
    pub(crate) memory: f64,
    pub(crate) interrupted: &'a (dyn Fn() -> bool + Sync),
    pub(crate) deadline: Option<Instant>,
    pub(crate) flops_left: f64,
    pub(crate) short: bool,
}

impl Limits<'_> {
    /// Whether a polish of an estimated `cost` in floating-point operations may start: with a
    /// deadline always (the interior-point method then checks its steps against it), otherwise up
    /// to what [`Limits::affordable`] allows.
    fn afford(&self, cost: f64) -> bool {
        self.deadline.is_some() || cost <= self.affordable()
    }

    /// The flops a polish may cost without a deadline: [`MAX_FLOPS`] or the cost of the iterations
    /// left, whichever is more; in a short solve (fewer than [`crate::rho::SWEEP_MIN_BUDGET`]
    /// iterations, such as CRONOS-AM's 30-iteration head solves, which ask for an approximate
    /// answer quickly) only the latter. A head's polish (2,000 features of width 256, 10 patterns,
    /// estimated 1.4e11) would certify it but take 3.7 s of a 0.5 s solve.
    fn affordable(&self) -> f64 {
        match self.short {
            true => self.flops_left,
            false => MAX_FLOPS.max(self.flops_left),
        }
    }
}

/// Host bytes a polish of a point of `cols` columns on `op`'s data holds beside its interior-point
/// methods' own matrices: X, the mask, the point and its multipliers.
fn beside_bytes<B: Backend>(op: &ConvexOperator<B>, cols: usize) -> f64 {
    let (n, d) = (op.total_rows(), op.d());
    8.0 * (n * (d + op.patterns()) + (n + d) * cols) as f64
}

/// The shape of an output's program restricted to `patterns` of `op`'s patterns, whose method may
/// use `memory` bytes.
fn program_shape<B: Backend>(
    op: &ConvexOperator<B>,
    patterns: usize,
    memory: f64,
) -> barrier::Shape {
    let (n, d) = (op.total_rows(), op.d());
    barrier::Shape {
        n,
        d,
        patterns,
        relu: op.formulation() == Formulation::Relu,
        memory,
    }
}

/// Estimated floating-point operations of polishing the whole program of each of `outputs` outputs
/// within `memory` bytes: what a polish costs at most.
pub(crate) fn whole_cost<B: Backend>(op: &ConvexOperator<B>, outputs: usize, memory: f64) -> f64 {
    let method_memory = memory - beside_bytes(op, outputs * op.blocks());
    outputs as f64 * program_shape(op, op.patterns(), method_memory).cost()
}

/// Whether outputs of estimated `costs` are polished side by side, each on one of `threads`
/// threads: when there are several, each is small or they are at least as many as the threads (see
/// [`SIDE_BY_SIDE_FLOPS`]), and `budget` holds `memory` (one output's host bytes) for every thread.
fn side_by_side(costs: &[f64], threads: usize, memory: f64, budget: f64) -> bool {
    let outputs = costs.len();
    outputs > 1
        && (outputs >= threads || costs.iter().all(|&cost| cost <= SIDE_BY_SIDE_FLOPS))
        && memory * threads as f64 <= budget
}

/// Polishes the ADMM point `v` (`d x B c`) with cone multipliers `mu` (`n x B c`, ReLU program), for
/// targets `y` (`n x c`) and regularization `beta`, all in the solver's scaled units, output by
/// output within `limits` (side by side when they are small or many, see [`SIDE_BY_SIDE_FLOPS`]).
/// An output interrupted during its interior-point method keeps the method's last iterate (a valid
/// dual point, and a point the caller may reject); one interrupted before it, or whose method would
/// not end before the deadline, or fails (iterates that are not finite), keeps ADMM's point and
/// multipliers. The reason ([`Skipped`]) when the largest restricted problem would not fit the
/// memory limit, or, without a deadline, the estimated cost exceeds both [`MAX_FLOPS`] and the
/// iterations left (`limits.flops_left`), or, with one, no output was polished and one would not
/// have ended in time; `None` when no output was polished otherwise. Also returns the estimated
/// floating-point operations spent. In a sharded solve every peer calls this alike: the rows of
/// every peer are gathered, peer 0 polishes them and shares what it found (see [`crate::rows`]).
pub(crate) fn polish<B: Backend>(
    op: &ConvexOperator<B>,
    y: &Tensor<B, 2>,
    v: &Tensor<B, 2>,
    mu: Option<&Tensor<B, 2>>,
    beta: f64,
    limits: &Limits,
) -> Result<(Option<Polished<B>>, f64), Skipped> {
    let (n, d) = (op.total_rows(), op.d());
    let (blocks, p) = (op.blocks(), op.patterns());
    let cols = v.dims()[1];
    let c = cols / blocks;
    let vh = host::to_faer(v.clone());
    let relu = op.formulation() == Formulation::Relu;
    // Per output, the patterns with a nonzero block, and the point's columns of a pattern's blocks.
    let nonzero = |col: usize| (0..d).any(|r| vh[(r, col)] != 0.0);
    let columns = |i: usize, k: usize| match relu {
        true => vec![i * c + k, (p + i) * c + k],
        false => vec![i * c + k],
    };
    // Host memory of a polish of `patterns` patterns at most: the method's own matrices (within what
    // is left beside the rest), and X, the mask and the point and multipliers.
    let beside = beside_bytes(op, cols);
    let method_memory = limits.memory - beside;
    let shape = |patterns| program_shape(op, patterns, method_memory);
    let memory_of = |patterns| shape(patterns).bytes() + beside;
    let active: Vec<Vec<usize>> = (0..c)
        .map(|k| {
            (0..p)
                .filter(|&i| columns(i, k).into_iter().any(nonzero))
                .collect()
        })
        .collect();
    // Each output's whole program where it costs at most WHOLE_COST times its nonzero patterns'; the
    // nonzero patterns alone when the whole programs would not fit the memory left or the cost a
    // solve affords.
    let costs_of = |chosen: &[Vec<usize>]| -> Vec<f64> {
        chosen
            .iter()
            .map(|patterns| shape(patterns.len()).cost())
            .collect()
    };
    let whole = shape(p).cost();
    let widened: Vec<Vec<usize>> = active
        .iter()
        .map(
            |patterns| match whole <= WHOLE_COST * shape(patterns.len()).cost() {
                true => (0..p).collect(),
                false => patterns.clone(),
            },
        )
        .collect();
    let affordable = limits.afford(costs_of(&widened).iter().sum());
    let chosen = match memory_of(p) <= limits.memory && affordable {
        true => widened,
        false => active,
    };
    let widest = chosen.iter().map(Vec::len).max().unwrap_or(0);
    let memory = memory_of(widest);
    let costs = costs_of(&chosen);
    let cost: f64 = costs.iter().sum();
    if memory > limits.memory {
        return Err(Skipped::Memory {
            needed: memory,
            left: limits.memory,
        });
    }
    if !limits.afford(cost) {
        return Err(Skipped::Cost {
            estimated: cost,
            affordable: limits.affordable(),
        });
    }
    // Every row on one host: a sharded solve gathers its peers' rows on peer 0, which polishes them.
    let rows = op.rows();
    let (x, start) = rows.gather(op.x().clone());
    let (mask, _) = rows.gather(op.mask().clone());
    let (yh, _) = rows.gather(y.clone());
    // Patterns left out keep ADMM's multipliers, which the certificate then tightens (the gated
    // program has none).
    let mu_rows = if relu { n } else { 0 };
    let mu_admm = mu.map_or_else(|| Mat::zeros(mu_rows, cols), |m| rows.gather(m.clone()).0);
    let cone_scale = op.cone_scale();
    let threads = rayon::current_num_threads();
    let side_by_side = side_by_side(&costs, threads, memory, limits.memory);
    let par = match side_by_side {
        true => Par::Seq,
        false => faer::get_global_parallelism(),
    };
    // One output's restricted program, started from ADMM's point and multipliers (in the units of
    // (2 D_i - I) X); `None` when the method was not asked to start.
    let solve = |k: usize| -> Option<Result<barrier::Restricted, barrier::Unsolved>> {
        let patterns = &chosen[k];
        if patterns.is_empty() || (limits.interrupted)() {
            return None;
        }
        let target: Vec<f64> = (0..n).map(|j| yh[(j, k)]).collect();
        let program = barrier::Program {
            x: &x,
            mask: &mask,
            y: &target,
            beta,
            par,
            memory: method_memory,
        };
        let of = |i: usize, per: &dyn Fn(usize) -> Vec<f64>| {
            columns(i, k).into_iter().map(per).collect::<Vec<_>>()
        };
        let start = barrier::Restricted {
            points: patterns
                .iter()
                .map(|&i| of(i, &|col| (0..d).map(|r| vh[(r, col)]).collect()))
                .collect(),
            multipliers: patterns
                .iter()
                .map(|&i| match relu {
                    true => of(i, &|col| {
                        (0..n).map(|j| mu_admm[(j, col)] * cone_scale).collect()
                    }),
                    false => of(i, &|_| Vec::new()),
                })
                .collect(),
        };
        Some(program.solve(
            patterns,
            relu,
            start,
            limits.gap,
            limits.interrupted,
            limits.deadline,
        ))
    };
    let outcome = rows.is_first().then(|| {
        let solved: Vec<_> = match side_by_side {
            true => (0..c).into_par_iter().map(solve).collect(),
            false => (0..c).map(solve).collect(),
        };
        // Methods that took steps count their estimated cost; one that gave up before its first
        // step (interrupted, or too slow for the deadline) did little.
        let ran = |s: &Option<Result<_, barrier::Unsolved>>| {
            matches!(s, Some(Ok(_) | Err(barrier::Unsolved::NotFinite)))
        };
        let flops: f64 = costs
            .iter()
            .zip(&solved)
            .filter(|(_, s)| ran(s))
            .map(|(cost, _)| cost)
            .sum();
        let late = solved.iter().find_map(|s| match s {
            Some(Err(barrier::Unsolved::Late { seconds, left })) => Some((*seconds, *left)),
            _ => None,
        });
        // Outputs not polished keep ADMM's point and multipliers. A method cut short keeps where
        // it got to: its dual point bounds the optimum whatever its accuracy, and the caller
        // returns its point only if it is feasible and better than ADMM's.
        let mut v_out = vh.clone();
        let mut mu_out = mu_admm.clone();
        let mut polished_outputs = 0;
        for (k, restricted) in solved.into_iter().enumerate() {
            let Some(Ok(restricted)) = restricted else {
                continue;
            };
            polished_outputs += 1;
            for (q, &i) in chosen[k].iter().enumerate() {
                for (b, col) in columns(i, k).into_iter().enumerate() {
                    for (r, value) in restricted.points[q][b].iter().enumerate() {
                        v_out[(r, col)] = *value;
                    }
                    for (j, lambda) in restricted.multipliers[q][b].iter().enumerate() {
                        mu_out[(j, col)] = lambda / cone_scale;
                    }
                }
            }
        }
        match (polished_outputs, late) {
            (0, Some((seconds, left))) => Outcome::Late { seconds, left },
            (0, None) => Outcome::Unchanged(flops),
            _ => Outcome::Polished(v_out, mu_out, flops),
        }
    });
    let (v_out, mu_out, flops) = match shared(rows, outcome, [d, mu_rows, cols], y) {
        Outcome::Late { seconds, left } => return Err(Skipped::Time { seconds, left }),
        Outcome::Unchanged(flops) => return Ok((None, flops)),
        Outcome::Polished(v_out, mu_out, flops) => (v_out, mu_out, flops),
    };
    // This peer's rows of the multipliers, and of the data for the dual point: its sums over rows
    // are completed with the other peers'.
    let local = op.n();
    let mu_out = relu.then(|| mu_out.as_ref().subrows(start, local).to_owned());
    let whole = HostRows {
        x,
        mask,
        y: yh,
        cone_scale,
    };
    let mine = rows.is_sharded().then(|| HostRows::of(op, y));
    let polished = Polished {
        v: host::upload_faer(&v_out, v),
        mu: mu_out.as_ref().map(|mu| host::upload_faer(mu, v)),
        dual: host_dual(
            mine.as_ref().unwrap_or(&whole),
            &v_out,
            mu_out.as_ref(),
            beta,
            |sums| rows.sum_host(sums, y),
        ),
    };
    Ok((Some(polished), flops))
}

/// What a polish came to on the peer that ran it: no output was polished and a method would not
/// have ended in time (it needed `seconds` where `left` were left), no output was polished
/// otherwise (with the estimated flops spent), or the polished point (`d x B c`) and multipliers
/// (`n x B c`, every row; no rows for the gated program) with the flops.
enum Outcome {
    Late { seconds: f64, left: f64 },
    Unchanged(f64),
    Polished(Mat<f64>, Mat<f64>, f64),
}

/// The polish's `outcome` (on peer 0, `None` elsewhere) on every peer of `rows`, for a point of
/// `d x cols` with multipliers of `n x cols`: as it is unsharded, else through [`Rows::share`] (in
/// f32 on a backend without f64, where the point and multipliers round to the precision of the
/// solve).
fn shared<B: Backend>(
    rows: &Rows<B>,
    outcome: Option<Outcome>,
    [d, n, cols]: [usize; 3],
    like: &Tensor<B, 2>,
) -> Outcome {
    if !rows.is_sharded() {
        return outcome.expect("an unsharded solve polishes");
    }
    let header = match &outcome {
        Some(Outcome::Late { seconds, left }) => vec![0.0, *seconds, *left],
        Some(Outcome::Unchanged(flops)) => vec![1.0, *flops, 0.0],
        Some(Outcome::Polished(_, _, flops)) => vec![2.0, *flops, 0.0],
        None => vec![0.0; 3],
    };
    let header = rows.share(header, like);
    match header[0] as usize {
        0 => Outcome::Late {
            seconds: header[1],
            left: header[2],
        },
        1 => Outcome::Unchanged(header[1]),
        _ => {
            let values = match outcome {
                Some(Outcome::Polished(v, mu, _)) => {
                    let mut values = host::row_major(&v);
                    values.extend(host::row_major(&mu));
                    values
                }
                _ => vec![0.0; (d + n) * cols],
            };
            let values = rows.share(values, like);
            let (v, mu) = values.split_at(d * cols);
            let matrix =
                |rows: usize, values: &[f64]| Mat::from_fn(rows, cols, |i, j| values[i * cols + j]);
            Outcome::Polished(matrix(d, v), matrix(n, mu), header[1])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        polish, side_by_side, whole_cost, Limits, PolishSchedule, Skipped, MAX_FLOPS,
        POLISH_RESIDUAL, SIDE_BY_SIDE_FLOPS, WARM_POLISH_RESIDUAL,
    };
    use crate::host;
    use crate::test_support::{gaussian, operator, B};
    use crate::Formulation;
    use burn::prelude::*;
    use faer::Mat;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// Limits that let a polish run to a gap of 1e-10: no deadline, no interruption, 1 GB.
    fn exact() -> Limits<'static> {
        Limits {
            gap: 1e-10,
            memory: 1e9,
            interrupted: &|| false,
            deadline: None,
            flops_left: 0.0,
            short: false,
        }
    }

    /// Without a time limit a polish may cost MAX_FLOPS, or more when the solve's iterations left
    /// would cost more; with one, the interior-point method decides from its deadline.
    #[test]
    fn a_polish_costs_at_most_what_the_iterations_left_would_without_a_time_limit() {
        let limits = |deadline, flops_left, short| Limits {
            deadline,
            flops_left,
            short,
            ..exact()
        };
        assert!(limits(None, 0.0, false).afford(MAX_FLOPS));
        assert!(!limits(None, 0.0, false).afford(2.0 * MAX_FLOPS));
        assert!(limits(None, 3.0 * MAX_FLOPS, false).afford(2.0 * MAX_FLOPS));
        assert!(!limits(None, 3.0 * MAX_FLOPS, false).afford(4.0 * MAX_FLOPS));
        assert!(limits(Some(Instant::now()), 0.0, false).afford(1e30));
        // A short solve has no floor: only its iterations left pay for a polish.
        assert!(!limits(None, 1e9, true).afford(2e9));
        assert!(limits(None, 1e9, true).afford(1e9));
        assert!(limits(Some(Instant::now()), 0.0, true).afford(1e30));
    }

    /// A polish whose matrices do not fit the memory left says so, with the sizes.
    #[test]
    fn a_polish_over_the_memory_left_is_skipped_with_its_reason() {
        let op = operator(40, Formulation::Relu);
        let (y, v) = (gaussian(40, 1, 7), gaussian(5, op.blocks(), 8));
        let limits = Limits {
            memory: 1e3,
            ..exact()
        };
        let Err(skipped) = polish(&op, &y, &v, None, 1e-2, &limits) else {
            panic!("a polish needing more than 1 kB was not skipped");
        };
        assert!(
            matches!(skipped, Skipped::Memory { left: 1e3, .. }),
            "{skipped:?}"
        );
        assert!(skipped.to_string().contains("memory budget leaves 0.00 GB"));
    }

    /// A polish that would not end before the solve's deadline (here one already past) is skipped,
    /// saying how long it would take and how long is left.
    #[test]
    fn a_polish_too_slow_for_the_deadline_is_skipped_with_its_reason() {
        let op = operator(40, Formulation::Relu);
        let (y, v) = (gaussian(40, 1, 7), gaussian(5, op.blocks(), 8));
        let limits = Limits {
            deadline: Some(Instant::now()),
            ..exact()
        };
        let Err(skipped) = polish(&op, &y, &v, None, 1e-2, &limits) else {
            panic!("a polish past its deadline was not skipped");
        };
        let Skipped::Time { seconds, left } = skipped else {
            panic!("skipped for another reason: {skipped:?}");
        };
        assert!(
            seconds > 0.0 && left == 0.0,
            "{seconds} s needed, {left} s left"
        );
        assert!(skipped.to_string().contains("the time limit leaves 0 s"));
    }

    /// What the schedule weighs the iterations against is what a polish of every output's whole
    /// program reports it spent.
    #[test]
    fn the_whole_cost_is_what_polishing_every_whole_program_spends() {
        let c = 2;
        let op = operator(40, Formulation::Relu).with_outputs(c);
        let (y, v) = (gaussian(40, c, 7), gaussian(5, op.blocks() * c, 8));
        let limits = exact();
        let (polished, flops) = polish(&op, &y, &v, None, 1e-2, &limits).expect("within limits");
        assert!(polished.is_some());
        let whole = whole_cost(&op, c, limits.memory);
        assert!(
            whole > 0.0 && (flops - whole).abs() <= 1e-12 * whole,
            "{flops} vs {whole}"
        );
    }

    /// Several outputs go side by side when each is small, or when they are at least as many as the
    /// threads, and never beyond the memory budget; one output never does.
    #[test]
    fn many_or_small_outputs_are_polished_side_by_side_within_the_memory_budget() {
        let (small, large) = (SIDE_BY_SIDE_FLOPS, 10.0 * SIDE_BY_SIDE_FLOPS);
        let gb = 1e9;
        assert!(side_by_side(&[small; 3], 16, gb, 16.0 * gb));
        assert!(!side_by_side(&[large; 3], 16, gb, 16.0 * gb));
        assert!(side_by_side(&[large; 16], 16, gb, 16.0 * gb));
        assert!(side_by_side(&[large, small], 2, gb, 2.0 * gb));
        assert!(!side_by_side(&[large; 16], 16, gb, 15.0 * gb));
        assert!(!side_by_side(&[small], 16, gb, 16.0 * gb));
    }

    /// Outputs polished side by side (small ones, with threads to spare) get what each gets
    /// polished alone: the same point and multipliers, in their own columns.
    #[test]
    fn outputs_polished_side_by_side_match_each_polished_alone() {
        let c = 3;
        let op = operator(40, Formulation::Relu).with_outputs(c);
        let blocks = op.blocks();
        let y = gaussian(40, c, 7);
        let (v, mu) = (
            gaussian(5, blocks * c, 8) * 0.1,
            gaussian(40, blocks * c, 9).abs(),
        );
        let limits = exact();
        let all = polish(&op, &y, &v, Some(&mu), 1e-2, &limits)
            .expect("within its limits")
            .0
            .expect("polished");
        let alone_op = operator(40, Formulation::Relu);
        for k in 0..c {
            let columns = |m: &Tensor<B, 2>, per: usize| {
                let picked: Vec<i64> = (0..per).map(|i| (i * c + k) as i64).collect();
                let picked = Tensor::from_data(TensorData::new(picked, [per]), &m.device());
                m.clone().select(1, picked)
            };
            let alone = polish(
                &alone_op,
                &columns(&y, 1),
                &columns(&v, blocks),
                Some(&columns(&mu, blocks)),
                1e-2,
                &limits,
            )
            .expect("within its limits")
            .0
            .expect("polished");
            let pairs = [
                (columns(&all.v, blocks), alone.v),
                (columns(all.mu.as_ref().unwrap(), blocks), alone.mu.unwrap()),
            ];
            for (together, apart) in pairs {
                let (together, apart) = (host::to_faer(together), host::to_faer(apart));
                let scale = apart.norm_max().max(1e-300);
                assert!(
                    (&together - &apart).norm_max() <= 1e-9 * scale,
                    "output {k}: {together:?} vs {apart:?}"
                );
            }
        }
    }

    /// An output on which ADMM left a pattern at zero is solved whole when that costs at most
    /// WHOLE_COST times its nonzero patterns (here 1.5 times): from such a point the polish reaches
    /// the optimum it reaches from a point with every pattern nonzero, that pattern included; with
    /// memory for the nonzero patterns only, it polishes them alone rather than nothing.
    #[test]
    fn a_cheap_zero_pattern_is_polished_with_the_others() {
        let op = operator(40, Formulation::Relu);
        let (y, p) = (gaussian(40, 1, 7), op.patterns());
        let v = gaussian(5, op.blocks(), 8) * 0.1;
        // Pattern 0's blocks, v_0 and w_0, are columns 0 and p.
        let kept: Vec<f64> = (0..op.blocks())
            .map(|col| if col % p == 0 { 0.0 } else { 1.0 })
            .collect();
        let zeroed = v.clone() * host::upload(kept, [1, op.blocks()], &v);
        let polished = |v: &Tensor<B, 2>, limits: &Limits| {
            let polished = polish(&op, &y, v, None, 1e-2, limits)
                .expect("within its limits")
                .0
                .expect("polished");
            host::to_faer(polished.v)
        };
        let (whole, from_zeroed) = (polished(&v, &exact()), polished(&zeroed, &exact()));
        let pattern_norm = |v: &Mat<f64>| {
            (0..5)
                .map(|r| v[(r, 0)].abs() + v[(r, p)].abs())
                .sum::<f64>()
        };
        assert!(
            pattern_norm(&whole) > 1e-3,
            "pattern 0 is zero at the optimum: {whole:?}"
        );
        // The two starts take different steps (and work on different rows) to the same optimum.
        let scale = whole.norm_max();
        assert!(
            (&whole - &from_zeroed).norm_max() <= 1e-6 * scale,
            "{whole:?} vs {from_zeroed:?}"
        );
        // With memory for the nonzero patterns only, the polish solves them alone.
        let tight = Limits {
            memory: 1e3,
            ..exact()
        };
        let Err(Skipped::Memory { needed, .. }) = polish(&op, &y, &zeroed, None, 1e-2, &tight)
        else {
            panic!("a polish needing more than 1 kB was not skipped");
        };
        let limits = Limits {
            memory: needed,
            ..exact()
        };
        let alone = polished(&zeroed, &limits);
        assert_eq!(pattern_norm(&alone), 0.0, "{alone:?}");
    }

    /// A polish cut short after a few interior-point steps keeps where its method got to: a dual
    /// point whose bound is valid (below the objective the uninterrupted polish reaches) and better
    /// than the start's, where it used to return nothing.
    #[test]
    fn a_polish_cut_short_keeps_its_bound() {
        let op = operator(40, Formulation::Relu);
        let y = gaussian(40, 1, 7);
        let blocks = op.blocks();
        let (v, mu) = (gaussian(5, blocks, 8) * 0.1, gaussian(40, blocks, 9).abs());
        let run = |calls: usize| {
            let seen = AtomicUsize::new(0);
            let interrupted = || seen.fetch_add(1, Ordering::Relaxed) + 1 > calls;
            let limits = Limits {
                interrupted: &interrupted,
                ..exact()
            };
            polish(&op, &y, &v, Some(&mu), 1e-2, &limits)
                .expect("within its limits")
                .0
        };
        let optimum = run(usize::MAX).expect("polished");
        let objective = |v| {
            let xu = op.xu(&v);
            let fit = (op.f_from_xu(xu) - y.clone()).square().sum();
            let norms = v.square().sum_dim(0).sqrt().sum();
            0.5 * crate::host::scalar(fit) + 1e-2 * crate::host::scalar(norms)
        };
        let best = objective(optimum.v.clone());
        assert!((optimum.dual.bound - best).abs() <= 1e-8 * best);
        // The test is heard before the output, once per block of the Gram matrix, then before
        // every step and in its factorization (one panel here).
        let p = op.patterns();
        let before_steps = 1 + p * (p + 1) / 2 + 1;
        let start = run(before_steps).expect("a polish cut before its first step keeps its start");
        let cut = run(before_steps + 6).expect("a cut polish keeps its iterate");
        assert!(
            start.dual.bound < cut.dual.bound,
            "{} {}",
            start.dual.bound,
            cut.dual.bound
        );
        assert!(cut.dual.bound < best, "{} vs {best}", cut.dual.bound);
    }

    #[test]
    fn polishes_when_residuals_halve_or_after_an_interval() {
        let mut s = PolishSchedule::new(false);
        let r = POLISH_RESIDUAL;
        assert!(!s.due(10, 2.0 * r, false), "residuals above the threshold");
        assert!(s.due(20, 0.8 * r, false));
        assert!(!s.due(30, 0.5 * r, false), "not yet halved");
        assert!(s.due(40, 0.3 * r, false));
        assert!(!s.due(139, 0.2 * r, false));
        assert!(
            s.due(140, 0.2 * r, false),
            "an interval after the last polish"
        );
        assert!(s.due(150, 0.05 * r, false));
        // A polish worth 100 iterations waits 300 before the next, however fast residuals fall.
        s.spent(100.0, 1.0);
        assert!(!s.due(449, 1e-6, false));
        assert!(s.due(450, 1e-6, false));
        // A warm start polishes at residuals ten times larger.
        let mut warm = PolishSchedule::new(true);
        assert!(warm.due(10, 0.8 * WARM_POLISH_RESIDUAL, false));
        assert!(!PolishSchedule::new(false).due(10, 0.8 * WARM_POLISH_RESIDUAL, false));
    }

    /// Once the iterations have cost as much as a polish, a cold solve polishes whatever its
    /// residuals, and again an interval later.
    #[test]
    fn polishes_at_any_residuals_once_the_iterations_have_paid_for_it() {
        let mut s = PolishSchedule::new(false);
        assert!(!s.due(10, 0.5, false), "not paid");
        assert!(s.due(20, 0.5, true));
        assert!(!s.due(30, 0.5, true), "not yet an interval later");
        assert!(s.due(120, 0.5, true), "an interval after the last polish");
        assert!(!s.due(220, 0.5, false), "unpaid: above the threshold");
    }
}
