//! Tensors follow the device's default float dtype: on a Flex device switched to F64 (its own
//! process, since the setting is per device and fixed at first use) every tensor is F64.

mod common;

use burn::backend::Flex;
use burn::tensor::backend::set_default_dtypes;
use burn::tensor::{DType, FloatDType, IntDType};

#[test]
fn tensors_use_the_device_f64_dtype() {
    let device = Default::default();
    set_default_dtypes::<Flex>(&device, FloatDType::F64, IntDType::I64).unwrap();
    common::check_tensors::<Flex>(&device, DType::F64);
}
