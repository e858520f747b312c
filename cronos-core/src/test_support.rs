//! Small problems shared by the unit tests.

use crate::host;
use crate::operator::ConvexOperator;
use crate::patterns::{gaussian_gates, Patterns};
use crate::Formulation;
use burn::backend::NdArray;
use burn::prelude::*;

pub(crate) type B = NdArray<f64>;

/// A `rows x cols` matrix of standard normal entries drawn from `seed`.
pub(crate) fn gaussian(rows: usize, cols: usize, seed: u64) -> Tensor<B, 2> {
    let like = Tensor::<B, 2>::zeros([1, 1], &Default::default());
    host::upload(gaussian_gates(rows, cols, seed), [rows, cols], &like)
}

/// A small problem with decaying column scales (an ill-conditioned X): `n` rows, 5 features and
/// the patterns of 4 Gaussian gates.
pub(crate) fn operator(n: usize, formulation: Formulation) -> ConvexOperator<B> {
    let scales = host::upload(vec![10.0, 3.0, 1.0, 0.3, 0.01], [1, 5], &gaussian(1, 1, 0));
    let x = gaussian(n, 5, 1) * scales;
    let patterns = Patterns::new(&x, gaussian(5, 4, 2), true).unwrap();
    ConvexOperator::new(x, patterns.mask, formulation)
}
