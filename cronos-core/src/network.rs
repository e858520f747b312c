//! The two-layer network a convex solution maps to, and the quantities reported about it.

use crate::host;
use crate::operator::ConvexOperator;
use crate::reduce;
use crate::Formulation;
use burn::prelude::*;
use burn::tensor::activation::relu;

/// A bias-free two-layer network: `relu(X W1) W2`, or `(1[X G >= 0] * X W1) W2` when gated.
#[derive(Debug, Clone)]
pub struct TwoLayerNet<B: Backend> {
    /// First-layer weights, `d x m`.
    pub w1: Tensor<B, 2>,
    /// Second-layer weights, `m x c`.
    pub w2: Tensor<B, 2>,
    /// Gate vectors of a gated-ReLU network, `d x m`; `None` for a ReLU network.
    pub gates: Option<Tensor<B, 2>>,
}

impl<B: Backend> TwoLayerNet<B> {
    /// Hidden activations, `n x m`.
    pub fn hidden(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let pre = x.clone().matmul(self.w1.clone());
        match &self.gates {
            None => relu(pre),
            Some(g) => {
                pre * x
                    .matmul(g.clone())
                    .greater_equal_elem(0.0)
                    .float()
                    .cast(self.w1.dtype())
            }
        }
    }

    /// Predictions, `n x c`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.hidden(x).matmul(self.w2.clone())
    }

    /// The training objective 1/2 ||f(X) - Y||_F^2 + beta/2 (||W1||_F^2 + ||W2||_F^2).
    pub fn objective(&self, x: Tensor<B, 2>, y: Tensor<B, 2>, beta: f64) -> f64 {
        let [loss, penalty] = self.objective_terms(x, y, beta);
        host::scalar(loss) + host::scalar(penalty)
    }

    /// The objective's two terms as one-element tensors: the loss (a sum over the rows of `x`) and
    /// the weight decay.
    pub(crate) fn objective_terms(
        &self,
        x: Tensor<B, 2>,
        y: Tensor<B, 2>,
        beta: f64,
    ) -> [Tensor<B, 1>; 2] {
        let loss = reduce::sum_squares(self.forward(x) - y) / 2.0;
        let weights = reduce::sum_squares(self.w1.clone()) + reduce::sum_squares(self.w2.clone());
        [loss, weights * (beta / 2.0)]
    }

    /// Neurons with a nonzero first-layer column.
    pub fn active_neurons(&self) -> usize {
        let norms = host::to_vec(self.w1.clone().square().sum_dim(0));
        norms.iter().filter(|&&v| v > 0.0).count()
    }

    /// Hidden width m.
    pub fn width(&self) -> usize {
        self.w1.dims()[1]
    }
}

/// Classification accuracy of predictions against targets: sign agreement for one output (targets
/// +-1; a zero prediction counts as -1), argmax agreement for several (one-hot targets; a tie counts
/// as its first output). Ties are broken as the argmax of the class scores (-f, f) of one output
/// breaks them, so that a model scored here and by burn-train's accuracy metric gets one number.
pub fn accuracy<B: Backend>(pred: Tensor<B, 2>, targets: Tensor<B, 2>) -> f64 {
    let n = pred.dims()[0];
    if n == 0 {
        return f64::NAN;
    }
    host::scalar(hits(pred, targets)) / n as f64
}

/// [`accuracy`] and the mean squared error over all entries of predictions against targets, the
/// scores every command and comparison reports.
pub fn accuracy_and_mse<B: Backend>(pred: Tensor<B, 2>, targets: Tensor<B, 2>) -> (f64, f64) {
    let [rows, cols] = targets.dims();
    let squared = host::scalar((pred.clone() - targets.clone()).square().sum());
    (
        accuracy(pred, targets),
        squared / (rows * cols).max(1) as f64,
    )
}

