//! `cronos fit`: check the output paths, load the data, solve on the chosen backend with progress,
//! trace and Ctrl-C, then evaluate, save the model with its preprocessing and write the report. The
//! report is written even when another output fails, so a solve is never lost to a bad model path.

use crate::cli::FitArgs;
use crate::files::{create_file, write_atomic};
use crate::outputs::check_writable;
use crate::preprocessing;
use crate::problem::{load_problem, DataInfo, Pair, Problem};
use crate::progress::Progress;
use burn::prelude::*;
use cronos_burn::device::{run_on, BackendTask, Precision};
use cronos_burn::model::{config_path, TwoLayerMlp};
use cronos_burn::shard::fit_sharded;
use cronos_core::{
    accuracy_and_mse, CronosConfig, IterationRecord, JsonLinesTrace, Observer, SetUpRecord,
    Solution, SolveReport, TwoLayerNet,
};
use cronos_datasets::npy::{read_npy_matrix, read_npz_matrix, write_npz};
use cronos_datasets::{Matrix, Real};
use cronos_examples::error::{CliError, Result};
use serde::Serialize;
use std::ops::ControlFlow;
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
    /// Outputs that could not be written (`--save-model`, `--certificate`), one line each; the
    /// fields above then name only the files that were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_errors: Vec<String>,
}

/// The solver configuration the flags describe.
pub fn config(args: &FitArgs) -> CronosConfig {
    // The flags' defaults are the solver's own (see cli.rs).
    CronosConfig::new()
        .with_neurons(args.neurons)
        .with_beta(args.beta)
        .with_relative_beta(args.relative_beta)
        .with_rho(args.rho)
        .with_tol(args.tol)
        .with_max_iters(args.max_iters)
        .with_time_limit(args.time_limit)
        .with_pcg_max_iters(args.pcg_max_iters)
        .with_memory_budget_gb(args.memory_budget)
        .with_formulation(args.formulation)
        .with_gate_sampling(args.gate_sampling)
        .with_seed(args.seed)
}

/// Runs `cronos fit`; returns the report (also written to `--report`). Fails after writing the
/// report when the model or the certificate could not be written.
pub fn run(args: &FitArgs, stop: Arc<AtomicBool>) -> Result<FitReport> {
    match args.device.precision {
        Precision::F32 => run_in::<f32>(args, stop),
        Precision::F64 => run_in::<f64>(args, stop),
    }
}

/// [`run`] with the data read and preprocessed in `T`, the precision of the solve: an `f64` solve
/// sees `float64` files unrounded, an `f32` solve rounds them once while reading.
fn run_in<T: Real>(args: &FitArgs, stop: Arc<AtomicBool>) -> Result<FitReport> {
    let mut config = config(args);
    // Bad flags and output paths fail before any data is read.
    config.validate()?;
    check_outputs(args)?;
    let problem = load_problem::<T>(&args.data, args.seed)?;
    let gates = args.gates.as_deref().map(read_gates::<T>).transpose()?;
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
    let trace = args
        .trace
        .as_deref()
        .map(|path| create_file(path).map_err(|e| CliError(format!("--trace: {e}"))))
        .transpose()?;

    let task = FitTask {
        args,
        config: &config,
        problem: &problem,
        gates: gates.as_ref(),
        trace,
        stop: stop.clone(),
    };
    let mut outcome = run_on(args.device.device, args.device.precision, task)??;
    if outcome.model_saved {
        if let Some(model) = &args.save_model {
            if let Err(e) = preprocessing::save(model, &problem.preprocessing) {
                outcome.output_errors.push(format!("--save-model: {e}"));
                outcome.model_saved = false;
            }
        }
    }
    let report = FitReport {
        solve: outcome.solve,
        val_accuracy: outcome.val.map(|v| v.0),
        val_mse: outcome.val.map(|v| v.1),
        test_accuracy: outcome.test.map(|t| t.0),
        interrupted: stop.load(Ordering::SeqCst),
        device: args.device.device.to_string(),
        precision: match args.device.precision {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        },
        config,
        data: problem.info,
        gates: args.gates.clone(),
        model: args.save_model.clone().filter(|_| outcome.model_saved),
        trace: args.trace.clone(),
        certificate: args
            .certificate
            .clone()
            .filter(|_| outcome.certificate_saved),
        output_errors: outcome.output_errors,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| CliError(format!("cannot serialize the report: {e}")))?;
    write_atomic(&args.report, format!("{json}\n").as_bytes())?;
    if !report.output_errors.is_empty() {
        return Err(CliError(format!(
            "{} (the report was written to {})",
            report.output_errors.join("; "),
            args.report.display()
        )));
    }
    Ok(report)
}

