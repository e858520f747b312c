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

/// Projected-gradient steps on mu per evaluation.
const TIGHTENING_STEPS: usize = 50;

/// A dual point in the solver's scaled units, already multiplied by its feasibility factor.
#[derive(Debug, Clone)]
pub(crate) struct DualPoint<B: Backend> {
    /// `n x c`.
    pub(crate) z: Tensor<B, 2>,
    /// `n x B c` in the layout of G U (ReLU program only).
    pub(crate) mu: Option<Tensor<B, 2>>,
    /// The dual objective at (z, mu): a lower bound on the optimum.
    pub(crate) bound: f64,
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
            let t_max = if h_max[k] > 0.0 {
                beta / h_max[k].sqrt()
            } else {
                f64::INFINITY
            };
            let t = if zz[k] > 0.0 {
                (zy[k] / zz[k]).clamp(0.0, t_max)
            } else {
                0.0
            };
            bound += t * zy[k] - 0.5 * t * t * zz[k];
            t
        })
        .collect();
    let t = host::upload(scales, [1, c], &z);
    DualPoint {
        mu: mu.map(|mu| mu * t.clone().repeat_dim(1, blocks)),
        z: z * t,
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
        let [n, c] = dual.z.dims();
        let z = host::to_vec(dual.z.clone() * sy);
        let p = patterns;
        let mu = match &dual.mu {
            Some(mu) => {
                let blocks = 2 * p;
                let values = host::to_vec(mu.clone() * (sy * cone_scale));
                // Our columns are (b c + k) with v-blocks first; exported as [row][2i + side][k].
                let mut out = vec![0.0; n * blocks * c];
                for row in 0..n {
                    for b in 0..blocks {
                        let (i, side) = (b % p, b / p);
                        for k in 0..c {
                            out[(row * blocks + 2 * i + side) * c + k] =
                                values[row * blocks * c + b * c + k];
                        }
                    }
                }
                Some(out)
            }
            None => None,
        };
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
