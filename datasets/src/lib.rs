//! Real datasets for CRONOS, read from local files and turned into dense matrices (the convex
//! solver needs the whole training matrix) or burn-dataset items (for SGD baselines).
//!
//! * formats: [`mnist`] (MNIST and Fashion-MNIST IDX, plus an embedded Fashion-MNIST subset),
//!   [`cifar`] (CIFAR-10 binary and Python pickles), [`image_folder`] (ImageNet-style JPEG/PNG
//!   folders), [`npy`] (NPY/NPZ feature matrices and problems), [`csv`];
//! * one call for the CLI: [`load`] with a [`DatasetKind`] and a [`Source`];
//! * preprocessing ([`preprocess`], [`projection`]): class subsets, +-1 or one-hot targets,
//!   scaling and standardization fitted on training data, stratified splits, downsampling,
//!   random projection and PCA; [`Pipeline`] keeps the fitted steps to apply (and save) as one;
//! * [`burn_data`]: `Dataset` and `Batcher` implementations for burn-train.
//!
//! Matrices hold `f32` or `f64` ([`Real`]): NPY/NPZ and CSV values are read in the precision the
//! caller asks for, so a `float64` file feeds an `f64` solve unrounded; image formats are read as
//! `f32` (pixels are exact in it) and widened on request.
//!
//! Loaders never panic on bad files: they return a [`DatasetError`] naming the file and the
//! problem. Image pixels are returned as stored (`0..=255`); scale them explicitly.

#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod burn_data;
pub mod cifar;
pub mod csv;
pub mod error;
pub mod idx;
pub mod image_folder;
pub mod labeled;
pub mod loader;
pub mod matrix;
pub mod mnist;
pub mod npy;
pub mod pipeline;
pub mod preprocess;
pub mod projection;
pub mod real;

pub use burn_data::{ClassificationBatch, ClassificationBatcher, ClassificationItem};
pub use error::{DatasetError, Result};
pub use labeled::{summary, ImageShape, LabeledSet, Summary};
pub use loader::{load, DatasetKind, Source};
pub use matrix::Matrix;
pub use pipeline::Pipeline;
pub use preprocess::{Granularity, Scaler, Scaling, TargetEncoding};
pub use projection::Projection;
pub use real::Real;
