//! CRONOS-AM and the gradient baselines in burn-train, on real Fashion-MNIST images (the embedded
//! subset: 1,000 training and 200 test images per class), scaled to [0, 1], on `Autodiff<Flex>`.
//! The test images of the chosen classes serve as the validation set.
//!
//! The tests share Burn's process-global RNG and the CPU, so they run one at a time.

use burn::backend::flex::{Flex, FlexDevice};
use burn::backend::Autodiff;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::module::{AutodiffModule, Module};
use burn::optim::AdamConfig;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Interrupter, Learner, SupervisedTraining, TrainingStrategy};
use cronos_burn::am::{
    train_deep_mlp, CronosAmConfig, DeepMlp, DeepMlpConfig, DeepTrainingConfig,
    DeepTrainingOutcome, OptimizerConfig, QuietRenderer, TrainingError, TrainingMethod,
};
use cronos_burn::solver::CronosSolverConfig;
use cronos_core::{accuracy, CronosConfig, Status};
use cronos_datasets::mnist::fashion_mnist_embedded;
use cronos_datasets::{
    ClassificationBatch, ClassificationBatcher, Granularity, LabeledSet, Scaler, Scaling,
    TargetEncoding,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

type B = Autodiff<Flex>;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Training and test images of `classes` (relabelled 0.., in that order), scaled to [0, 1] with
/// the training range.
fn classes(classes: &[usize]) -> (LabeledSet, LabeledSet) {
    let (train, test) = fashion_mnist_embedded().expect("embedded Fashion-MNIST");
    let mut train = train.select_classes(classes).unwrap();
    let mut test = test.select_classes(classes).unwrap();
    let scaler = Scaler::fit(&train.x, Scaling::UnitRange, Granularity::Scalar).unwrap();
    scaler.apply(&mut train.x).unwrap();
    scaler.apply(&mut test.x).unwrap();
    (train, test)
}

type TrainLoader = Arc<dyn DataLoader<B, ClassificationBatch<B>>>;
type ValidLoader = Arc<dyn DataLoader<Flex, ClassificationBatch<Flex>>>;

/// Every fourth training image of `pair` with its training loader (batches of 50) and a loader of
/// the pair's test images (batches of 100).
fn quarter_loaders(pair: &[usize]) -> (LabeledSet, TrainLoader, ValidLoader) {
    let (train_set, valid_set) = classes(pair);
    let train_set = train_set.select_rows(&(0..train_set.len()).step_by(4).collect::<Vec<_>>());
    let batcher = ClassificationBatcher::for_set(&train_set);
    let dl_train = DataLoaderBuilder::<B, _, _>::new(batcher)
        .batch_size(50)
        .set_device(FlexDevice)
        .build(train_set.clone());
    let dl_valid = DataLoaderBuilder::<Flex, _, _>::new(batcher)
        .batch_size(100)
        .set_device(FlexDevice)
        .build(valid_set);
    (train_set, dl_train, dl_valid)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cronos-am-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn train(
    config: &DeepTrainingConfig,
    train: &LabeledSet,
    valid: &LabeledSet,
    dir: &PathBuf,
) -> DeepTrainingOutcome<Flex> {
    train_deep_mlp::<B>(config, train, valid, dir, &FlexDevice, &Interrupter::new())
        .expect("training run")
}

fn weights(model: &DeepMlp<Flex>) -> Vec<f32> {
    let mut all = Vec::new();
    for layer in model
        .features
        .iter()
        .chain([&model.head_hidden, &model.head_output])
    {
        all.extend(layer.weight.val().into_data().iter::<f32>());
    }
    all
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// T-shirt/top (0) vs shirt (6), the hardest pair of Fashion-MNIST: CRONOS-AM (the paper's deep
/// MLP, P = 10, D-Adapted AdamW, a head solve at the start of each epoch, 2 epochs) is at least as
/// accurate as CRONOS's two-layer network on the raw pixels with the head's P and relative beta
/// (500 ADMM iterations): 0.850 against 0.840 on the 400 held-out images, as with a solve every 10
/// steps (at the reference runners' fixed beta of 1e-3 the two-layer network reached 0.610).
#[test]
fn cronos_am_matches_two_layer_cronos_on_tshirt_vs_shirt() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[0, 6]);
    let device = FlexDevice;
    let config = DeepTrainingConfig::new();
    assert_eq!(config.optimizer.name(), "dadapt-adamw");

    let solve = config.cronos.clone().with_max_iters(500);
    let x = train_set.x.to_tensor::<Flex>(&device);
    let y = train_set
        .targets(TargetEncoding::Signed)
        .unwrap()
        .to_tensor::<Flex>(&device);
    let two_layer = CronosSolverConfig::new(solve).fit(x, y).expect("CRONOS");
    let valid_y = valid_set
        .targets(TargetEncoding::Signed)
        .unwrap()
        .to_tensor::<Flex>(&device);
    let cronos_valid = accuracy(
        two_layer.predict(valid_set.x.to_tensor::<Flex>(&device)),
        valid_y,
    );

    let dir = scratch("vs-cronos");
    let am = train(&config, &train_set, &valid_set, &dir);
    println!(
        "T-shirt vs shirt, {} training / {} validation images, P = {}:",
        train_set.len(),
        valid_set.len(),
        config.cronos.neurons
    );
    println!(
        "  CRONOS two-layer on pixels: train {:.4}, validation {cronos_valid:.4} ({} ADMM iterations, {:.1}s)",
        two_layer.report.train_accuracy, two_layer.report.iterations, two_layer.report.seconds
    );
    println!(
        "  CRONOS-AM deep MLP, 2 epochs: train {:.4}, validation {:.4} ({} head solves, {:.1}s)",
        am.train_accuracy,
        am.valid_accuracy,
        am.head_solves.len(),
        am.seconds
    );
    for solve in &am.head_solves {
        let report = solve.report.as_ref().expect("every head solve succeeds");
        println!(
            "    step {:>2}: head solve {:.2}s, {} ADMM iterations, train accuracy {:.4}",
            solve.step, solve.solve_seconds, report.iterations, report.train_accuracy
        );
    }

    // 2,000 images in batches of 100: 20 steps per epoch, a solve before each epoch's first.
    let steps: Vec<usize> = am.head_solves.iter().map(|s| s.step).collect();
    assert_eq!(steps, vec![0, 20]);
    // Each head's beta comes from its own features (relative to their zero-solution beta), not
    // from the fixed `cronos.beta`.
    let betas: Vec<f64> = am
        .head_solves
        .iter()
        .filter_map(|s| s.report.as_ref().map(|r| r.beta))
        .collect();
    assert!(
        betas.iter().all(|&b| b > 10.0 * config.cronos.beta),
        "{betas:?}"
    );
    assert!(betas.windows(2).any(|w| w[0] != w[1]), "{betas:?}");
    // Burn's metrics were logged for both splits.
    for split in ["train", "valid"] {
        for metric in ["Loss", "Accuracy"] {
            let log = dir
                .join(split)
                .join("epoch-2")
                .join(format!("{metric}.log"));
            assert!(log.exists(), "missing {}", log.display());
        }
    }
    assert!(
        am.valid_accuracy >= cronos_valid,
        "CRONOS-AM {:.4} vs two-layer CRONOS {cronos_valid:.4}",
        am.valid_accuracy
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same deep MLP trained end to end by every baseline optimizer (Burn's standard step).
#[test]
fn every_baseline_optimizer_trains_the_deep_mlp() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[0, 6]);
    for optimizer in OptimizerConfig::all() {
        let name = optimizer.name();
        let config = DeepTrainingConfig::new()
            .with_method(TrainingMethod::Gradient)
            .with_optimizer(optimizer);
        let dir = scratch(name);
        let out = train(&config, &train_set, &valid_set, &dir);
        println!(
            "  {name:>12} (lr {}): train {:.4}, validation {:.4}, MSE {:.4}, {:.1}s",
            config.lr(),
            out.train_accuracy,
            out.valid_accuracy,
            out.valid_loss,
            out.seconds
        );
        assert!(out.head_solves.is_empty());
        assert!(
            out.valid_accuracy > 0.75,
            "{name}: validation accuracy {:.4} (chance is 0.5)",
            out.valid_accuracy
        );
        check_epochs(&out, 1..=config.num_epochs);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The epochs of a run are `expected`, each with training seconds that grow and stay within the
/// run's wall time, and the last one's validation accuracy (burn-train's metric, read back from
/// its logs) is the accuracy of the returned model scored on the whole validation set.
fn check_epochs(out: &DeepTrainingOutcome<Flex>, expected: std::ops::RangeInclusive<usize>) {
    let epochs: Vec<usize> = out.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, expected.collect::<Vec<_>>());
    let seconds: Vec<f64> = out.epochs.iter().map(|e| e.seconds).collect();
    assert!(seconds.windows(2).all(|w| w[0] < w[1]), "{seconds:?}");
    assert!(
        seconds[0] > 0.0 && seconds[seconds.len() - 1] <= out.seconds,
        "{seconds:?} against a wall time of {}",
        out.seconds
    );
    let last = out.epochs[out.epochs.len() - 1];
    assert!(
        (last.valid_accuracy - out.valid_accuracy).abs() < 1e-6,
        "{last:?} against {}",
        out.valid_accuracy
    );
    assert!(last.valid_loss.is_finite() && last.valid_loss > 0.0);
}

/// A run whose interrupter is stopped takes one step and returns without a validated epoch.
#[test]
fn interrupted_run_stops_after_its_step() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[0, 6]);
    let dir = scratch("interrupted");
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    let out = train_deep_mlp::<B>(
        &DeepTrainingConfig::new(),
        &train_set,
        &valid_set,
        &dir,
        &FlexDevice,
        &interrupter,
    )
    .expect("training run");
    assert!(out.epochs.is_empty(), "{:?}", out.epochs);
    assert_eq!(out.head_solves.len(), 1, "the solve before the first step");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CRONOS-AM run checkpointed after 2 epochs and resumed for a third ends exactly where an
/// uninterrupted 3-epoch run ends: the model, the optimizer state and the head-solve schedule all
/// continue from the checkpoint.
#[test]
fn checkpointed_cronos_am_run_resumes() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[2, 6]);
    // A solve every 10 steps (two per epoch): the resumed run must continue the step counter.
    let base = DeepTrainingConfig::new()
        .with_shuffle(false)
        .with_resolve_every(Some(10));

    let dir = scratch("resume");
    let first = train(
        &base.clone().with_num_epochs(2).with_checkpoints(true),
        &train_set,
        &valid_set,
        &dir,
    );
    let checkpoint = dir.join("checkpoint").join("model-2.mpk");
    assert!(checkpoint.exists(), "missing {}", checkpoint.display());
    // The checkpoint holds the model the first run ended with.
    let saved: DeepMlp<Flex> = base
        .model(train_set.dim(), 1)
        .init::<Flex>(&FlexDevice)
        .load_file(
            dir.join("checkpoint").join("model-2"),
            &NamedMpkFileRecorder::<FullPrecisionSettings>::new(),
            &FlexDevice,
        )
        .expect("checkpoint");
    assert_eq!(max_abs_diff(&weights(&saved), &weights(&first.model)), 0.0);

    let resumed = train(
        &base.clone().with_num_epochs(3).with_resume_from(Some(2)),
        &train_set,
        &valid_set,
        &dir,
    );
    let straight_dir = scratch("straight");
    let straight = train(
        &base.clone().with_num_epochs(3),
        &train_set,
        &valid_set,
        &straight_dir,
    );

    let steps = |o: &DeepTrainingOutcome<Flex>| -> Vec<usize> {
        o.head_solves.iter().map(|s| s.step).collect()
    };
    println!(
        "pullover vs shirt: after 2 epochs validation {:.4}; resumed to 3: {:.4}; straight 3: {:.4}",
        first.valid_accuracy, resumed.valid_accuracy, straight.valid_accuracy
    );
    println!(
        "head solves at steps: first run {:?}, resumed run {:?}, straight run {:?}",
        steps(&first),
        steps(&resumed),
        steps(&straight)
    );
    check_epochs(&first, 1..=2);
    check_epochs(&resumed, 3..=3);
    check_epochs(&straight, 1..=3);
    assert_eq!(steps(&first), vec![0, 10, 20, 30]);
    assert_eq!(steps(&resumed), vec![40, 50], "the schedule continues");
    assert_eq!(steps(&straight), vec![0, 10, 20, 30, 40, 50]);
    // The resumed run's solves see the same features as the uninterrupted run's.
    for (r, s) in resumed.head_solves.iter().zip(&straight.head_solves[4..]) {
        let (r, s) = (r.report.as_ref().unwrap(), s.report.as_ref().unwrap());
        println!(
            "  step solve objective: resumed {:.6e}, straight {:.6e}",
            r.objective, s.objective
        );
        assert!((r.objective - s.objective).abs() <= 1e-4 * s.objective.abs());
    }
    let moved = max_abs_diff(&weights(&first.model), &weights(&resumed.model));
    let diff = max_abs_diff(&weights(&resumed.model), &weights(&straight.model));
    println!("max |w| change in epoch 3: {moved:.3e}; resumed vs straight: {diff:.3e}");
    assert!(moved > 1e-4, "the third epoch trained");
    assert!(
        diff <= 1e-5,
        "resumed and uninterrupted runs differ by {diff}"
    );
    assert!((resumed.valid_accuracy - straight.valid_accuracy).abs() < 1e-9);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&straight_dir);
}

