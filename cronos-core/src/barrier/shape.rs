//! How much a restricted program's method costs and needs: its estimated floating-point operations
//! and host memory, which decide how its steps solve their reduced systems and whether a polish
//! can afford it.

use super::gram::gram_cost;
use super::{ESTIMATED_ITERATIONS, ROW_CHUNK};
use crate::capacitance;

/// The shape of a restricted program: `n x d` data, `patterns` patterns (ReLU: two blocks each), and
/// the bytes of host memory its method may use, which decide with the cost how its steps solve their
/// reduced systems ([`Shape::through_samples`]).
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) n: usize,
    pub(crate) d: usize,
    pub(crate) patterns: usize,
    pub(crate) relu: bool,
    pub(crate) memory: f64,
}

impl Shape {
    /// Estimated floating-point operations of [`Program::solve`](super::Program::solve).
    pub(crate) fn cost(&self) -> f64 {
        let (dense, samples) = self.reduced_costs();
        let reduced = match self.through_samples() {
            true => samples,
            false => dense,
        };
        let (n, d) = (self.n as f64, self.d as f64);
        reduced + ESTIMATED_ITERATIONS * self.blocks() * (n * d * d + 2.0 * d * d * d)
    }

    /// Estimated bytes of host memory [`Program::solve`](super::Program::solve) needs: the reduced
    /// system (densely, one matrix of the patterns' total width that also holds the Gram matrix; or
    /// the capacitance matrix's, see [`capacitance::bytes`]), and what both ways share
    /// ([`Shape::shared_bytes`]).
    pub(crate) fn bytes(&self) -> f64 {
        self.shared_bytes()
            + match self.through_samples() {
                true => capacitance::bytes(self.n, self.d, self.patterns),
                false => 8.0 * ((self.patterns * self.d) as f64).powi(2),
            }
    }

    /// Whether the steps solve their reduced systems through the capacitance matrix: when that costs
    /// less, as with few rows of many features (1,000 x 784 raw pixels, four patterns), and fits the
    /// memory (on 4,000 x 784 with 16 patterns it costs a third of the dense way, and the dense way
    /// fits 2 GB where it would not).
    pub(super) fn through_samples(&self) -> bool {
        let (dense, samples) = self.reduced_costs();
        samples < dense
            && self.shared_bytes() + capacitance::bytes(self.n, self.d, self.patterns)
                <= self.memory
    }

    /// The estimated floating-point operations of the reduced systems of all steps, solved densely
    /// (forming the Gram matrix once and factoring the patterns' total width every step) and through
    /// the `n x n` capacitance matrix ([`crate::capacitance`]).
    fn reduced_costs(&self) -> (f64, f64) {
        let t = (self.patterns * self.d) as f64;
        let dense = gram_cost(self.n as f64, t) + ESTIMATED_ITERATIONS * t * t * t / 3.0;
        let samples = ESTIMATED_ITERATIONS * capacitance::cost(self.n, self.d, self.patterns);
        (dense, samples)
    }

    /// The bytes both ways need: the blocks' Hessians and eliminations, per thread (the patterns'
    /// parts are formed side by side) a chunk of scaled rows and two `d x d` temporaries, an `n x d`
    /// temporary of the Gram matrix and the rows' vectors. The tightening's five `n x blocks`
    /// matrices ([`Path::tightened`](super::Path::tightened)) live between steps, in what the
    /// steps' Hessians leave.
    fn shared_bytes(&self) -> f64 {
        let threads = rayon::current_num_threads() as f64;
        let chunk = ROW_CHUNK.min(self.n) as f64;
        let (n, d, blocks) = (self.n as f64, self.d as f64, self.blocks());
        8.0 * (n * d
            + threads * (chunk * d + 2.0 * d * d)
            + (blocks + 2.0 * self.patterns as f64) * d * d
            + 4.0 * blocks * n)
    }

    /// Whether a step's work on the rows (the blocks' Hessians, `n d^2` each) costs more than its
    /// reduced system's factorization: many rows of few features, such as all 60,000
    /// Fashion-MNIST training images projected on 50 components.
    pub(super) fn rows_dominate(&self) -> bool {
        let (n, d) = (self.n as f64, self.d as f64);
        let t = self.patterns as f64 * d;
        self.blocks() * n * d * d > t * t * t / 3.0
    }

    fn blocks(&self) -> f64 {
        let per = if self.relu { 2.0 } else { 1.0 };
        per * self.patterns as f64
    }
}
