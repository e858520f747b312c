//! One error type for every command (`fit`, `predict`, `data`, `compare` and the example
//! binaries): a single line naming the problem, printed to stderr with exit status 2.

use cronos_burn::device::DeviceError;
use cronos_burn::model::ModelFileError;
use cronos_core::CronosError;
use cronos_datasets::DatasetError;
use std::path::Path;

/// A failed command, as the one line printed after `error: ` (nested errors may carry newlines; the
/// message stays on one line).
#[derive(Debug, thiserror::Error)]
#[error("{}", one_line(.0))]
pub struct CliError(pub String);

/// Result of every command.
pub type Result<T> = std::result::Result<T, CliError>;

fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

impl CliError {
    /// An error reading or writing `path`.
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        Self(format!("cannot {action} {}: {err}", path.display()))
    }
}

impl From<DatasetError> for CliError {
    /// A value beyond the `f32` range only occurs under `--precision f32`: the message says how
    /// to read the file anyway.
    fn from(e: DatasetError) -> Self {
        match e {
            DatasetError::OutOfRange { .. } => Self(format!(
                "{e}: use --precision f64, or scale the data into the float32 range"
            )),
            other => Self(other.to_string()),
        }
    }
}

impl From<DeviceError> for CliError {
    fn from(e: DeviceError) -> Self {
        Self(e.0)
    }
}

impl From<ModelFileError> for CliError {
    fn from(e: ModelFileError) -> Self {
        Self(e.to_string())
    }
}

impl From<CronosError> for CliError {
    /// Parameter errors name the command-line flag (`--max-iters`) rather than the config field.
    fn from(e: CronosError) -> Self {
        match e {
            CronosError::Parameter {
                name,
                value,
                reason,
            } => {
                // The one field whose flag drops its unit.
                let flag = match name {
                    "memory_budget_gb" => "memory-budget".to_string(),
                    _ => name.replace('_', "-"),
                };
                Self(format!("invalid value {value} for --{flag}: {reason}"))
            }
            CronosError::Memory {
                needed_gb,
                budget_gb,
                largest,
            } => Self(format!(
                "the fit needs about {needed_gb:.2} GB ({largest}), more than --memory-budget \
                 {budget_gb}: use fewer --neurons or samples, or raise --memory-budget"
            )),
            other => Self(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_errors_name_the_flag() {
        let e = CliError::from(CronosError::Parameter {
            name: "max_iters",
            value: "0".into(),
            reason: "must be at least 1",
        });
        assert_eq!(
            e.to_string(),
            "invalid value 0 for --max-iters: must be at least 1"
        );
        let e = CliError::from(CronosError::Parameter {
            name: "memory_budget_gb",
            value: "NaN".into(),
            reason: "must be finite and >= 0",
        });
        assert_eq!(
            e.to_string(),
            "invalid value NaN for --memory-budget: must be finite and >= 0"
        );
    }

    #[test]
    fn messages_fit_on_one_line() {
        assert_eq!(CliError("a\n  b\n".into()).to_string(), "a b");
    }
}
