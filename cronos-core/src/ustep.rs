//! The ADMM u-step, A u = r with A = I + F^T F / rho + G^T G, solved through the structure of A.
//!
//! Since (2 D_i - I)^2 = I, every block of G^T G is the same `d x d` matrix, so I + G^T G = I (x) M with
//! M = I + c^2 X^T X (c the scale of G). Rotating each pair of ReLU blocks into a_i = (v_i - w_i) / sqrt 2
//! and b_i = (v_i + w_i) / sqrt 2 (an orthogonal change that commutes with I (x) M) separates the system:
//!
//! * b-part: M b_i = r_b,i, solved with the eigendecomposition M = V L V^T;
//! * a-part: (I (x) M + (2 / rho) Ft^T Ft) a = r_a with Ft = [D_1 X, ..., D_P X], since F only sees
//!   v_i - w_i. With T = V L^-1/2 (so M^-1 = T T^T), a = (I (x) T) a~ and Phi = [D_1 X T, ..., D_P X T]
//!   this is (I + (gamma / rho) Phi^T Phi) a~ = (I (x) T^T) r_a, gamma = 2.
//!
//! The gated program has no G: M = I, no b-part, gamma = 1. Phi^T Phi (`dP x dP`, "pattern space") and
//! Phi Phi^T = (Z Z^T) o (D D^T) with Z = X T (`n x n`, "sample space") share their nonzero spectrum, so
//! the core is factored in the smaller of the two spaces (Woodbury in sample space):
//!
//! * eigendecomposition S = Q diag(s) Q^T, where every rho costs nothing more (the default whenever it
//!   is cheap);
//! * Cholesky of (rho / gamma) I + S for larger cores, for one rho (see [`crate::rho`]);
//! * no core at all (PCG preconditioned by I (x) M^-1 only) when the core would not fit the memory budget.
//!
//! Factorizations run on the host in f64 with faer (blocked, multi-threaded; in f32, twice as fast,
//! for a short ReLU solve on an f32 device), and so does the forming of a sample-space core (its
//! lower triangle, from Z read off the backend: an `n x d` transfer instead of `n x n`); the
//! pattern-space core, a sum over rows that a sharded solve spreads over its peers, is formed on the
//! backend. The u-step's products stay on the backend.
//! The u-step itself is preconditioned conjugate gradients with this inverse as preconditioner
//! ([`crate::pcg`]): with an exact core one step, from the last u-step's point, solves the system.

use crate::background::unless_interrupted;
use crate::dense::{cholesky_lower, inverse_lower, mirror_lower, PANEL};
use crate::error::{CronosError, Result};
use crate::host;
use crate::operator::{spread, sum_blocks, ConvexOperator};
use crate::rows::Rows;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::DType;
use faer::linalg::matmul::matmul;
use faer::traits::math_utils::from_f64;
use faer::traits::RealField;
use faer::{Accum, Mat, Side};
use serde::{Deserialize, Serialize};
use std::f64::consts::FRAC_1_SQRT_2;

/// How the u-step is solved, as named in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UStepPath {
    /// Eigendecomposition of the `n x n` sample-space core: exact for every rho.
    SampleEigen,
    /// Eigendecomposition of the `dP x dP` pattern-space core: exact for every rho.
    PatternEigen,
    /// Cholesky factor of the `n x n` sample-space core for the current rho.
    SampleCholesky,
    /// Cholesky factor of the `dP x dP` pattern-space core for the current rho.
    PatternCholesky,
    /// Conjugate gradients preconditioned by the exact block inverse of I + G^T G only.
    Pcg,
}

impl UStepPath {
    /// Whether the u-step is exact (up to rounding) with this path.
    pub fn is_exact(self) -> bool {
        self != Self::Pcg
    }

    /// Whether the core is eigendecomposed, which makes every rho free without losing exactness.
    pub fn is_eigen(self) -> bool {
        matches!(self, Self::SampleEigen | Self::PatternEigen)
    }
}

