//! The network CRONOS returns, as an ordinary Burn module that can be saved, loaded and moved.
//!
//! A model file is Burn's named MessagePack record (`model.bpk`) with a JSON sidecar
//! (`model.bpk.json`) holding the network's shape and the SHA-256 of the record's bytes. MessagePack
//! has no checksum of its own, so a flipped byte inside a float decodes to a wrong weight without
//! any error; the recorded digest catches that (and can be checked with `sha256sum`). The sidecar
//! itself is checked against the loaded tensors, so a shape or `gated` flag that does not describe
//! the weights is an error rather than a network built to the wrong shape.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder, RecorderError};
use burn::tensor::activation::relu;
use cronos_core::TwoLayerNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a model of the expected shape.
    #[error("{path}: not a valid model file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// The configuration file that sits beside a model file: `<model>.json`.
pub fn config_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The sidecar `<model>.json`: the shape, and the SHA-256 of the weights file (absent in files
/// saved before it was recorded).
#[derive(Serialize, Deserialize)]
struct Sidecar {
    #[serde(flatten)]
    config: TwoLayerMlpConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

/// What loading could verify about the weights file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The weights have the SHA-256 (hex) recorded in the sidecar.
    Matched(String),
    /// The sidecar records no checksum (a model saved by an earlier version), so corruption of
    /// the weights cannot be detected.
    NotRecorded,
}

/// The SHA-256 of `bytes` as lowercase hex, as `sha256sum` prints it.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks that the sidecar's shape describes the tensors of `record`; the error names the
/// sidecar's field.
fn check_shape<B: Backend>(
    config: &TwoLayerMlpConfig,
    record: &TwoLayerMlpRecord<B>,
    sidecar: &Path,
    path: &Path,
) -> Result<(), ModelFileError> {
    let mismatch = |reason: String| ModelFileError::Format {
        path: sidecar.to_path_buf(),
        reason: format!("{reason} in {}", path.display()),
    };
    let [d, m] = record.hidden.weight.dims();
    let [m_out, c] = record.output.weight.dims();
    let sizes = [
        ("d_input", config.d_input, d, "rows of the first layer"),
        ("hidden", config.hidden, m, "columns of the first layer"),
        ("hidden", config.hidden, m_out, "rows of the second layer"),
        (
            "d_output",
            config.d_output,
            c,
            "columns of the second layer",
        ),
    ];
    if let Some((field, recorded, found, what)) = sizes.into_iter().find(|s| s.1 != s.2) {
        return Err(mismatch(format!(
            "field `{field}` is {recorded}, but there are {found} {what}"
        )));
    }
    match &record.gates {
        Some(_) if !config.gated => Err(mismatch(
            "field `gated` is false, but there are gate vectors".into(),
        )),
        None if config.gated => Err(mismatch(
            "field `gated` is true, but there are no gate vectors".into(),
        )),
        Some(g) if g.weight.dims() != [d, m] => Err(mismatch(format!(
            "gate vectors of shape {:?} do not match the first layer's {:?}",
            g.weight.dims(),
            [d, m]
        ))),
        _ => Ok(()),
    }
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

    /// Writes the weights (Burn's named MessagePack record, full precision) to `path`, and the shape
    /// with the SHA-256 of the weights to `<path>.json`.
    pub fn save(&self, path: &Path) -> Result<(), ModelFileError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelFileError::Io { path, source }
        };
        let format = |path: &Path, reason: String| ModelFileError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
            .record(self.clone().into_record(), ())
            .map_err(|e| format(path, e.to_string()))?;
        std::fs::write(path, &bytes).map_err(io(path))?;
        let cfg = config_path(path);
        let sidecar = Sidecar {
            config: self.config(),
            sha256: Some(sha256_hex(&bytes)),
        };
        let text =
            serde_json::to_string_pretty(&sidecar).map_err(|e| format(&cfg, e.to_string()))?;
        std::fs::write(&cfg, text).map_err(io(&cfg))
    }

    /// Reads a network written by [`TwoLayerMlp::save`] onto `device`. A model saved before
    /// checksums were recorded loads with a logged warning; [`TwoLayerMlp::load_with_checksum`]
    /// tells the caller instead.
    pub fn load(path: &Path, device: &B::Device) -> Result<Self, ModelFileError> {
        let (model, checksum) = Self::load_with_checksum(path, device)?;
        if checksum == Checksum::NotRecorded {
            log::warn!("{}", unverified_warning(path));
        }
        Ok(model)
    }

    /// Reads a network written by [`TwoLayerMlp::save`] onto `device`, after checking the weights
    /// against the checksum in the sidecar and the sidecar's shape against the weights.
    pub fn load_with_checksum(
        path: &Path,
        device: &B::Device,
    ) -> Result<(Self, Checksum), ModelFileError> {
        let cfg_path = config_path(path);
        let format = |path: &Path, reason: String| ModelFileError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(&cfg_path).map_err(|source| ModelFileError::Io {
            path: cfg_path.clone(),
            source,
        })?;
        let sidecar: Sidecar =
            serde_json::from_str(&text).map_err(|e| format(&cfg_path, e.to_string()))?;
        let bytes = std::fs::read(path).map_err(|source| ModelFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let checksum = match sidecar.sha256 {
            Some(recorded) => {
                let found = sha256_hex(&bytes);
                if !found.eq_ignore_ascii_case(&recorded) {
                    return Err(format(
                        path,
                        format!(
                            "SHA-256 {found} differs from {recorded} recorded in {}: the weights \
                             changed after saving (corrupted or truncated copy)",
                            cfg_path.display()
                        ),
                    ));
                }
                Checksum::Matched(found)
            }
            None => Checksum::NotRecorded,
        };
        let record: TwoLayerMlpRecord<B> =
            NamedMpkBytesRecorder::<FullPrecisionSettings>::default()
                .load(bytes, device)
                .map_err(|e| {
                    format(
                        path,
                        format!(
                            "cannot decode the weights, the file is truncated or corrupt ({})",
                            decoding_cause(&e)
                        ),
                    )
                })?;
        check_shape(&sidecar.config, &record, &cfg_path, path)?;
        let model = sidecar.config.init(device).load_record(record);
        Ok((model, checksum))
    }
}

/// The first line of a recorder's message. Burn appends to tensor decoding errors a note that the
/// format changed after Burn 0.14; a file this crate saved and cannot decode is damaged rather than
/// old, so the note would mislead.
fn decoding_cause(e: &RecorderError) -> &str {
    let (RecorderError::FileNotFound(m)
    | RecorderError::DeserializeError(m)
    | RecorderError::Unknown(m)) = e;
    m.lines().next().unwrap_or_default()
}

/// The warning for a model whose sidecar records no checksum.
pub fn unverified_warning(path: &Path) -> String {
    format!(
        "{} records no checksum (saved by an earlier version): corruption of {} cannot be \
         detected; save the model again to record one",
        config_path(path).display(),
        path.display()
    )
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
