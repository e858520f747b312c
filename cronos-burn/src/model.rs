//! The network CRONOS returns, as an ordinary Burn module that can be saved, loaded and moved.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::activation::relu;
use cronos_core::TwoLayerNet;
use std::path::{Path, PathBuf};

/// Shape of a [`TwoLayerMlp`]; saved beside the weights so a model file can be loaded back.
#[derive(Config, Debug, PartialEq)]
pub struct TwoLayerMlpConfig {
    /// Input features d.
    pub d_input: usize,
    /// Hidden neurons m.
    pub hidden: usize,
    /// Outputs c.
    pub d_output: usize,
    /// Gated-ReLU network (fixed gate vectors) instead of a ReLU network.
    #[config(default = false)]
    pub gated: bool,
}

/// A bias-free two-layer network `relu(x W1) W2` built from `burn::nn::Linear`; when gated,
/// `(1[x G >= 0] * x W1) W2` with the gate vectors G held in a third, non-trainable layer.
#[derive(Module, Debug)]
pub struct TwoLayerMlp<B: Backend> {
    /// First layer, weight `d x m`.
    pub hidden: Linear<B>,
    /// Second layer, weight `m x c`.
    pub output: Linear<B>,
    /// Gate vectors `d x m` of a gated network.
    pub gates: Option<Linear<B>>,
}

fn bias_free(d_in: usize, d_out: usize) -> LinearConfig {
    LinearConfig::new(d_in, d_out).with_bias(false)
}

impl TwoLayerMlpConfig {
    /// A randomly initialized network of this shape.
    pub fn init<B: Backend>(&self, device: &B::Device) -> TwoLayerMlp<B> {
        TwoLayerMlp {
            hidden: bias_free(self.d_input, self.hidden).init(device),
            output: bias_free(self.hidden, self.d_output).init(device),
            gates: self
                .gated
                .then(|| bias_free(self.d_input, self.hidden).init(device).no_grad()),
        }
    }
}

/// Why a model file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a model of the expected shape.
    #[error("{path}: not a valid model file: {reason}")]
    Format { path: PathBuf, reason: String },
}

/// The configuration file that sits beside a model file: `<model>.json`.
pub fn config_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

impl<B: Backend> TwoLayerMlp<B> {
    /// Predictions, `n x c`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let pre = self.hidden.forward(x.clone());
        let act = match &self.gates {
            None => relu(pre),
            Some(g) => {
                pre * g
                    .forward(x)
                    .greater_equal_elem(0.0)
                    .float()
                    .cast(self.dtype())
            }
        };
        self.output.forward(act)
    }

    fn dtype(&self) -> burn::tensor::DType {
        self.hidden.weight.val().dtype()
    }

    /// The shape of this network.
    pub fn config(&self) -> TwoLayerMlpConfig {
        let [d, m] = self.hidden.weight.dims();
        TwoLayerMlpConfig::new(d, m, self.output.weight.dims()[1]).with_gated(self.gates.is_some())
    }

    /// Writes the weights (Burn's named MessagePack record, full precision) to `path` and the shape to
    /// `<path>.json`.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelFileError::Io { path, source }
        };
        let bytes = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
            .record(self.clone().into_record(), ())
            .map_err(|e| ModelFileError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        std::fs::write(path, bytes).map_err(io(path))?;
        let cfg = config_path(path);
        self.config().save(&cfg).map_err(io(&cfg))
    }

    /// Reads a network written by [`TwoLayerMlp::save`] onto `device`.
    pub fn load(path: &Path, device: &B::Device) -> Result<Self, ModelFileError> {
        let cfg_path = config_path(path);
        let config = TwoLayerMlpConfig::load(&cfg_path).map_err(|e| ModelFileError::Format {
            path: cfg_path,
            reason: e.to_string(),
        })?;
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let record = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
            .load(bytes, device)
            .map_err(|e| ModelFileError::Format {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(config.init(device).load_record(record))
    }
}

impl<B: Backend> From<TwoLayerNet<B>> for TwoLayerMlp<B> {
    fn from(net: TwoLayerNet<B>) -> Self {
        let linear = |w: Tensor<B, 2>| Linear {
            weight: Param::from_tensor(w),
            bias: None,
        };
        Self {
            hidden: linear(net.w1),
            output: linear(net.w2),
            gates: net.gates.map(|g| linear(g).no_grad()),
        }
    }
}
