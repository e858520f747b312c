//! The deep ReLU MLP of CRONOS-AM (Feng, Frangella & Pilanci 2024, §3.1 of the digest): bias-free
//! feature layers with ReLU, then a two-layer head `Linear(k, 2 P c) -> ReLU -> Linear(2 P c, c)`
//! whose units each feed one output, as in the heads CRONOS solves (or every output, see
//! [`DeepMlpConfig::per_output_head`]). CRONOS-AM solves the head with CRONOS and trains the feature
//! layers with a Burn optimizer; the baselines train the same network end to end.

use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::backend::AutodiffBackend;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use cronos_datasets::ClassificationBatch;

/// A network whose last two layers form a bias-free ReLU head `relu(h W1) W2` on features
/// `h = features(x)`: the shape CRONOS-AM alternates on.
pub trait HeadModel<B: Backend>: Module<B> {
    /// Output of the layers before the head, `n x k`.
    fn features(&self, x: Tensor<B, 2>) -> Tensor<B, 2>;
    /// The head's layers: hidden (`k x m`) and output (`m x c`).
    fn head(&self) -> (&Linear<B>, &Linear<B>);
    /// Mutable access to the head's layers.
    fn head_mut(&mut self) -> (&mut Linear<B>, &mut Linear<B>);
}

/// Shape of a [`DeepMlp`].
#[derive(Config, Debug, PartialEq)]
pub struct DeepMlpConfig {
    /// Input features d.
    pub d_input: usize,
    /// Hidden width of the head, `2 P c` for CRONOS with P gates (see [`DeepMlpConfig::for_cronos`]).
    pub head_width: usize,
    /// Outputs c: 1 for +-1 targets, the number of classes for one-hot targets.
    pub d_output: usize,
    /// Widths of the bias-free feature layers (each followed by a ReLU).
    #[config(default = "vec![256, 256]")]
    pub feature_widths: Vec<usize>,
    /// Whether head unit j feeds output j mod c alone, as in the heads CRONOS solves (their convex
    /// program holds a separate set of neurons per output, see `cronos_core::map_to_network`), so
    /// that a network trained end to end is the one CRONOS-AM's head describes; `false`: every
    /// unit feeds every output. With one output both are the same.
    #[config(default = true)]
    pub per_output_head: bool,
}

impl DeepMlpConfig {
    /// The paper's shape for `neurons` = P gates: head width `2 P c`.
    pub fn for_cronos(d_input: usize, d_output: usize, neurons: usize) -> Self {
        Self::new(d_input, 2 * neurons * d_output, d_output)
    }

    /// A randomly initialized network (Burn's default Kaiming-uniform initialization), with every
    /// parameter materialized so that clones share values (`fork`, unlike `to_device`, keeps the
    /// parameters trainable on an autodiff backend).
    pub fn init<B: Backend>(&self, device: &B::Device) -> DeepMlp<B> {
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).with_bias(false).init(device);
        let mut d_in = self.d_input;
        let mut features = Vec::with_capacity(self.feature_widths.len());
        for &width in &self.feature_widths {
            features.push(linear(d_in, width));
            d_in = width;
        }
        DeepMlp {
            features,
            head_hidden: linear(d_in, self.head_width),
            head_output: linear(self.head_width, self.d_output),
            per_output_head: self.per_output_head,
        }
        .fork(device)
    }
}

/// Bias-free deep ReLU MLP: `relu(... relu(relu(x F1) F2) ...) W1` -> ReLU -> `W2`.
#[derive(Module, Debug)]
pub struct DeepMlp<B: Backend> {
    /// Feature layers, each followed by a ReLU.
    pub features: Vec<Linear<B>>,
    /// First head layer, `k x m`, followed by a ReLU.
    pub head_hidden: Linear<B>,
    /// Second head layer, `m x c`; see [`DeepMlp::head_output_weight`].
    pub head_output: Linear<B>,
    /// See [`DeepMlpConfig::per_output_head`].
    pub per_output_head: bool,
}

