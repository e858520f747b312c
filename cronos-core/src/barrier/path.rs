//! The iterate's measures: its fit, objective, infeasibility and complementarity, and the start
//! moved inside the orthants.

use super::{cone_slacks, stacked_points, Block, Path};
use faer::Mat;

impl Path<'_> {
    /// Rows with a constraint, over all blocks.
    pub(super) fn rows(&self) -> usize {
        self.blocks.iter().map(|b| b.rows.len()).sum()
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
        let lowest = |of: &dyn Fn(&Block) -> &[f64]| {
            (self.blocks.iter().flat_map(of)).fold(f64::INFINITY, |a, &v| a.min(v))
        };
        let dr = (-1.5 * lowest(&|b| &b.r)).max(0.0);
        let dl = (-1.5 * lowest(&|b| &b.lambda)).max(0.0);
        let (mut product, mut sum_r, mut sum_l) = (0.0, 0.0, 0.0);
        for b in &self.blocks {
            for (r, l) in b.r.iter().zip(&b.lambda) {
                let (r, l) = (r + dr, l + dl);
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
            b.r.iter_mut().for_each(|r| *r += shift_r);
            b.lambda.iter_mut().for_each(|l| *l += shift_l);
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

    /// Per block the slacks C v of all its rows at the current point (from one product with X for
    /// all blocks; empty for gated blocks).
    pub(super) fn cone_slacks(&self) -> Vec<Vec<f64>> {
        let points = stacked_points(self.program.x.ncols(), &self.blocks);
        cone_slacks(self.program.x, &points, &self.blocks)
    }

    /// C v - r per block on its working rows: how far its slacks are from its point's (`cone`, the
    /// slacks of all rows, see [`Path::cone_slacks`]).
    pub(super) fn infeasibility(&self, cone: &[Vec<f64>]) -> Vec<Vec<f64>> {
        (self.blocks.iter().zip(cone))
            .map(|(b, all)| {
                (b.rows.iter().zip(&b.r))
                    .map(|(&j, r)| all[j] - r)
                    .collect()
            })
            .collect()
    }

    /// Adds to each block the rows left out of its working rows that its point violates beyond
    /// rounding (1e-12 of the largest slack; `cone`, the slacks of all rows, see
    /// [`Path::cone_slacks`]), their slacks at the violation's size and their multipliers centred
    /// at mu; whether any row joined.
    pub(super) fn join_violated(&mut self, cone: &[Vec<f64>]) -> bool {
        if !self.relu {
            return false;
        }
        let largest = (self.blocks.iter().flat_map(|b| &b.r)).fold(0.0f64, |a, r| a.max(r.abs()));
        let mu = self.mu.max(f64::MIN_POSITIVE);
        let mut joined = false;
        for (b, slacks) in self.blocks.iter_mut().zip(cone) {
            let mut working = vec![false; b.cone.len()];
            for &j in &b.rows {
                working[j] = true;
            }
            for (j, &slack) in slacks.iter().enumerate() {
                if b.cone[j] != 0.0 && !working[j] && slack < -1e-12 * largest {
                    b.rows.push(j);
                    b.signs.push(b.cone[j]);
                    b.r.push(-slack);
                    b.lambda.push(mu / -slack);
                    joined = true;
                }
            }
        }
        joined
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
