//! `cronos`: fit two-layer ReLU networks by convex optimization from the command line.
//!
//! ```text
//! cronos fit --data problem.npz --report report.json [--save-model model.bpk] [--trace trace.jsonl]
//! cronos fit --dataset fashion-mnist --classes 2,8 --train-limit 500 --report report.json
//! cronos predict --model model.bpk --data problem.npz --out pred.npy
//! cronos predict --model model.bpk --dataset fashion-mnist --classes 2,8 --out pred.npy
//! cronos data info fashion-mnist
//! cronos compare [--lr-draws 10] [--seeds 1] [--epochs 3] [--out runs/compare]
//! ```
//!
//! Every failure prints one line `error: ...` on stderr and exits with status 2.

mod cli;
mod files;
mod fit;
mod outputs;
mod predict;
mod preprocessing;
mod problem;
mod progress;

use clap::error::ErrorKind;
use clap::Parser;
use cli::{Cli, Command, DataCommand, InfoArgs};
use cronos_datasets::{load, Source};
use cronos_examples::compare;
use cronos_examples::error::{CliError, Result};
use cronos_examples::interrupt::{install_ctrl_c, EXIT_INTERRUPTED};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status of every error.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message without its usage block: the first paragraph, naming the flag and
            // value (or, indented below the first line, the missing arguments).
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = first.join(" ");
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            eprintln!("error: {first} (see `cronos --help`)");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    // A panic inside a backend (e.g. a missing GPU driver) is still reported as one line.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        let message = CliError(message.to_string());
        eprintln!("error: internal failure: {message}");
    }));
    match std::panic::catch_unwind(|| run(cli.command)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_ERROR)
        }
        Err(_) => ExitCode::from(EXIT_ERROR),
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Fit(args) => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            install_ctrl_c("stopping after this iteration", move || {
                flag.store(true, Ordering::SeqCst)
            })
            .map_err(CliError)?;
            let report = fit::run(&args, stop)?;
            println!("{}", fit::summary(&report));
            println!("report written to {}", args.report.display());
            Ok(if report.interrupted {
                ExitCode::from(EXIT_INTERRUPTED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Predict(args) => {
            let prediction = predict::run(&args)?;
            print!(
                "{} x {} predictions written to {}",
                prediction.rows,
                prediction.cols,
                args.out.display()
            );
            match prediction.scores {
                Some((acc, mse)) => println!(" (accuracy {acc:.4}, mse {mse:.6e})"),
                None => println!(),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare(args) => {
            let stop = compare::stop_on_ctrl_c()?;
            let outcome = compare::run(&args, &stop)?;
            println!("{}", outcome.summary);
            println!(
                "{} runs done, {} skipped (already finished); records, summary.md and plots in {}",
                outcome.ran,
                outcome.skipped,
                args.out.display()
            );
            println!("wall time {:.1}s", outcome.seconds);
            Ok(if outcome.interrupted {
                ExitCode::from(EXIT_INTERRUPTED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Data {
            command: DataCommand::Info(args),
        } => {
            print!("{}", data_info(&args)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cronos data info`: summaries of the training and test splits, read in `f64` so that every
/// value of a `float64` file is shown as stored.
fn data_info(args: &InfoArgs) -> Result<String> {
    let source = Source::from_option(args.data_dir.clone());
    let (train, test) = load::<f64>(&args.kind, &source)?;
    let origin = match &args.data_dir {
        Some(dir) => dir.display().to_string(),
        None => "embedded subset".into(),
    };
    let mut out = format!("{} ({origin})\n\ntrain: {}", args.kind, train.summary());
    match test {
        Some(test) => out.push_str(&format!("\ntest: {}", test.summary())),
        None => out.push_str("\ntest: none\n"),
    }
    Ok(out)
}
