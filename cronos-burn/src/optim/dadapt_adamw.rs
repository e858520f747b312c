//! D-Adaptation AdamW (Defazio and Mishchenko, "Learning-Rate-Free Learning by D-Adaptation",
//! ICML 2023), in the form of `optax.contrib.dadapt_adamw`.

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{AutodiffModule, ModuleMapper, Param, ParamId};
use burn::optim::adaptor::GradAdaptor;
use burn::optim::{GradientsParams, LearningRate, MultiGradientsParams, Optimizer};
use burn::record::Record;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;

/// Configuration of [`DAdaptAdamW`]. The learning rate given at each step multiplies the adapted
/// step size, so it should be 1.0 or a schedule whose peak is 1.0.
#[derive(Config, Debug)]
pub struct DAdaptAdamWConfig {
    /// Adam's `β₁`.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// Adam's `β₂`; the D-Adaptation sums decay with `sqrt(β₂)`.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// Adam's `ε`, added to `sqrt(v)`.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// Initial (under-)estimate `d_0` of the step size.
    #[config(default = 1e-6)]
    pub estim_lr0: f64,
    /// Decoupled weight decay `λ`, applied as `x ← x - λ · dlr · x`.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Largest factor by which `d` may grow in one step (`growth_rate` of the authors' PyTorch
    /// `DAdaptAdam`); `None` leaves it unbounded, as in optax.
    pub growth_rate: Option<f64>,
}

/// D-Adaptation AdamW over a whole module.
///
/// With `k` the step number (from 1), `γ_k` the learning rate given to [`Optimizer::step`] and
/// `d_k` the current estimate (`d_1 = estim_lr0`), every parameter with a gradient `g` does
/// (the Adam variant of Defazio and Mishchenko 2023, with Adam's bias correction and decoupled
/// weight decay, exactly as `optax.contrib.dadapt_adamw`):
///
/// ```text
/// dlr    = d_k γ_k sqrt(1 - β₂^k) / (1 - β₁^k)
/// a     += ⟨g, s / (sqrt(v) + ε)⟩                        (with s, v before this step)
/// m      = β₁ m + (1 - β₁) dlr g
/// v      = β₂ v + (1 - β₂) g²
/// s      = sqrt(β₂) s + (1 - sqrt(β₂)) dlr g
/// x      = x - λ dlr x - m / (sqrt(v) + ε)
/// ```
///
/// and then, over all parameters at once,
///
/// ```text
/// r_k     = sqrt(β₂) r_{k-1} + (1 - sqrt(β₂)) dlr a
/// d̂       = r_k / ((1 - sqrt(β₂)) Σ |s|₁)
/// d_{k+1} = max(d_k, min(d̂, growth_rate · d_k))
/// ```
///
/// The new `d` only affects the next step, so the whole step is one pass over the module. Only
/// parameters that have a gradient take part (frozen ones keep their state and are not counted);
/// if `Σ |s|₁ = 0`, `d` is left unchanged. The global sums are read back to the host once per
/// parameter and kept in f64.
#[derive(Clone)]
pub struct DAdaptAdamW<B: AutodiffBackend> {
    config: DAdaptAdamWConfig,
    d: f64,
    numerator: f64,
    step: usize,
    states: HashMap<ParamId, DAdaptAdamWState<B::InnerBackend>>,
}

/// Per-parameter state of [`DAdaptAdamW`], flattened to one dimension.
#[derive(Record, Clone)]
pub struct DAdaptAdamWState<B: Backend> {
    /// First moment `m` (scaled by `dlr`).
    pub exp_avg: Tensor<B, 1>,
    /// Second moment `v`.
    pub exp_avg_sq: Tensor<B, 1>,
    /// Weighted gradient sum `s`.
    pub grad_sum: Tensor<B, 1>,
}

/// Saved state of [`DAdaptAdamW`].
#[derive(Record, Clone)]
pub struct DAdaptAdamWRecord<B: Backend> {
    /// Step-size estimate `d` for the next step.
    pub d: f64,
    /// Weighted numerator `r`.
    pub numerator: f64,
    /// Number of steps taken.
    pub step: usize,
    /// Per-parameter state, keyed by [`ParamId::serialize`].
    pub params: Vec<(String, DAdaptAdamWState<B>)>,
}

impl DAdaptAdamWConfig {
    /// The optimizer, with no state yet.
    pub fn init<B: AutodiffBackend>(&self) -> DAdaptAdamW<B> {
        DAdaptAdamW {
            config: self.clone(),
            d: self.estim_lr0,
            numerator: 0.0,
            step: 0,
            states: HashMap::new(),
        }
    }
}

impl<B: AutodiffBackend> DAdaptAdamW<B> {
    /// The current step-size estimate `d`, used by the next step.
    pub fn d(&self) -> f64 {
        self.d
    }

