//! Metric renderers for runs without a terminal UI (CI, scripts): one that prints nothing and one
//! that prints a line per epoch (Burn's own `CliMetricsRenderer` prints a line per batch), and a
//! wrapper around any renderer that keeps the epoch means for the caller of the run.

use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use burn::train::LearnerSummary;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A renderer that shows nothing (metrics are still logged to files and used by checkpointing and
/// early stopping).
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietRenderer;

impl MetricsRendererTraining for QuietRenderer {
    fn update_train(&mut self, _state: MetricState) {}
    fn update_valid(&mut self, _state: MetricState) {}
    fn render_train(&mut self, _item: TrainingProgress, _progress: Vec<ProgressType>) {}
    fn render_valid(&mut self, _item: TrainingProgress, _progress: Vec<ProgressType>) {}
    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for QuietRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
    fn render_test(&mut self, _item: EvaluationProgress, _progress: Vec<ProgressType>) {}
    fn on_test_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRenderer for QuietRenderer {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _definition: MetricDefinition) {}
}

/// The means of one epoch's numeric metrics, by metric name (in name order).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The run's last epoch.
    pub epochs: usize,
    /// Means over the epoch's training batches (weighted by batch size where the metric says so).
    pub train: Vec<(String, f64)>,
    /// Means over the epoch's validation batches.
    pub valid: Vec<(String, f64)>,
}

impl EpochMetrics {
    /// The validation mean of the metric `name`.
    pub(crate) fn valid(&self, name: &str) -> Option<f64> {
        self.valid.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// Accumulates a renderer's metric updates into epoch means: values arrive before the progress
/// item they belong to, which names the epoch.
#[derive(Debug, Default)]
struct EpochMeans {
    names: HashMap<MetricId, String>,
    pending: Vec<(MetricId, f64, f64)>,
    epoch: Option<(usize, usize)>,
    train: HashMap<MetricId, (f64, f64)>,
    valid: HashMap<MetricId, (f64, f64)>,
}

impl EpochMeans {
    fn register(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }

    fn push(&mut self, state: &MetricState) {
        if let MetricState::Numeric(entry, value) = state {
            let (sum, weight) = match *value {
                NumericEntry::Value(v) => (v, 1.0),
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (aggregated_value * count as f64, count as f64),
            };
            self.pending.push((entry.metric_id.clone(), sum, weight));
        }
    }

    /// Attributes the pending values to the epoch of `item` (train or valid); returns the previous
    /// epoch's means when `item` starts a new epoch.
    fn settle(&mut self, item: &TrainingProgress, train: bool) -> Option<EpochMetrics> {
        let epoch = (
            item.global_progress.items_processed,
            item.global_progress.items_total,
        );
        let finished = if self.epoch.is_some_and(|e| e != epoch) {
            self.finish()
        } else {
            None
        };
        self.epoch = Some(epoch);
        let target = if train {
            &mut self.train
        } else {
            &mut self.valid
        };
        for (id, sum, weight) in self.pending.drain(..) {
            let acc = target.entry(id).or_insert((0.0, 0.0));
            acc.0 += sum;
            acc.1 += weight;
        }
        finished
    }

    /// The means of the epoch in progress, which is then closed.
    fn finish(&mut self) -> Option<EpochMetrics> {
        let (epoch, epochs) = self.epoch.take()?;
        let names = &self.names;
        let means = |values: &mut HashMap<MetricId, (f64, f64)>| {
            let mut means: Vec<(String, f64)> = values
                .drain()
                .map(|(id, (sum, weight))| {
                    let name = names.get(&id).cloned().unwrap_or_else(|| "?".into());
                    (name, sum / weight.max(f64::MIN_POSITIVE))
                })
                .collect();
            means.sort_by(|a, b| a.0.cmp(&b.0));
            means
        };
        Some(EpochMetrics {
            epoch,
            epochs,
            train: means(&mut self.train),
            valid: means(&mut self.valid),
        })
    }
}

/// Prints one line per epoch to stderr with the epoch means of every numeric metric (in name
/// order), e.g. `epoch 2/5  train Accuracy 95.1000 Loss 0.1234  valid Accuracy 94.0000 Loss 0.1500`.
#[derive(Debug, Default)]
pub struct EpochRenderer {
    means: EpochMeans,
}

impl EpochRenderer {
    /// A renderer with no metrics registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn print(epoch: Option<EpochMetrics>) {
        let Some(m) = epoch else {
            return;
        };
        let mut line = format!("epoch {}/{}", m.epoch, m.epochs);
        for (split, values) in [("train", &m.train), ("valid", &m.valid)] {
            if values.is_empty() {
                continue;
            }
            line.push_str(&format!("  {split}"));
            for (name, mean) in values {
                line.push_str(&format!(" {name} {mean:.4}"));
            }
        }
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

impl MetricsRendererTraining for EpochRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.means.push(&state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.means.push(&state);
    }

    fn render_train(&mut self, item: TrainingProgress, _progress: Vec<ProgressType>) {
        Self::print(self.means.settle(&item, true));
    }

    fn render_valid(&mut self, item: TrainingProgress, _progress: Vec<ProgressType>) {
        Self::print(self.means.settle(&item, false));
    }

    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Self::print(self.means.finish());
        Ok(())
    }
}

impl MetricsRendererEvaluation for EpochRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
    fn render_test(&mut self, _item: EvaluationProgress, _progress: Vec<ProgressType>) {}
}

impl MetricsRenderer for EpochRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.means.register(definition);
    }
}

/// Any renderer, with the epoch means of the run kept for its caller (burn-train's own metric
/// logs cannot be read back after a resumed run: it files the first resumed epoch as epoch 1).
pub(crate) struct Recording {
    inner: Box<dyn MetricsRenderer>,
    means: EpochMeans,
    epochs: Arc<Mutex<Vec<EpochMetrics>>>,
}

impl Recording {
    /// `inner`, recording into `epochs`.
    pub(crate) fn new(
        inner: Box<dyn MetricsRenderer>,
        epochs: Arc<Mutex<Vec<EpochMetrics>>>,
    ) -> Self {
        Self {
            inner,
            means: EpochMeans::default(),
            epochs,
        }
    }

    fn keep(&self, epoch: Option<EpochMetrics>) {
        if let (Some(epoch), Ok(mut epochs)) = (epoch, self.epochs.lock()) {
            epochs.push(epoch);
        }
    }
}

impl MetricsRendererTraining for Recording {
    fn update_train(&mut self, state: MetricState) {
        self.means.push(&state);
        self.inner.update_train(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.means.push(&state);
        self.inner.update_valid(state);
    }

    fn render_train(&mut self, item: TrainingProgress, progress: Vec<ProgressType>) {
        let finished = self.means.settle(&item, true);
        self.keep(finished);
        self.inner.render_train(item, progress);
    }

    fn render_valid(&mut self, item: TrainingProgress, progress: Vec<ProgressType>) {
        let finished = self.means.settle(&item, false);
        self.keep(finished);
        self.inner.render_valid(item, progress);
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let finished = self.means.finish();
        self.keep(finished);
        self.inner.on_train_end(summary)
    }
}

impl MetricsRendererEvaluation for Recording {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        self.inner.update_test(name, state);
    }

    fn render_test(&mut self, item: EvaluationProgress, progress: Vec<ProgressType>) {
        self.inner.render_test(item, progress);
    }

    fn on_test_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.inner.on_test_end(summary)
    }
}

impl MetricsRenderer for Recording {
    fn manual_close(&mut self) {
        self.inner.manual_close();
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.means.register(definition.clone());
        self.inner.register_metric(definition);
    }
}
