//! Sums whose order of addition is fixed, so that a solve repeats to the bit.
//!
//! Flex adds f32 tensors of 4M elements or more in parallel chunks that rayon combines in an order it
//! leaves open (a 6,000 x 784 image matrix gave objectives 1.4e-6 apart, relatively, in two runs). Summing each
//! row first (one sequential pass per row) and then the column of row sums keeps every addition in one
//! order on every run, for any tensor with fewer than 4M rows.

use burn::prelude::*;

/// The sum of the squares of `t`'s entries, as a one-element tensor.
pub fn sum_squares<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, 1> {
    t.square().sum_dim(D - 1).sum()
}
