//! Yogi, Shampoo and D-Adaptation AdamW on `Autodiff<NdArray<f64>>`: a few steps against reference
//! values, training a small MLP, and resuming from a saved optimizer record.
//!
//! The reference constants were printed by `tests/reference/reference.py` (optax 0.2.8 for Yogi and
//! D-Adaptation AdamW in float64, and a numpy transcription of the rules for Shampoo and for
//! D-Adaptation's `growth_rate`).

use burn::backend::{Autodiff, NdArray};
use burn::module::Param;
use burn::nn::Linear;
use burn::optim::{GradientsParams, Optimizer, SimpleOptimizer};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, DoublePrecisionSettings, Recorder};
use burn::tensor::activation::relu;
use cronos_burn::optim::{DAdaptAdamWConfig, ShampooConfig, ShampooGrafting, YogiConfig};

type Inner = NdArray<f64>;
type B = Autodiff<Inner>;

// ------------------------------------------------------------------ reference steps

/// Least-squares problem of the reference script: `0.5 ‖X W + b - Y‖²`.
const X: [[f64; 3]; 4] = [
    [1.0, -0.5, 0.3],
    [0.2, 0.8, -1.1],
    [-0.7, 0.4, 0.9],
    [0.5, -1.2, 0.6],
];
const Y: [[f64; 2]; 4] = [[0.3, -1.0], [1.2, 0.4], [-0.6, 0.8], [0.1, -0.2]];
const W0: [f64; 6] = [0.1, -0.2, 0.4, 0.3, -0.5, 0.2];
const B0: [f64; 2] = [0.05, -0.1];

// Printed by tests/reference/reference.py.
const YOGI_W: [f64; 6] = [
    0.339030814417806,
    -0.4436954297614028,
    0.16331166247430096,
    0.5027190149384777,
    -0.584504494228495,
    0.10317866412641412,
];
const YOGI_B: [f64; 2] = [0.282614548116159, 0.13960790780617233];
const YOGI_CUSTOM_W: [f64; 6] = [
    0.44016381241813723,
    -0.5302227104600066,
    0.0623469205674143,
    0.5100096979507386,
    -0.5942730672485385,
    0.10986944074183733,
];
const YOGI_CUSTOM_B: [f64; 2] = [0.3621547483329678, 0.18036934040549915];
const DADAPT_W: [f64; 6] = [
    0.10024051575927785,
    -0.20023948116548973,
    0.3997542884831362,
    0.3002383909387291,
    -0.4997537858463929,
    0.1997564656415193,
];
const DADAPT_B: [f64; 2] = [0.050241021071569664, -0.09975739599668534];
const DADAPT_D: f64 = 0.00042591161969056737;
const DADAPT_GROWTH_W: [f64; 6] = [
    0.11082650171361279,
    -0.21083897691867684,
    0.389200936889171,
    0.3107615528555116,
    -0.49026108462302814,
    0.18935699045795845,
];
const DADAPT_GROWTH_B: [f64; 2] = [0.06080099756627045, -0.08916861449085643];
const DADAPT_GROWTH_D: f64 = 0.008605492167022832;
const SHAMPOO_W: [f64; 6] = [
    0.19662743981502095,
    -0.45532426043090557,
    0.17053650221673278,
    0.2633032820344039,
    -0.6150423776474159,
    0.04637497450542003,
];
const SHAMPOO_B: [f64; 2] = [0.2425414439505335, 0.07435474875144896];
const SHAMPOO_OPTIONS_W: [f64; 6] = [
    0.09766142460121519,
    -0.5648852291013322,
    0.12901264534170764,
    0.12523977460043478,
    -0.6861230229571845,
    -0.05932358598742807,
];
const SHAMPOO_OPTIONS_B: [f64; 2] = [0.31301673359351, 0.12948382780185352];
const SHAMPOO_RANK3: [f64; 12] = [
    -0.5015032185467012,
    -0.3019275533314475,
    -0.20525120344586287,
    -0.1533912551675421,
    -0.07500679804665894,
    -0.051261872872543565,
    0.046926491416572465,
    0.11198176616513336,
    0.25634789811472813,
    0.40966181027571613,
    0.5543106871645475,
    0.7003186049426712,
];

/// Relative tolerance on the displacement from the starting point.
const RTOL: f64 = 1e-10;