/// Largest core factored by eigendecomposition (about 10 m^3 flops); larger cores use Cholesky.
const EIGEN_LIMIT: usize = 4000;
/// Floating-point operations per block of rows when a pattern-space core is formed on the device: a
/// fraction of a second on a CPU, the longest a stop waits for.
const BLOCK_FLOPS: f64 = 2e9;

/// Which of the two spaces holds the core, and how it is factored.
#[derive(Debug, Clone)]
enum Core<B: Backend> {
    Eigen {
        q: Tensor<B, 2>,
        s: Vec<f64>,
    },
    /// ((rho / gamma) I + S)^-1 for the solve's one rho.
    Cholesky {
        inverse: Tensor<B, 2>,
    },
    Identity,
}

/// The inverse of A(rho), or of its block-diagonal part, built once per solve.
#[derive(Debug, Clone)]
pub(crate) struct UStepSolver<B: Backend> {
    /// T = V L^-1/2 (`d x d`) and its contiguous transpose; `None` for the gated program (T = I).
    t: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
    /// Z = X T and its contiguous transpose.
    z: Tensor<B, 2>,
    zt: Tensor<B, 2>,
    /// D as `n x P`.
    mask: Tensor<B, 2>,
    /// True when the core lives in sample space (n <= dP).
    sample: bool,
    gamma: f64,
    /// Largest eigenvalue of c^2 X^T X (0 for the gated program).
    gram_max: f64,
    core: Core<B>,
    /// Where the exact core did not fit the memory budget: the bytes it needs and those left.
    over_budget: Option<(f64, f64)>,
}

/// Bytes of memory a core of size `m` needs: the host copy and factor in f64 and the device copy.
fn core_bytes(m: usize, device_bytes: usize) -> f64 {
    (m * m) as f64 * (16 + device_bytes) as f64
}

