//! The example binaries are thin wrappers around `cronos compare`: each is the same command with
//! its own defaults (dataset, classes, network, methods, subset sizes) and the data directory as
//! a positional argument. Every flag of `cronos compare` still applies.

use super::CompareArgs;
use crate::error::CliError;
use crate::interrupt::EXIT_INTERRUPTED;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use std::path::PathBuf;
use std::process::ExitCode;

/// One example: its name, description, defaults (flag id, value) and whether the data directory
/// may be left out (only Fashion-MNIST has an embedded subset).
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub defaults: &'static [(&'static str, &'static str)],
    pub data_optional: bool,
}

impl Preset {
    fn command(&self) -> Command {
        let mut cmd = CompareArgs::augment_args(
            Command::new(self.name).about(self.about).arg(
                Arg::new("DATA_DIR")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(if self.data_optional {
                        "Dataset directory [default: the embedded subset]"
                    } else {
                        "Dataset directory"
                    }),
            ),
        );
        // The struct's doc comment replaces the about text; the example's own comes back.
        cmd = cmd.about(self.about).mut_arg("data_dir", |a| a.hide(true));
        for &(id, value) in self.defaults {
            cmd = cmd.mut_arg(id, |a| a.default_value(value));
        }
        cmd
    }

    /// The comparison settings from command-line arguments `argv` (program name first).
    pub fn parse<I, T>(&self, argv: I) -> Result<CompareArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches: ArgMatches = self.command().try_get_matches_from(argv)?;
        let mut args = CompareArgs::from_arg_matches(&matches)?;
        if let Some(dir) = matches.get_one::<PathBuf>("DATA_DIR") {
            args.data_dir = Some(dir.clone());
        }
        Ok(args)
    }

    /// Runs the example with the process's arguments: the summary on stdout, or one line
    /// `error: ...` on stderr and exit status 2.
    pub fn main(&self) -> ExitCode {
        let args = match self.parse(std::env::args_os()) {
            Ok(args) => args,
            Err(e) => {
                if matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) {
                    let _ = e.print();
                    return ExitCode::SUCCESS;
                }
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("invalid arguments");
                eprintln!("{first} (see `{} --help`)", self.name);
                return ExitCode::from(2);
            }
        };
        match self.run(&args) {
            Ok(false) => ExitCode::SUCCESS,
            Ok(true) => ExitCode::from(EXIT_INTERRUPTED),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    }

    /// Runs the comparison; `true` when Ctrl-C ended it early.
    fn run(&self, args: &CompareArgs) -> Result<bool, CliError> {
        match &args.data_dir {
            None if !self.data_optional => {
                return Err(CliError(format!(
                    "missing data directory: usage `{} DATA_DIR [OPTIONS]`",
                    self.name
                )))
            }
            Some(dir) if !dir.is_dir() => {
                let what = match dir.exists() {
                    true => "is not a directory",
                    false => "does not exist",
                };
                return Err(CliError(format!("data directory {} {what}", dir.display())));
            }
            _ => {}
        }
        let stop = super::stop_on_ctrl_c()?;
        let outcome = super::run(args, &stop)?;
        println!("{}", outcome.summary);
        println!(
            "{} runs done, {} skipped; results in {}; wall time {:.1}s",
            outcome.ran,
            outcome.skipped,
            args.out.display(),
            outcome.seconds
        );
        Ok(outcome.interrupted)
    }
}
