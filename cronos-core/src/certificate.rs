//! A certificate of optimality: a feasible dual point and the lower bound it proves.
//!
//! Per output column k the dual of the ReLU program is
//!
//! ```text
//! max  z_k^T y_k - 1/2 ||z_k||^2   over z_k and mu_k >= 0
//! s.t. || (F^T z_k + G^T mu_k)_b || <= beta   for every block b,
//! ```
//!
//! which for block v_i reads || X^T D_i z_k + X^T (2 D_i - I) mu_{v_i,k} || <= beta and for w_i
//! || -X^T D_i z_k + X^T (2 D_i - I) mu_{w_i,k} || <= beta (gated program: no mu). At the optimum
//! z = y - prediction. Any pair becomes feasible when scaled by t <= beta / max_b ||h_b||, and its value
//! is then a lower bound on the optimum (weak duality), so objective minus bound bounds the true gap.
//!
//! The candidate takes z from the current prediction and mu from ADMM's cone multiplier, then tightens
//! mu by accelerated projected-gradient steps on min_{mu >= 0} 1/2 sum_b ||F^T z + G^T mu||_b^2, one
//! independent nonnegative least-squares problem per block: ADMM's multiplier alone certifies a gap
//! several times larger than the true one for hundreds of iterations.

use crate::host;
use crate::operator::ConvexOperator;
use burn::prelude::*;
use faer::Mat;

/// Projected-gradient steps on mu per evaluation.
const TIGHTENING_STEPS: usize = 50;

/// A dual point in the solver's scaled units, already multiplied by its feasibility factor.
#[derive(Debug, Clone)]
pub(crate) struct DualPoint<B: Backend> {
    /// z (`n x c`) and mu (`n x B c` in the layout of G U, ReLU program only).
    pub(crate) values: DualValues<B>,
    /// The dual objective at (z, mu): a lower bound on the optimum.
    pub(crate) bound: f64,
}

impl<B: Backend> DualPoint<B> {
    /// Whether its values, and so its bound, were evaluated on the device.
    pub(crate) fn on_device(&self) -> bool {
        matches!(self.values, DualValues::Device { .. })
    }
}

/// Where a dual point's values live: on the device, in the solve's precision, or on the host in
/// f64 (the dual point of a polish, see [`host_dual`]).
#[derive(Debug, Clone)]
pub(crate) enum DualValues<B: Backend> {
    Device {
        z: Tensor<B, 2>,
        mu: Option<Tensor<B, 2>>,
    },
    Host {
        z: Mat<f64>,
        mu: Option<Mat<f64>>,
    },
}

/// The largest t <= beta / sqrt(`h_max`) (`h_max` the largest squared block norm of F^T z + G^T mu)
/// maximizing t z^T y - t^2 / 2 ||z||^2, for `zy` = z^T y and `zz` = ||z||^2 of one output, with
/// that value: the scaled pair is feasible and its value a lower bound.
pub(crate) fn feasible_scale(zy: f64, zz: f64, h_max: f64, beta: f64) -> (f64, f64) {
    let t_max = if h_max > 0.0 {
        beta / h_max.sqrt()
    } else {
        f64::INFINITY
    };
    let t = if zz > 0.0 {
        (zy / zz).clamp(0.0, t_max)
    } else {
        0.0
    };
    (t, t * zy - 0.5 * t * t * zz)
}

/// The best feasible dual point near (y - `prediction`, `mu`), for `y` and `prediction` `n x c` and
/// `mu` `n x B c`; `lipschitz` is the largest eigenvalue of G G^T (that of c^2 X^T X).
pub(crate) fn tighten<B: Backend>(
    op: &ConvexOperator<B>,
    y: &Tensor<B, 2>,
    prediction: Tensor<B, 2>,
    mu: Option<Tensor<B, 2>>,
    beta: f64,
    lipschitz: f64,
) -> DualPoint<B> {
    let z = y.clone() - prediction;
    let ftz = op.ft(z.clone());
    let mu = mu.map(|mu0| nonnegative_least_squares(op, &ftz, mu0.clamp_min(0.0), lipschitz));
    let h = match &mu {
        Some(mu) => ftz + op.gt(mu.clone()).expect("cone operator"),
        None => ftz,
    };
    let c = z.dims()[1];
    let blocks = op.blocks();
    let h_max = h.square().sum_dim(0).reshape([blocks, c]).max_dim(0);
    let zy = (z.clone() * y.clone()).sum_dim(0);
    let zz = z.clone().square().sum_dim(0);
    let (sums, _, h_max) = op.rows().read(
        vec![zy.reshape([c]), zz.reshape([c])],
        vec![],
        vec![h_max.reshape([c])],
    );
    let (zy, zz) = sums.split_at(c);
    let mut bound = 0.0;
    let scales: Vec<f64> = (0..c)
        .map(|k| {
            let (t, value) = feasible_scale(zy[k], zz[k], h_max[k], beta);
            bound += value;
            t
        })
        .collect();
    let t = host::upload(scales, [1, c], &z);
    DualPoint {
        values: DualValues::Device {
            mu: mu.map(|mu| mu * t.clone().repeat_dim(1, blocks)),
            z: z * t,
        },
        bound,
    }
}