impl<B: Backend> UStepSolver<B> {
    /// Factors the u-step of `op` for penalty `rho`, choosing the path from the sizes and the memory
    /// budget (bytes). For a `long` solve a core of at most [`EIGEN_LIMIT`] is eigendecomposed: every
    /// rho is then free (the opening race), and in f32 the orthogonal eigenvectors apply the inverse
    /// more accurately than an explicit inverse does (a warm-started f32 re-solve in CRONOS-AM's test
    /// took 5,925 iterations with the explicit inverse, 4,594 with eigenvectors). A short solve (such
    /// as CRONOS-AM's 30-iteration heads), whose time its set-up dominates, gets a Cholesky factor
    /// for `rho` alone, several times cheaper to compute. `interrupted` is polled between the stages
    /// of set-up and, while a factorization runs (on a thread of its own, see
    /// [`crate::background`]), every few milliseconds: once it says so, set-up ends at once with the
    /// PCG path.
    ///
    /// In a sharded solve the core is always in pattern space (a sum over rows, where the sample-space
    /// core couples the rows of all peers), every factorization runs on peer 0 and its result is
    /// shared, and `interrupted` (this peer's own test) is agreed between the peers at every stage.
    pub(crate) fn new(
        op: &ConvexOperator<B>,
        rho: f64,
        long: bool,
        memory_budget: f64,
        interrupted: &dyn Fn() -> bool,
    ) -> Result<Self> {
        let x = op.x();
        let [n, d] = x.dims();
        let p = op.patterns();
        let relu = op.formulation() == Formulation::Relu;
        let rows = op.rows();
        let sample = n <= d * p && !rows.is_sharded();
        let agreed_interrupted = || rows.agreed(interrupted(), x);
        let mut solver = Self {
            t: None,
            z: x.clone(),
            zt: x.clone().transpose(),
            mask: op.mask().clone(),
            sample,
            gamma: if relu { 2.0 } else { 1.0 },
            gram_max: 0.0,
            core: Core::Identity,
            over_budget: None,
        };
        if relu {
            let gram = host::to_faer(op.gram(Tensor::<B, 2>::eye(d, &x.device()).cast(x.dtype())));
            // The trace bounds the largest eigenvalue, which is all the certificate needs of it
            // (a step size) when set-up is cut short.
            solver.gram_max = (0..d).map(|i| gram[(i, i)]).sum::<f64>().max(0.0);
            let scaling = on_first(rows, move |_| Some(block_scaling(&gram)), interrupted)?;
            let scaling = scaling.map(|(t, gram_max)| SetUp::upload(&t, vec![gram_max], x));
            let Some(SetUp { matrix: t, values }) = shared(rows, scaling, x) else {
                return Ok(solver);
            };
            let gram_max = values[0];
            solver.z = x.clone().matmul(t.clone());
            solver.t = Some((t.clone(), contiguous_transpose(t)));
            solver.gram_max = gram_max;
        }
        solver.zt = contiguous_transpose(solver.z.clone());
        let m = if sample { n } else { d * p };
        let needed = core_bytes(m, x.dtype().size());
        if needed > memory_budget {
            solver.over_budget = Some((needed, memory_budget.max(0.0)));
            return Ok(solver);
        }
        if agreed_interrupted() {
            return Ok(solver);
        }
        let Some(source) = solver.core_source(rows, &agreed_interrupted) else {
            return Ok(solver);
        };
        let alpha = rho / solver.gamma;
        // Every peer knows the sizes, so every peer knows which factor peer 0 computes.
        let by_eigen = long && m <= EIGEN_LIMIT;
        // A short solve of the ReLU program on an f32 device forms and factors its core in f32, at
        // twice the speed of f64: its factor is rounded to f32 anyway, and the core is well
        // conditioned: whitened by M, with rows of unit root-mean-square norm, Z Z^T has its
        // eigenvalues below 1, so those of (rho / 2) I + S lie between rho / 2 and rho / 2 + P,
        // and rho is at least `rho::FIXED`. (The gated program's core is not whitened.)
        let single = relu && !long && x.dtype() == DType::F32 && rho >= crate::rho::FIXED;
        let factor = move |abandoned: &dyn Fn() -> bool| {
            if by_eigen {
                let s = source.matrix(abandoned)?;
                return Some(eigen(&s).map(|(q, s)| (Factor::Double(q), s)));
            }
            let inverse = if single {
                shifted_inverse(source.single(abandoned)?, alpha, abandoned)?.map(Factor::Single)
            } else {
                shifted_inverse(source.matrix(abandoned)?, alpha, abandoned)?.map(Factor::Double)
            };
            Some(inverse.map(|inverse| (inverse, Vec::new())))
        };
        let factor = on_first(rows, factor, interrupted)?.map(|(matrix, values)| SetUp {
            matrix: matrix.upload(x),
            values,
        });
        solver.core = match shared(rows, factor, x) {
            Some(SetUp { matrix, values }) if by_eigen => Core::Eigen {
                q: matrix,
                s: values,
            },
            Some(SetUp { matrix, .. }) => Core::Cholesky { inverse: matrix },
            None => Core::Identity,
        };
        Ok(solver)
    }

    /// Where the exact core did not fit the memory budget (the path is then PCG): the bytes it
    /// needs and those the budget leaves it.
    pub(crate) fn over_budget(&self) -> Option<(f64, f64)> {
        self.over_budget
    }

    /// The path this solver takes.
    pub(crate) fn path(&self) -> UStepPath {
        match (&self.core, self.sample) {
            (Core::Eigen { .. }, true) => UStepPath::SampleEigen,
            (Core::Eigen { .. }, false) => UStepPath::PatternEigen,
            (Core::Cholesky { .. }, true) => UStepPath::SampleCholesky,
            (Core::Cholesky { .. }, false) => UStepPath::PatternCholesky,
            (Core::Identity, _) => UStepPath::Pcg,
        }
    }

