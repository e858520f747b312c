//! Datasets for CRONOS.
