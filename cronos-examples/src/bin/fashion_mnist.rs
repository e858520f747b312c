//! Fashion-MNIST, all ten classes, first 50 principal components (as the two-layer task of
//! `cronos compare`; `--pca 0` keeps the 784 raw pixels, where on the full data not one beta of the
//! path is solved within 600 s): a two-layer ReLU network of width 64 fitted by CRONOS (P = 3
//! gates, 2 P c = 60 neurons padded to 64, beta chosen along a regularization path within 1800 s)
//! against the gradient baselines with tuned learning rates, on every image of the data:
//! the 60,000 / 10,000 of the full set in DATA_DIR, or the embedded 10,000 / 2,000, the held-out
//! images halved into validation and test (`--train-limit` / `--val-limit` take a stratified
//! subset).
//!
//! ```text
//! fashion_mnist [DATA_DIR] [--device cuda] [--precision f32] [--out runs/fashion_mnist]
//! ```

use cronos_examples::compare::example::Preset;
use std::process::ExitCode;

fn main() -> ExitCode {
    Preset {
        name: "fashion_mnist",
        about: "CRONOS vs tuned optimizers on Fashion-MNIST (10 classes, two-layer width 64)",
        defaults: &[
            ("dataset", "fashion-mnist"),
            ("classes", "all"),
            ("arch", "two-layer:64"),
            ("neurons", "3"),
            ("pca", "50"),
            // Its beta path: on all 60,000 images each solve takes minutes; with 600 s no solve of
            // the path finished in its share (test accuracy 0.607), with 1800 s the small betas do
            // (0.803, `cronos-examples/README.md`, "Results in detail").
            ("cronos_time_limit", "1800"),
            ("methods", "cronos,adam,adamw,sgd,yogi,shampoo,dadapt-adamw"),
            ("train_limit", "0"),
            ("val_limit", "0"),
            ("epochs", "5"),
            ("out", "runs/fashion_mnist"),
        ],
        data_optional: true,
    }
    .main()
}
