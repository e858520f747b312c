//! The files a command will write, checked before it reads data or solves: a report path that is a
//! directory, or lies where nothing can be created, would otherwise be found only after the work
//! it was meant to record.

use crate::files::create_parent;
use cronos_examples::error::{CliError, Result};
use std::fs::{self, File, OpenOptions};
use std::path::Path;

/// Checks that the file `path`, given with `flag`, can be written: it is not a directory, its
/// parent directories exist (they are created now), a new file can be created beside it, and an
/// existing file can be opened for writing. Nothing existing is changed.
pub fn check_writable(flag: &str, path: &Path) -> Result<()> {
    let named = |problem: String| CliError(format!("{flag} {}: {problem}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(named("expected a file path, found an empty one".into()));
    }
    if path.is_dir() {
        return Err(named("expected a file, found a directory".into()));
    }
    create_parent(path).map_err(|e| named(e.0))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // Writing needs a new file beside the target (atomic writes rename one over it), so the
    // directory is tried with a probe file that is removed at once.
    let mut probe = path.file_name().unwrap_or_default().to_owned();
    probe.push(format!(".probe{}", std::process::id()));
    let probe = dir.join(probe);
    File::create_new(&probe)
        .map_err(|e| named(format!("cannot create files in {}: {e}", dir.display())))?;
    let _ = fs::remove_file(&probe);
    if path.exists() {
        OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| named(format!("cannot write the existing file: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_flag_and_the_path_of_what_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_writable("--report", dir.path()).unwrap_err().0;
        assert!(err.starts_with("--report "), "{err}");
        assert!(err.contains("found a directory"), "{err}");

        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let under_file = file.join("report.json");
        let err = check_writable("--certificate", &under_file).unwrap_err().0;
        assert!(err.contains("--certificate"), "{err}");
        assert!(err.contains(&*under_file.to_string_lossy()), "{err}");
    }

    #[test]
    fn creates_missing_parents_and_leaves_existing_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/report.json");
        check_writable("--report", &nested).unwrap();
        assert!(nested.parent().unwrap().is_dir());
        assert!(!nested.exists());
        let existing = dir.path().join("old.json");
        fs::write(&existing, b"kept").unwrap();
        check_writable("--report", &existing).unwrap();
        assert_eq!(fs::read(&existing).unwrap(), b"kept");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
