//! One error type for every loader, so the CLI can print a single line that names the file and the
//! problem (expected vs found) instead of panicking on a bad download or a truncated copy.

use std::path::{Path, PathBuf};

/// Why a dataset could not be read or transformed.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file or directory could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its contents do not follow the format.
    #[error("{}: {problem}", path.display())]
    Format {
        /// The file (or `archive.npz:member`) whose contents are wrong.
        path: PathBuf,
        /// What was expected and what was found.
        problem: String,
    },
    /// A finite value of the file does not fit the precision it was read in (a `float64` value
    /// beyond the `f32` range read for an `f32` solve). Separate from [`Format`](Self::Format)
    /// because the file is fine: reading it in `f64`, or scaling it, is the remedy.
    #[error("{}: {problem}", path.display())]
    OutOfRange {
        /// The file (or `archive.npz:member`) holding the value.
        path: PathBuf,
        /// Which value, and the precision it does not fit.
        problem: String,
    },
    /// The arguments do not fit the data (a class index out of range, a dimension too large, ...).
    #[error("{0}")]
    Invalid(String),
}

/// Result of every fallible function in this crate.
pub type Result<T> = std::result::Result<T, DatasetError>;

impl DatasetError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn format(path: &Path, problem: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DatasetError::io(path, e))
}

/// Lists a directory's entries sorted by file name, so every loader sees files in the same order
/// on every platform.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))?;
    let mut entries = entries
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| DatasetError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}