    /// Bytes the factored core keeps on the device (0 on the PCG path).
    pub(crate) fn core_resident_bytes(&self) -> f64 {
        let bytes = |t: &Tensor<B, 2>| (t.shape().num_elements() * t.dtype().size()) as f64;
        match &self.core {
            Core::Eigen { q, .. } => bytes(q),
            Core::Cholesky { inverse } => bytes(inverse),
            Core::Identity => 0.0,
        }
    }

    /// Largest eigenvalue of G G^T, c^2 X^T X (0 for the gated program).
    pub(crate) fn gram_max(&self) -> f64 {
        self.gram_max
    }

    /// Whether a change of rho is free (no refactorization).
    pub(crate) fn rho_is_free(&self) -> bool {
        !matches!(self.core, Core::Cholesky { .. })
    }

    /// What the core S is formed from: in sample space Z and the patterns, copied to the host, where
    /// (Z Z^T) o (D D^T) is formed in f64 along with its factor (half the flops of the device's
    /// product, as a lower triangle, and no n x n transfer); in pattern space Phi^T Phi, formed on the
    /// device (a sum over the peers' rows in a sharded solve) a block of rows at a time (about
    /// [`BLOCK_FLOPS`] each), so that `interrupted` is heard between blocks; `None` once it is.
    fn core_source(&self, rows: &Rows<B>, interrupted: &dyn Fn() -> bool) -> Option<CoreSource> {
        if self.sample {
            return Some(CoreSource::Sample {
                z: host::to_faer(self.z.clone()),
                mask: host::to_faer(self.mask.clone()),
            });
        }
        let phi = self.phi();
        let [inner, m] = phi.dims();
        let block = ((BLOCK_FLOPS / (2.0 * (inner * m) as f64)) as usize).clamp(1, m);
        let mut s = Mat::<f64>::zeros(m, m);
        for start in (0..m).step_by(block) {
            if interrupted() {
                return None;
            }
            let count = block.min(m - start);
            let columns = phi.clone().narrow(1, start, count).transpose();
            let values = host::to_vec(rows.sum(columns.matmul(phi.clone())));
            for (i, row) in values.chunks_exact(m).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    s[(start + i, j)] = v;
                }
            }
        }
        Some(CoreSource::Formed(s))
    }

    /// Phi = [D_1 Z, ..., D_P Z] as an explicit `n x dP` matrix (pattern space only).
    fn phi(&self) -> Tensor<B, 2> {
        let [_, d] = self.z.dims();
        let p = self.mask.dims()[1];
        self.z.clone().repeat_dim(1, p) * spread(self.mask.clone(), d)
    }

    /// A(rho)^-1 R for `r` (`d x B c`), exact when a core is factored, (I (x) M)^-1 R otherwise.
    pub(crate) fn apply(&self, r: Tensor<B, 2>, rho: f64) -> Tensor<B, 2> {
        let Some((t, tt)) = &self.t else {
            return self.solve_core(r, rho);
        };
        let (rv, rw) = halves(r);
        let ra = (rv.clone() - rw.clone()) * FRAC_1_SQRT_2;
        let rb = (rv + rw) * FRAC_1_SQRT_2;
        // a and b share their products with T^T and with T (two products instead of four).
        let (ta, tb) = halves(tt.clone().matmul(Tensor::cat(vec![ra, rb], 1)));
        let (a, b) = halves(
            t.clone()
                .matmul(Tensor::cat(vec![self.solve_core(ta, rho), tb], 1)),
        );
        Tensor::cat(
            vec![
                (a.clone() + b.clone()) * FRAC_1_SQRT_2,
                (b - a) * FRAC_1_SQRT_2,
            ],
            1,
        )
    }

    /// Solves (I + (gamma / rho) Phi^T Phi) A = Q for `q` (`d x P c`).
    fn solve_core(&self, q: Tensor<B, 2>, rho: f64) -> Tensor<B, 2> {
        let alpha = rho / self.gamma;
        match &self.core {
            Core::Identity => q,
            core if self.sample => {
                // Woodbury: A = Q - Phi^T (alpha I + Phi Phi^T)^-1 Phi Q.
                let w = shifted_solve(core, alpha, self.phi_times(&q));
                q - self.phi_t_times(w)
            }
            core => {
                let [d, cols] = q.dims();
                let p = self.mask.dims()[1];
                let c = cols / p;
                let flat = q.reshape([d, p, c]).swap_dims(0, 1).reshape([p * d, c]);
                let solved = shifted_solve(core, alpha, flat) * alpha;
                solved.reshape([p, d, c]).swap_dims(0, 1).reshape([d, cols])
            }
        }
    }

    /// Phi Q = sum_i D_i Z q_i, `n x c`.
    fn phi_times(&self, q: &Tensor<B, 2>) -> Tensor<B, 2> {
        let c = q.dims()[1] / self.mask.dims()[1];
        sum_blocks(
            self.z.clone().matmul(q.clone()) * spread(self.mask.clone(), c),
            c,
        )
    }

    /// Phi^T W = [Z^T D_i w], `d x P c`.
    fn phi_t_times(&self, w: Tensor<B, 2>) -> Tensor<B, 2> {
        let c = w.dims()[1];
        let p = self.mask.dims()[1];
        self.zt
            .clone()
            .matmul(spread(self.mask.clone(), c) * w.repeat_dim(1, p))
    }
}