/// The number of rows of `pred` that [`accuracy`] counts as correct, as a one-element tensor.
pub(crate) fn hits<B: Backend>(pred: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
    let dtype = pred.dtype();
    let hits = if pred.dims()[1] == 1 {
        pred.greater_elem(0.0)
            .equal(targets.greater_elem(0.0))
            .int()
            .sum()
    } else {
        pred.argmax(1).equal(targets.argmax(1)).int().sum()
    };
    hits.float().cast(dtype)
}

/// Maps a convex point `v` (`d x B c`, see [`crate::operator`]) to network weights (Pilanci & Ergen
/// 2020, Thm. 1): each nonzero group z becomes a neuron with first-layer weights z / sqrt(||z||) and
/// second-layer weight +-sqrt(||z||) on its own output. When the cone constraints hold, the network's
/// predictions equal the convex model's and its weight-decay term equals the group-lasso term.
///
/// With `width = None` zero groups are dropped (one zero neuron is kept when all are zero, so shapes
/// stay valid). With `Some(m)` every group keeps its neuron, in block order, and zero neurons pad the
/// layer to exactly `m` (for heads of fixed width); `None` is returned when `B c > m`.
pub fn map_to_network<B: Backend>(
    op: &ConvexOperator<B>,
    gates: &Tensor<B, 2>,
    v: &Tensor<B, 2>,
    width: Option<usize>,
) -> Option<TwoLayerNet<B>> {
    let blocks = op.blocks();
    let p = op.patterns();
    let cols = v.dims()[1];
    let c = cols / blocks;
    let norms: Vec<f64> = host::to_vec(v.clone().square().sum_dim(0))
        .into_iter()
        .map(f64::sqrt)
        .collect();
    let mut kept: Vec<usize> = match width {
        None => (0..cols).filter(|&j| norms[j] > 0.0).collect(),
        Some(_) => (0..cols).collect(),
    };
    if kept.is_empty() {
        kept.push(0);
    }
    let m = width.unwrap_or(kept.len());
    if kept.len() > m {
        return None;
    }
    let mut w2 = vec![0.0; m * c];
    let mut scale = vec![0.0; m];
    for (neuron, &col) in kept.iter().enumerate() {
        let (block, output) = (col / c, col % c);
        let root = norms[col].sqrt();
        let sign = if block < p { 1.0 } else { -1.0 };
        scale[neuron] = if root > 0.0 { 1.0 / root } else { 0.0 };
        w2[neuron * c + output] = sign * root;
    }
    // Padding neurons reuse column 0 with scale 0: zero weights, and a valid gate for gated networks.
    let mut source: Vec<i64> = kept.iter().map(|&j| j as i64).collect();
    source.resize(m, 0);
    let device = v.device();
    let idx = |ids: Vec<i64>| Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [m]), &device);
    let w1 = v.clone().select(1, idx(source.clone())) * host::upload(scale, [1, m], v);
    let gates = match op.formulation() {
        Formulation::Relu => None,
        Formulation::Gated => {
            let gate_of = source
                .iter()
                .map(|&j| ((j as usize / c) % p) as i64)
                .collect();
            Some(gates.clone().select(1, idx(gate_of)))
        }
    };
    Some(TwoLayerNet {
        w1,
        w2: host::upload(w2, [m, c], v),
        gates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::B;

    fn matrix(values: &[f64], cols: usize) -> Tensor<B, 2> {
        let rows = values.len() / cols;
        Tensor::<B, 1>::from_floats(values, &Default::default()).reshape([rows, cols])
    }

    /// Ties count as the first class, as the argmax of (-f, f) and of several outputs does:
    /// the zero network scores the share of -1 targets, not 0.
    #[test]
    fn ties_count_as_the_first_class() {
        let targets = matrix(&[1.0, 1.0, -1.0, 1.0], 1);
        let pred = matrix(&[0.5, -0.2, 0.0, 0.0], 1);
        assert_eq!(accuracy(pred, targets.clone()), 0.5);
        assert_eq!(accuracy(targets.zeros_like(), targets), 0.25);
        let one_hot = matrix(&[1.0, 0.0, 0.0, 1.0], 2);
        assert_eq!(accuracy(one_hot.zeros_like(), one_hot), 0.5);
    }
}