#[derive(Module, Debug)]
struct Affine<B: Backend> {
    w: Param<Tensor<B, 2>>,
    b: Param<Tensor<B, 1>>,
}

impl<B: Backend> Affine<B> {
    fn new(device: &B::Device) -> Self {
        Self {
            w: Param::from_tensor(Tensor::<B, 1>::from_data(W0, device).reshape([3, 2])),
            b: Param::from_tensor(Tensor::from_data(B0, device)),
        }
    }

    fn loss(&self) -> Tensor<B, 1> {
        let device = self.w.device();
        let x = Tensor::<B, 2>::from_data(X, &device);
        let y = Tensor::<B, 2>::from_data(Y, &device);
        let r = x.matmul(self.w.val()) + self.b.val().unsqueeze() - y;
        r.square().sum() * 0.5
    }
}

/// `steps` full-gradient steps on the least-squares problem.
fn lsq_steps<O: Optimizer<Affine<B>, B>>(optim: &mut O, lr: f64, steps: usize) -> Affine<B> {
    let mut model = Affine::<B>::new(&Default::default());
    for _ in 0..steps {
        let grads = GradientsParams::from_grads(model.loss().backward(), &model);
        model = optim.step(lr, model, grads);
    }
    model
}

fn values<const D: usize, Bk: Backend>(t: Tensor<Bk, D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// `|actual - expected| ≤ RTOL · max|expected - start|` elementwise: the step itself, not just
/// the starting point, must match.
fn assert_moved_to(what: &str, actual: &[f64], start: &[f64], expected: &[f64]) {
    let scale = expected
        .iter()
        .zip(start)
        .map(|(e, s)| (e - s).abs())
        .fold(0.0, f64::max);
    assert!(scale > 0.0, "{what}: the reference did not move");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= RTOL * scale,
            "{what}[{i}]: {a} vs reference {e} (step scale {scale:e})"
        );
    }
}

fn assert_lsq(what: &str, model: &Affine<B>, w: &[f64], b: &[f64]) {
    assert_moved_to(&format!("{what} W"), &values(model.w.val()), &W0, w);
    assert_moved_to(&format!("{what} b"), &values(model.b.val()), &B0, b);
}

fn assert_rel(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= RTOL * expected.abs(),
        "{what}: {actual} vs reference {expected}"
    );
}

#[test]
fn yogi_matches_optax() {
    let mut optim = YogiConfig::new().init();
    assert_lsq("yogi", &lsq_steps(&mut optim, 0.05, 5), &YOGI_W, &YOGI_B);

    let mut optim = YogiConfig::new()
        .with_beta_1(0.8)
        .with_beta_2(0.99)
        .with_epsilon(1e-4)
        .with_initial_accumulator_value(0.01)
        .init();
    let model = lsq_steps(&mut optim, 0.1, 5);
    assert_lsq("yogi (custom)", &model, &YOGI_CUSTOM_W, &YOGI_CUSTOM_B);
}

#[test]
fn dadapt_adamw_matches_optax() {
    let mut optim = DAdaptAdamWConfig::new().with_weight_decay(0.1).init();
    let model = lsq_steps(&mut optim, 1.0, 10);
    assert_lsq("dadapt", &model, &DADAPT_W, &DADAPT_B);
    assert_rel("dadapt d", optim.d(), DADAPT_D);
}

#[test]
fn dadapt_adamw_growth_rate_matches_reference() {
    let mut optim = DAdaptAdamWConfig::new()
        .with_beta_1(0.8)
        .with_beta_2(0.99)
        .with_epsilon(1e-6)
        .with_estim_lr0(1e-3)
        .with_growth_rate(Some(1.5))
        .init();
    let model = lsq_steps(&mut optim, 0.5, 10);
    assert_lsq(
        "dadapt (growth)",
        &model,
        &DADAPT_GROWTH_W,
        &DADAPT_GROWTH_B,
    );
    assert_rel("dadapt (growth) d", optim.d(), DADAPT_GROWTH_D);
}