/// The first and the second half of the columns of `t`.
fn halves<B: Backend>(t: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let half = t.dims()[1] / 2;
    (t.clone().narrow(1, 0, half), t.narrow(1, half, half))
}

/// `m^T` laid out contiguously: flex multiplies by a transposed view up to 1.4 times more slowly.
fn contiguous_transpose<B: Backend>(m: Tensor<B, 2>) -> Tensor<B, 2> {
    let (device, dtype) = (m.device(), m.dtype());
    Tensor::from_data(m.transpose().into_data(), (&device, dtype))
}

/// (alpha I + S)^-1 W with the factored core.
fn shifted_solve<B: Backend>(core: &Core<B>, alpha: f64, w: Tensor<B, 2>) -> Tensor<B, 2> {
    match core {
        Core::Eigen { q, s } => {
            let weights: Vec<f64> = s.iter().map(|s| 1.0 / (alpha + s)).collect();
            let weights = host::upload(weights, [s.len(), 1], q);
            let coeff = q.clone().transpose().matmul(w) * weights;
            q.clone().matmul(coeff)
        }
        Core::Cholesky { inverse, .. } => inverse.clone().matmul(w),
        Core::Identity => w,
    }
}

/// The result of `work` on the first peer (the only one unless sharded), run on a thread of its
/// own and abandoned once `interrupted`; `None` on the other peers and when abandoned. `work` is
/// told when it has been abandoned (see [`unless_interrupted`]) and then returns `None`.
fn on_first<B: Backend, T: Send + 'static>(
    rows: &Rows<B>,
    work: impl FnOnce(&dyn Fn() -> bool) -> Option<Result<T>> + Send + 'static,
    interrupted: &dyn Fn() -> bool,
) -> Result<Option<T>> {
    if rows.is_first() {
        unless_interrupted(work, interrupted).flatten().transpose()
    } else {
        Ok(None)
    }
}

/// What the first peer's set-up produced: a matrix on the device and values kept on the host in f64.
struct SetUp<B: Backend> {
    matrix: Tensor<B, 2>,
    values: Vec<f64>,
}

impl<B: Backend> SetUp<B> {
    /// `matrix` uploaded like `like`, with `values`.
    fn upload(matrix: &Mat<f64>, values: Vec<f64>, like: &Tensor<B, 2>) -> Self {
        Self {
            matrix: host::upload_faer(matrix, like),
            values,
        }
    }
}

