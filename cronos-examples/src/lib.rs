//! Library side of the `cronos` command line: the optimizer comparison shared by `cronos compare`
//! and the example binaries (`fashion_mnist`, `cifar10_mlp`, `imagenet_mlp`).

#![deny(rustdoc::broken_intra_doc_links)]

pub mod compare;
pub mod device;
pub mod error;
pub mod interrupt;
