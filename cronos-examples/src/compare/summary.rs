//! `summary.md` (a table per method), `summary.json`, and the plots (see [`charts`]): validation
//! accuracy and, on the two-layer task, the training objective against training time, the median
//! across learning rates and seeds with the 5th-95th percentile band. Curves are aligned by
//! epoch: the point of epoch e sits at the median time of epoch e over the method's runs.

use super::plot::{self, Chart, Curve};
use super::records::{lr_text, EpochRecord, RunRecord};
use super::sweep::lr_range;
use crate::error::CliError;
use cronos_burn::am::OptimizerConfig;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The `q`-quantile (linear interpolation) of `values`, NaNs ignored; NaN when none remain.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Methods in the order of their first run.
fn methods(runs: &[RunRecord]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        if !out.contains(&r.method) {
            out.push(r.method.clone());
        }
    }
    out
}

/// What the table and `summary.json` say of one method of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodSummary {
    /// `two-layer` or `deep`.
    pub task: String,
    pub method: String,
    pub runs: usize,
    /// Peak validation accuracy of the best run.
    pub peak_val_accuracy: f64,
    /// Peak validation accuracy of the worst run (the low end of the range over learning rates).
    pub min_peak_val_accuracy: f64,
    /// Learning rate of the best run; `None` for untuned methods.
    pub best_lr: Option<f64>,
    /// Test accuracy of the best run's final network: the run is chosen on validation, the test
    /// set was in no choice, so this accuracy is not inflated by the search as the peak is.
    pub test_accuracy: Option<f64>,
    /// Final regularized training objective of the best run (two-layer task).
    pub objective: Option<f64>,
    /// CRONOS's certified lower bound on the objective (two-layer task).
    pub lower_bound: Option<f64>,
    /// beta of the best run's program (two-layer task; CRONOS: the one its path chose).
    pub beta: Option<f64>,
    pub median_seconds: f64,
    /// Median seconds of head solves within the runtime (CRONOS-AM).
    pub median_head_seconds: Option<f64>,
}

/// The summary of every method in `runs`, in the order of their first run.
pub fn summarize(task: &str, runs: &[RunRecord]) -> Vec<MethodSummary> {
    methods(runs)
        .into_iter()
        .map(|m| {
            let rs: Vec<&RunRecord> = runs.iter().filter(|r| r.method == m).collect();
            let peaks: Vec<f64> = rs.iter().map(|r| r.peak_val_accuracy).collect();
            let secs: Vec<f64> = rs.iter().map(|r| r.seconds).collect();
            let best = rs
                .iter()
                .filter(|r| r.peak_val_accuracy.is_finite())
                .max_by(|a, b| a.peak_val_accuracy.total_cmp(&b.peak_val_accuracy));
            MethodSummary {
                task: task.to_string(),
                method: m,
                runs: rs.len(),
                peak_val_accuracy: quantile(&peaks, 1.0),
                min_peak_val_accuracy: quantile(&peaks, 0.0),
                best_lr: best.and_then(|r| r.lr),
                test_accuracy: best.and_then(|r| r.test_accuracy),
                objective: best.and_then(|r| r.objective),
                lower_bound: best.and_then(|r| r.lower_bound),
                beta: best.and_then(|r| r.beta),
                median_seconds: quantile(&secs, 0.5),
                median_head_seconds: {
                    let heads: Vec<f64> = rs.iter().filter_map(|r| r.head_seconds).collect();
                    (!heads.is_empty()).then(|| quantile(&heads, 0.5))
                },
            }
        })
        .collect()
}