/// The first peer's set-up on every peer; `None` everywhere when it has none. Unsharded this is
/// `result` itself. Sharded, the sizes (which only the first peer knows) are shared first, then
/// the matrix, then the values as one row (rounded to the device's dtype, the same on every
/// peer, so that all apply the same factor).
fn shared<B: Backend>(
    rows: &Rows<B>,
    result: Option<SetUp<B>>,
    like: &Tensor<B, 2>,
) -> Option<SetUp<B>> {
    if !rows.is_sharded() {
        return result;
    }
    let sizes = result.as_ref().map_or(vec![0.0; 3], |r| {
        let [m, k] = r.matrix.dims();
        vec![m as f64, k as f64, r.values.len() as f64]
    });
    let sizes = host::to_vec(rows.broadcast(host::upload(sizes, [1, 3], like)));
    let [m, k, count] = [0, 1, 2].map(|i| sizes[i] as usize);
    if m == 0 {
        return None;
    }
    let (matrix, values) = match result {
        Some(r) => (r.matrix, r.values),
        None => (
            Tensor::zeros([m, k], (&like.device(), like.dtype())),
            vec![0.0; count],
        ),
    };
    let matrix = rows.broadcast(matrix);
    let values = if count == 0 {
        values
    } else {
        host::to_vec(rows.broadcast(host::upload(values, [1, count], like)))
    };
    Some(SetUp { matrix, values })
}

/// T = V L^-1/2 for the eigendecomposition V L V^T of I + `gram` (so that (I + gram)^-1 = T T^T),
/// with the largest eigenvalue of `gram`.
fn block_scaling(gram: &Mat<f64>) -> Result<(Mat<f64>, f64)> {
    let d = gram.nrows();
    let evd = gram.self_adjoint_eigen(Side::Lower).map_err(|e| {
        CronosError::Numerical(format!("eigendecomposition of I + X^T X failed: {e:?}"))
    })?;
    let (v, l) = (evd.U(), evd.S().column_vector());
    let t = Mat::<f64>::from_fn(d, d, |i, j| v[(i, j)] / (1.0 + l[j]).max(1.0).sqrt());
    Ok((t, l[d - 1].max(0.0)))
}

/// The eigendecomposition Q diag(s) Q^T of the core `s`, negative rounding clipped to 0.
fn eigen(s: &Mat<f64>) -> Result<(Mat<f64>, Vec<f64>)> {
    let m = s.nrows();
    let evd = s.self_adjoint_eigen(Side::Lower).map_err(|e| {
        CronosError::Numerical(format!(
            "eigendecomposition of the {m} x {m} core failed: {e:?}"
        ))
    })?;
    let eig = evd.S().column_vector();
    Ok((
        evd.U().to_owned(),
        (0..m).map(|i| eig[i].max(0.0)).collect(),
    ))
}

/// (alpha I + S)^-1 by a Cholesky factorization of the lower triangle of `s`, in its memory and
/// its precision; both triangles of the result are filled (it is applied on the device as a full
/// matrix). `None` once `abandoned` holds between panels.
fn shifted_inverse<T: RealField + Copy>(
    mut s: Mat<T>,
    alpha: f64,
    abandoned: &dyn Fn() -> bool,
) -> Option<Result<Mat<T>>> {
    let par = faer::get_global_parallelism();
    let m = s.nrows();
    let shift = from_f64::<T>(alpha);
    for i in 0..m {
        s[(i, i)] += shift;
    }
    if cholesky_lower(s.as_mut(), par, abandoned).is_none() {
        return (!abandoned()).then(|| {
            Err(CronosError::Numerical(format!(
                "Cholesky factorization of the {m} x {m} core at rho/gamma = {alpha:e} failed: \
                 not positive definite"
            )))
        });
    }
    let mut inverse = inverse_lower(s, par, abandoned)?;
    mirror_lower(inverse.as_mut());
    Some(Ok(inverse))
}

