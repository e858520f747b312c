//! CRONOS as a Burn solver and as a head solver, on real Fashion-MNIST images.
//!
//! One precision per device type in this process: `NdArray<f64>` for the solves, `Flex` (f32) for
//! loading the saved networks elsewhere.

use burn::backend::flex::{Flex, FlexDevice};
use burn::backend::{Autodiff, NdArray};
use burn::module::{list_param_ids, Module, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::activation::relu;
use cronos_burn::head::{set_weight, HeadError, HeadSolverConfig};
use cronos_burn::model::{TwoLayerMlp, TwoLayerMlpConfig};
use cronos_burn::solver::CronosSolverConfig;
use cronos_core::patterns::gaussian_gates;
use cronos_core::{accuracy, CronosConfig, Formulation, Status};
use cronos_datasets::mnist::fashion_mnist_embedded;
use cronos_datasets::{Granularity, LabeledSet, Scaler, Scaling, TargetEncoding};

type F64 = NdArray<f64>;
type AD = Autodiff<F64>;

/// `n` training images of two Fashion-MNIST classes (pullover vs bag), scaled to [0, 1], with
/// +-1 targets; and the test images of the same classes.
fn pixels(classes: &[usize], n: usize) -> (LabeledSet, LabeledSet) {
    let (train, test) = fashion_mnist_embedded().expect("embedded Fashion-MNIST");
    let train = train.select_classes(classes).unwrap();
    let test = test.select_classes(classes).unwrap();
    let mut train = train.select_rows(&(0..n.min(train.len())).collect::<Vec<_>>());
    let mut test = test;
    let scaler = Scaler::fit(&train.x, Scaling::UnitRange, Granularity::Scalar).unwrap();
    scaler.apply(&mut train.x).unwrap();
    scaler.apply(&mut test.x).unwrap();
    (train, test)
}

fn tensors<B: Backend>(set: &LabeledSet, device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let encoding = if set.num_classes() == 2 {
        TargetEncoding::Signed
    } else {
        TargetEncoding::OneHot
    };
    (
        set.x.to_tensor(device),
        set.targets(encoding).unwrap().to_tensor(device),
    )
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn small_solve() -> CronosConfig {
    CronosConfig::new()
        .with_neurons(8)
        .with_max_iters(200)
        .with_tol(1e-4)
}

#[test]
fn fitted_module_saves_and_loads_on_another_backend() {
    let device = Default::default();
    let (train, test) = pixels(&[2, 8], 600);
    let (x, y) = tensors::<F64>(&train, &device);
    let (x_test, y_test) = tensors::<F64>(&test, &device);

    let config = CronosSolverConfig::new(small_solve());
    let fitted = config.fit(x.clone(), y.clone()).expect("solve");
    let report = &fitted.report;
    let pred = fitted.predict(x_test.clone());
    let test_acc = accuracy(pred.clone(), y_test);
    println!(
        "CRONOS on pullover vs bag: {} ADMM iterations, objective {:.4}, train accuracy {:.4}, test accuracy {test_acc:.4}, width {}",
        report.iterations,
        report.objective,
        report.train_accuracy,
        fitted.model.config().hidden
    );
    assert!(report.train_accuracy > 0.95, "{report:?}");
    assert!(test_acc > 0.9);
    // The compact network keeps only the nonzero neurons.
    assert_eq!(fitted.model.config().hidden, report.active_neurons.max(1));

    let dir = std::env::temp_dir().join(format!("cronos-burn-solver-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The crate's model file (weights + shape) ...
    let path = dir.join("net.mpk");
    fitted.model.save(&path).unwrap();
    let on_flex = TwoLayerMlp::<Flex>::load(&path, &FlexDevice).unwrap();
    // ... and Burn's own module files, loaded into a module of the saved shape.
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    let model: TwoLayerMlp<F64> = fitted.clone().into();
    model
        .clone()
        .save_file(dir.join("burn"), &recorder)
        .unwrap();
    let shape: TwoLayerMlpConfig = model.config();
    let via_recorder = shape
        .init::<Flex>(&FlexDevice)
        .load_file(dir.join("burn"), &recorder, &FlexDevice)
        .unwrap();

    let expected = values(pred);
    let scale = expected.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (name, loaded) in [("model file", on_flex), ("burn recorder", via_recorder)] {
        let got = values(loaded.forward(test.x.to_tensor::<Flex>(&FlexDevice)));
        let diff = max_abs_diff(&expected, &got);
        println!("{name}: max |f64 - f32| prediction difference {diff:.2e} (scale {scale:.2})");
        assert!(diff <= 1e-4 * scale, "{name}: {diff}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixed_width_network_pads_with_zero_neurons() {
    let device = Default::default();
    let (train, _) = pixels(&[0, 6], 300);
    let (x, y) = tensors::<F64>(&train, &device);
    let solve = small_solve().with_max_iters(50);
    let compact = CronosSolverConfig::new(solve.clone())
        .fit(x.clone(), y.clone())
        .unwrap();
    let padded = CronosSolverConfig::new(solve.clone())
        .with_width(Some(40))
        .fit(x.clone(), y.clone())
        .unwrap();
    assert_eq!(padded.model.config().hidden, 40);
    let diff = max_abs_diff(
        &values(compact.predict(x.clone())),
        &values(padded.predict(x.clone())),
    );
    assert!(diff < 1e-9, "{diff}");

    let err = CronosSolverConfig::new(solve)
        .with_width(Some(3))
        .fit(x, y)
        .unwrap_err();
    assert!(err.to_string().contains("width"), "{err}");
}

/// Above [`CronosConfig::zero_solution_beta`] the solution is the zero network (its objective is
/// 1/2 ||Y||^2 in closed form); below it the gated program's is not (the bound is exact there,
/// and only an upper bound for the ReLU program). A relative beta is that fraction of it. Along a
/// path below it every solve reaches its own certificate, warm-started from the previous beta.
#[test]
fn path_starts_below_the_zero_solution_beta_and_each_solve_is_certified() {
    // Gaussian data from a seed of its own: Burn's process-global RNG is shared with other tests.
    let x = Tensor::<F64, 2>::from_data(
        TensorData::new(gaussian_gates(200, 12, 7), [200, 12]),
        &Default::default(),
    );
    // Targets no linear model fits: the sign of x0 * x1.
    let y = (x.clone().narrow(1, 0, 1) * x.clone().narrow(1, 1, 1)).sign();
    let solve = small_solve().with_max_iters(300);
    let zero = solve.zero_solution_beta(&x, &y).unwrap();
    let half_y_sq = 0.5 * values(y.clone()).iter().map(|v| v * v).sum::<f64>();
    let solved = |config: CronosConfig| {
        CronosSolverConfig::new(config)
            .fit(x.clone(), y.clone())
            .unwrap()
            .report
    };
    let at = |formulation, beta: f64| {
        solved(solve.clone().with_formulation(formulation).with_beta(beta))
    };
    let relative = |formulation, fraction: f64| {
        let config = solve.clone().with_formulation(formulation);
        solved(config.with_relative_beta(Some(fraction)))
    };
    for formulation in [Formulation::Gated, Formulation::Relu] {
        for above in [at(formulation, 1.01 * zero), relative(formulation, 1.01)] {
            assert_eq!(above.active_neurons, 0, "{above:?}");
            assert!(
                (above.objective - half_y_sq).abs() <= 1e-9 * half_y_sq,
                "{above:?}"
            );
        }
    }
    let below = at(Formulation::Gated, 0.5 * zero);
    assert!(below.active_neurons > 0, "{below:?}");
    assert!(below.objective < half_y_sq, "{below:?}");
    let half = relative(Formulation::Gated, 0.5);
    assert!(
        (half.beta - below.beta).abs() <= 1e-12 * below.beta,
        "{half:?}"
    );
    assert!(
        (half.objective - below.objective).abs() <= 1e-9 * below.objective,
        "{half:?}"
    );

    let betas = [zero / 10.0, zero / 30.0, zero / 100.0];
    let mut reports = Vec::new();
    let solves = CronosSolverConfig::new(solve.clone().with_tol(1e-3).with_max_iters(20000))
        .fit_path(x.clone(), y.clone(), &betas, |beta, fitted| {
            reports.push((beta, fitted.report));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(solves, 3);
    for (beta, report) in &reports {
        let gap = (report.objective - report.lower_bound) / report.objective;
        println!(
            "beta {beta:.4e}: {} iterations, objective {:.6}, certified gap {gap:.2e}",
            report.iterations, report.objective
        );
        assert!(gap <= 1e-3, "beta {beta}: {report:?}");
    }
    // Smaller beta, smaller optimum.
    assert!(reports
        .windows(2)
        .all(|w| w[1].1.objective < w[0].1.objective));
}

/// A time limit too short for the whole path cuts every solve short instead of spending it all on
/// the first beta: each solve gets an equal share of the time left, so every beta is visited.
#[test]
fn a_time_limit_is_shared_by_every_beta_of_the_path() {
    let device = Default::default();
    let (train, _) = pixels(&[2, 8], 600);
    let (x, y) = tensors::<F64>(&train, &device);
    // A tolerance no solve reaches in its share: each runs until its time is up.
    let solve = small_solve()
        .with_tol(1e-14)
        .with_max_iters(1_000_000)
        .with_time_limit(Some(3.0));
    let zero = solve.zero_solution_beta(&x, &y).unwrap();
    let betas = [zero / 10.0, zero / 100.0, zero / 1000.0];
    let mut reports = Vec::new();
    let solves = CronosSolverConfig::new(solve)
        .fit_path(x, y, &betas, |_, fitted| {
            reports.push(fitted.report);
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(solves, betas.len(), "{reports:?}");
    for report in &reports {
        assert_eq!(report.status, Status::TimeLimit, "{report:?}");
        assert!(report.seconds < 2.0, "{report:?}");
    }
}

/// A user's model: one feature layer, then a head with biases.
#[derive(Module, Debug)]
struct UserNet<B: Backend> {
    body: Linear<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl<B: Backend> UserNet<B> {
    fn new(d: usize, k: usize, m: usize, c: usize, device: &B::Device) -> Self {
        Self {
            body: LinearConfig::new(d, k).init(device),
            fc1: LinearConfig::new(k, m).init(device),
            fc2: LinearConfig::new(m, c).init(device),
        }
        // `fork` materializes the lazy parameters and keeps `require_grad` (`to_device` on an
        // autodiff module makes them tracked non-leaves, which get no gradients).
        .fork(device)
    }

    fn features(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        relu(self.body.forward(x))
    }

    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.head(self.features(x))
    }

    fn head(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        self.fc2.forward(relu(self.fc1.forward(h)))
    }
}

fn ids<B: Backend, M: Module<B>>(m: &M) -> Vec<ParamId> {
    list_param_ids(m)
}

#[test]
fn head_solver_writes_into_user_layers_and_keeps_param_ids() {
    let device = Default::default();
    let (train, _) = pixels(&[0, 6], 400);
    let (x, y) = tensors::<F64>(&train, &device);
    let head = HeadSolverConfig::new(small_solve().with_max_iters(100));
    let m = head.required_width(1) + 4; // wider than needed: padded with zero neurons

    let mut net = UserNet::<F64>::new(784, 32, m, 1, &device);
    let before = ids(&net);
    let h = net.features(x.clone());
    let report = head
        .fit_into(h.clone(), y.clone(), &mut net.fc1, &mut net.fc2)
        .expect("head solve");
    assert_eq!(
        ids(&net),
        before,
        "parameter ids must survive the head solve"
    );
    for bias in [&net.fc1.bias, &net.fc2.bias] {
        let b = values(bias.as_ref().unwrap().val());
        assert!(b.iter().all(|&v| v == 0.0), "biases are zeroed");
    }
    // The head is exactly the CRONOS network of the features.
    let reference = head
        .cronos
        .solver()
        .fit(h, y.clone())
        .unwrap()
        .padded_network(m)
        .unwrap();
    let diff = max_abs_diff(
        &values(net.forward(x.clone())),
        &values(reference.forward(net.features(x.clone()))),
    );
    println!(
        "head on 32 random ReLU features: train accuracy {:.4} (solver) / {:.4} (model), diff {diff:.1e}",
        report.train_accuracy,
        accuracy(net.forward(x.clone()), y.clone())
    );
    assert!(diff < 1e-9, "{diff}");
    assert!((accuracy(net.forward(x), y) - report.train_accuracy).abs() < 1e-12);
}

#[test]
fn head_solver_on_autodiff_model_keeps_training_state_valid() {
    let device = Default::default();
    let (train, _) = pixels(&[2, 8], 300);
    let (x, y) = tensors::<AD>(&train, &device);
    let head = HeadSolverConfig::new(small_solve().with_neurons(4).with_max_iters(60));
    let m = head.required_width(1);
    let mut net = UserNet::<AD>::new(784, 16, m, 1, &device);
    let mut optim = AdamConfig::new().init::<AD, UserNet<AD>>();

    // One Adam step first, so the optimizer holds state for every parameter.
    let loss = (net.forward(x.clone()) - y.clone()).square().mean();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    net = optim.step(1e-3, net, grads);
    let state_before = optim.to_record();
    let before = ids(&net);

    let h = net.features(x.clone()).inner();
    head.fit_into_autodiff(h, y.clone().inner(), &mut net.fc1, &mut net.fc2)
        .expect("head solve");
    assert_eq!(ids(&net), before);
    assert!(before.iter().all(|id| state_before.contains_key(id)));
    assert!(net.fc1.weight.val().is_require_grad());
    assert!(net.fc2.weight.val().is_require_grad());

    // Gradients still reach every layer (the new weights are leaves), and the optimizer continues.
    let loss = (net.forward(x.clone()) - y.clone()).square().mean();
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    assert_eq!(grads.len(), 6, "weights and biases of all three layers");
    let fc1_before = values(net.fc1.weight.val());
    net = optim.step(1e-3, net, grads);
    assert!(max_abs_diff(&fc1_before, &values(net.fc1.weight.val())) > 0.0);
    assert_eq!(ids(&net), before);

    // A frozen head stays frozen.
    let mut frozen = UserNet::<AD>::new(784, 16, m, 1, &device);
    frozen.fc1 = frozen.fc1.no_grad();
    frozen.fc2 = frozen.fc2.no_grad();
    let h = frozen.features(x.clone()).inner();
    head.fit_into_autodiff(h, y.inner(), &mut frozen.fc1, &mut frozen.fc2)
        .unwrap();
    assert!(!frozen.fc1.weight.val().is_require_grad());
    assert!(!frozen.fc2.weight.val().is_require_grad());
}

#[test]
fn head_solver_rejects_narrow_heads_and_gated_programs() {
    let device = Default::default();
    let (train, _) = pixels(&[2, 8], 100);
    let (x, y) = tensors::<F64>(&train, &device);
    let head = HeadSolverConfig::new(small_solve()); // P = 8: needs 16 neurons for one output
    let mut net = UserNet::<F64>::new(784, 8, 10, 1, &device);
    let h = net.features(x.clone());
    let err = head
        .fit_into(h.clone(), y.clone(), &mut net.fc1, &mut net.fc2)
        .unwrap_err();
    assert_eq!(
        err,
        HeadError::Width {
            width: 10,
            needed: 16,
            neurons: 8,
            outputs: 1
        }
    );
    println!("{err}");
    assert!(err.to_string().contains("at least 2 P c = 16"));

    let gated = HeadSolverConfig::new(small_solve().with_formulation(Formulation::Gated));
    let mut wide = UserNet::<F64>::new(784, 8, 16, 1, &device);
    assert_eq!(
        gated
            .fit_into(h.clone(), y.clone(), &mut wide.fc1, &mut wide.fc2)
            .unwrap_err(),
        HeadError::Gated
    );

    // Features of the wrong width.
    let err = head
        .fit_into(x, y, &mut wide.fc1, &mut wide.fc2)
        .unwrap_err();
    assert!(matches!(err, HeadError::Shape { .. }), "{err}");
}

/// With a relative beta the head does not depend on the scale of the features: the program on
/// s H with penalty s b has the solution of (H, b) divided by s, the same predictions, and the
/// zero-solution beta of s H is s times that of H. With an absolute beta the same scaling changes
/// the head. At the zero-solution beta itself (fraction 1) the zero head is optimal.
#[test]
fn a_relative_beta_follows_the_scale_of_the_features() {
    let device = Default::default();
    let (train, _) = pixels(&[2, 8], 200);
    let (x, y) = tensors::<F64>(&train, &device);
    let solve = small_solve()
        .with_neurons(4)
        .with_max_iters(2000)
        .with_tol(1e-6);
    let relative = HeadSolverConfig::new(solve.clone().with_relative_beta(Some(0.05)));
    let absolute = HeadSolverConfig::new(solve.with_beta(1.0));
    let m = relative.required_width(1);
    let mut net = UserNet::<F64>::new(784, 16, m, 1, &device);
    let h = net.features(x.clone());
    let predictions = |head: &HeadSolverConfig, scale: f64, net: &mut UserNet<F64>| {
        let h = h.clone() * scale;
        let report = head
            .fit_into(h.clone(), y.clone(), &mut net.fc1, &mut net.fc2)
            .expect("head solve");
        assert_eq!(report.status, Status::Optimal, "scale {scale}");
        (report.beta, values(net.head(h)))
    };
    let (beta, one) = predictions(&relative, 1.0, &mut net);
    let (beta_scaled, scaled) = predictions(&relative, 8.0, &mut net);
    let spread = one.iter().map(|v| v.abs()).fold(0.0, f64::max);
    assert!(spread > 0.1, "the head is not zero: {spread}");
    assert!(
        (beta_scaled / beta - 8.0).abs() < 1e-9,
        "{beta} -> {beta_scaled}"
    );
    let diff = max_abs_diff(&one, &scaled);
    assert!(
        diff < 1e-3 * spread,
        "relative beta: predictions moved by {diff}"
    );

    let (_, one) = predictions(&absolute, 1.0, &mut net);
    let (_, scaled) = predictions(&absolute, 8.0, &mut net);
    let diff = max_abs_diff(&one, &scaled);
    assert!(
        diff > 1e-2 * spread,
        "absolute beta: predictions moved by only {diff}"
    );

    // At the zero-solution beta the zero head is optimal: the solve certifies the zero head's
    // objective, 1/2 ||Y||^2 in closed form, to its tolerance, and what is left of the head is
    // within that tolerance of zero (the features, from a random layer, change from run to run).
    let with_fraction = |f| HeadSolverConfig::new(relative.cronos.clone().with_relative_beta(f));
    let report = with_fraction(Some(1.0))
        .fit_into(h.clone(), y.clone(), &mut net.fc1, &mut net.fc2)
        .expect("head solve");
    assert_eq!(report.status, Status::Optimal, "{report:?}");
    let half_y_sq = 0.5 * values(y.clone()).iter().map(|v| v * v).sum::<f64>();
    assert!(
        (report.objective - half_y_sq).abs() <= 1e-6 * half_y_sq,
        "{report:?}"
    );
    let out = values(net.head(h.clone()));
    let largest = out.iter().map(|v| v.abs()).fold(0.0, f64::max);
    assert!(
        largest < 1e-2 * spread,
        "at the zero-solution beta: largest output {largest}"
    );
    let bad = with_fraction(Some(f64::NAN));
    let err = bad.fit_into(h, y, &mut net.fc1, &mut net.fc2).unwrap_err();
    assert!(err.to_string().contains("relative_beta"), "{err}");
}

#[test]
fn set_weight_keeps_id_and_dtype() {
    let device = FlexDevice;
    let layer = LinearConfig::new(3, 2).init::<Flex>(&device);
    let id = layer.weight.id;
    let w = Tensor::<Flex, 2>::from_data([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
    let layer = set_weight(layer, w);
    assert_eq!(layer.weight.id, id);
    assert_eq!(
        values(layer.weight.val()),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert_eq!(values(layer.bias.unwrap().val()), vec![0.0, 0.0]);
}
