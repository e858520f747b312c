//! Type-II Anderson acceleration of a fixed-point iteration z <- T(z) (Walker & Ni 2011; as used for
//! ADMM-type splittings by Zhang, O'Donoghue & Boyd 2020 and in SCS 3).
//!
//! ADMM converges linearly at best and often crawls in its tail; extrapolating from the last few
//! iterates removes most of that crawl. The caller safeguards the extrapolated point (see the solver).

use crate::host;
use burn::prelude::*;
use nalgebra::{DMatrix, DVector};

/// Memory of differences of map outputs f = T(z) and residuals g = z - f, as flat vectors.
#[derive(Debug)]
pub struct Anderson<B: Backend> {
    memory: usize,
    last: Option<(Tensor<B, 1>, Tensor<B, 1>)>,
    df: Vec<Tensor<B, 1>>,
    dg: Vec<Tensor<B, 1>>,
}

impl<B: Backend> Anderson<B> {
    /// Acceleration from the last `memory` steps.
    pub fn new(memory: usize) -> Self {
        Self {
            memory,
            last: None,
            df: Vec::new(),
            dg: Vec::new(),
        }
    }

    /// Forgets all history (after a change of the map, e.g. a new penalty, or a rejected step).
    pub fn reset(&mut self) {
        self.last = None;
        self.df.clear();
        self.dg.clear();
    }

    /// Whether the last call to [`Anderson::next`] extrapolated (rather than returning `f` unchanged).
    pub fn extrapolated(&self) -> bool {
        !self.dg.is_empty()
    }

    /// The next iterate, given the map's output `f = T(z)` and residual `g = z - f` at the current one:
    /// f - dF gamma with gamma = argmin ||g - dG gamma||.
    pub fn next(&mut self, f: Tensor<B, 1>, g: Tensor<B, 1>) -> Tensor<B, 1> {
        if let Some((f_prev, g_prev)) = self.last.take() {
            self.df.push(f.clone() - f_prev);
            self.dg.push(g.clone() - g_prev);
            if self.df.len() > self.memory {
                self.df.remove(0);
                self.dg.remove(0);
            }
        }
        self.last = Some((f.clone(), g.clone()));
        if self.dg.is_empty() {
            return f;
        }
        let m = self.dg.len();
        let dg = Tensor::stack::<2>(self.dg.clone(), 0);
        let gram = host::to_matrix(dg.clone().matmul(dg.clone().transpose()));
        let rhs = host::to_vec(dg.matmul(g.unsqueeze_dim::<2>(1)));
        // Tikhonov regularization relative to the Gram matrix keeps the small solve well posed.
        let reg = 1e-10 * gram.trace().max(f64::MIN_POSITIVE);
        let gamma = (gram + DMatrix::identity(m, m) * reg)
            .cholesky()
            .map(|c| c.solve(&DVector::from_vec(rhs)));
        match gamma {
            Some(gamma) if gamma.iter().all(|v| v.is_finite()) => {
                let like = f.clone().unsqueeze_dim::<2>(0);
                let coeff = host::upload(gamma.as_slice().to_vec(), [1, m], &like);
                let df = Tensor::stack::<2>(self.df.clone(), 0);
                f - coeff.matmul(df).squeeze_dim::<1>(0)
            }
            _ => {
                self.reset();
                f
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f64>;

    #[test]
    fn solves_a_linear_fixed_point_in_few_steps() {
        // T(z) = M z + b with a slowly contracting M: plain iteration needs ~1000 steps for 1e-10.
        let dev = Default::default();
        let m =
            Tensor::<B, 2>::from_data([[0.99, 0.0, 0.0], [0.0, 0.5, 0.1], [0.0, 0.1, 0.9]], &dev);
        let b = Tensor::<B, 1>::from_data([1.0, 2.0, 3.0], &dev);
        let map = |z: Tensor<B, 1>| {
            m.clone()
                .matmul(z.unsqueeze_dim::<2>(1))
                .squeeze_dim::<1>(1)
                + b.clone()
        };
        let mut aa = Anderson::new(5);
        let mut z = Tensor::<B, 1>::zeros([3], &dev);
        for _ in 0..10 {
            let f = map(z.clone());
            z = aa.next(f.clone(), z - f);
        }
        let residual = host::scalar((map(z.clone()) - z).abs().max());
        assert!(
            residual < 1e-8,
            "fixed-point residual {residual} after 10 accelerated steps"
        );
    }
}
