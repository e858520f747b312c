//! ImageNet-style folders: `root/<class>/<image>.{jpg,jpeg,png}`, classes sorted by folder name
//! (the convention of torchvision's `ImageFolder`, so class indices agree with Python code).
//!
//! Every image is converted to RGB, resized so its shorter side is `size` and centre-cropped to
//! `size x size` (the usual ImageNet evaluation transform, which keeps the aspect ratio), then
//! flattened in CHW order with values `0..=255`. Hidden files are skipped; any other file that is
//! not a decodable JPEG or PNG is an error rather than silently dropped.
//!
//! Memory is checked before any image is decoded: the side is bounded by [`MAX_IMAGE_SIZE`]
//! (the `image` crate allocates resized images without a way to fail, so an oversized side
//! would abort the process), and the feature matrix of every image is reserved up front, so a
//! size that does not fit in memory is an error naming the size and the bytes it needs.

use std::path::Path;

use image::{imageops::FilterType, ImageReader};

use crate::error::{sorted_entries, DatasetError, Result};
use crate::labeled::{ImageShape, LabeledSet};
use crate::matrix::Matrix;

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Largest side images may be resized to. The `image` crate allocates the resized RGB image and a
/// float intermediate with allocations that abort the process when they fail, so the side has to
/// be bounded before decoding; at 4096 one image needs about 250 MB during its resize and its row
/// of features is 201 MB (3 x 4096^2 f32 values), already far more than the solver can use.
pub const MAX_IMAGE_SIZE: u32 = 4096;

/// Checks that `size` is a side images can be resized to: positive and at most [`MAX_IMAGE_SIZE`].
pub fn check_size(size: u32) -> Result<()> {
    if size == 0 || size > MAX_IMAGE_SIZE {
        return Err(DatasetError::Invalid(format!(
            "image size must be in 1..={MAX_IMAGE_SIZE}, found {size}: a {size}x{size} RGB image \
             needs {} of f32 features, and larger images cannot be resized without risking an \
             allocation that aborts",
            bytes_text(3 * u128::from(size).pow(2) * 4)
        )));
    }
    Ok(())
}

/// Loads every image under `root`, one class per sub-folder, as `size x size` RGB rows.
pub fn load(root: &Path, size: u32) -> Result<LabeledSet> {
    check_size(size)?;
    let classes: Vec<_> = sorted_entries(root)?
        .into_iter()
        .filter(|e| e.path().is_dir() && !is_hidden(&e.path()))
        .collect();
    if classes.is_empty() {
        return Err(DatasetError::format(
            root,
            "no class sub-folders: expected root/<class>/<image>",
        ));
    }
    let side = size as usize;
    let shape = ImageShape {
        channels: 3,
        height: side,
        width: side,
    };
    let mut files = Vec::new();
    let mut labels = Vec::new();
    let mut class_names = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let class_dir = class.path();
        let before = labels.len();
        for entry in sorted_entries(&class_dir)? {
            let path = entry.path();
            if is_hidden(&path) || path.is_dir() {
                continue;
            }
            files.push(path);
            labels.push(label);
        }
        if labels.len() == before {
            return Err(DatasetError::format(
                &class_dir,
                "class folder holds no images",
            ));
        }
        class_names.push(class.file_name().to_string_lossy().into_owned());
    }
    let mut data = reserve_features(root, files.len(), shape)?;
    for path in &files {
        data.extend(read_image(path, size)?);
    }
    let x = Matrix::new(labels.len(), shape.len(), data)?;
    LabeledSet::new(x, labels, class_names, Some(shape))
}

/// Allocates the feature matrix of `images` images of `shape`, or says how much memory it needs.
fn reserve_features(root: &Path, images: usize, shape: ImageShape) -> Result<Vec<f32>> {
    let values = images.checked_mul(shape.len());
    let mut data = Vec::new();
    match values.map(|v| data.try_reserve_exact(v)) {
        Some(Ok(())) => Ok(data),
        _ => Err(DatasetError::format(
            root,
            format!(
                "cannot allocate the features of {images} images of {shape}: they need {} of \
                 memory as f32; choose a smaller image size",
                bytes_text(images as u128 * shape.len() as u128 * 4)
            ),
        )),
    }
}

/// `bytes` in the largest binary unit that keeps the number at least 1 (`36000000000` is
/// `33.5 GiB`).
fn bytes_text(bytes: u128) -> String {
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for next in ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit} ({bytes} bytes)")
}

/// Decodes one image, resizes and crops it to `size x size`, and returns its CHW values.
pub fn read_image(path: &Path, size: u32) -> Result<Vec<f32>> {
    check_size(size)?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if !EXTENSIONS.contains(&ext.as_str()) {
        return Err(DatasetError::format(
            path,
            format!("unsupported image file: expected .jpg, .jpeg or .png, found '.{ext}'"),
        ));
    }
    let image = ImageReader::open(path)
        .map_err(|e| DatasetError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| DatasetError::io(path, e))?
        .decode()
        .map_err(|e| DatasetError::format(path, format!("cannot decode image: {e}")))?;
    let rgb = image
        .resize_to_fill(size, size, FilterType::Triangle)
        .into_rgb8();
    let plane = (size * size) as usize;
    let mut chw = vec![0.0f32; 3 * plane];
    for (i, pixel) in rgb.pixels().enumerate() {
        for (c, &v) in pixel.0.iter().enumerate() {
            chw[c * plane + i] = f32::from(v);
        }
    }
    Ok(chw)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_side_is_an_error_naming_the_bound_and_the_memory() {
        let err = check_size(100_000).unwrap_err().to_string();
        assert!(err.contains("1..=4096, found 100000"), "{err}");
        assert!(err.contains("111.8 GiB (120000000000 bytes)"), "{err}");
        assert!(check_size(0).is_err());
        assert!(check_size(MAX_IMAGE_SIZE).is_ok());
        let err = read_image(Path::new("a.png"), MAX_IMAGE_SIZE + 1).unwrap_err();
        assert!(err.to_string().contains("found 4097"), "{err}");
    }

    #[test]
    fn feature_matrix_that_cannot_be_allocated_is_an_error_naming_its_memory() {
        let shape = ImageShape {
            channels: 3,
            height: 4096,
            width: 4096,
        };
        // 2^30 images of 201 MB: more than any address space holds.
        let err = reserve_features(Path::new("root"), 1 << 30, shape).unwrap_err();
        let err = err.to_string();
        assert!(
            err.starts_with(
                "root: cannot allocate the features of 1073741824 images of 3x4096x4096"
            ),
            "{err}"
        );
        assert!(err.contains("192.0 PiB"), "{err}");
        assert_eq!(
            reserve_features(Path::new("root"), 2, shape)
                .unwrap()
                .capacity(),
            2 * shape.len()
        );
    }
}
