//! The backend, device and precision flags every command takes.

use clap::Args;
use cronos_burn::device::{DeviceError, DeviceSpec, Precision};

/// Backend selection shared by every command that computes.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// Backend and device: flex, ndarray, wgpu, wgpu:N, cuda or cuda:N (N: the device's index).
    #[arg(long, default_value = "flex")]
    pub device: DeviceSpec,
    /// Floating-point precision: f32 or f64.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    pub precision: Precision,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse().map_err(|e: DeviceError| e.0)
}
