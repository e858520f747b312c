//! `cronos fit`: load the data, solve on the chosen backend with progress, trace and Ctrl-C, then
//! evaluate, save the model with its preprocessing and write the report.

use crate::cli::FitArgs;
use crate::error::{CliError, Result};
use crate::files::{create_file, create_parent, write_atomic};
use crate::preprocessing;
use crate::problem::{load_problem, DataInfo, Pair, Problem};
use crate::progress::Progress;
use burn::prelude::*;
use cronos_burn::device::{run_on, BackendTask};
use cronos_burn::model::TwoLayerMlp;
use cronos_core::{
    accuracy, CronosConfig, IterationRecord, JsonLinesTrace, Observer, Solution, SolveReport,
    TwoLayerNet,
};
use cronos_datasets::npy::{read_npy_matrix, read_npz_matrix, write_npz};
use cronos_datasets::Matrix;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What `report.json` holds: the solver's report, flattened, and the context of the run.
#[derive(Debug, Serialize)]
pub struct FitReport {
    #[serde(flatten)]
    pub solve: SolveReport,
    /// Accuracy on the validation data (sign agreement for one output, argmax for several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    /// Mean squared error per target entry on the validation data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_mse: Option<f64>,
    /// Accuracy on the test split, when validation data was split off the training set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Whether Ctrl-C stopped the solve.
    pub interrupted: bool,
    pub device: String,
    pub precision: &'static str,
    pub config: CronosConfig,
    pub data: DataInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
}

/// The solver configuration the flags describe.
pub fn config(args: &FitArgs) -> CronosConfig {
    // The flags' defaults are the solver's own (see cli.rs).
    CronosConfig::new()
        .with_neurons(args.neurons)
        .with_beta(args.beta)
        .with_rho(args.rho)
        .with_tol(args.tol)
        .with_max_iters(args.max_iters)
        .with_time_limit(args.time_limit)
        .with_pcg_max_iters(args.pcg_max_iters)
        .with_memory_budget_gb(args.memory_budget)
        .with_formulation(args.formulation)
        .with_seed(args.seed)
}

/// Runs `cronos fit`; returns the report (also written to `--report`).
pub fn run(args: &FitArgs, stop: Arc<AtomicBool>) -> Result<FitReport> {
    let mut config = config(args);
    // Bad flags fail before any data is read.
    config.validate()?;
    let problem = load_problem(&args.data, args.seed)?;
    let gates = args.gates.as_deref().map(read_gates).transpose()?;
    if let Some(g) = &gates {
        if g.rows != problem.info.d {
            return Err(CliError(format!(
                "gates {}: {} rows, but the data has {} features",
                args.gates.as_deref().unwrap_or(Path::new("")).display(),
                g.rows,
                problem.info.d
            )));
        }
        config = config.with_neurons(g.cols);
    }
    let trace = args.trace.as_deref().map(create_file).transpose()?;
    // Output directories are created now, so a bad path fails before the solve rather than after.
    for path in [
        Some(&args.report),
        args.save_model.as_ref(),
        args.certificate.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        create_parent(path)?;
    }

    let task = FitTask {
        args,
        config: &config,
        problem: &problem,
        gates: gates.as_ref(),
        trace,
        stop: stop.clone(),
    };
    let outcome = run_on(args.device.device, args.device.precision, task)??;
    if let Some(model) = &args.save_model {
        preprocessing::save(model, &problem.preprocessing)?;
    }
    let report = FitReport {
        solve: outcome.solve,
        val_accuracy: outcome.val.map(|v| v.0),
        val_mse: outcome.val.map(|v| v.1),
        test_accuracy: outcome.test.map(|t| t.0),
        interrupted: stop.load(Ordering::SeqCst),
        device: args.device.device.to_string(),
        precision: match args.device.precision {
            cronos_burn::device::Precision::F32 => "f32",
            cronos_burn::device::Precision::F64 => "f64",
        },
        config,
        data: problem.info,
        gates: args.gates.clone(),
        model: args.save_model.clone(),
        trace: args.trace.clone(),
        certificate: args.certificate.clone(),
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError(format!("cannot serialize the report: {e}")))?;
    write_atomic(&args.report, format!("{json}\n").as_bytes())?;
    Ok(report)
}

/// Gate vectors from an `.npz` archive (array `gates`) or an `.npy` file.
fn read_gates(path: &Path) -> Result<Matrix> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    Ok(if is_npz {
        read_npz_matrix(path, "gates")?
    } else {
        read_npy_matrix(path)?
    })
}

