//! Training time per epoch without validation, for any burn-train strategy.
//!
//! burn-train runs validation inside the training loop, so the wall time of a run charges every
//! method for scoring the validation set too. The validation loader knows when each pass starts and
//! ends: [`EpochClock::wrap`] puts a clock around it, and the training time of epoch `e` is the time
//! from the end of pass `e - 1` (or from [`EpochClock::start`]) to the start of pass `e`. This works
//! for Burn's own strategies as well as for [`CronosAm`](crate::am::CronosAm), without touching
//! their loops.

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Start of training and the validation passes (start, end), shared by the loader's copies.
#[derive(Debug, Default)]
struct Passes {
    start: Option<Instant>,
    passes: Vec<(Instant, Option<Instant>)>,
}

/// The clock: started just before training, read after it.
#[derive(Debug, Clone, Default)]
pub(crate) struct EpochClock {
    passes: Arc<Mutex<Passes>>,
}

impl EpochClock {
    /// Marks the start of training.
    pub(crate) fn start(&self) {
        if let Ok(mut p) = self.passes.lock() {
            p.start = Some(Instant::now());
            p.passes.clear();
        }
    }

    /// Training seconds up to the start of each validation pass, cumulative: the first entry is
    /// the first epoch's training time, the last the whole run's without validation.
    pub(crate) fn training_seconds(&self) -> Vec<f64> {
        let Ok(p) = self.passes.lock() else {
            return Vec::new();
        };
        let Some(mut previous) = p.start else {
            return Vec::new();
        };
        let mut total = 0.0;
        p.passes
            .iter()
            .map(|&(start, end)| {
                total += start.saturating_duration_since(previous).as_secs_f64();
                previous = end.unwrap_or(start);
                total
            })
            .collect()
    }

    /// `loader` with this clock around every pass over it.
    pub(crate) fn wrap<B: Backend, O: 'static>(
        &self,
        loader: Arc<dyn DataLoader<B, O>>,
    ) -> Arc<dyn DataLoader<B, O>> {
        Arc::new(ClockedLoader {
            inner: loader,
            device: None,
            clock: self.clone(),
        })
    }

    fn begin(&self) -> usize {
        let now = Instant::now();
        self.passes
            .lock()
            .map(|mut p| {
                p.passes.push((now, None));
                p.passes.len() - 1
            })
            .unwrap_or(usize::MAX)
    }

    fn end(&self, pass: usize) {
        let now = Instant::now();
        if let Ok(mut p) = self.passes.lock() {
            if let Some((_, end)) = p.passes.get_mut(pass) {
                end.get_or_insert(now);
            }
        }
    }
}

/// A validation loader that reports its passes to an [`EpochClock`].
struct ClockedLoader<B: Backend, O> {
    inner: Arc<dyn DataLoader<B, O>>,
    /// The device the strategy moved the loader to: queued training work on it is waited for
    /// before a pass starts, so that it counts as training.
    device: Option<B::Device>,
    clock: EpochClock,
}

impl<B: Backend, O: 'static> DataLoader<B, O> for ClockedLoader<B, O> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<O> + 'a> {
        if let Some(device) = &self.device {
            let _ = B::sync(device);
        }
        let pass = self.clock.begin();
        Box::new(ClockedPass {
            inner: self.inner.iter(),
            clock: &self.clock,
            pass,
        })
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, O>> {
        Arc::new(ClockedLoader {
            inner: self.inner.to_device(device),
            device: Some(device.clone()),
            clock: self.clock.clone(),
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, O>> {
        Arc::new(ClockedLoader {
            inner: self.inner.slice(start, end),
            device: self.device.clone(),
            clock: self.clock.clone(),
        })
    }
}

/// One pass: ends when the loader runs dry or the pass is dropped (an interrupted validation).
struct ClockedPass<'a, O> {
    inner: Box<dyn DataLoaderIterator<O> + 'a>,
    clock: &'a EpochClock,
    pass: usize,
}

impl<O> Iterator for ClockedPass<'_, O> {
    type Item = O;

    fn next(&mut self) -> Option<O> {
        let item = self.inner.next();
        if item.is_none() {
            self.clock.end(self.pass);
        }
        item
    }
}

impl<O> DataLoaderIterator<O> for ClockedPass<'_, O> {
    fn progress(&self) -> Progress {
        self.inner.progress()
    }
}

impl<O> Drop for ClockedPass<'_, O> {
    fn drop(&mut self) {
        self.clock.end(self.pass);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::sleep;
    use std::time::Duration;

    /// Validation passes of 200 ms after 20 ms and 40 ms of "training": the clock counts the
    /// training only (with the passes included the sums would be at least 220 and 460 ms).
    #[test]
    fn counts_the_time_between_validation_passes() {
        let clock = EpochClock::default();
        clock.start();
        for train_ms in [20, 40] {
            sleep(Duration::from_millis(train_ms));
            let pass = clock.begin();
            sleep(Duration::from_millis(200));
            clock.end(pass);
            clock.end(pass); // a pass that runs dry and is then dropped ends once
        }
        let seconds = clock.training_seconds();
        assert_eq!(seconds.len(), 2);
        assert!((0.020..0.200).contains(&seconds[0]), "{seconds:?}");
        assert!((0.060..0.260).contains(&seconds[1]), "{seconds:?}");
    }
}
