//! Burn integration of CRONOS: the solver as a Burn module builder, CRONOS-AM training and extra optimizers.

pub mod device;
pub mod model;
pub mod optim;