/// The Markdown table: per method, runs, the range of peak validation accuracy across learning
/// rates (and seeds), the learning rate of the best run and its test accuracy, on the two-layer task the best run's beta,
/// training objective and its ratio to CRONOS's certified lower bound, and the median runtime (with
/// CRONOS-AM's share in head solves).
pub fn table(methods: &[MethodSummary]) -> String {
    let bound = methods.iter().find_map(|m| m.lower_bound);
    let objectives = methods.iter().any(|m| m.objective.is_some());
    let mut out = String::from(
        "| method | runs | peak val. accuracy (min - max) | best lr | test accuracy of the best run |",
    );
    out += if objectives {
        " beta | training objective | / CRONOS's lower bound |"
    } else {
        ""
    };
    out += " median runtime (s) |\n|---|---|---|---|---|";
    out += if objectives { "---|---|---|" } else { "" };
    out += "---|\n";
    for m in methods {
        let number = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
        };
        let _ = write!(
            out,
            "| {} | {} | {:.4} - {:.4} | {} | {} |",
            m.method,
            m.runs,
            m.min_peak_val_accuracy,
            m.peak_val_accuracy,
            lr_text(m.best_lr),
            number(m.test_accuracy, 4),
        );
        if objectives {
            let ratio = m.objective.zip(bound).map(|(o, b)| o / b);
            let beta = m.beta.map_or_else(|| "-".into(), |b| format!("{b:.3e}"));
            let _ = write!(
                out,
                " {beta} | {} | {} |",
                number(m.objective, 4),
                number(ratio, 4)
            );
        }
        let head = m
            .median_head_seconds
            .map_or_else(String::new, |h| format!(" (head solves {h:.3})"));
        let _ = writeln!(out, " {:.3}{head} |", m.median_seconds);
    }
    out
}

/// What the table aggregates, counted from the records (a rerun into the same directory with other
/// `--seeds`, `--lr-draws` or `--methods` adds to them): runs, methods, seeds, and learning rates
/// per tuned baseline (a range when baselines differ).
pub fn coverage(runs: &[RunRecord]) -> String {
    let seeds: BTreeSet<u64> = runs.iter().map(|r| r.seed).collect();
    let mut lrs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.lr.is_some()) {
        lrs.entry(&r.method).or_default().insert(lr_text(r.lr));
    }
    let counts: BTreeSet<usize> = lrs.values().map(BTreeSet::len).collect();
    let per_baseline = match (counts.first(), counts.last()) {
        (Some(lo), Some(hi)) if lo == hi => format!(", {lo} learning rate(s) per baseline"),
        (Some(lo), Some(hi)) => format!(", {lo} to {hi} learning rates per baseline"),
        _ => String::new(),
    };
    format!(
        "{} run(s) of {} method(s), {} seed(s){per_baseline}",
        runs.len(),
        methods(runs).len(),
        seeds.len()
    )
}

/// For each of `methods` whose epoch rows have `value` (`Some`), in that order, the curve of it: for
/// each epoch, the median time and the 5th, 50th and 95th percentiles of the value across runs.
pub fn curves(
    methods: &[MethodSummary],
    epochs: &[EpochRecord],
    value: impl Fn(&EpochRecord) -> Option<f64>,
) -> Vec<Curve> {
    methods
        .iter()
        .map(|m| m.method.as_str())
        .map(|m| {
            let mut by_epoch: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for r in epochs.iter().filter(|r| r.method == m) {
                if let Some(v) = value(r) {
                    let e = by_epoch.entry(r.epoch).or_default();
                    e.0.push(r.seconds);
                    e.1.push(v);
                }
            }
            Curve {
                method: m.to_string(),
                points: by_epoch.values().map(|(t, v)| percentiles(t, v)).collect(),
            }
        })
        .filter(|c| !c.points.is_empty())
        .collect()
}

/// `(median of times, 5th, 50th and 95th percentile of values)`: one point of a curve.
fn percentiles(times: &[f64], values: &[f64]) -> (f64, f64, f64, f64) {
    (
        quantile(times, 0.5),
        quantile(values, 0.05),
        quantile(values, 0.5),
        quantile(values, 0.95),
    )
}