impl<B: Backend> DeepMlp<B> {
    /// Predictions, `n x c`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = HeadModel::features(self, x);
        relu(self.head_hidden.forward(h)).matmul(self.head_output_weight())
    }

    /// The head's output weights `W2` (`m x c`) as the network applies them: in a per-output head
    /// ([`DeepMlpConfig::per_output_head`]) the weights from unit j to outputs other than j mod c
    /// are masked out, so they take no part in the predictions, get no gradient and belong in no
    /// weight norm.
    pub fn head_output_weight(&self) -> Tensor<B, 2> {
        let weight = self.head_output.weight.val();
        let [width, outputs] = weight.dims();
        if !self.per_output_head || outputs == 1 {
            return weight;
        }
        // Built on the device, so that a forward pass uploads nothing.
        let device = weight.device();
        let unit_output = Tensor::<B, 1, Int>::arange(0..width as i64, &device)
            .remainder_scalar(outputs as i64)
            .reshape([width, 1])
            .expand([width, outputs]);
        let output = Tensor::<B, 1, Int>::arange(0..outputs as i64, &device)
            .reshape([1, outputs])
            .expand([width, outputs]);
        let mask = unit_output.equal(output).float().cast(weight.dtype());
        weight * mask
    }

    /// The same network with the head excluded from autodiff: its parameters get no gradients,
    /// so an optimizer leaves them (and their state) alone. CRONOS-AM trains this way.
    pub fn with_frozen_head(mut self) -> Self {
        self.head_hidden = self.head_hidden.no_grad();
        self.head_output = self.head_output.no_grad();
        self
    }

    /// Mean squared error over all entries (`mean((f(x) - y)^2)`, as the paper's runners) with
    /// Burn's classification output for metrics. One output (+-1 targets) is reported as the two
    /// class scores `(-f, f)`, so Burn's accuracy (argmax) equals sign agreement.
    pub fn classification(&self, batch: ClassificationBatch<B>) -> ClassificationOutput<B> {
        let pred = self.forward(batch.x);
        let loss = MseLoss::new().forward(pred.clone(), batch.targets, Reduction::Mean);
        ClassificationOutput::new(loss, class_scores(pred), batch.labels)
    }
}

/// Scores whose argmax is the predicted class: the predictions themselves for one-hot targets,
/// `(-f, f)` for a single +-1 output.
pub fn class_scores<B: Backend>(pred: Tensor<B, 2>) -> Tensor<B, 2> {
    if pred.dims()[1] == 1 {
        Tensor::cat(vec![pred.clone().neg(), pred], 1)
    } else {
        pred
    }
}

impl<B: Backend> HeadModel<B> for DeepMlp<B> {
    fn features(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.features
            .iter()
            .fold(x, |h, layer| relu(layer.forward(h)))
    }

    fn head(&self) -> (&Linear<B>, &Linear<B>) {
        (&self.head_hidden, &self.head_output)
    }

    fn head_mut(&mut self) -> (&mut Linear<B>, &mut Linear<B>) {
        (&mut self.head_hidden, &mut self.head_output)
    }
}

impl<B: AutodiffBackend> TrainStep for DeepMlp<B> {
    type Input = ClassificationBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ClassificationBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let out = self.classification(batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl<B: Backend> InferenceStep for DeepMlp<B> {
    type Input = ClassificationBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ClassificationBatch<B>) -> ClassificationOutput<B> {
        self.classification(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::Distribution;

    type B = Autodiff<NdArray<f64>>;

    /// In a per-output head output k sees head units k, k + c, ... alone: a weight from another
    /// unit changes no prediction, gets no gradient and is no part of the applied weights; in a
    /// dense head it does all three.
    #[test]
    fn per_output_head_units_feed_their_own_output_alone() {
        let device = Default::default();
        let (width, outputs) = (6, 3);
        let x = Tensor::<B, 2>::random([5, 4], Distribution::Default, &device);
        let mut per_output = DeepMlpConfig::new(4, width, outputs)
            .with_feature_widths(vec![3])
            .init::<B>(&device);
        assert!(per_output.per_output_head, "the default");
        // Every unit active on every row, so every output weight matters to a dense head.
        let positive = |w: Tensor<B, 2>| w.abs().detach().require_grad();
        per_output.features[0].weight = per_output.features[0].weight.clone().map(positive);
        per_output.head_hidden.weight = per_output.head_hidden.weight.clone().map(positive);
        let mut dense = per_output.clone();
        dense.per_output_head = false;
        let loss = |m: &DeepMlp<B>| m.forward(x.clone()).sum() + m.head_output_weight().sum();
        let gradient = |m: &DeepMlp<B>| {
            let grads = loss(m).backward();
            let g = m.head_output.weight.grad(&grads).unwrap();
            g.into_data().to_vec::<f64>().unwrap()
        };
        let (masked, full) = (gradient(&per_output), gradient(&dense));
        // Unit j's weight to output k, row-major: index j * outputs + k.
        for j in 0..width {
            for k in 0..outputs {
                let at = j * outputs + k;
                assert_ne!(full[at], 0.0, "dense, unit {j} output {k}");
                match j % outputs == k {
                    true => assert!((masked[at] - full[at]).abs() <= 1e-12 * full[at].abs()),
                    false => assert_eq!(masked[at], 0.0, "unit {j} output {k}"),
                }
            }
        }
        // Moving the weight of unit 0 to output 1 moves only the dense network's predictions.
        let before = [&per_output, &dense].map(|m| m.forward(x.clone()).into_data());
        let nudge = Tensor::<B, 2>::zeros([width, outputs], &device)
            .slice_assign([0..1, 1..2], Tensor::ones([1, 1], &device));
        for m in [&mut per_output, &mut dense] {
            m.head_output.weight = m.head_output.weight.clone().map(|w| w + nudge.clone());
        }
        let after = [&per_output, &dense].map(|m| m.forward(x.clone()).into_data());
        assert_eq!(after[0], before[0]);
        assert_ne!(after[1], before[1]);
    }
}
