//! What a sweep writes under its output directory, one line per event so that an interrupted sweep
//! loses nothing: `epochs.csv` and `epochs.jsonl` (one row per run and epoch) and `runs.jsonl` (one
//! line per finished run, which a rerun reads to skip that run).

use super::CompareError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Validation scores of one run after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Method name (`cronos`, `cronos-am`, or an optimizer name).
    pub method: String,
    /// Learning rate of a tuned baseline; `None` for untuned methods.
    pub lr: Option<f64>,
    pub seed: u64,
    /// Epoch, from 1 (CRONOS reports its single solve as epoch 1).
    pub epoch: usize,
    /// Training seconds up to the end of this epoch, evaluation excluded.
    pub seconds: f64,
    pub val_accuracy: f64,
    /// Mean squared error over all target entries.
    pub val_loss: f64,
}

/// A finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub method: String,
    pub lr: Option<f64>,
    pub seed: u64,
    /// Training seconds of the whole run, evaluation excluded.
    pub seconds: f64,
    /// Highest validation accuracy over the epochs.
    pub peak_val_accuracy: f64,
    pub final_val_accuracy: f64,
}

/// Identity of a run: method, learning rate (as printed, so it survives a JSON round trip) and seed.
pub type RunKey = (String, String, u64);

/// The key of a run.
pub fn key(method: &str, lr: Option<f64>, seed: u64) -> RunKey {
    (method.to_string(), lr_text(lr), seed)
}

/// A learning rate as written in tables and keys (`-` for untuned methods).
pub fn lr_text(lr: Option<f64>) -> String {
    lr.map_or_else(|| "-".into(), |lr| format!("{lr:.3e}"))
}

/// Appends records to the files of `dir`.
pub struct RecordWriter {
    csv: File,
    epochs: File,
    runs: File,
    dir: PathBuf,
}

const CSV_HEADER: &str = "method,lr,seed,epoch,seconds,val_accuracy,val_loss\n";

impl RecordWriter {
    /// Opens (creating if needed) the record files under `dir`.
    pub fn open(dir: &Path) -> Result<Self, CompareError> {
        std::fs::create_dir_all(dir).map_err(|e| CompareError::io("create", dir, e))?;
        let append = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| CompareError::io("open", &path, e))
        };
        let mut csv = append("epochs.csv")?;
        let csv_path = dir.join("epochs.csv");
        let empty = csv
            .metadata()
            .map_err(|e| CompareError::io("read", &csv_path, e))?
            .len()
            == 0;
        if empty {
            csv.write_all(CSV_HEADER.as_bytes())
                .map_err(|e| CompareError::io("write", &csv_path, e))?;
        }
        Ok(Self {
            csv,
            epochs: append("epochs.jsonl")?,
            runs: append("runs.jsonl")?,
            dir: dir.to_path_buf(),
        })
    }

    /// Appends one epoch's scores to `epochs.csv` and `epochs.jsonl`.
    pub fn epoch(&mut self, r: &EpochRecord) -> Result<(), CompareError> {
        let line = format!(
            "{},{},{},{},{:.6},{:.6},{:.6e}\n",
            r.method,
            r.lr.map_or_else(String::new, |lr| format!("{lr:e}")),
            r.seed,
            r.epoch,
            r.seconds,
            r.val_accuracy,
            r.val_loss
        );
        let path = self.dir.join("epochs.csv");
        self.csv
            .write_all(line.as_bytes())
            .map_err(|e| CompareError::io("write", &path, e))?;
        json_line(&mut self.epochs, r, &self.dir.join("epochs.jsonl"))
    }

    /// Marks a run finished in `runs.jsonl`.
    pub fn run(&mut self, r: &RunRecord) -> Result<(), CompareError> {
        json_line(&mut self.runs, r, &self.dir.join("runs.jsonl"))
    }
}

fn json_line<T: Serialize>(file: &mut File, value: &T, path: &Path) -> Result<(), CompareError> {
    let mut line = serde_json::to_string(value)
        .map_err(|e| CompareError(format!("cannot serialize a record: {e}")))?;
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| CompareError::io("write", path, e))
}

/// Every record of a JSON-lines file (a torn last line, left by an interrupted write, is skipped).
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, CompareError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CompareError::io("open", path, e)),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| CompareError::io("read", path, e))?;
        if let Ok(value) = serde_json::from_str(&line) {
            out.push(value);
        }
    }
    Ok(out)
}

/// Finished runs, and the epoch records of those runs (the last record of each run and epoch, so
/// rows of an interrupted attempt that was later redone do not count twice).
pub fn load(dir: &Path) -> Result<(Vec<RunRecord>, Vec<EpochRecord>), CompareError> {
    let mut runs: Vec<RunRecord> = read_lines(&dir.join("runs.jsonl"))?;
    let mut seen = HashSet::new();
    runs.retain(|r| seen.insert(key(&r.method, r.lr, r.seed)));
    let epochs: Vec<EpochRecord> = read_lines(&dir.join("epochs.jsonl"))?;
    let mut latest = BTreeMap::new();
    for r in epochs {
        let k = key(&r.method, r.lr, r.seed);
        if seen.contains(&k) {
            latest.insert((k, r.epoch), r);
        }
    }
    Ok((runs, latest.into_values().collect()))
}
