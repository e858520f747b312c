//! CIFAR-10 classes 0 (airplane) vs 1 (automobile): the deep MLP 256-256-head trained by
//! CRONOS-AM against the gradient baselines with tuned learning rates.
//!
//! ```text
//! cifar10_mlp DATA_DIR [--device cuda] [--precision f32] [--out runs/cifar10_mlp]
//! ```

use cronos_examples::compare::example::Preset;
use std::process::ExitCode;

fn main() -> ExitCode {
    Preset {
        name: "cifar10_mlp",
        about: "CRONOS-AM vs tuned optimizers on CIFAR-10 classes 0 vs 1 (deep MLP 256-256-head)",
        defaults: &[
            ("dataset", "cifar10"),
            ("classes", "0,1"),
            ("arch", "256,256"),
            (
                "methods",
                "cronos-am,adam,adamw,sgd,yogi,shampoo,dadapt-adamw",
            ),
            ("train_limit", "0"),
            ("val_limit", "0"),
            ("epochs", "5"),
            ("out", "runs/cifar10_mlp"),
        ],
        data_optional: false,
    }
    .main()
}
