//! Burn integration of CRONOS: the solver as a Burn module builder, CRONOS-AM training and extra optimizers.

#![warn(missing_docs)]

pub mod am;
pub mod device;
pub mod head;
pub mod model;
pub mod optim;
pub mod solver;