/// A factor computed on the host, in the precision it was computed in.
enum Factor {
    Double(Mat<f64>),
    Single(Mat<f32>),
}

impl Factor {
    /// The factor on the device of `like`, in its dtype.
    fn upload<B: Backend>(&self, like: &Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::Double(m) => host::upload_faer(m, like),
            Self::Single(m) => host::upload_faer(m, like),
        }
    }
}

/// The u-step's core before it is factored (see [`UStepSolver::core_source`]).
enum CoreSource {
    /// Formed on the device (pattern space), both triangles.
    Formed(Mat<f64>),
    /// Z (`n x d`) and the patterns D (`n x P`, 0/1) of a sample-space core.
    Sample { z: Mat<f64>, mask: Mat<f64> },
}

impl CoreSource {
    /// The core; in sample space its lower triangle only, which is all the factorizations read.
    /// `None` once `abandoned` holds (between panels of the sample-space core).
    fn matrix(self, abandoned: &dyn Fn() -> bool) -> Option<Mat<f64>> {
        match self {
            Self::Formed(s) => Some(s),
            Self::Sample { z, mask } => sample_core(&z, &mask, abandoned),
        }
    }

    /// [`CoreSource::matrix`] in f32 (a sample-space core formed in f32).
    fn single(self, abandoned: &dyn Fn() -> bool) -> Option<Mat<f32>> {
        let single = |m: &Mat<f64>| Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f32);
        match self {
            Self::Formed(s) => Some(single(&s)),
            Self::Sample { z, mask } => sample_core(&single(&z), &mask, abandoned),
        }
    }
}

