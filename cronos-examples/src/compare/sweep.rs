//! The sweep: every planned run (method, learning rate, seed) not already recorded, run in turn on
//! the chosen backend, then the summary of all recorded runs.

use super::args::{Arch, Beta, CompareArgs, Method, OutputLayer, Task, TaskKind};
use super::records::{self, EpochRecord, RecordWriter, RunRecord};
use super::task::{check_settings, load_task, TaskData};
use super::{summary, train};
use crate::error::CliError;
use burn::train::Interrupter;
use cronos_burn::am::OptimizerConfig;
use cronos_burn::device::{run_on, BackendTask};
use cronos_core::CronosConfig;
use cronos_datasets::preprocess::TargetEncoding;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::time::Instant;

/// Learning rates of the random search for Adam, AdamW and Yogi: log-uniform over this range (the
/// paper's; spread by [`lr_draws`]); the other optimizers search it moved to their units ([`lr_range`]).
pub const LR_RANGE: (f64, f64) = (1e-6, 1e-2);

/// The range of `optimizer`'s random search: [`LR_RANGE`] times its default learning rate over
/// Adam's (1e-3). The optimizers' learning rates are in different units: SGD's is the step itself
/// (default 0.1), Shampoo's is taken on a preconditioned gradient (0.05) and D-Adaptation's
/// multiplies the step it estimates (1.0). With the paper's range for all of them, D-Adaptation
/// AdamW stayed at chance on every run of both tasks (0.5000 deep, 0.1140 two-layer) and SGD's best
/// learning rate on the two-layer task was at the range's top (6.8e-3).
pub fn lr_range(optimizer: &OptimizerConfig) -> (f64, f64) {
    let units = optimizer.default_learning_rate() / ADAM_LEARNING_RATE;
    (LR_RANGE.0 * units, LR_RANGE.1 * units)
}

/// Adam's default learning rate, the unit of [`LR_RANGE`].
const ADAM_LEARNING_RATE: f64 = 1e-3;

/// One planned run.
struct Plan {
    method: usize,
    lr: Option<f64>,
    seed: u64,
}

/// The learning rates drawn for `optimizer` from its [`lr_range`], on a log scale: a randomly
/// shifted golden-ratio sequence, the k-th draw at the fractional part of `shift + k / phi` of the
/// range. Every draw is log-uniform, as in the paper's random search, but the first n of them leave
/// no gap wider than 1.9 / n of the range (at most 1.894 / n for every n up to 3,000, whatever
/// the shift; ten independent draws left Yogi none above 1.7e-3 of its [1e-6, 1e-2], too small for
/// its 100 steps on the two-layer task), and more draws keep the earlier ones, so a sweep rerun with
/// a larger `--lr-draws` only adds runs. The same on every rerun, a different shift per optimizer.
pub fn lr_draws(optimizer: &OptimizerConfig, draws: usize) -> Vec<f64> {
    let salt = optimizer
        .name()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    let shift: f64 = StdRng::seed_from_u64(salt).random_range(0.0..1.0);
    let inverse_phi = (5f64.sqrt() - 1.0) / 2.0;
    let (lo, hi) = lr_range(optimizer);
    let decades = (hi / lo).log10();
    (0..draws)
        .map(|k| lo * 10f64.powf(decades * (shift + k as f64 * inverse_phi).fract()))
        .collect()
}

/// What a finished comparison reports.
pub struct Outcome {
    /// Runs done by this invocation.
    pub ran: usize,
    /// Runs skipped because a previous invocation finished them.
    pub skipped: usize,
    /// Whether the stop flag ended the sweep before every planned run was done.
    pub interrupted: bool,
    /// The Markdown summary (also in `summary.md`).
    pub summary: String,
    pub seconds: f64,
}

