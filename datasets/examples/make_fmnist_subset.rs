//! Regenerates the Fashion-MNIST subset embedded in the library: 1,000 training and 200 test
//! images per class, drawn with a fixed seed from the official files, kept in their original
//! order and written as gzipped IDX to `datasets/data/fashion-mnist-subset/`.
//!
//! ```text
//! cargo run --release -p cronos-datasets --example make_fmnist_subset [-- SOURCE_DIR [OUT_DIR]]
//! ```
//! `SOURCE_DIR` defaults to Debian's `/usr/share/datasets/fashion-mnist`.

use std::path::{Path, PathBuf};

use cronos_datasets::idx::{write_idx_gz, IdxArray};
use cronos_datasets::mnist::{self, Split, FASHION_MNIST_CLASSES};
use cronos_datasets::{LabeledSet, Result};
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// Seed of the draw; changing it changes the committed files.
const SEED: u64 = 20_240_601;
const TRAIN_PER_CLASS: usize = 1000;
const TEST_PER_CLASS: usize = 200;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let source = args.next().map_or_else(
        || PathBuf::from(mnist::DEBIAN_FASHION_MNIST_DIR),
        PathBuf::from,
    );
    let out = args.next().map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist-subset"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out).map_err(|e| cronos_datasets::DatasetError::Io {
        path: out.clone(),
        source: e,
    })?;
    let mut rng = StdRng::seed_from_u64(SEED);
    for (split, per_class, prefix) in [
        (Split::Train, TRAIN_PER_CLASS, "train"),
        (Split::Test, TEST_PER_CLASS, "t10k"),
    ] {
        let set = mnist::load_split(&source, split, &FASHION_MNIST_CLASSES)?;
        let rows = draw(&set, per_class, &mut rng)?;
        let subset = set.select_rows(&rows);
        let shape = subset.image_shape.unwrap_or(cronos_datasets::ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        });
        let images = IdxArray {
            dims: vec![subset.len(), shape.height, shape.width],
            data: subset.x.data.iter().map(|&v| v as u8).collect(),
        };
        let labels = IdxArray {
            dims: vec![subset.len()],
            data: subset.labels.iter().map(|&l| l as u8).collect(),
        };
        let images_path = out.join(format!("{prefix}-images-idx3-ubyte.gz"));
        let labels_path = out.join(format!("{prefix}-labels-idx1-ubyte.gz"));
        write_idx_gz(&images_path, &images)?;
        write_idx_gz(&labels_path, &labels)?;
        println!(
            "{}: {} images, per class {:?}",
            images_path.display(),
            subset.len(),
            subset.class_counts()
        );
    }
    Ok(())
}

/// `per_class` rows of every class, drawn without replacement, returned in ascending order.
fn draw(set: &LabeledSet, per_class: usize, rng: &mut StdRng) -> Result<Vec<usize>> {
    let mut rows = Vec::new();
    for class in 0..set.num_classes() {
        let mut members: Vec<usize> = (0..set.len()).filter(|&i| set.labels[i] == class).collect();
        if members.len() < per_class {
            return Err(cronos_datasets::DatasetError::Invalid(format!(
                "class {class} has {} samples, fewer than {per_class}",
                members.len()
            )));
        }
        members.shuffle(rng);
        rows.extend_from_slice(&members[..per_class]);
    }
    rows.sort_unstable();
    Ok(rows)
}
