//! Metric renderers for runs without a terminal UI (CI, scripts): one that prints nothing and one
//! that prints a line per epoch. Burn's own `CliMetricsRenderer` prints a line per batch.

use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use burn::train::LearnerSummary;
use std::collections::HashMap;
use std::io::Write;

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

/// Prints one line per epoch to stderr with the epoch means of every numeric metric (in name
/// order), e.g. `epoch 2/5  train Accuracy 95.1000 Loss 0.1234  valid Accuracy 94.0000 Loss 0.1500`.
#[derive(Debug, Default)]
pub struct EpochRenderer {
    names: HashMap<MetricId, String>,
    order: Vec<MetricId>,
    pending: Vec<(MetricId, f64, f64)>,
    epoch: Option<(usize, usize)>,
    train: HashMap<MetricId, (f64, f64)>,
    valid: HashMap<MetricId, (f64, f64)>,
}

impl EpochRenderer {
    /// A renderer with no metrics registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, state: MetricState) {
        if let MetricState::Numeric(entry, value) = state {
            let (sum, weight) = match value {
                NumericEntry::Value(v) => (v, 1.0),
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (aggregated_value * count as f64, count as f64),
            };
            self.pending.push((entry.metric_id, sum, weight));
        }
    }

    /// Attributes the pending values to the epoch of `item` (train or valid), printing the previous
    /// epoch when a new one starts.
    fn settle(&mut self, item: &TrainingProgress, train: bool) {
        let epoch = (
            item.global_progress.items_processed,
            item.global_progress.items_total,
        );
        if self.epoch.is_some_and(|e| e != epoch) {
            self.flush();
        }
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
    }

    fn flush(&mut self) {
        let Some((epoch, total)) = self.epoch.take() else {
            return;
        };
        let mut line = format!("epoch {epoch}/{total}");
        let names = &self.names;
        self.order.sort_by(|a, b| names.get(a).cmp(&names.get(b)));
        for (split, values) in [("train", &self.train), ("valid", &self.valid)] {
            if values.is_empty() {
                continue;
            }
            line.push_str(&format!("  {split}"));
            for id in &self.order {
                if let Some((sum, weight)) = values.get(id) {
                    let name = self.names.get(id).map_or("?", String::as_str);
                    line.push_str(&format!(
                        " {name} {:.4}",
                        sum / weight.max(f64::MIN_POSITIVE)
                    ));
                }
            }
        }
        let _ = writeln!(std::io::stderr(), "{line}");
        self.train.clear();
        self.valid.clear();
    }
}

impl MetricsRendererTraining for EpochRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.push(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.push(state);
    }

    fn render_train(&mut self, item: TrainingProgress, _progress: Vec<ProgressType>) {
        self.settle(&item, true);
    }

    fn render_valid(&mut self, item: TrainingProgress, _progress: Vec<ProgressType>) {
        self.settle(&item, false);
    }

    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.flush();
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
        if !self.names.contains_key(&definition.metric_id) {
            self.order.push(definition.metric_id.clone());
        }
        self.names.insert(definition.metric_id, definition.name);
    }
}
