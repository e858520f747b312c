//! Progress of a solve on stderr, as an [`Observer`]: one line redrawn in place on a terminal, or a
//! plain line every [`LINE_EVERY`] iterations when stderr is a file or pipe.

use cronos_core::{IterationRecord, Observer, SetUpRecord};
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Iterations between lines when stderr is not a terminal.
pub const LINE_EVERY: usize = 50;
/// Shortest time between two redraws of the terminal line.
const REDRAW: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Terminal,
    Lines,
    Quiet,
}

/// Shows iteration, objective, relative residuals, rho and time of the latest iteration.
pub struct Progress {
    mode: Mode,
    last: Option<IterationRecord>,
    drawn_at: Option<Instant>,
}

impl Progress {
    /// A display on stderr; `quiet` shows nothing.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        };
        Self {
            mode,
            last: None,
            drawn_at: None,
        }
    }

    /// Draws the last iteration (if it was not shown yet) and ends the in-place line.
    pub fn finish(&mut self) {
        let Some(last) = self.last.take() else {
            return;
        };
        let mut err = std::io::stderr().lock();
        // Errors writing progress to stderr are ignored: progress is a convenience.
        let _ = match self.mode {
            Mode::Terminal => writeln!(err, "\r\x1b[2K{}", format_record(&last)),
            Mode::Lines if last.iteration % LINE_EVERY != 0 => {
                writeln!(err, "{}", format_record(&last))
            }
            _ => Ok(()),
        };
    }
}

impl Observer for Progress {
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()> {
        let mut err = std::io::stderr().lock();
        let _ = match self.mode {
            Mode::Terminal => {
                let due = self.drawn_at.is_none_or(|t| t.elapsed() >= REDRAW);
                if due {
                    self.drawn_at = Some(Instant::now());
                    write!(err, "\r\x1b[2K{}", format_record(record)).and_then(|()| err.flush())
                } else {
                    Ok(())
                }
            }
            Mode::Lines if record.iteration == 1 || record.iteration % LINE_EVERY == 0 => {
                writeln!(err, "{}", format_record(record))
            }
            _ => Ok(()),
        };
        if self.mode != Mode::Quiet {
            self.last = Some(record.clone());
        }
        ControlFlow::Continue(())
    }

    fn set_up(&mut self, record: &SetUpRecord) {
        if let (Some(line), false) = (format_set_up(record), self.mode == Mode::Quiet) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// `iter  120  objective 1.234567e1  primal 3.1e-5  dual 2.0e-5  rho 1.0e0  pcg 4  1.2s`
pub fn format_record(r: &IterationRecord) -> String {
    format!(
        "iter {:>6}  objective {:.6e}  primal {:.2e}  dual {:.2e}  rho {:.2e}  pcg {:>3}  {:.1}s",
        r.iteration,
        r.objective,
        r.rel_primal_residual,
        r.rel_dual_residual,
        r.rho,
        r.pcg_iterations,
        r.seconds
    )
}

/// The line that says why a solve takes the PCG path, when the exact core did not fit the memory
/// budget; `None` otherwise.
pub fn format_set_up(r: &SetUpRecord) -> Option<String> {
    let (needed, left) = r.core_over_budget?;
    Some(format!(
        "u-step: PCG (tens of products an iteration): the exact core needs {}, the memory budget \
         leaves it {}; raising --memory-budget by {} gives the exact u-step",
        bytes(needed),
        bytes(left),
        bytes(needed - left)
    ))
}

/// `bytes` in GB, MB or kB, with three significant digits at most.
fn bytes(bytes: f64) -> String {
    let (value, unit) = match bytes {
        b if b >= 1e9 => (b / 1e9, "GB"),
        b if b >= 1e6 => (b / 1e6, "MB"),
        b => (b / 1e3, "kB"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cronos_core::UStepPath;

    #[test]
    fn record_line_names_every_quantity() {
        let r = IterationRecord {
            iteration: 12,
            objective: 3.5,
            max_violation: 0.0,
            rel_violation: 0.0,
            primal_residual: 1.0,
            dual_residual: 1.0,
            rel_primal_residual: 1e-3,
            rel_dual_residual: 2e-4,
            dual_bound: 3.0,
            rel_gap: 0.14,
            rho: 0.5,
            pcg_iterations: 7,
            seconds: 0.25,
        };
        let line = format_record(&r);
        for part in [
            "iter     12",
            "objective 3.500000e0",
            "primal 1.00e-3",
            "dual 2.00e-4",
            "rho 5.00e-1",
            "pcg   7",
        ] {
            assert!(line.contains(part), "{line} lacks {part}");
        }
        assert!(!line.contains('\n'));
    }

    #[test]
    fn set_up_line_says_why_the_u_step_is_pcg() {
        let over = SetUpRecord {
            u_step: UStepPath::Pcg,
            seconds: 1.0,
            core_over_budget: Some((2.0e9, 1.64e9)),
        };
        let line = format_set_up(&over).expect("a line");
        for part in [
            "needs 2.00 GB",
            "leaves it 1.64 GB",
            "--memory-budget by 360 MB",
        ] {
            assert!(line.contains(part), "{line} lacks {part}");
        }
        let exact = SetUpRecord {
            u_step: UStepPath::SampleCholesky,
            core_over_budget: None,
            ..over
        };
        assert_eq!(format_set_up(&exact), None);
    }
}