#[test]
fn shampoo_matches_reference() {
    let mut optim = ShampooConfig::new().init();
    assert_lsq(
        "shampoo",
        &lsq_steps(&mut optim, 0.1, 5),
        &SHAMPOO_W,
        &SHAMPOO_B,
    );

    let mut optim = ShampooConfig::new()
        .with_block_size(2)
        .with_epsilon(1e-3)
        .with_update_interval(2)
        .with_beta_2(0.9)
        .with_momentum(0.5)
        .with_exponent_override(Some(3.0))
        .with_grafting(ShampooGrafting::Adagrad)
        .init();
    let model = lsq_steps(&mut optim, 0.05, 6);
    assert_lsq(
        "shampoo (options)",
        &model,
        &SHAMPOO_OPTIONS_W,
        &SHAMPOO_OPTIONS_B,
    );
}

/// A `[2, 2, 3]` tensor is seen as a `[4, 3]` matrix, cut into 2 × 2 blocks.
#[test]
fn shampoo_rank3_matches_reference() {
    let device = Default::default();
    let optim = ShampooConfig::new()
        .with_block_size(2)
        .with_grafting(ShampooGrafting::Sgd)
        .build();
    let start: Vec<f64> = (0..12).map(|k| 0.1 * k as f64 - 0.5).collect();
    let mut x = Tensor::<Inner, 3>::from_data(TensorData::new(start.clone(), [2, 2, 3]), &device);
    let mut state = None;
    for t in 1..=4 {
        let g: Vec<f64> = (0..12)
            .map(|k| (1.3 * t as f64 + 0.7 * k as f64).sin())
            .collect();
        let g = Tensor::from_data(TensorData::new(g, [2, 2, 3]), &device);
        (x, state) = optim.step(0.1, x, g, state);
    }
    assert_moved_to("shampoo rank 3", &values(x), &start, &SHAMPOO_RANK3);
}

// ------------------------------------------------------------------------- training

/// A 2-16-1 ReLU network.
#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    hidden: Linear<B>,
    output: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// Fixed weights from `U(-k, k)`, `k = 1/sqrt(d_in)` (Burn's default range for `Linear`),
    /// drawn from a local generator so that the tests do not share Burn's global RNG.
    fn new(device: &B::Device) -> Self {
        let mut state = 0x2545_f491_u64;
        let mut linear = |d_in: usize, d_out: usize| {
            let k = (d_in as f64).sqrt().recip();
            let mut uniform = |n: usize| -> Vec<f64> {
                (0..n)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        k * (2.0 * (state >> 11) as f64 / (1u64 << 53) as f64 - 1.0)
                    })
                    .collect()
            };
            let weight = TensorData::new(uniform(d_in * d_out), [d_in, d_out]);
            let bias = TensorData::new(uniform(d_out), [d_out]);
            Linear {
                weight: Param::from_tensor(Tensor::from_data(weight, device)),
                bias: Some(Param::from_tensor(Tensor::from_data(bias, device))),
            }
        };
        Self {
            hidden: linear(2, 16),
            output: linear(16, 1),
        }
    }

    fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.output.forward(relu(self.hidden.forward(x)))
    }
}

/// `y = sin(2 x₁) · x₂ + 0.5 x₁` on an 8 × 8 grid of `[-1, 1]²`.
fn dataset(device: &Device<B>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let grid: Vec<f64> = (0..8).map(|i| -1.0 + 2.0 * i as f64 / 7.0).collect();
    let points: Vec<[f64; 2]> = grid
        .iter()
        .flat_map(|&a| grid.iter().map(move |&b| [a, b]))
        .collect();
    let y: Vec<f64> = points
        .iter()
        .map(|[a, b]| (2.0 * a).sin() * b + 0.5 * a)
        .collect();
    let n = points.len();
    let x = Tensor::from_data(TensorData::new(points.concat(), [n, 2]), device);
    let y = Tensor::from_data(TensorData::new(y, [n, 1]), device);
    (x, y)
}

fn mse(model: &Mlp<B>, x: &Tensor<B, 2>, y: &Tensor<B, 2>) -> Tensor<B, 1> {
    (model.forward(x.clone()) - y.clone()).square().mean()
}

fn train_step<O: Optimizer<Mlp<B>, B>>(
    optim: &mut O,
    model: Mlp<B>,
    lr: f64,
    (x, y): &(Tensor<B, 2>, Tensor<B, 2>),
) -> Mlp<B> {
    let grads = GradientsParams::from_grads(mse(&model, x, y).backward(), &model);
    optim.step(lr, model, grads)
}

