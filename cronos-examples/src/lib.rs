//! Library side of the `cronos` command line: the optimizer comparison shared by `cronos compare`
//! and the example binaries (`fashion_mnist`, `cifar10_mlp`, `imagenet_mlp`).

pub mod compare;
pub mod interrupt;
