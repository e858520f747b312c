//! Burn integration of CRONOS: the solver as a Burn module builder, CRONOS-AM training and extra optimizers.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod am;
pub mod device;
pub mod head;
pub mod model;
pub mod optim;
pub mod shard;
pub mod solver;

/// The README's Burn snippet, compiled with the doctests so that it stays in step with the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// This crate's README (the sharded solve), compiled with the doctests likewise.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
