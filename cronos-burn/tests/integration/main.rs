//! The integration tests of `cronos-burn` but CRONOS-AM's, as one test binary: each binary
//! instantiates the solver and training code for its backend types and links Burn again, which is
//! most of the test build's time. `am.rs` stays a binary of its own, since its tests draw from Burn's
//! process-global RNG in a fixed order that other tests' initializations would disturb.

mod model_file;
mod optimizers;
mod solver;