/// The plots of a sweep: validation accuracy against time for every task; on the two-layer task
/// also the training objective against time, the gradient methods per epoch, CRONOS as one point
/// per run at its total time (each solve of its path has another beta), and its certified lower
/// bound as a line. Curves and legend rows follow the table (`methods`).
pub fn charts(
    methods: &[MethodSummary],
    runs: &[RunRecord],
    epochs: &[EpochRecord],
) -> Vec<(&'static str, Chart)> {
    let mut charts = vec![(
        "val_accuracy",
        Chart {
            y_title: "validation accuracy".into(),
            log_y: false,
            curves: curves(methods, epochs, |r| Some(r.val_accuracy)),
            lines: Vec::new(),
        },
    )];
    let mut objectives = curves(methods, epochs, |r| r.objective);
    let cronos: Vec<&RunRecord> = runs
        .iter()
        .filter(|r| r.method == "cronos" && r.objective.is_some())
        .collect();
    if !cronos.is_empty() {
        let times: Vec<f64> = cronos.iter().map(|r| r.seconds).collect();
        let values: Vec<f64> = cronos.iter().filter_map(|r| r.objective).collect();
        objectives.insert(
            0,
            Curve {
                method: "cronos".into(),
                points: vec![percentiles(&times, &values)],
            },
        );
    }
    if !objectives.is_empty() {
        let bound = methods.iter().find_map(|m| m.lower_bound);
        charts.push((
            "objective",
            Chart {
                y_title: "regularized training objective (log scale)".into(),
                log_y: true,
                curves: objectives,
                lines: bound
                    .map(|b| ("CRONOS's lower bound".to_string(), b))
                    .into_iter()
                    .collect(),
            },
        ));
    }
    charts
}

/// What a task's summary says, kept for the summary of every task.
pub struct TaskSummary {
    /// The task's name, also its folder under `--out`.
    kind: String,
    /// The task's Markdown section; its plots are linked relative to the task's folder.
    markdown: String,
    methods: Vec<MethodSummary>,
}

/// The baselines' learning-rate ranges ([`lr_range`]), in words.
fn lr_ranges() -> String {
    let ranges: Vec<String> = OptimizerConfig::all()
        .iter()
        .map(|o| {
            let (lo, hi) = lr_range(o);
            format!("{} [{lo:.0e}, {hi:.0e}]", o.name())
        })
        .collect();
    format!(
        "{} (the paper's four decades for Adam, moved for the others by their default learning rate over Adam's: their learning rates are in other units)",
        ranges.join(", ")
    )
}

