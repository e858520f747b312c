//! Burn integration of CRONOS: the solver as a Burn module builder, CRONOS-AM training and extra optimizers.

pub mod optim;