/// Runs the comparison `args` describes, task by task, writing each task's records, summary and
/// plots under its folder of `--out` and the summary of every task (`summary.md`, `summary.json`)
/// under `--out`. Once `stop` is set, the sweep ends after the epoch in progress (its record is
/// written; the unfinished run is redone by a rerun) and the summary covers the runs finished so far.
pub fn run(args: &CompareArgs, stop: &Interrupter) -> Result<Outcome, CliError> {
    let start = Instant::now();
    let counts = [
        ("--epochs", args.epochs),
        ("--seeds", usize::try_from(args.seeds).unwrap_or(usize::MAX)),
        ("--lr-draws", args.lr_draws),
        ("--batch-size", args.batch_size),
        ("--resolve-every", args.resolve_every.unwrap_or(1)),
        ("--cronos-max-iters", args.cronos_max_iters),
    ];
    if let Some((flag, _)) = counts.iter().find(|(_, count)| *count == 0) {
        return Err(CliError(format!(
            "invalid value 0 for {flag}: must be at least 1"
        )));
    }
    let tasks = args.tasks()?;
    let mut outcome = Outcome {
        ran: 0,
        skipped: 0,
        interrupted: false,
        summary: String::new(),
        seconds: 0.0,
    };
    let mut summaries = Vec::new();
    for task in &tasks {
        let (ran, skipped, summary) = run_task(task, stop)?;
        outcome.ran += ran;
        outcome.skipped += skipped;
        summaries.push(summary);
        if stop.should_stop() {
            outcome.interrupted = true;
            break;
        }
    }
    outcome.summary = summary::write_all(&args.out, &summaries)?;
    outcome.seconds = start.elapsed().as_secs_f64();
    Ok(outcome)
}

/// Runs one task: its runs not yet recorded, then its summary; (runs done, runs skipped, summary).
fn run_task(
    task: &Task,
    stop: &Interrupter,
) -> Result<(usize, usize, summary::TaskSummary), CliError> {
    let args = task.args;
    let methods = &task.methods;
    let with_cronos = methods.iter().any(|m| matches!(m, Method::Cronos));
    if task.kind == TaskKind::TwoLayer && args.beta == Beta::Path && !with_cronos {
        return Err(CliError(
            "--beta path takes the two-layer program's beta from CRONOS's path: add cronos to \
             --methods, or give --beta a number"
                .into(),
        ));
    }
    let data = load_task(task)?;
    let classes = data.train.num_classes();
    let outputs = TargetEncoding::for_classes(classes).width(classes);
    let arch = task.network(outputs);
    if let Arch::TwoLayer { width, output } = arch {
        if output == OutputLayer::PerOutput && width < outputs {
            return Err(CliError(format!(
                "the two-layer network has width {width}, fewer hidden units than its {outputs} \
                 outputs, so --output-layer per-output would leave outputs unconnected: use \
                 --arch two-layer:{outputs} or more"
            )));
        }
        // CRONOS's network must not be wider than everyone else's.
        let cronos_width = 2 * task.neurons * outputs;
        if with_cronos && width < cronos_width {
            return Err(CliError(format!(
                "the two-layer network has width {width}, below CRONOS's 2 P c = {cronos_width} \
                 (P = {}, c = {outputs}): use --arch two-layer:{cronos_width} or more, or fewer --neurons",
                task.neurons
            )));
        }
    }
    let mut plans = Vec::new();
    for seed in 0..args.seeds {
        for (i, m) in methods.iter().enumerate() {
            if let Method::Baseline(optimizer) = m {
                for lr in lr_draws(optimizer, args.lr_draws) {
                    plans.push(Plan {
                        method: i,
                        lr: Some(lr),
                        seed,
                    });
                }
            } else {
                plans.push(Plan {
                    method: i,
                    lr: None,
                    seed,
                });
            }
        }
    }
    // CRONOS first: a path's beta is the baselines' of the same seed.
    plans.sort_by_key(|p| !matches!(methods[p.method], Method::Cronos));
    check_settings(task, &arch, &data)?;
    let mut writer = RecordWriter::open(&task.out)?;
    let (finished, _) = records::load(&task.out)?;
    let done: HashSet<_> = finished
        .iter()
        .map(|r| records::key(&r.method, r.lr, r.seed))
        .collect();
    let todo: Vec<&Plan> = plans
        .iter()
        .filter(|p| !done.contains(&records::key(methods[p.method].name(), p.lr, p.seed)))
        .collect();
    let skipped = plans.len() - todo.len();
    let chosen_betas = finished
        .iter()
        .filter(|r| r.method == Method::Cronos.name())
        .filter_map(|r| Some((r.seed, r.beta?)))
        .collect();

    let sweep = SweepTask {
        task,
        arch: &arch,
        methods,
        todo: &todo,
        data: &data,
        writer: &mut writer,
        attempt: records::new_attempt(),
        chosen_betas,
        stop,
    };
    let ran = run_on(args.device.device, args.device.precision, sweep)??;

    // Seeds and learning rates are counted from the records, which may hold runs of earlier
    // invocations with other --seeds, --lr-draws or --methods; the task itself is fixed by
    // `settings.json`.
    let description = format!(
        "{:?}, {}{}: {} training / {} validation / {} test samples, {} epochs, network {arch}",
        args.dataset,
        if task.classes.0.is_empty() {
            "all classes".to_string()
        } else {
            format!("classes {:?}", task.classes.0)
        },
        if task.pca > 0 {
            format!(", first {} principal components", task.pca)
        } else {
            String::new()
        },
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        args.epochs,
    );
    let (runs, epochs) = records::load(&task.out)?;
    let summary = summary::write(&task.out, task.kind.name(), &description, &runs, &epochs)?;
    Ok((ran, skipped, summary))
}