/// Writes `summary.md`, `summary.json` (one [`MethodSummary`] per method) and every chart of
/// [`charts`] as SVG and PNG under `dir`; returns what they say. `kind` names the task
/// (`two-layer` or `deep`), `task` describes its data and network; what the runs cover is counted
/// from `runs`.
pub fn write(
    dir: &Path,
    kind: &str,
    task: &str,
    runs: &[RunRecord],
    epochs: &[EpochRecord],
) -> Result<TaskSummary, CliError> {
    let methods = summarize(kind, runs);
    let objective = if methods.iter().any(|m| m.objective.is_some()) {
        " Every method trains the same bias-free two-layer ReLU network on the same program, the training objective 1/2 ||relu(X W1) W2 - Y||^2 + beta/2 (||W1||^2 + ||W2||^2) (the baselines on minibatches, scaled by 1/n); CRONOS solves it to a certified gap for each beta of its path (see `--beta`), keeps the beta whose network scores best on validation (its runtime counts the whole path, its accuracy curve has one point per beta), and the baselines then train with that beta; its lower bound holds for every network whose hidden neurons use CRONOS's sampled activation patterns and each feed one output (a network of the same width that chooses its own patterns, or shares its neurons among several outputs, can go below it).\n\n![training objective against time](objective.svg)"
    } else {
        ""
    };
    let markdown = format!(
        "## Task {kind}\n\n{task}; {}.\n\nLearning rates of the baselines drawn log-uniformly, spread over the range by a shifted golden-ratio sequence, from {}; CRONOS and CRONOS-AM have no learning rate. The best run of a method is the one with the highest peak validation accuracy; its test accuracy is that of its final network on test samples no choice has seen (the peak over many runs and epochs on the same validation samples is inflated by the search itself). Runtimes exclude evaluation. The plots show, per method, the median across learning rates and seeds against the median training time of each epoch, with the 5th-95th percentile band.{objective}\n\n{}\n![validation accuracy against time](val_accuracy.svg)\n",
        coverage(runs),
        lr_ranges(),
        table(&methods)
    );
    save(dir, "summary.md", markdown.as_bytes())?;
    save(dir, "summary.json", json(&methods)?.as_bytes())?;
    for (name, chart) in charts(&methods, runs, epochs) {
        save(
            dir,
            &format!("{name}.svg"),
            plot::svg(&chart).map_err(CliError)?.as_bytes(),
        )?;
        let path = dir.join(format!("{name}.png"));
        plot::png(&chart)
            .map_err(CliError)?
            .save(&path)
            .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(TaskSummary {
        kind: kind.to_string(),
        markdown,
        methods,
    })
}

/// Writes `summary.md` and `summary.json` of every task under `dir`, the tasks' folders; returns
/// the Markdown.
pub fn write_all(dir: &Path, tasks: &[TaskSummary]) -> Result<String, CliError> {
    let mut markdown = String::from("# Optimizer comparison\n");
    for task in tasks {
        // The task's plots lie in its folder.
        let section = task.markdown.replace("](", &format!("]({}/", task.kind));
        write!(markdown, "\n{section}").expect("writing to a String");
    }
    let methods: Vec<MethodSummary> = tasks.iter().flat_map(|t| t.methods.clone()).collect();
    std::fs::create_dir_all(dir).map_err(|e| CliError::io("create", dir, e))?;
    save(dir, "summary.md", markdown.as_bytes())?;
    save(dir, "summary.json", json(&methods)?.as_bytes())?;
    Ok(markdown)
}

fn json(methods: &[MethodSummary]) -> Result<String, CliError> {
    let json = serde_json::to_string_pretty(methods).map_err(|e| CliError(e.to_string()))?;
    Ok(json + "\n")
}

fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CliError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| CliError::io("write", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_and_skip_nan() {
        let v = [3.0, f64::NAN, 1.0, 2.0];
        assert_eq!(quantile(&v, 0.5), 2.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.25), 1.5);
        assert!(quantile(&[f64::NAN], 0.5).is_nan());
    }

    fn run(method: &str, lr: Option<f64>, seed: u64) -> RunRecord {
        RunRecord {
            method: method.into(),
            lr,
            seed,
            seconds: 1.0,
            peak_val_accuracy: 0.5,
            final_val_accuracy: 0.5,
            test_accuracy: None,
            objective: None,
            lower_bound: None,
            beta: None,
            head_seconds: None,
            attempt: String::new(),
        }
    }

    #[test]
    fn coverage_counts_seeds_and_learning_rates_from_the_records() {
        // A first sweep with one draw and one seed, then reruns with two draws, a second seed
        // and one more method.
        let mut runs = vec![run("cronos", None, 0), run("adam", Some(1e-3), 0)];
        assert_eq!(
            coverage(&runs),
            "2 run(s) of 2 method(s), 1 seed(s), 1 learning rate(s) per baseline"
        );
        runs.extend([
            run("adam", Some(2e-4), 0),
            run("cronos", None, 1),
            run("adam", Some(1e-3), 1),
            run("adam", Some(2e-4), 1),
            run("sgd", Some(5e-3), 1),
        ]);
        assert_eq!(
            coverage(&runs),
            "7 run(s) of 3 method(s), 2 seed(s), 1 to 2 learning rates per baseline"
        );
        assert_eq!(coverage(&runs[..1]), "1 run(s) of 1 method(s), 1 seed(s)");
    }
}
