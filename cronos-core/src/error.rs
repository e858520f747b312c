//! Errors reported to callers instead of panics or NaNs.

use thiserror::Error;

/// Everything that can be wrong with a solve request or go wrong during a solve.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CronosError {
    /// Two inputs disagree in a dimension.
    #[error("shape mismatch: {what}: expected {expected}, found {found}")]
    Shape {
        /// The dimension compared.
        what: &'static str,
        /// What the other input implies.
        expected: String,
        /// What this input has.
        found: String,
    },
    /// A warm start from another problem: another shape or the other formulation.
    #[error("{what} does not fit this problem: expected {expected}, found {found}")]
    WarmStart {
        /// The part of the warm start that does not fit.
        what: &'static str,
        /// What this problem needs.
        expected: String,
        /// What the warm start holds.
        found: String,
    },
    /// An input holds NaN or infinite values.
    #[error("{what} contains {count} non-finite value(s) (NaN or Inf)")]
    NonFinite {
        /// The input.
        what: &'static str,
        /// How many of its values are not finite.
        count: usize,
    },
    /// A configuration value is outside its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    Parameter {
        /// The configuration field.
        name: &'static str,
        /// Its value.
        value: String,
        /// The valid range.
        reason: &'static str,
    },
    /// A problem with no data or no neurons.
    #[error("empty problem: {0}")]
    Empty(String),
    /// The solve would need more memory than `memory_budget_gb` allows; `largest` names the part
    /// that needs the most.
    #[error(
        "the solve needs about {needed_gb:.2} GB ({largest}), more than memory_budget_gb = \
         {budget_gb} GB: use fewer neurons, samples or outputs, or raise the budget"
    )]
    Memory {
        /// The estimated footprint, in GB.
        needed_gb: f64,
        /// The configured `memory_budget_gb`.
        budget_gb: f64,
        /// The part that needs the most and its size, as a phrase.
        largest: String,
    },
    /// A peer of a sharded solve failed, or the collective between the peers did; every peer
    /// stops with the message of the first failure.
    #[error("sharded solve stopped: {0}")]
    Peer(String),
    /// The iteration produced non-finite numbers (diverged).
    #[error("numerical breakdown: {0}")]
    Numerical(String),
    /// The data's scale is beyond f32: the solve works in units where rows of X and Y have unit
    /// root-mean-square norm, and the weights of the network it returns scale with the ratio of
    /// those norms, whose squares (the group norms) would leave f32's range.
    #[error(
        "the scale of the data is beyond f32: root-mean-square row norms {x_scale:.1e} (X) and \
         {y_scale:.1e} (Y) scale the network's weights by {ratio:.1e}, whose squares leave f32's \
         range; rescale the data or solve in f64"
    )]
    Scale {
        /// Root-mean-square row norm of X.
        x_scale: f64,
        /// Root-mean-square row norm of Y.
        y_scale: f64,
        /// Their ratio, the scale of the weights.
        ratio: f64,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, CronosError>;

/// Fails with [`CronosError::Parameter`] unless `ok` holds.
pub(crate) fn ensure_param(
    ok: bool,
    name: &'static str,
    value: impl ToString,
    reason: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(CronosError::Parameter {
            name,
            value: value.to_string(),
            reason,
        })
    }
}
