//! Writing output files: atomically (temporary file, then rename) with parent directories created,
//! and `.npy` matrices for predictions.

use cronos_examples::error::{CliError, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Creates the parent directories of `path`.
pub fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::create_dir_all(dir).map_err(|e| CliError::io("create directory", dir, e))
        }
        _ => Ok(()),
    }
}

/// Creates (truncates) `path` for writing, with its parent directories.
pub fn create_file(path: &Path) -> Result<BufWriter<File>> {
    create_parent(path)?;
    File::create(path)
        .map(BufWriter::new)
        .map_err(|e| CliError::io("create", path, e))
}

/// Writes `bytes` to `path` so that readers see either the old file or the whole new one: the
/// bytes go to a temporary file beside it, which is synced and then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(CliError::io("write", path, e));
    }
    Ok(())
}

/// The bytes of a little-endian float64 `.npy` file (format 1.0) holding a `rows x cols` matrix
/// given row by row.
pub fn npy_bytes(rows: usize, cols: usize, values: &[f64]) -> Vec<u8> {
    assert_eq!(
        values.len(),
        rows * cols,
        "npy_bytes: values do not fill the shape"
    );
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 8 * values.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_through_the_dataset_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        let values = [1.0, -2.5, 3.25, 1e-300, 0.0, 7.0];
        write_atomic(&path, &npy_bytes(2, 3, &values)).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!((bytes.len() - 6 * 8) % 64, 0);
        let m = cronos_datasets::npy::read_npy_matrix::<f32>(&path).unwrap();
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.data, values.iter().map(|&v| v as f32).collect::<Vec<_>>());
        let m = cronos_datasets::npy::read_npy_matrix::<f64>(&path).unwrap();
        assert_eq!(m.data, values);
    }

    #[test]
    fn atomic_write_creates_directories_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/report.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