struct SweepTask<'a> {
    task: &'a Task<'a>,
    arch: &'a Arch,
    methods: &'a [Method],
    todo: &'a [&'a Plan],
    data: &'a TaskData,
    writer: &'a mut RecordWriter,
    /// Tags the epoch rows and run records of this invocation.
    attempt: String,
    /// The beta CRONOS's path chose, per seed (from earlier invocations' records and this one's).
    chosen_betas: HashMap<u64, f64>,
    stop: &'a Interrupter,
}

impl SweepTask<'_> {
    /// beta of the two-layer program for a run of `method` and `seed`; 0 where none is used: CRONOS
    /// brings its own (fixed or its path's), and the deep network's loss is MSE, without weight decay.
    fn beta(&self, method: &Method, seed: u64) -> Result<f64, CliError> {
        if matches!(method, Method::Cronos) || matches!(self.arch, Arch::Deep { .. }) {
            return Ok(0.0);
        }
        match self.task.args.beta {
            Beta::Fixed(beta) => Ok(beta),
            Beta::Path => self.chosen_betas.get(&seed).copied().ok_or_else(|| {
                CliError(format!(
                    "no CRONOS run of seed {seed} has chosen beta for the baselines"
                ))
            }),
        }
    }
}

impl BackendTask for SweepTask<'_> {
    /// The number of runs finished.
    type Output = Result<usize, CliError>;

    fn run<B: burn::prelude::Backend>(mut self, device: B::Device) -> Self::Output {
        let args = self.task.args;
        let setup = train::RunSetup {
            train: &self.data.train,
            valid: &self.data.valid,
            test: &self.data.test,
            arch: self.arch,
            epochs: args.epochs,
            batch_size: args.batch_size,
            cronos: CronosConfig::new()
                .with_tol(1e-3)
                .with_neurons(self.task.neurons)
                .with_gate_sampling(args.gate_sampling)
                .with_max_iters(args.cronos_max_iters)
                .with_time_limit(Some(args.cronos_time_limit)),
            beta: args.beta,
            head: args.head_with_beta(
                cronos_burn::am::DeepTrainingConfig::default_head()
                    .with_neurons(self.task.neurons)
                    .with_gate_sampling(args.gate_sampling),
            ),
            resolve_every: args.resolve_every,
            head_warm_start: args.head_warm_start,
            logs: &self.task.out.join("burn-train"),
            stop: self.stop,
        };
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(self.todo.len() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let stop = self.stop;
        let mut finished = 0;
        for plan in self.todo {
            if stop.should_stop() {
                break;
            }
            let method = &self.methods[plan.method];
            let beta = self.beta(method, plan.seed)?;
            let label = format!(
                "{} lr {} seed {}",
                method.name(),
                records::lr_text(plan.lr),
                plan.seed
            );
            bar.set_message(label.clone());
            let writer = &mut *self.writer;
            let mut on_epoch = |s: train::EpochScore| {
                bar.set_message(format!("{label} epoch {}: acc {:.3}", s.epoch, s.accuracy));
                writer.epoch(&EpochRecord {
                    method: method.name().into(),
                    lr: plan.lr,
                    seed: plan.seed,
                    epoch: s.epoch,
                    seconds: s.seconds,
                    val_accuracy: s.accuracy,
                    val_loss: s.loss,
                    objective: s.objective,
                    attempt: self.attempt.clone(),
                })?;
                Ok(if stop.should_stop() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            };
            let Some(result) = train::run::<B>(
                &setup,
                method,
                plan.lr,
                beta,
                plan.seed,
                &device,
                &mut on_epoch,
            )?
            else {
                break;
            };
            let scores = &result.scores;
            let peak = scores.iter().map(|s| s.accuracy).fold(f64::NAN, f64::max);
            let last = scores.last().copied();
            self.writer.run(&RunRecord {
                method: method.name().into(),
                lr: plan.lr,
                seed: plan.seed,
                seconds: last.map_or(0.0, |s| s.seconds),
                peak_val_accuracy: peak,
                final_val_accuracy: last.map_or(f64::NAN, |s| s.accuracy),
                test_accuracy: Some(result.test_accuracy),
                objective: result.objective,
                lower_bound: result.lower_bound,
                beta: result.beta,
                head_seconds: result.head_seconds,
                attempt: self.attempt.clone(),
            })?;
            if let (Method::Cronos, Some(beta)) = (method, result.beta) {
                self.chosen_betas.insert(plan.seed, beta);
            }
            finished += 1;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam searches the paper's range; every optimizer's range holds its default learning rate at
    /// the same place as Adam's; its draws lie in its range, more draws keep the earlier ones, and
    /// the first n of them leave no gap (log scale, end to end) wider than 1.9 / n of the range.
    #[test]
    fn each_optimizer_searches_the_paper_range_in_its_own_units() {
        let adam = OptimizerConfig::from_name("adam").unwrap();
        assert_eq!(lr_range(&adam), LR_RANGE);
        for optimizer in OptimizerConfig::all() {
            let (lo, hi) = lr_range(&optimizer);
            let default = optimizer.default_learning_rate();
            let place = (default / lo).log10() / (hi / lo).log10();
            assert!((place - 0.75).abs() < 1e-9, "{}: {place}", optimizer.name());
            let all = lr_draws(&optimizer, 40);
            for n in 1..=all.len() {
                let draws = lr_draws(&optimizer, n);
                assert_eq!(draws, all[..n], "{}: {n} draws", optimizer.name());
                let mut places: Vec<f64> = draws
                    .iter()
                    .map(|lr| (lr / lo).log10() / (hi / lo).log10())
                    .collect();
                assert!(places.iter().all(|p| (0.0..1.0).contains(p)), "{draws:?}");
                places.sort_by(f64::total_cmp);
                let gaps = places.windows(2).map(|w| w[1] - w[0]);
                let wrap = 1.0 - places[n - 1] + places[0];
                let widest = gaps.fold(wrap, f64::max);
                assert!(
                    widest <= 1.9 / n as f64,
                    "{}: {n} draws, gap {widest}",
                    optimizer.name()
                );
            }
        }
    }
}