/// A program's rows on the host in f64, in the solver's scaled units (this peer's rows in a sharded
/// solve): data `x` (`n x d`), patterns `mask` (`n x P`), targets `y` (`n x c`) and `cone_scale`, the
/// scale of G.
pub(crate) struct HostRows {
    pub(crate) x: Mat<f64>,
    pub(crate) mask: Mat<f64>,
    pub(crate) y: Mat<f64>,
    pub(crate) cone_scale: f64,
}

impl HostRows {
    /// `op`'s rows with targets `y`, copied to the host.
    pub(crate) fn of<B: Backend>(op: &ConvexOperator<B>, y: &Tensor<B, 2>) -> Self {
        Self {
            x: host::to_faer(op.x().clone()),
            mask: host::to_faer(op.mask().clone()),
            y: host::to_faer(y.clone()),
            cone_scale: op.cone_scale(),
        }
    }
}

/// The dual point of the point `v` (`d x B c`, B = 2P blocks for the ReLU program, P for the
/// gated one) with cone multipliers `mu` (`n x B c`, ReLU program only) on `rows`, evaluated on
/// the host in f64: z = y - F v and mu, scaled to feasibility; `over_peers` completes the sums over
/// these rows with the other peers' in a sharded solve ([`crate::rows::Rows::sum_host`]). A polish
/// solves in f64 and this keeps its accuracy: in an f32 solve the device's sums over n rows round
/// at about 1e-7 of their terms, which on raw pixels is the size of beta itself (the 12,000 x 784
/// two-class problem with P = 4 polished to objective 543.6097 in f32 and in f64; evaluated on the
/// device the f32 solve's bound left a gap of 0.73, the f64 one 2e-9).
pub(crate) fn host_dual<B: Backend>(
    rows: &HostRows,
    v: &Mat<f64>,
    mu: Option<&Mat<f64>>,
    beta: f64,
    over_peers: impl FnOnce(Vec<f64>) -> Vec<f64>,
) -> DualPoint<B> {
    let (x, mask) = (&rows.x, &rows.mask);
    let (n, p, c) = (x.nrows(), mask.ncols(), rows.y.ncols());
    let blocks = v.ncols() / c;
    let xv = x * v;
    let mut z = rows.y.clone();
    for b in 0..blocks {
        for k in 0..c {
            for j in 0..n {
                z[(j, k)] -= block_sign(b, p) * mask[(j, b % p)] * xv[(j, b * c + k)];
            }
        }
    }
    let sums = over_peers(row_sums(rows, &z, mu));
    scaled_to_feasibility(&sums, x.ncols(), z, mu, beta)
}

/// `dual`, a dual point of `op`'s program with targets `y`, with its bound evaluated on the host in
/// f64 (and the pair scaled to feasibility there): what a device's f32 sums over many rows round
/// away can put its bound above the optimum (see [`crate::checks::Checks::settle`]). A point
/// already on the host is returned as it is. In a sharded solve each peer sums over its own rows
/// on the host and the peers' sums are added in f64 where the backend holds f64
/// ([`crate::rows::Rows::sum_host`]).
pub(crate) fn on_host<B: Backend>(
    op: &ConvexOperator<B>,
    y: &Tensor<B, 2>,
    dual: &DualPoint<B>,
    beta: f64,
) -> DualPoint<B> {
    let DualValues::Device { z, mu } = &dual.values else {
        return dual.clone();
    };
    let (z, mu) = (host::to_faer(z.clone()), mu.clone().map(host::to_faer));
    let rows = HostRows::of(op, y);
    let sums = op.rows().sum_host(row_sums(&rows, &z, mu.as_ref()), y);
    scaled_to_feasibility(&sums, rows.x.ncols(), z, mu.as_ref(), beta)
}

