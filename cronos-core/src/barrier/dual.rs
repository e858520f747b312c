//! The iterate's dual point: the gap that z = y - prediction certifies with the iterate's
//! multipliers, and multipliers tightened for it.

use super::Path;
use crate::certificate::feasible_scale;
use faer::Mat;

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
pub(super) fn largest_eigenvalue(x: &Mat<f64>) -> f64 {
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

/// What every dual point of one iterate shares: z = y - prediction, and per block (a column each)
/// the part of its dual constraint's vector that the multipliers do not change.
pub(super) struct DualFit {
    z: Vec<f64>,
    fixed: Mat<f64>,
    /// The fit's gradient it was formed from ([`Path::fit_of`]), which the step takes too.
    pub(super) fit: Mat<f64>,
}

impl DualFit {
    /// The fit term 1/2 ||z||^2 of the iterate it was formed from (z is its residual's negative).
    pub(super) fn f(&self) -> f64 {
        0.5 * self.z.iter().map(|z| z * z).sum::<f64>()
    }
}

impl Path<'_> {
    /// The iterate's [`DualFit`], from one residual: the fixed part of block b is
    /// sigma_b X^T D_i z, its pattern's part of the fit's gradient (see [`Path::fit_of`]) with the
    /// opposite sign for v_i and u_i, the same for w_i.
    pub(super) fn dual_fit(&self) -> DualFit {
        let d = self.program.x.ncols();
        let residual = self.residual();
        let fit = self.fit_of(&residual);
        let fixed = Mat::from_fn(d, self.blocks.len(), |p, index| {
            let i = index / self.per_pattern();
            let sign = match self.relu && index % 2 == 1 {
                true => 1.0,
                false => -1.0,
            };
            sign * fit[(i * d + p, 0)]
        });
        DualFit {
            z: residual.iter().map(|e| -e).collect(),
            fixed,
            fit,
        }
    }

    /// The blocks' cone signs as columns (`n x blocks`; zero on rows without a constraint and for
    /// gated blocks).
    fn signs(&self) -> Mat<f64> {
        self.by_rows(|b| &b.signs)
    }

    /// The blocks' multipliers as columns (`n x blocks`; zero for gated blocks).
    fn lambdas(&self) -> Mat<f64> {
        self.by_rows(|b| &b.lambda)
    }

    /// Per block (a column each) the working rows' `values` as values of every row, zero on the
    /// others (`n x blocks`).
    fn by_rows(&self, values: impl Fn(&super::Block) -> &[f64]) -> Mat<f64> {
        let mut all = Mat::<f64>::zeros(self.program.x.nrows(), self.blocks.len());
        for (k, b) in self.blocks.iter().enumerate() {
            b.scatter(values(b), all.col_as_slice_mut(k));
        }
        all
    }

    /// The duality gap, relative to `objective` (the current one), that z = y - prediction (of
    /// `dual`) certifies for the restricted program with multipliers whose dual constraint vectors
    /// are the columns of `h`, once scaled into the dual constraints
    /// ||sigma_b X^T D_i z + C_b^T lambda_b|| <= beta (see [`crate::certificate`]).
    fn gap_of(&self, objective: f64, dual: &DualFit, h: &Mat<f64>) -> f64 {
        let h_max = (0..h.ncols())
            .map(|b| h.col(b).squared_norm_l2())
            .fold(0.0, f64::max);
        let z = &dual.z;
        let zy = z.iter().zip(self.program.y).map(|(z, y)| z * y).sum();
        let zz = z.iter().map(|z| z * z).sum();
        let (_, bound) = feasible_scale(zy, zz, h_max, self.program.beta);
        (objective - bound) / objective.abs().max(f64::MIN_POSITIVE)
    }

    /// The duality gap, relative to `objective`, that the iterate certifies with its own multipliers
    /// (`dual` its [`Path::dual_fit`]).
    pub(super) fn certified_gap(&self, objective: f64, dual: &DualFit) -> f64 {
        let h = dual_vectors(self.program.x, &dual.fixed, &self.signs(), &self.lambdas());
        self.gap_of(objective, dual, &h)
    }

    /// Multipliers that certify the current point better than its own, and the gap they certify:
    /// `steps` projected-gradient steps from the iterate's own ([`tightened_multipliers`]). The
    /// iterate's multipliers serve its steps, and their stationarity residual is what falls last on
    /// raw pixels; with z fixed, the best multipliers are an independent nonnegative least-squares
    /// problem per block. `dual` is the iterate's [`Path::dual_fit`], `lipschitz` the largest
    /// eigenvalue of X^T X.
    pub(super) fn tightened(
        &self,
        objective: f64,
        dual: &DualFit,
        steps: usize,
        lipschitz: f64,
    ) -> (f64, Mat<f64>) {
        let (x, fixed) = (self.program.x, &dual.fixed);
        let signs = self.signs();
        let lambdas = tightened_multipliers(x, fixed, &signs, self.lambdas(), steps, lipschitz);
        let h = dual_vectors(x, fixed, &signs, &lambdas);
        (self.gap_of(objective, dual, &h), lambdas)
    }

    /// Makes `lambdas` (`n x blocks`) the blocks' multipliers.
    pub(super) fn adopt(&mut self, lambdas: &Mat<f64>) {
        for (index, b) in self.blocks.iter_mut().enumerate() {
            for (&j, lambda) in b.rows.iter().zip(b.lambda.iter_mut()) {
                *lambda = lambdas[(j, index)];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{dual_vectors, largest_eigenvalue, tightened_multipliers};
    use faer::Mat;

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
}