    fn step_common<M: AutodiffModule<B>>(
        &mut self,
        lr: LearningRate,
        module: M,
        grads: GradAdaptor,
    ) -> M {
        let DAdaptAdamWConfig {
            beta_1,
            beta_2,
            growth_rate,
            ..
        } = self.config;
        let k = self.step + 1;
        let dlr =
            self.d * lr * (1.0 - beta_2.powi(k as i32)).sqrt() / (1.0 - beta_1.powi(k as i32));
        let mut mapper = DAdaptAdamWMapper {
            config: &self.config,
            states: &mut self.states,
            grads,
            dlr,
            numerator_sum: 0.0,
            grad_sum_l1: 0.0,
        };
        let module = module.map(&mut mapper);
        let (numerator_sum, grad_sum_l1) = (mapper.numerator_sum, mapper.grad_sum_l1);

        let sqrt_beta_2 = beta_2.sqrt();
        self.numerator = sqrt_beta_2 * self.numerator + (1.0 - sqrt_beta_2) * dlr * numerator_sum;
        if grad_sum_l1 > 0.0 {
            let d_hat = self.numerator / ((1.0 - sqrt_beta_2) * grad_sum_l1);
            let capped = growth_rate.map_or(d_hat, |rate| d_hat.min(rate * self.d));
            self.d = self.d.max(capped);
        }
        self.step = k;
        module
    }
}

impl<M: AutodiffModule<B>, B: AutodiffBackend> Optimizer<M, B> for DAdaptAdamW<B> {
    type Record = DAdaptAdamWRecord<B>;

    fn step(&mut self, lr: LearningRate, module: M, grads: GradientsParams) -> M {
        self.step_common(lr, module, grads.into())
    }

    fn step_multi(&mut self, lr: LearningRate, module: M, grads: MultiGradientsParams) -> M {
        self.step_common(lr, module, grads.into())
    }

    fn to_record(&self) -> Self::Record {
        let mut params: Vec<_> = self
            .states
            .iter()
            .map(|(id, s)| {
                let state = DAdaptAdamWState {
                    exp_avg: Tensor::from_inner(s.exp_avg.clone()),
                    exp_avg_sq: Tensor::from_inner(s.exp_avg_sq.clone()),
                    grad_sum: Tensor::from_inner(s.grad_sum.clone()),
                };
                (id.serialize(), state)
            })
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        DAdaptAdamWRecord {
            d: self.d,
            numerator: self.numerator,
            step: self.step,
            params,
        }
    }

    fn load_record(mut self, record: Self::Record) -> Self {
        self.d = record.d;
        self.numerator = record.numerator;
        self.step = record.step;
        self.states = record
            .params
            .into_iter()
            .map(|(id, s)| {
                let state = DAdaptAdamWState {
                    exp_avg: s.exp_avg.inner(),
                    exp_avg_sq: s.exp_avg_sq.inner(),
                    grad_sum: s.grad_sum.inner(),
                };
                (ParamId::deserialize(&id), state)
            })
            .collect();
        self
    }
}

/// Applies the per-parameter part of a step and sums `a` and `Σ |s|₁` over the parameters.
struct DAdaptAdamWMapper<'a, B: AutodiffBackend> {
    config: &'a DAdaptAdamWConfig,
    states: &'a mut HashMap<ParamId, DAdaptAdamWState<B::InnerBackend>>,
    grads: GradAdaptor,
    dlr: f64,
    numerator_sum: f64,
    grad_sum_l1: f64,
}

impl<B: AutodiffBackend> ModuleMapper<B> for DAdaptAdamWMapper<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some((grad, device)) = self.grads.remove::<B::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let shape = tensor.dims();
        let x = tensor.inner().to_device(&device).reshape([-1]);
        let g = grad.reshape([-1]);
        let DAdaptAdamWConfig {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            ..
        } = *self.config;
        let dlr = self.dlr;
        let sqrt_beta_2 = beta_2.sqrt();

        let state = match self.states.remove(&id) {
            Some(s) => DAdaptAdamWState {
                exp_avg: s.exp_avg.to_device(&device),
                exp_avg_sq: s.exp_avg_sq.to_device(&device),
                grad_sum: s.grad_sum.to_device(&device),
            },
            None => DAdaptAdamWState {
                exp_avg: g.zeros_like(),
                exp_avg_sq: g.zeros_like(),
                grad_sum: g.zeros_like(),
            },
        };
        let numerator_term = (g.clone() * state.grad_sum.clone()
            / (state.exp_avg_sq.clone().sqrt() + epsilon))
            .sum();
        let exp_avg = state.exp_avg * beta_1 + g.clone() * ((1.0 - beta_1) * dlr);
        let exp_avg_sq = state.exp_avg_sq * beta_2 + g.clone().square() * (1.0 - beta_2);
        let grad_sum = state.grad_sum * sqrt_beta_2 + g * ((1.0 - sqrt_beta_2) * dlr);
        let l1_term = grad_sum.clone().abs().sum();
        let x = x.clone()
            - x * (weight_decay * dlr)
            - exp_avg.clone() / (exp_avg_sq.clone().sqrt() + epsilon);

        let sums: Vec<f64> = Tensor::cat(vec![numerator_term, l1_term], 0)
            .into_data()
            .iter::<f64>()
            .collect();
        self.numerator_sum += sums[0];
        self.grad_sum_l1 += sums[1];
        self.states.insert(
            id,
            DAdaptAdamWState {
                exp_avg,
                exp_avg_sq,
                grad_sum,
            },
        );

        let mut tensor = Tensor::from_inner(x.reshape(shape));
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}
