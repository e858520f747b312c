//! One device-selection helper for every binary: `--device flex|ndarray|wgpu|cuda[:N]` and
//! `--precision f32|f64` choose the Burn backend type a generic task is instantiated with.

use burn::prelude::*;
use std::fmt;
use std::str::FromStr;

/// A backend and device index, parsed from `flex`, `ndarray`, `wgpu[:N]` or `cuda[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The pure-Rust CPU backend (default).
    Flex,
    /// The burn-ndarray CPU backend.
    NdArray,
    /// wgpu: the default adapter, or the N-th discrete GPU.
    Wgpu(Option<usize>),
    /// CUDA device N.
    Cuda(usize),
}

/// Floating-point precision of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    F32,
    /// 64-bit floats.
    F64,
}

/// Why a device could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError(pub String);

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeviceError {}

impl FromStr for DeviceSpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        let (name, index) = match s.split_once(':') {
            Some((name, i)) => {
                let index = i.parse::<usize>().map_err(|_| {
                    DeviceError(format!(
                        "device index in `{s}` must be a non-negative integer"
                    ))
                })?;
                (name, Some(index))
            }
            None => (s, None),
        };
        match (name, index) {
            ("flex", None) => Ok(Self::Flex),
            ("ndarray", None) => Ok(Self::NdArray),
            ("wgpu", i) => Ok(Self::Wgpu(i)),
            ("cuda", i) => Ok(Self::Cuda(i.unwrap_or(0))),
            ("flex" | "ndarray", Some(_)) => {
                Err(DeviceError(format!("`{name}` takes no device index")))
            }
            _ => Err(DeviceError(format!(
                "unknown device `{s}` (expected flex, ndarray, wgpu[:N] or cuda[:N])"
            ))),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flex => f.write_str("flex"),
            Self::NdArray => f.write_str("ndarray"),
            Self::Wgpu(None) => f.write_str("wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for Precision {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        match s {
            "f32" => Ok(Self::F32),
            "f64" => Ok(Self::F64),
            _ => Err(DeviceError(format!(
                "unknown precision `{s}` (expected f32 or f64)"
            ))),
        }
    }
}

/// Work written once over a generic backend; [`run_on`] picks the backend type at run time.
/// Training code can wrap `B` in `burn::backend::Autodiff<B>` itself.
pub trait BackendTask {
    /// What the task returns.
    type Output;
    /// Runs the task on backend `B` and `device`.
    fn run<B: Backend>(self, device: B::Device) -> Self::Output;
}

fn not_compiled(spec: DeviceSpec, feature: &str) -> DeviceError {
    DeviceError(format!(
        "device `{spec}` needs the `{feature}` backend, which this build does not include; rebuild with `--features {feature}`"
    ))
}

/// Runs `task` on the backend and device named by `spec`, with floats of `precision`.
///
/// Burn fixes the default float type of a device at its first use in a process, so a process
/// should use one precision per device.
pub fn run_on<T: BackendTask>(
    spec: DeviceSpec,
    precision: Precision,
    task: T,
) -> Result<T::Output, DeviceError> {
    /// Makes floats of `precision` the default on `device` and runs `task` there. Every backend is
    /// one type whose tensors carry their dtype at run time, so precision is a device setting
    /// rather than a second instantiation of all generic code.
    #[cfg_attr(
        not(any(
            feature = "flex",
            feature = "ndarray",
            feature = "wgpu",
            feature = "cuda"
        )),
        allow(dead_code)
    )]
    fn on<B: Backend, T: BackendTask>(
        device: B::Device,
        precision: Precision,
        task: T,
    ) -> Result<T::Output, DeviceError> {
        use burn::tensor::backend::set_default_dtypes;
        use burn::tensor::{FloatDType, IntDType};
        if let Precision::F64 = precision {
            set_default_dtypes::<B>(&device, FloatDType::F64, IntDType::I64)
                .map_err(|e| DeviceError(format!("cannot use f64 on {device:?}: {e}")))?;
        }
        Ok(task.run::<B>(device))
    }
    match spec {
        #[cfg(feature = "flex")]
        DeviceSpec::Flex => on::<burn::backend::flex::Flex, _>(Default::default(), precision, task),
        #[cfg(feature = "ndarray")]
        DeviceSpec::NdArray => {
            use burn::backend::ndarray::{NdArray, NdArrayDevice};
            on::<NdArray, _>(NdArrayDevice::Cpu, precision, task)
        }
        #[cfg(feature = "wgpu")]
        DeviceSpec::Wgpu(index) => {
            use burn::backend::wgpu::{Wgpu, WgpuDevice};
            let device = index.map_or(WgpuDevice::DefaultDevice, WgpuDevice::DiscreteGpu);
            on::<Wgpu, _>(device, precision, task)
        }
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(index) => {
            use burn::backend::cuda::{Cuda, CudaDevice};
            on::<Cuda, _>(CudaDevice::new(index), precision, task)
        }
        #[allow(unreachable_patterns)]
        other => {
            // Without any backend feature this arm is all there is.
            let _ = (precision, task);
            Err(not_compiled(
                other,
                match other {
                    DeviceSpec::Flex => "flex",
                    DeviceSpec::NdArray => "ndarray",
                    DeviceSpec::Wgpu(_) => "wgpu",
                    DeviceSpec::Cuda(_) => "cuda",
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_specs() {
        assert_eq!("flex".parse(), Ok(DeviceSpec::Flex));
        assert_eq!("ndarray".parse(), Ok(DeviceSpec::NdArray));
        assert_eq!("wgpu".parse(), Ok(DeviceSpec::Wgpu(None)));
        assert_eq!("wgpu:1".parse(), Ok(DeviceSpec::Wgpu(Some(1))));
        assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceSpec::Cuda(3)));
        for bad in ["tpu", "cuda:x", "flex:1", "", "cuda:-1"] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(
                err.0.contains(bad.split(':').next().unwrap_or(bad)),
                "{err}"
            );
        }
        assert_eq!("f64".parse(), Ok(Precision::F64));
        assert!("f16".parse::<Precision>().unwrap_err().0.contains("f16"));
    }
}
