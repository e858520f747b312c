//! Ctrl-C for long commands: the first press sets a stop flag that the command checks at its next
//! safe point (a solver iteration, a finished epoch record) before writing its results; the second
//! exits at once. Either way the exit status is [`EXIT_INTERRUPTED`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Exit status after Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Installs the handler: the first press calls `on_stop` (which sets the command's stop flag)
/// and prints `stopping` (what it does: `stopping after this iteration`). Only one handler can be
/// installed per process.
pub fn install_ctrl_c(
    stopping: &'static str,
    on_stop: impl Fn() + Send + 'static,
) -> Result<(), String> {
    let presses = AtomicUsize::new(0);
    // On a terminal the message starts below the progress line drawn in place.
    let newline = if std::io::stderr().is_terminal() {
        "\n"
    } else {
        ""
    };
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            on_stop();
            eprintln!("{newline}{stopping} (Ctrl-C again to abort)");
        } else {
            eprintln!("{newline}aborted");
            std::process::exit(EXIT_INTERRUPTED.into());
        }
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}
