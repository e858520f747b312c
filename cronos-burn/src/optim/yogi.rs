//! Yogi (Zaheer, Reddi, Sachan, Kale and Kumar, "Adaptive Methods for Nonconvex Optimization",
//! NeurIPS 2018), in the form of `optax.yogi`.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{LearningRate, SimpleOptimizer};
use burn::record::Record;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

/// Configuration of [`Yogi`]; the learning rate is given at each step, as everywhere in Burn.
#[derive(Config, Debug)]
pub struct YogiConfig {
    /// Decay of the first moment `m`.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Rate of the additive second-moment update `v`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Added to `sqrt(v_hat)` in the denominator (optax's default is large for an Adam-like method).
    #[config(default = 1e-3)]
    pub epsilon: f64,
    /// Initial value of both `m` and `v` (optax's `initial_accumulator_value`).
    #[config(default = 1e-6)]
    pub initial_accumulator_value: f64,
}

/// The Yogi optimizer, per tensor, exactly as `optax.scale_by_yogi` followed by the learning rate:
///
/// ```text
/// m_0 = v_0 = initial_accumulator_value
/// m_t = β1 m_{t-1} + (1 - β1) g_t
/// v_t = v_{t-1} - (1 - β2) sign(v_{t-1} - g_t²) g_t²        (Zaheer et al. 2018, Algorithm 2)
/// x_t = x_{t-1} - lr · m̂_t / (sqrt(v̂_t) + ε),   m̂_t = m_t / (1 - β1^t),  v̂_t = v_t / (1 - β2^t)
/// ```
///
/// The paper's Algorithm 2 starts from `m_0 = v_0 = 0` without bias correction; optax (and this
/// implementation) adds Adam's bias correction and starts both accumulators at a small positive
/// value, which keeps `v` away from zero.
#[derive(Clone, Debug)]
pub struct Yogi {
    config: YogiConfig,
}

/// Per-parameter state of [`Yogi`].
#[derive(Record, Clone)]
pub struct YogiState<B: Backend, const D: usize> {
    /// First moment `m_t`.
    pub m: Tensor<B, D>,
    /// Second moment `v_t`.
    pub v: Tensor<B, D>,
    /// Number of steps taken, `t`.
    pub time: usize,
}

impl<B: Backend> SimpleOptimizer<B> for Yogi {
    type State<const D: usize> = YogiState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let YogiConfig {
            beta_1,
            beta_2,
            epsilon,
            initial_accumulator_value,
        } = self.config;
        let (m_prev, v_prev, time) = match state {
            Some(state) => (state.m, state.v, state.time + 1),
            None => {
                let init = grad.full_like(initial_accumulator_value);
                (init.clone(), init, 1)
            }
        };
        let g2 = grad.clone().square();
        let m = m_prev * beta_1 + grad * (1.0 - beta_1);
        let v = v_prev.clone() - (v_prev - g2.clone()).sign() * g2 * (1.0 - beta_2);
        let m_hat = m.clone() / (1.0 - beta_1.powi(time as i32));
        let v_hat = v.clone() / (1.0 - beta_2.powi(time as i32));
        let update = m_hat / (v_hat.sqrt() + epsilon);
        (tensor - update * lr, Some(YogiState { m, v, time }))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.m = state.m.to_device(device);
        state.v = state.v.to_device(device);
        state
    }
}

impl YogiConfig {
    /// The per-tensor optimizer.
    pub fn build(&self) -> Yogi {
        Yogi {
            config: self.clone(),
        }
    }

    /// The optimizer for a whole module, keyed by parameter id.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<Yogi, M, B> {
        OptimizerAdaptor::from(self.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f64>;

    /// One step from zero state by hand: m = 0.9e-6 + 0.1 g, v = 1e-6 + 0.001 g² (since g² > 1e-6).
    #[test]
    fn first_step_matches_the_closed_form() {
        let device = Default::default();
        let x = Tensor::<B, 1>::from_data([1.0, -2.0], &device);
        let g = Tensor::<B, 1>::from_data([0.5, -3.0], &device);
        let (x1, state) = YogiConfig::new().build().step(0.1, x, g, None);
        let x1: Vec<f64> = x1.into_data().iter::<f64>().collect();
        for (i, (x0, g)) in [(1.0, 0.5), (-2.0, -3.0)].into_iter().enumerate() {
            let m_hat = (0.9e-6 + 0.1 * g) / 0.1;
            let v_hat = (1e-6 + 0.001 * g * g) / 0.001;
            let expected = x0 - 0.1 * m_hat / (f64::sqrt(v_hat) + 1e-3);
            assert!((x1[i] - expected).abs() < 1e-14, "{} vs {expected}", x1[i]);
        }
        assert_eq!(state.map(|s| s.time), Some(1));
    }
}
