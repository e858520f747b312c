//! The element types a [`Matrix`](crate::Matrix) can hold. A file's values keep the precision the
//! solver runs in: `float64` data read for an `f64` solve is never rounded through `f32` on the
//! way, and the same parsers and preprocessing serve both precisions.

use std::fmt::{Debug, Display};
use std::str::FromStr;

use serde::{de::DeserializeOwned, Serialize};

/// `f32` or `f64`: the float type of a matrix, its preprocessing and the tensors made from it.
///
/// Conversions are named [`narrow`](Real::narrow) and [`widen`](Real::widen) rather than
/// `from_f64`/`to_f64`, which several supertraits already define under those names.
pub trait Real:
    nalgebra::RealField
    + burn::tensor::Element
    + Copy
    + Debug
    + Display
    + FromStr
    + Serialize
    + DeserializeOwned
{
    /// The numpy name of the type (`float32`, `float64`), for messages.
    const NAME: &'static str;

    /// The nearest value of this type: exact for `f64`, rounded to nearest for `f32`, where a
    /// magnitude beyond `f32::MAX` becomes infinite (see [`narrow_checked`]).
    fn narrow(v: f64) -> Self;

    /// The value as `f64`, always exact.
    fn widen(self) -> f64;
}

impl Real for f32 {
    const NAME: &'static str = "float32";

    fn narrow(v: f64) -> Self {
        v as f32
    }

    fn widen(self) -> f64 {
        f64::from(self)
    }
}

impl Real for f64 {
    const NAME: &'static str = "float64";

    fn narrow(v: f64) -> Self {
        v
    }

    fn widen(self) -> f64 {
        self
    }
}

/// Why a value cannot be stored as `T`.
#[derive(Clone, Debug, PartialEq)]
pub enum Unrepresentable {
    /// NaN or infinite in the source already.
    NotFinite,
    /// Finite in the source but beyond the range of `T` (only when narrowing to `f32`).
    Overflow,
}

/// `v` as `T`, refusing NaN, infinities and values that would overflow to infinity, so that no
/// loader hands the solver a non-finite entry.
pub fn narrow_checked<T: Real>(v: f64) -> std::result::Result<T, Unrepresentable> {
    if !v.is_finite() {
        return Err(Unrepresentable::NotFinite);
    }
    let t = T::narrow(v);
    if t.widen().is_finite() {
        Ok(t)
    } else {
        Err(Unrepresentable::Overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_rounds_and_refuses_overflow() {
        let v = 1e8 + 1.0;
        assert_eq!(narrow_checked::<f64>(v), Ok(v));
        assert_eq!(narrow_checked::<f32>(v), Ok(1e8));
        assert_eq!(narrow_checked::<f64>(1e39), Ok(1e39));
        assert_eq!(narrow_checked::<f32>(1e39), Err(Unrepresentable::Overflow));
        assert_eq!(narrow_checked::<f32>(-1e39), Err(Unrepresentable::Overflow));
        assert_eq!(
            narrow_checked::<f64>(f64::NAN),
            Err(Unrepresentable::NotFinite)
        );
        assert_eq!(
            narrow_checked::<f32>(f64::INFINITY),
            Err(Unrepresentable::NotFinite)
        );
        assert_eq!(f32::MAX.widen(), f64::from(f32::MAX));
    }
}