/// Checks every file `fit` will write (the model with its two sidecars), naming the flag of the
/// first that cannot be written.
fn check_outputs(args: &FitArgs) -> Result<()> {
    let mut outputs = vec![("--report", args.report.clone())];
    if let Some(model) = &args.save_model {
        outputs.extend([
            ("--save-model", model.clone()),
            ("--save-model", config_path(model)),
            ("--save-model", preprocessing::sidecar_path(model)),
        ]);
    }
    outputs.extend(
        args.certificate
            .iter()
            .map(|p| ("--certificate", p.clone())),
    );
    outputs.extend(args.trace.iter().map(|p| ("--trace", p.clone())));
    for (i, (flag, path)) in outputs.iter().enumerate() {
        if let Some((other, _)) = outputs[..i].iter().find(|(_, p)| p == path) {
            return Err(CliError(format!(
                "{flag} {}: the same file as {other}",
                path.display()
            )));
        }
        check_writable(flag, path)?;
    }
    Ok(())
}

/// Gate vectors from an `.npz` archive (array `gates`) or an `.npy` file.
fn read_gates<T: Real>(path: &Path) -> Result<Matrix<T>> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    Ok(if is_npz {
        read_npz_matrix(path, "gates")?
    } else {
        read_npy_matrix(path)?
    })
}

struct FitTask<'a, T> {
    args: &'a FitArgs,
    config: &'a CronosConfig,
    problem: &'a Problem<T>,
    gates: Option<&'a Matrix<T>>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    stop: Arc<AtomicBool>,
}

struct Outcome {
    solve: SolveReport,
    /// Accuracy and mean squared error.
    val: Option<(f64, f64)>,
    test: Option<(f64, f64)>,
    model_saved: bool,
    certificate_saved: bool,
    /// Outputs that failed, each naming its flag.
    output_errors: Vec<String>,
}

/// The fit's observers: the progress display and the trace file, if any, which records the
/// iterations only.
struct Watch {
    progress: Progress,
    trace: Option<JsonLinesTrace<std::io::BufWriter<std::fs::File>>>,
}

impl Observer for Watch {
    fn observe(&mut self, record: &IterationRecord) -> ControlFlow<()> {
        if let Some(trace) = self.trace.as_mut() {
            let _ = trace.observe(record);
        }
        self.progress.observe(record)
    }

    fn set_up(&mut self, record: &SetUpRecord) {
        self.progress.set_up(record);
    }
}

impl<T: Real> BackendTask for FitTask<'_, T> {
    type Output = Result<Outcome>;

    fn run<B: Backend>(self, device: B::Device) -> Result<Outcome> {
        let x = self.problem.train.x.to_tensor::<B>(&device);
        let y = self.problem.train.y.to_tensor::<B>(&device);
        let mut watch = Watch {
            progress: Progress::new(self.args.quiet),
            trace: self.trace.map(JsonLinesTrace::new),
        };
        let gates = self.gates.map(|g| g.to_tensor::<B>(&device));
        let solution = match self.args.shards as usize {
            1 => {
                let solver = self
                    .config
                    .solver()
                    .with_stop_flag(self.stop)
                    .with_observer(&mut watch as &mut dyn Observer);
                match gates {
                    Some(g) => solver.fit_with_gates(x, y, g),
                    None => solver.fit(x, y),
                }
            }
            shards => fit_sharded(
                self.config,
                x,
                y,
                gates,
                &vec![device.clone(); shards],
                Some(self.stop),
                Some(&mut watch),
            ),
        };
        watch.progress.finish();
        let solution = solution?;
        if let Some(err) = watch.trace.and_then(|t| t.error) {
            eprintln!(
                "warning: the trace {} is incomplete: {err}",
                self.args
                    .trace
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            );
        }
        let evaluate = |pair: &Pair<T>| evaluate(&solution.network, pair, &device);
        let val = self.problem.val.as_ref().map(evaluate);
        let test = self.problem.test.as_ref().map(evaluate);
        // A failed output is recorded, not returned: the report must still be written.
        let mut output_errors = Vec::new();
        let mut saved = |flag: &str, result: Result<()>| match result {
            Ok(()) => true,
            Err(e) => {
                output_errors.push(format!("{flag}: {e}"));
                false
            }
        };
        let certificate_saved = match &self.args.certificate {
            Some(path) => saved("--certificate", write_certificate(path, &solution)),
            None => false,
        };
        let model_saved = match &self.args.save_model {
            Some(path) => saved(
                "--save-model",
                TwoLayerMlp::from(solution.network.clone())
                    .save(path)
                    .map_err(CliError::from),
            ),
            None => false,
        };
        Ok(Outcome {
            solve: solution.report,
            val,
            test,
            model_saved,
            certificate_saved,
            output_errors,
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
fn evaluate<B: Backend, T: Real>(
    net: &TwoLayerNet<B>,
    pair: &Pair<T>,
    device: &B::Device,
) -> (f64, f64) {
    accuracy_and_mse(
        net.forward(pair.x.to_tensor::<B>(device)),
        pair.y.to_tensor::<B>(device),
    )
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
    if let Some(why) = &s.polish_skipped {
        line.push_str(&format!("; polish skipped: {why}"));
    }
    line
}