/// The lower triangle of (Z Z^T) o (D D^T), a panel of columns at a time (`None` once `abandoned`
/// holds between panels): entry (j, k) of D D^T counts the patterns active on both samples, a
/// population count of their patterns' bits.
fn sample_core<T: RealField + Copy>(
    z: &Mat<T>,
    mask: &Mat<f64>,
    abandoned: &dyn Fn() -> bool,
) -> Option<Mat<T>> {
    let (n, p) = (z.nrows(), mask.ncols());
    let words = p.div_ceil(64);
    let bits: Vec<u64> = (0..n)
        .flat_map(|j| {
            (0..words).map(move |w| {
                (w * 64..p.min(w * 64 + 64))
                    .filter(|&i| mask[(j, i)] > 0.5)
                    .fold(0, |acc, i| acc | 1 << (i - w * 64))
            })
        })
        .collect();
    let mut s = Mat::<T>::zeros(n, n);
    for o in (0..n).step_by(PANEL) {
        if abandoned() {
            return None;
        }
        let w = PANEL.min(n - o);
        // Rows o.. of columns o..o + w (the strict upper part of the diagonal block is harmless).
        matmul(
            s.as_mut().submatrix_mut(o, o, n - o, w),
            Accum::Replace,
            z.as_ref().subrows(o, n - o),
            z.as_ref().subrows(o, w).transpose(),
            T::one(),
            faer::get_global_parallelism(),
        );
        for k in o..o + w {
            let of_k = &bits[k * words..(k + 1) * words];
            let column = &mut s.col_as_slice_mut(k)[k..];
            for (entry, of_j) in column.iter_mut().zip(bits[k * words..].chunks_exact(words)) {
                let both: u32 = of_j
                    .iter()
                    .zip(of_k)
                    .map(|(a, b)| (a & b).count_ones())
                    .sum();
                *entry *= from_f64::<T>(f64::from(both));
            }
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{gaussian, operator, B};

    #[test]
    fn exact_paths_invert_a() {
        // n = 12 <= dP = 20 puts the core in sample space, n = 40 in pattern space.
        for (n, budget, paths) in [
            (12, 1e9, [UStepPath::SampleEigen, UStepPath::PatternEigen]),
            (40, 1e9, [UStepPath::SampleEigen, UStepPath::PatternEigen]),
        ] {
            for formulation in [Formulation::Relu, Formulation::Gated] {
                let op = operator(n, formulation);
                for rho in [1e-4, 1e-1, 10.0] {
                    let mut solver = UStepSolver::new(&op, rho, true, budget, &|| false).unwrap();
                    let expected = if n <= 5 * op.patterns() {
                        paths[0]
                    } else {
                        paths[1]
                    };
                    assert_eq!(solver.path(), expected);
                    let u = gaussian(5, op.blocks() * 3, 7);
                    let (au, _) = op.apply_a(&u, rho);
                    let error = |solver: &UStepSolver<B>| {
                        let back = solver.apply(au.clone(), rho);
                        host::scalar((back - u.clone()).square().sum()).sqrt()
                            / host::scalar(u.clone().square().sum()).sqrt()
                    };
                    let err = error(&solver);
                    assert!(
                        err < 1e-9,
                        "{expected:?} {formulation:?} rho {rho}: error {err}"
                    );
                    // The same core through a Cholesky factor, and in f32 as a short f32 solve of
                    // the ReLU program factors it (rho >= rho::FIXED): to a few f32 roundings times
                    // the core's condition (5e-6 at rho 0.1).
                    if let Core::Eigen { .. } = solver.core {
                        let source = || solver.core_source(&Rows::whole(), &|| false).unwrap();
                        let alpha = rho / solver.gamma;
                        let s = source().matrix(&|| false).unwrap();
                        let double = shifted_inverse(s, alpha, &|| false).unwrap().unwrap();
                        let mut factors = vec![(Factor::Double(double), 1e-9)];
                        if formulation == Formulation::Relu && rho >= crate::rho::FIXED {
                            let s = source().single(&|| false).unwrap();
                            let single = shifted_inverse(s, alpha, &|| false).unwrap().unwrap();
                            factors.push((Factor::Single(single), 1e-4));
                        }
                        for (factor, tol) in factors {
                            solver.core = Core::Cholesky {
                                inverse: factor.upload(&u),
                            };
                            let err = error(&solver);
                            let single = matches!(factor, Factor::Single(_));
                            assert!(
                                err < tol,
                                "Cholesky (f32: {single}) {formulation:?} rho {rho}: error {err}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_core_over_budget_falls_back_to_pcg() {
        let op = operator(40, Formulation::Relu);
        let solver = UStepSolver::new(&op, 0.1, true, 10.0, &|| false).unwrap();
        assert_eq!(solver.path(), UStepPath::Pcg);
        let (needed, left) = solver.over_budget().expect("the reason");
        assert!(
            needed > 10.0 && left == 10.0,
            "needs {needed} bytes, {left} left"
        );
        let fits = UStepSolver::new(&op, 0.1, true, 1e9, &|| false).unwrap();
        assert!(fits.path().is_exact() && fits.over_budget().is_none());
    }

    #[test]
    fn the_sample_core_counts_shared_patterns_over_several_words() {
        // 130 patterns take three 64-bit words per sample; 600 samples take two panels.
        let (n, d, p) = (600, 3, 130);
        let z = Mat::<f64>::from_fn(n, d, |i, j| ((i * 7 + j * 5) % 13) as f64 - 6.0);
        let mask = Mat::<f64>::from_fn(n, p, |i, j| ((i * 3 + j * 11) % 5 < 2) as u8 as f64);
        let s = sample_core(&z, &mask, &|| false).unwrap();
        let expected = &z * z.transpose();
        let shared = &mask * mask.transpose();
        for k in 0..n {
            for j in k..n {
                assert_eq!(
                    s[(j, k)],
                    expected[(j, k)] * shared[(j, k)],
                    "entry ({j}, {k})"
                );
            }
        }
        assert!(sample_core(&z, &mask, &|| true).is_none());
    }
}