/// Trains from the fixed initialisation and returns (initial, final) mean squared error.
fn train<O: Optimizer<Mlp<B>, B>>(mut optim: O, lr: f64, steps: usize) -> (f64, f64) {
    let device = Default::default();
    let data = dataset(&device);
    let mut model = Mlp::<B>::new(&device);
    let initial = mse(&model, &data.0, &data.1).into_scalar();
    for _ in 0..steps {
        model = train_step(&mut optim, model, lr, &data);
    }
    (initial, mse(&model, &data.0, &data.1).into_scalar())
}

/// The mean squared error must fall below 0.01 and by a factor of at least 20 (it starts at 0.5).
fn assert_trains(what: &str, (initial, last): (f64, f64)) {
    println!("{what}: mse {initial:.4} -> {last:.6}");
    assert!(
        last < 1e-2 && last < 0.05 * initial,
        "{what}: mse {initial} -> {last}"
    );
}

#[test]
fn yogi_trains_an_mlp() {
    assert_trains("yogi", train(YogiConfig::new().init(), 0.02, 600));
}

#[test]
fn shampoo_trains_an_mlp() {
    assert_trains("shampoo", train(ShampooConfig::new().init(), 0.1, 600));
    let optim = ShampooConfig::new()
        .with_momentum(0.9)
        .with_grafting(ShampooGrafting::Adagrad)
        .init();
    assert_trains(
        "shampoo (momentum, Adagrad grafting)",
        train(optim, 0.05, 600),
    );
}

#[test]
fn dadapt_adamw_trains_an_mlp() {
    assert_trains("dadapt", train(DAdaptAdamWConfig::new().init(), 1.0, 600));
}

// ------------------------------------------------------------------------ records

fn parameters(model: &Mlp<B>) -> Vec<f64> {
    let mut all = values(model.hidden.weight.val());
    all.extend(values(model.output.weight.val()));
    for bias in [&model.hidden.bias, &model.output.bias]
        .into_iter()
        .flatten()
    {
        all.extend(values(bias.val()));
    }
    all
}

/// Saves the optimizer after 3 steps, loads it into a fresh optimizer, and checks that 4 more
/// steps from the saved and the loaded optimizer give bit-identical parameters.
fn assert_resumes<O: Optimizer<Mlp<B>, B>>(make: impl Fn() -> O, lr: f64) {
    let device = Default::default();
    let data = dataset(&device);
    let mut optim = make();
    let mut model = Mlp::<B>::new(&device);
    for _ in 0..3 {
        model = train_step(&mut optim, model, lr, &data);
    }

    let recorder = BinBytesRecorder::<DoublePrecisionSettings>::default();
    let bytes = Recorder::<B>::record(&recorder, optim.to_record(), ()).expect("save");
    let record: O::Record = Recorder::<B>::load(&recorder, bytes, &device).expect("load");
    let mut resumed = make().load_record(record);

    let mut resumed_model = model.clone();
    for _ in 0..4 {
        model = train_step(&mut optim, model, lr, &data);
        resumed_model = train_step(&mut resumed, resumed_model, lr, &data);
    }
    let (expected, got) = (parameters(&model), parameters(&resumed_model));
    assert_eq!(got, expected);

    // The fresh optimizer without the record does differ, so the record carried the state.
    let mut fresh = make();
    let mut fresh_model = model.clone();
    let mut continued = model;
    fresh_model = train_step(&mut fresh, fresh_model, lr, &data);
    continued = train_step(&mut optim, continued, lr, &data);
    assert_ne!(parameters(&fresh_model), parameters(&continued));
}

#[test]
fn yogi_resumes_from_a_record() {
    assert_resumes(|| YogiConfig::new().init(), 0.02);
}

#[test]
fn shampoo_resumes_from_a_record() {
    let make = || {
        ShampooConfig::new()
            .with_block_size(8)
            .with_update_interval(2)
            .with_momentum(0.9)
            .with_grafting(ShampooGrafting::Adagrad)
            .init()
    };
    assert_resumes(make, 0.05);
}

#[test]
fn dadapt_adamw_resumes_from_a_record() {
    assert_resumes(
        || DAdaptAdamWConfig::new().with_weight_decay(0.01).init(),
        1.0,
    );
}
