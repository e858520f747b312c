//! Writing output files: atomically (temporary file, then rename) with parent directories created.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_through_the_dataset_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.npy");
        let values = [1.0, -2.5, 3.25, 1e-300, 0.0, 7.0];
        write_atomic(&path, &cronos_datasets::npy::npy_bytes(2, 3, &values)).unwrap();
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
