//! Two ImageNet classes from an image folder (one sub-directory per class), resized to 171x171
//! (`--image-size 512` for the paper's larger setting): the deep MLP 256-256-head trained by
//! CRONOS-AM against the gradient baselines with tuned learning rates. A fifth of every class is
//! held out, half of it for validation and half for the test.
//!
//! ```text
//! imagenet_mlp DATA_DIR [--image-size 171|512] [--device cuda] [--out runs/imagenet_mlp]
//! ```

use cronos_examples::compare::example::Preset;
use std::process::ExitCode;

fn main() -> ExitCode {
    Preset {
        name: "imagenet_mlp",
        about: "CRONOS-AM vs tuned optimizers on two image-folder classes (deep MLP 256-256-head)",
        defaults: &[
            ("dataset", "image-folder"),
            ("classes", "0,1"),
            ("image_size", "171"),
            ("arch", "256,256"),
            (
                "methods",
                "cronos-am,adam,adamw,sgd,yogi,shampoo,dadapt-adamw",
            ),
            ("train_limit", "0"),
            ("val_limit", "0"),
            ("epochs", "5"),
            ("out", "runs/imagenet_mlp"),
        ],
        data_optional: false,
    }
    .main()
}
