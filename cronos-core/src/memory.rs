//! The memory a solve needs, estimated from the shapes before anything large is allocated, so that a
//! request that cannot fit (100,000 neurons on a laptop) fails at once with the sizes that make it
//! large, instead of swapping for minutes and breaking down.
//!
//! For `n` samples, `d` features, `P` gate vectors, `c` outputs and `B` blocks per output (2P for
//! ReLU, P for gated), with elements of `e` bytes on the device:
//!
//! * data: X as given, X scaled, its transpose and (ReLU) Z = X T and Z^T: up to 5 n d elements;
//! * patterns: X G, the 0/1 mask and (ReLU) the signs 2 D - I twice over: up to 5 n P elements;
//! * the cone iterates (ReLU): s and nu, their previous values, G u, X u, the relaxed and shifted
//!   copies an iteration forms, the rho sweep's best candidate and the certificate's mu (host f64):
//!   [`N_SIDE_COPIES`] tensors of `n x B c`;
//! * the point iterates: v, lambda, u, A u, the right-hand side and the PCG vectors, for the current
//!   run and the sweep's best candidate: [`D_SIDE_COPIES`] tensors of `d x B c`.
//!
//! This is the footprint of the PCG path, the least any solve needs; the u-step core
//! ([`crate::ustep`]) is factored only when it fits in what the budget leaves. The copy counts were
//! read from the solver and checked against the peak resident memory of `cronos fit`
//! (`cronos-examples/README.md`, "Limits"), which they bound from above.

use crate::error::{CronosError, Result};
use crate::{CronosConfig, Formulation};

/// Live `n x B c` tensors at the peak of an iteration, the certificate included (ReLU program).
const N_SIDE_COPIES: f64 = 14.0;
/// Live `n x P c` tensors at the peak of an iteration of the gated program (X z and its masked
/// copies).
const N_SIDE_COPIES_GATED: f64 = 8.0;
/// Live `d x B c` tensors at the peak of an iteration.
const D_SIDE_COPIES: f64 = 20.0;

/// Bytes a solve needs on its cheapest (PCG) path, by part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Footprint {
    pub(crate) data: f64,
    pub(crate) patterns: f64,
    pub(crate) iterates: f64,
}

impl Footprint {
    /// The footprint of a solve on `n x d` data with `c` outputs and `p` gate vectors, with device
    /// elements of `elem_bytes` bytes.
    pub(crate) fn new(
        [n, d, c]: [usize; 3],
        p: usize,
        formulation: Formulation,
        elem_bytes: usize,
    ) -> Self {
        let (n, d, c, p, e) = (n as f64, d as f64, c as f64, p as f64, elem_bytes as f64);
        let relu = formulation == Formulation::Relu;
        let blocks = if relu { 2.0 * p } else { p };
        let (data_copies, pattern_copies, n_side) = if relu {
            (5.0, 5.0, N_SIDE_COPIES * n * blocks * c)
        } else {
            (3.0, 2.0, N_SIDE_COPIES_GATED * n * p * c)
        };
        Self {
            data: e * (data_copies * n * d + 2.0 * d * d),
            patterns: e * pattern_copies * n * p,
            iterates: e * (n_side + D_SIDE_COPIES * d * blocks * c),
        }
    }

    /// The footprint of a solve configured by `config` (its formulation), failing with
    /// [`CronosError::Memory`] when it exceeds the budget.
    pub(crate) fn within_budget(
        config: &CronosConfig,
        shape: [usize; 3],
        p: usize,
        elem_bytes: usize,
    ) -> Result<Self> {
        let footprint = Self::new(shape, p, config.formulation, elem_bytes);
        footprint.check(config.memory_budget_gb)?;
        Ok(footprint)
    }

    /// All parts together, in bytes.
    pub(crate) fn total(&self) -> f64 {
        self.data + self.patterns + self.iterates
    }

    /// Fails with [`CronosError::Memory`] when the footprint exceeds `budget_gb`.
    fn check(&self, budget_gb: f64) -> Result<()> {
        if self.total() <= budget_gb * 1e9 {
            return Ok(());
        }
        let parts = [
            ("the data", self.data),
            ("the activation patterns", self.patterns),
            ("the iterates", self.iterates),
        ];
        let (largest, bytes) = parts
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("three parts");
        Err(CronosError::Memory {
            needed_gb: self.total() / 1e9,
            budget_gb,
            largest: format!("{largest} take {:.2} GB", bytes / 1e9),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_thousand_neurons_on_eight_features_are_refused_with_the_reason() {
        let footprint = Footprint::new([1000, 8, 1], 100_000, Formulation::Relu, 4);
        let err = footprint.check(2.0).unwrap_err();
        let CronosError::Memory {
            needed_gb,
            budget_gb,
            largest,
        } = &err
        else {
            panic!("not a memory error: {err}")
        };
        assert!(*needed_gb > 10.0, "{err}");
        assert_eq!(*budget_gb, 2.0);
        assert!(largest.starts_with("the iterates"), "{err}");
        assert!(err.to_string().contains("memory_budget_gb"), "{err}");
    }

    #[test]
    fn grows_with_every_dimension_and_the_element_size() {
        let base = Footprint::new([500, 20, 2], 64, Formulation::Relu, 4).total();
        for bigger in [
            Footprint::new([1000, 20, 2], 64, Formulation::Relu, 4),
            Footprint::new([500, 40, 2], 64, Formulation::Relu, 4),
            Footprint::new([500, 20, 4], 64, Formulation::Relu, 4),
            Footprint::new([500, 20, 2], 128, Formulation::Relu, 4),
            Footprint::new([500, 20, 2], 64, Formulation::Relu, 8),
        ] {
            assert!(bigger.total() > base, "{bigger:?}");
        }
        let gated = Footprint::new([500, 20, 2], 64, Formulation::Gated, 4).total();
        assert!(gated < base);
        assert!(Footprint::new([500, 20, 2], 64, Formulation::Relu, 4)
            .check(base / 1e9)
            .is_ok());
    }
}
