//! The cross-crate tests as one test binary: each binary instantiates the solver for its backend
//! types and links Burn again, which is most of the test build's time.

mod backends;
mod fixtures;
mod shards;
