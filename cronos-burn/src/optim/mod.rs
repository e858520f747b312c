//! Optimizers that Burn 0.21 lacks, used as baselines and for CRONOS-AM's feature layers.
