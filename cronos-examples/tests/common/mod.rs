//! Helpers shared by the end-to-end tests (Unix only: Ctrl-C is sent with `kill -INT`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `cronos` with `args`, waits until `file` has `lines` lines (within `within`), then
/// presses Ctrl-C (SIGINT) and returns the exit code.
pub fn ctrl_c_after_lines(
    args: &[&str],
    file: &Path,
    lines: usize,
    within: Duration,
) -> Option<i32> {
    ctrl_c_after_lines_and(args, file, lines, within, || ())
}

/// As [`ctrl_c_after_lines`], running `meanwhile` after the lines appear and before Ctrl-C.
pub fn ctrl_c_after_lines_and(
    args: &[&str],
    file: &Path,
    lines: usize,
    within: Duration,
    meanwhile: impl FnOnce(),
) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cronos"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(file).map_or(0, |t| t.lines().count()) < lines {
        assert!(
            start.elapsed() < within,
            "{} has fewer than {lines} lines after {within:?}",
            file.display()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "cronos ended before Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    meanwhile();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait().unwrap().code()
}