/// A checkpoint written by an Adam run, resumed with SGD: the run stops with an error naming both
/// optimizers instead of panicking inside burn-train.
#[test]
fn resuming_with_another_optimizer_is_an_error() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[0, 6]);
    let train_set = train_set.select_rows(&(0..train_set.len()).step_by(10).collect::<Vec<_>>());
    let base = DeepTrainingConfig::new()
        .with_method(TrainingMethod::Gradient)
        .with_feature_widths(vec![16]);
    let dir = scratch("other-optimizer");
    train(
        &base
            .clone()
            .with_optimizer(OptimizerConfig::from_name("adam").unwrap())
            .with_num_epochs(1)
            .with_checkpoints(true),
        &train_set,
        &valid_set,
        &dir,
    );

    let resumed = train_deep_mlp::<B>(
        &base
            .with_optimizer(OptimizerConfig::from_name("sgd").unwrap())
            .with_resume_from(Some(1)),
        &train_set,
        &valid_set,
        &dir,
        &FlexDevice,
        &Interrupter::new(),
    );
    let Err(error) = resumed else {
        panic!("resuming an Adam checkpoint with SGD succeeded");
    };
    let message = error.to_string();
    println!("{message}");
    assert!(
        matches!(error, TrainingError::OptimizerMismatch { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("`adam`") && message.contains("`sgd`"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three classes (T-shirt, pullover, shirt) with one-hot targets: CRONOS-AM solves a 3-output
/// head, and the same network trains end to end with Adam.
#[test]
fn multiclass_one_hot_targets() {
    let _serial = serial();
    let (train_set, valid_set) = classes(&[0, 2, 6]);
    let cronos = DeepTrainingConfig::default_head().with_neurons(4);
    // Three solves in the one epoch, to see the features improve between them.
    let config = DeepTrainingConfig::new()
        .with_cronos(cronos)
        .with_num_epochs(1)
        .with_resolve_every(Some(10));
    let dir = scratch("multiclass");
    let am = train(&config, &train_set, &valid_set, &dir);
    let [_, m] = am.model.head_hidden.weight.dims();
    let [_, c] = am.model.head_output.weight.dims();
    assert_eq!((m, c), (24, 3), "head width 2 P c");
    let head_objective: Vec<f64> = am
        .head_solves
        .iter()
        .map(|s| s.report.as_ref().unwrap().objective)
        .collect();
    println!(
        "3 classes, CRONOS-AM 1 epoch: train {:.4}, validation {:.4}; objective of each head solve {head_objective:.2?}",
        am.train_accuracy, am.valid_accuracy
    );
    assert_eq!(head_objective.len(), 3);
    assert!(
        head_objective[2] < head_objective[0],
        "the feature layers improve between solves"
    );
    assert!(am.valid_accuracy > 0.7, "chance is 1/3");

    let adam = train(
        &config
            .clone()
            .with_method(TrainingMethod::Gradient)
            .with_optimizer(OptimizerConfig::from_name("adam").unwrap()),
        &train_set,
        &valid_set,
        &dir,
    );
    println!(
        "3 classes, Adam 1 epoch: train {:.4}, validation {:.4}",
        adam.train_accuracy, adam.valid_accuracy
    );
    assert!(adam.valid_accuracy > 0.6);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CRONOS-AM with 30-iteration heads of P = 5.
fn short_heads() -> CronosAmConfig {
    CronosAmConfig::new(CronosConfig::new().with_neurons(5).with_max_iters(30))
}

/// A seeded MLP of one feature layer of width 64 and a head for [`short_heads`], one output.
fn small_mlp(d_input: usize) -> DeepMlp<B> {
    B::seed(&FlexDevice, 3);
    DeepMlpConfig::for_cronos(d_input, 1, 5)
        .with_feature_widths(vec![64])
        .init::<B>(&FlexDevice)
}

/// The strategy used directly in a hand-built `SupervisedTraining`, on a model whose head is NOT
/// frozen and with Burn's Adam: between solves the head's gradients are dropped, so with a single
/// solve (at step 0) the trained head is exactly the head CRONOS solved on the initial features,
/// while the feature layer trains.
#[test]
fn hand_built_training_keeps_the_head_between_solves() {
    let _serial = serial();
    let (train_set, dl_train, dl_valid) = quarter_loaders(&[2, 8]);
    let device = FlexDevice;

    let strategy = short_heads()
        .with_resolve_every(Some(1000))
        .init::<B>(&device);
    let model = small_mlp(train_set.dim());
    assert!(model.head_hidden.weight.val().is_require_grad());
    let (expected, solve) = strategy.resolve_head(model.clone(), dl_train.iter());
    assert!(solve.report.is_some(), "{:?}", solve.error);

    let dir = scratch("hand-built");
    let result = SupervisedTraining::new(&dir, dl_train, dl_valid)
        .metrics((LossMetric::new(), AccuracyMetric::new()))
        .num_epochs(2)
        .renderer(QuietRenderer)
        .with_application_logger(None)
        .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy.clone())))
        .launch(Learner::new(model.clone(), AdamConfig::new().init(), 1e-3));
    let trained = result.model;
    let expected = expected.valid();
    let initial = model.valid();
    let head = |m: &DeepMlp<Flex>| {
        let mut w: Vec<f32> = m.head_hidden.weight.val().into_data().iter().collect();
        w.extend(m.head_output.weight.val().into_data().iter::<f32>());
        w
    };
    let features =
        |m: &DeepMlp<Flex>| -> Vec<f32> { m.features[0].weight.val().into_data().iter().collect() };
    let solves = strategy.solves();
    let head_diff = max_abs_diff(&head(&trained), &head(&expected));
    let feature_change = max_abs_diff(&features(&trained), &features(&initial));
    println!(
        "{} solve(s); head vs the step-0 solve: {head_diff:.1e}; feature layer moved by {feature_change:.3e}",
        solves.len()
    );
    assert_eq!(solves.len(), 1);
    assert_eq!(head_diff, 0.0);
    assert!(feature_change > 1e-3);
    assert!(dir
        .join("valid")
        .join("epoch-2")
        .join("Accuracy.log")
        .exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// By default the head is solved once, before the first step of every epoch, whatever the
/// number of steps in an epoch (here 10 batches of 50).
#[test]
fn by_default_the_head_is_solved_at_the_start_of_every_epoch() {
    let _serial = serial();
    let (train_set, dl_train, dl_valid) = quarter_loaders(&[2, 8]);
    let steps_per_epoch = dl_train.iter().count();
    let strategy = short_heads().init::<B>(&FlexDevice);
    assert_eq!(strategy.resolve_every(), None);
    let dir = scratch("per-epoch");
    SupervisedTraining::new(&dir, dl_train, dl_valid)
        .metrics((LossMetric::new(),))
        .num_epochs(3)
        .renderer(QuietRenderer)
        .with_application_logger(None)
        .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy.clone())))
        .launch(Learner::new(
            small_mlp(train_set.dim()).with_frozen_head(),
            AdamConfig::new().init(),
            1e-3,
        ));
    let _ = std::fs::remove_dir_all(&dir);
    let solves: Vec<_> = strategy
        .solves()
        .iter()
        .map(|s| (s.epoch, s.step))
        .collect();
    println!("{steps_per_epoch} steps per epoch; solves (epoch, step): {solves:?}");
    assert_eq!(steps_per_epoch, 10);
    assert_eq!(solves, vec![(1, 0), (2, 10), (3, 20)]);
}

/// A solve that returns a zero head (here at the zero-solution beta itself) is not written: a zero
/// head would pass no gradient to the feature layers. The model keeps its head and the record says
/// why; without the guard the head would be all zeros.
#[test]
fn a_zero_head_is_not_written() {
    let _serial = serial();
    let (train_set, dl_train, _) = quarter_loaders(&[2, 8]);
    let device = FlexDevice;
    let strategy =
        CronosAmConfig::new(short_heads().head.with_relative_beta(Some(1.0))).init::<B>(&device);
    let model = small_mlp(train_set.dim());
    let head =
        |m: &DeepMlp<B>| -> Vec<f32> { m.head_hidden.weight.val().into_data().iter().collect() };
    let (kept, solve) = strategy.resolve_head(model.clone(), dl_train.iter());
    let error = solve.error.expect("a zero head is an error");
    println!("{error}");
    assert!(solve.report.is_none());
    assert!(error.contains("zero head"), "{error}");
    assert_eq!(head(&kept), head(&model));
    assert!(head(&kept).iter().any(|&w| w != 0.0));
}

/// With warm starts each head solve continues from the previous one's ADMM state: on features that
/// moved by a few Adam steps it needs fewer iterations than a solve from zero, and reaches the same
/// tolerance.
#[test]
fn warm_started_head_solves_need_fewer_iterations() {
    let _serial = serial();
    let device = FlexDevice;
    let iterations = |warm_start: bool| {
        let (train_set, dl_train, dl_valid) = quarter_loaders(&[0, 6]);
        // Iterations enough for every solve to reach its tolerance, so the counts compare.
        let head = CronosConfig::new()
            .with_neurons(5)
            .with_tol(1e-3)
            .with_max_iters(10_000);
        let strategy = CronosAmConfig::new(head)
            .with_resolve_every(Some(2))
            .with_warm_start(warm_start)
            .init::<B>(&device);
        B::seed(&device, 5);
        let model = DeepMlpConfig::for_cronos(train_set.dim(), 1, 5)
            .with_feature_widths(vec![64])
            .init::<B>(&device)
            .with_frozen_head();
        let dir = scratch(&format!("warm-{warm_start}"));
        SupervisedTraining::new(&dir, dl_train, dl_valid)
            .metrics((LossMetric::new(),))
            .num_epochs(1)
            .renderer(QuietRenderer)
            .with_application_logger(None)
            .with_training_strategy(TrainingStrategy::Custom(Arc::new(strategy.clone())))
            .launch(Learner::new(model, AdamConfig::new().init(), 1e-3));
        let _ = std::fs::remove_dir_all(&dir);
        let reports: Vec<_> = strategy
            .solves()
            .into_iter()
            .map(|s| s.report.expect("head solve"))
            .collect();
        assert!(reports.len() >= 3, "{} solves", reports.len());
        let ends: Vec<_> = reports
            .iter()
            .map(|r| {
                (
                    r.status,
                    r.iterations,
                    r.rel_gap,
                    r.rel_constraint_violation,
                )
            })
            .collect();
        assert!(
            reports.iter().all(|r| r.status == Status::Optimal),
            "{ends:?}"
        );
        // The first solve is cold either way; compare the re-solves.
        reports[1..].iter().map(|r| r.iterations).sum::<usize>()
    };
    let (cold, warm) = (iterations(false), iterations(true));
    println!("ADMM iterations of the re-solves: {cold} from zero, {warm} warm-started");
    assert!(10 * warm < 9 * cold, "warm {warm} vs cold {cold}");
}

/// A run's settings, optimizer choice included, are data: they save to JSON and load back.
#[test]
fn training_config_round_trips_through_json() {
    use burn::config::Config;
    let config = DeepTrainingConfig::new()
        .with_method(TrainingMethod::Gradient)
        .with_optimizer(OptimizerConfig::from_name("shampoo").unwrap())
        .with_resolve_every(Some(3))
        .with_resume_from(Some(4));
    let path = std::env::temp_dir().join(format!("cronos-am-config-{}.json", std::process::id()));
    config.save(&path).unwrap();
    let loaded = DeepTrainingConfig::load(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.method, TrainingMethod::Gradient);
    assert_eq!(loaded.optimizer.name(), "shampoo");
    assert_eq!(
        (loaded.resolve_every, loaded.resume_from),
        (Some(3), Some(4))
    );
    assert_eq!(loaded.cronos, config.cronos);
    assert_eq!(
        OptimizerConfig::all()
            .iter()
            .map(|o| o.name())
            .collect::<Vec<_>>(),
        ["sgd", "adam", "adamw", "yogi", "shampoo", "dadapt-adamw"]
    );
}
