//! The iterate's measures: its fit, objective, infeasibility and complementarity, and the start
//! moved inside the orthants.

use super::{slacks, stacked_points, Block, Path};
use faer::Mat;

impl Path<'_> {
    /// Rows with a constraint, over all blocks.
    pub(super) fn rows(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| b.signs.iter().filter(|&&w| w != 0.0).count())
            .sum()
    }

    /// What the pair's bound may lack: lambda^T r over the rows and 2 mu per block (psi's share).
    pub(super) fn complementarity(&self) -> f64 {
        self.complementarity_rows() + 2.0 * self.mu * self.blocks.len() as f64
    }

    /// lambda^T r over the rows.
    pub(super) fn complementarity_rows(&self) -> f64 {
        self.blocks
            .iter()
            .map(|b| b.r.iter().zip(&b.lambda).map(|(r, l)| r * l).sum::<f64>())
            .sum()
    }

    /// Moves the slacks and multipliers of a start inside their orthants, as Mehrotra's starting
    /// point does: first above zero by half again the largest deficit, then both by half the
    /// complementarity per unit of the other, so that no pair starts near zero.
    pub(super) fn shift_inside(&mut self) {
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

    /// The largest |C v - r| over the blocks (`infeasible`, see [`Path::infeasibility`]) relative
    /// to the largest slack.
    pub(super) fn largest_infeasibility(&self, infeasible: &[Vec<f64>]) -> f64 {
        let (mut e, mut r) = (0.0f64, 0.0f64);
        for (b, infeasible) in self.blocks.iter().zip(infeasible) {
            e = infeasible.iter().fold(e, |a, v| a.max(v.abs()));
            r = b.r.iter().fold(r, |a, v| a.max(v.abs()));
        }
        e / r.max(f64::MIN_POSITIVE)
    }

    /// C v - r per block: how far its slacks are from its point's.
    pub(super) fn infeasibility(&self) -> Vec<Vec<f64>> {
        let points = stacked_points(self.program.x.ncols(), &self.blocks);
        let products = slacks(self.program.x, &points, &self.blocks);
        (products.iter().zip(&self.blocks))
            .map(|(cv, b)| cv.iter().zip(&b.r).map(|(cv, r)| cv - r).collect())
            .collect()
    }

    /// Blocks per pattern: v_i and w_i, or u_i.
    pub(super) fn per_pattern(&self) -> usize {
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
    pub(super) fn residual(&self) -> Vec<f64> {
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

    /// The gradient of f with respect to the stacked a_i, X^T D_i (residual) per pattern, for the
    /// current point's `residual` ([`Path::residual`]).
    pub(super) fn fit_of(&self, residual: &[f64]) -> Mat<f64> {
        let (x, d) = (self.program.x, self.program.x.ncols());
        let masked = Mat::<f64>::from_fn(x.nrows(), self.masks.ncols(), |j, i| {
            self.masks[(j, i)] * residual[j]
        });
        let gradient = x.transpose() * masked;
        Mat::from_fn(gradient.ncols() * d, 1, |q, _| gradient[(q % d, q / d)])
    }

    /// The fit term at the current point.
    pub(super) fn f(&self) -> f64 {
        0.5 * self.residual().iter().map(|e| e * e).sum::<f64>()
    }

    /// The objective of the restricted program at the current point, whose fit term is `f`
    /// ([`Path::f`], or [`DualFit::f`](super::dual::DualFit::f) of its dual fit).
    pub(super) fn objective(&self, f: f64) -> f64 {
        let norms: f64 = self
            .blocks
            .iter()
            .map(|b| b.v.iter().map(|a| a * a).sum::<f64>().sqrt())
            .sum();
        f + self.program.beta * norms
    }

    /// The epigraph variable s of psi at `v`.
    pub(super) fn epigraph(&self, v: &[f64]) -> f64 {
        let beta = self.program.beta;
        let norm2: f64 = v.iter().map(|a| a * a).sum();
        (self.mu + (self.mu * self.mu + beta * beta * norm2).sqrt()) / beta
    }
}