/// Block b of P patterns enters F with sign +1 (v_i, or gated u_i) or -1 (w_i).
fn block_sign(b: usize, p: usize) -> f64 {
    if b < p {
        1.0
    } else {
        -1.0
    }
}

/// The sums over `rows` that the bound of the pair (`z`, `mu`) needs, on the host in f64, in one
/// vector: X^T r (`d x B c` row-major, r the pair's block columns F z + G mu), then z^T y and
/// ||z||^2 per output.
fn row_sums(rows: &HostRows, z: &Mat<f64>, mu: Option<&Mat<f64>>) -> Vec<f64> {
    let (x, mask, y) = (&rows.x, &rows.mask, &rows.y);
    let (n, p, c) = (x.nrows(), mask.ncols(), y.ncols());
    let blocks = mu.map_or(p, |mu| mu.ncols() / c);
    let r = Mat::<f64>::from_fn(n, blocks * c, |j, col| {
        let (b, k) = (col / c, col % c);
        let cone = mu.map_or(0.0, |mu| {
            rows.cone_scale * (2.0 * mask[(j, b % p)] - 1.0) * mu[(j, col)]
        });
        block_sign(b, p) * mask[(j, b % p)] * z[(j, k)] + cone
    });
    let mut sums = host::row_major(&(x.transpose() * &r));
    sums.extend((0..c).map(|k| (0..n).map(|j| z[(j, k)] * y[(j, k)]).sum::<f64>()));
    sums.extend((0..c).map(|k| (0..n).map(|j| z[(j, k)].powi(2)).sum::<f64>()));
    sums
}

/// The pair (`z`, `mu`) scaled to feasibility, with its bound, from its [`row_sums`] over every
/// row (`d` features).
fn scaled_to_feasibility<B: Backend>(
    sums: &[f64],
    d: usize,
    z: Mat<f64>,
    mu: Option<&Mat<f64>>,
    beta: f64,
) -> DualPoint<B> {
    let (n, c) = (z.nrows(), z.ncols());
    let columns = (sums.len() - 2 * c) / d;
    let (h, products) = sums.split_at(d * columns);
    let (zy, zz) = products.split_at(c);
    let mut bound = 0.0;
    let scales: Vec<f64> = (0..c)
        .map(|k| {
            let norm = |col: usize| {
                let rows = h.chunks_exact(columns);
                rows.map(|row| row[col].powi(2)).sum::<f64>()
            };
            let h_max = (k..columns).step_by(c).map(norm).fold(0.0, f64::max);
            let (t, value) = feasible_scale(zy[k], zz[k], h_max, beta);
            bound += value;
            t
        })
        .collect();
    let z = Mat::from_fn(n, c, |j, k| z[(j, k)] * scales[k]);
    let mu = mu.map(|mu| Mat::from_fn(n, columns, |j, col| mu[(j, col)] * scales[col % c]));
    DualPoint {
        values: DualValues::Host { z, mu },
        bound,
    }
}

/// FISTA on min_{mu >= 0} 1/2 ||F^T z + G^T mu||^2 (block-separable) from `mu`, a fixed number of steps
/// so that it needs no host reads.
fn nonnegative_least_squares<B: Backend>(
    op: &ConvexOperator<B>,
    ftz: &Tensor<B, 2>,
    mu: Tensor<B, 2>,
    lipschitz: f64,
) -> Tensor<B, 2> {
    if lipschitz <= 0.0 {
        return mu;
    }
    let gradient = |m: &Tensor<B, 2>| {
        let h = ftz.clone() + op.gt(m.clone()).expect("cone operator");
        op.g_from_xu(op.xu(&h)).expect("cone operator")
    };
    let (mut current, mut previous) = (mu.clone(), mu);
    for k in 1..=TIGHTENING_STEPS {
        let momentum = (k as f64 - 1.0) / (k as f64 + 2.0);
        let look = current.clone() + (current.clone() - previous) * momentum;
        let next = (look.clone() - gradient(&look) / lipschitz).clamp_min(0.0);
        previous = current;
        current = next;
    }
    current
}