struct FitTask<'a> {
    args: &'a FitArgs,
    config: &'a CronosConfig,
    problem: &'a Problem,
    gates: Option<&'a Matrix>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    stop: Arc<AtomicBool>,
}

struct Outcome {
    solve: SolveReport,
    /// Accuracy and mean squared error.
    val: Option<(f64, f64)>,
    test: Option<(f64, f64)>,
}

impl BackendTask for FitTask<'_> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Outcome> {
        let x = self.problem.train.x.to_tensor::<B>(&device);
        let y = self.problem.train.y.to_tensor::<B>(&device);
        let mut progress = Progress::new(self.args.quiet);
        let mut trace = self.trace.map(JsonLinesTrace::new);
        let mut solver = self
            .config
            .solver()
            .with_stop_flag(self.stop)
            .with_observer(|r: &IterationRecord| progress.observe(r));
        if let Some(trace) = trace.as_mut() {
            solver = solver.with_observer(|r: &IterationRecord| trace.observe(r));
        }
        let solution = match self.gates {
            Some(g) => solver.fit_with_gates(x, y, g.to_tensor::<B>(&device)),
            None => solver.fit(x, y),
        };
        progress.finish();
        let solution = solution?;
        if let Some(err) = trace.and_then(|t| t.error) {
            eprintln!(
                "warning: the trace {} is incomplete: {err}",
                self.args
                    .trace
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            );
        }
        let evaluate = |pair: &Pair| evaluate(&solution.network, pair, &device);
        let val = self.problem.val.as_ref().map(evaluate);
        let test = self.problem.test.as_ref().map(evaluate);
        if let Some(path) = &self.args.certificate {
            write_certificate(path, &solution)?;
        }
        if let Some(path) = &self.args.save_model {
            TwoLayerMlp::from(solution.network.clone()).save(path)?;
        }
        Ok(Outcome {
            solve: solution.report,
            val,
            test,
        })
    }
}

/// Writes what an independent check of optimality needs (see the README): the network, its gates
/// and the dual point with its bound.
fn write_certificate<B: Backend>(path: &Path, solution: &Solution<B>) -> Result<()> {
    let cert = &solution.certificate;
    let [n, p, c] = cert.shape;
    let matrix = |t: &Tensor<B, 2>| (t.dims(), cronos_core::host::to_vec(t.clone()));
    let (w1_shape, w1) = matrix(&solution.network.w1);
    let (w2_shape, w2) = matrix(&solution.network.w2);
    let (g_shape, gates) = matrix(&solution.gates);
    let z_shape = [n, c];
    let mut arrays: Vec<(&str, &[usize], &[f64])> = vec![
        ("W1", &w1_shape, &w1),
        ("W2", &w2_shape, &w2),
        ("gates", &g_shape, &gates),
        ("z", &z_shape, &cert.z),
        ("beta", &[], std::slice::from_ref(&cert.beta)),
        ("objective", &[], std::slice::from_ref(&cert.objective)),
        ("lower_bound", &[], std::slice::from_ref(&cert.lower_bound)),
    ];
    let mu_shape = [n, 2 * p, c];
    if let Some(mu) = &cert.mu {
        arrays.push(("mu", &mu_shape, mu));
    }
    write_npz(path, &arrays)?;
    Ok(())
}

/// Accuracy and mean squared error of `net` on `pair`.
fn evaluate<B: Backend>(net: &TwoLayerNet<B>, pair: &Pair, device: &B::Device) -> (f64, f64) {
    let pred = net.forward(pair.x.to_tensor::<B>(device));
    let y = pair.y.to_tensor::<B>(device);
    let entries = (pair.y.rows * pair.y.cols).max(1) as f64;
    let mse = cronos_core::host::scalar((pred.clone() - y.clone()).square().sum()) / entries;
    (accuracy(pred, y), mse)
}

/// One line for stdout summarizing a finished fit.
pub fn summary(report: &FitReport) -> String {
    let s = &report.solve;
    let status = serde_json::to_value(s.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut line = format!(
        "{status}: {} iterations in {:.2}s, objective {:.6e}, certified gap {:.1e}, {} active neurons, train accuracy {:.4}",
        s.iterations, s.seconds, s.objective, s.rel_gap, s.active_neurons, s.train_accuracy
    );
    if let Some(a) = report.val_accuracy {
        line.push_str(&format!(", val accuracy {a:.4}"));
    }
    if let Some(a) = report.test_accuracy {
        line.push_str(&format!(", test accuracy {a:.4}"));
    }
    line
}
