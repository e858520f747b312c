//! ImageNet-style folders: `root/<class>/<image>.{jpg,jpeg,png}`, classes sorted by folder name
//! (the convention of torchvision's `ImageFolder`, so class indices agree with Python code).
//!
//! Every image is converted to RGB, resized so its shorter side is `size` and centre-cropped to
//! `size x size` (the usual ImageNet evaluation transform, which keeps the aspect ratio), then
//! flattened in CHW order with values `0..=255`. Hidden files are skipped; any other file that is
//! not a decodable JPEG or PNG is an error rather than silently dropped.

use std::path::Path;

use image::{imageops::FilterType, ImageReader};

use crate::error::{sorted_entries, DatasetError, Result};
use crate::labeled::{ImageShape, LabeledSet};
use crate::matrix::Matrix;

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Loads every image under `root`, one class per sub-folder, as `size x size` RGB rows.
pub fn load(root: &Path, size: u32) -> Result<LabeledSet> {
    if size == 0 {
        return Err(DatasetError::Invalid("image size must be positive".into()));
    }
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
    let mut data = Vec::new();
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
            data.extend(read_image(&path, size)?);
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
    let x = Matrix::new(labels.len(), shape.len(), data)?;
    LabeledSet::new(x, labels, class_names, Some(shape))
}

/// Decodes one image, resizes and crops it to `size x size`, and returns its CHW values.
pub fn read_image(path: &Path, size: u32) -> Result<Vec<f32>> {
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