/// What an independent check of optimality needs, in the caller's units: with the returned network
/// (W1, W2) and the gates it gives the objective, and (z, mu) prove `lower_bound`.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// Dual point z, `n x c` row-major.
    pub z: Vec<f64>,
    /// Cone multipliers, `n x 2P x c` row-major (block 2i for v_i, 2i+1 for w_i); `None` for the
    /// gated program.
    pub mu: Option<Vec<f64>>,
    /// Samples n, patterns P, outputs c.
    pub shape: [usize; 3],
    /// Regularization beta.
    pub beta: f64,
    /// Objective of the returned network.
    pub objective: f64,
    /// Dual objective at (z, mu): no network with these patterns does better.
    pub lower_bound: f64,
}

impl Certificate {
    /// Appends the rows of `next`, the certificate of the next block of rows of the same sharded
    /// solve (see [`crate::Cronos::fit_shard`]): z and mu gain its rows, the rest is shared.
    pub fn append_rows(&mut self, next: &Certificate) {
        self.z.extend_from_slice(&next.z);
        if let (Some(mu), Some(more)) = (&mut self.mu, &next.mu) {
            mu.extend_from_slice(more);
        }
        self.shape[0] += next.shape[0];
    }

    /// The certificate of `dual` (scaled units) in the caller's units: z and mu scale with the targets
    /// (`sy`), mu also with the scale of G (`cone_scale`).
    pub(crate) fn new<B: Backend>(
        dual: &DualPoint<B>,
        sy: f64,
        cone_scale: f64,
        patterns: usize,
        beta: f64,
        objective: f64,
    ) -> Self {
        let (z, mu, [n, c]) = match &dual.values {
            DualValues::Device { z, mu } => (
                host::to_vec(z.clone()),
                mu.clone().map(host::to_vec),
                z.dims(),
            ),
            DualValues::Host { z, mu } => (
                host::row_major(z),
                mu.as_ref().map(host::row_major),
                [z.nrows(), z.ncols()],
            ),
        };
        let z = z.into_iter().map(|value| value * sy).collect();
        let p = patterns;
        let mu = mu.map(|values| {
            let blocks = 2 * p;
            // Our columns are (b c + k) with v-blocks first; exported as [row][2i + side][k].
            let mut out = vec![0.0; n * blocks * c];
            for row in 0..n {
                for b in 0..blocks {
                    let (i, side) = (b % p, b / p);
                    for k in 0..c {
                        out[(row * blocks + 2 * i + side) * c + k] =
                            values[row * blocks * c + b * c + k] * (sy * cone_scale);
                    }
                }
            }
            out
        });
        Self {
            z,
            mu,
            shape: [n, p, c],
            beta,
            objective,
            lower_bound: dual.bound * sy * sy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{host_dual, HostRows};
    use crate::test_support::B;
    use faer::Mat;

    /// X = I, one pattern holding both rows, y = (2, -3), beta = 1/2: the optimum is v = (1.5, 0),
    /// w = (0, 2.5) with objective 1/2 ||(0.5, -0.5)||^2 + beta (1.5 + 2.5) = 2.25 and cone
    /// multipliers (0, beta) and (beta, 0) (see the barrier's test of the same problem), which make
    /// the pair feasible as it is: its bound is the optimum. Without multipliers the pair must be
    /// scaled by t = beta / ||z||.
    #[test]
    fn the_host_bound_of_the_optimum_is_the_optimum() {
        let beta = 0.5;
        let x = Mat::<f64>::identity(2, 2);
        let mask = Mat::<f64>::from_fn(2, 1, |_, _| 1.0);
        let y = Mat::<f64>::from_fn(2, 1, |j, _| [2.0, -3.0][j]);
        let v = Mat::<f64>::from_fn(2, 2, |r, b| [[1.5, 0.0], [0.0, 2.5]][r][b]);
        let mu = Mat::<f64>::from_fn(2, 2, |j, b| [[0.0, beta], [beta, 0.0]][j][b]);
        let rows = HostRows {
            x,
            mask,
            y,
            cone_scale: 1.0,
        };
        let exact = host_dual::<B>(&rows, &v, Some(&mu), beta, |sums| sums);
        assert!((exact.bound - 2.25).abs() < 1e-14, "{}", exact.bound);

        let none = Mat::<f64>::zeros(2, 2);
        let scaled = host_dual::<B>(&rows, &v, Some(&none), beta, |sums| sums);
        let t = beta / 0.5f64.sqrt();
        let expected = t * (2.0 * 0.5 + 3.0 * 0.5) - t * t / 2.0 * 0.5;
        assert!((scaled.bound - expected).abs() < 1e-14, "{}", scaled.bound);
    }
}
