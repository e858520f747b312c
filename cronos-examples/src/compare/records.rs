//! What a sweep writes under its output directory, one line per event so that an interrupted sweep
//! loses nothing: `epochs.csv` and `epochs.jsonl` (one row per run and epoch) and `runs.jsonl` (one
//! line per finished run, which a rerun reads to skip that run).
//!
//! Each line is written by one `write_all` of the whole line to a file opened for appending, then
//! synced, so a crash leaves at most a torn last line, never a line split by another. Opening the
//! files cuts a torn last line off (with a warning), so the next record starts on a line of its own.
//! Every epoch row carries the attempt of its run (one per sweep invocation): when an interrupted
//! run is redone, its rows and the rerun's stay apart, and only the finished attempt is read back.

use crate::error::CliError;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// Mean squared error over all target entries; NaN once a run has diverged (written as `null`).
    #[serde(deserialize_with = "nan_if_null")]
    pub val_loss: f64,
    /// Regularized training objective after this epoch, at the run's beta: gradient methods on the
    /// two-layer network (CRONOS's path solves each have their own beta; its run records the chosen one).
    #[serde(default)]
    pub objective: Option<f64>,
    /// The attempt of the run this row belongs to (empty in records written before attempts).
    #[serde(default)]
    pub attempt: String,
}

/// A float that JSON holds as `null`, as serde_json writes NaN and the infinities: NaN. A run whose
/// learning rate makes it diverge has a NaN validation loss, and its epochs stay in the records.
fn nan_if_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
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
    /// Accuracy of the final network on the test set (CRONOS: of the network of the beta it
    /// chose); absent in records written before the data had a test set.
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// Regularized training objective of the final network, `1/2 ||f(X) - Y||^2 + beta/2 ||W||^2`
    /// (two-layer network only: the program CRONOS solves).
    #[serde(default)]
    pub objective: Option<f64>,
    /// CRONOS's certified lower bound on that objective (CRONOS runs on the two-layer network).
    #[serde(default)]
    pub lower_bound: Option<f64>,
    /// beta of the two-layer program the run trained (CRONOS: the one its path chose on validation).
    #[serde(default)]
    pub beta: Option<f64>,
    /// Seconds of `seconds` that CRONOS-AM spent solving its head.
    #[serde(default)]
    pub head_seconds: Option<f64>,
    /// The attempt whose epoch rows this run finished with (empty in records written before
    /// attempts).
    #[serde(default)]
    pub attempt: String,
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

/// A new attempt id: the start time in milliseconds and the process id, so two invocations on
/// the same output directory do not share one.
pub fn new_attempt() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis:x}-{:x}", std::process::id())
}

/// Appends records to the files of `dir`.
pub struct RecordWriter {
    csv: File,
    epochs: File,
    runs: File,
    dir: PathBuf,
}

const CSV_HEADER: &str = "method,lr,seed,epoch,seconds,val_accuracy,val_loss,objective,attempt\n";

/// One row of `epochs.csv`, fields quoted by the csv crate where they need it.
fn csv_line(r: &EpochRecord) -> Result<String, CliError> {
    let fields = [
        r.method.clone(),
        r.lr.map_or_else(String::new, |lr| format!("{lr:e}")),
        r.seed.to_string(),
        r.epoch.to_string(),
        format!("{:.6}", r.seconds),
        format!("{:.6}", r.val_accuracy),
        format!("{:.6e}", r.val_loss),
        r.objective.map_or_else(String::new, |o| format!("{o:.9e}")),
        r.attempt.clone(),
    ];
    let mut writer = csv::Writer::from_writer(Vec::new());
    let bytes = writer
        .write_record(&fields)
        .map_err(|e| e.to_string())
        .and_then(|()| writer.into_inner().map_err(|e| e.to_string()))
        .map_err(|e| CliError(format!("cannot format a CSV row: {e}")))?;
    String::from_utf8(bytes).map_err(|e| CliError(format!("cannot format a CSV row: {e}")))
}

impl RecordWriter {
    /// Opens (creating if needed) the record files under `dir`, cutting off a torn last line.
    /// An `epochs.csv` of an earlier layout is rewritten from `epochs.jsonl`.
    pub fn open(dir: &Path) -> Result<Self, CliError> {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io("create", dir, e))?;
        let open = |name: &str| {
            let path = dir.join(name);
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)
                .map_err(|e| CliError::io("open", &path, e))?;
            repair_torn_tail(&mut file, &path)?;
            Ok::<_, CliError>(file)
        };
        let mut writer = Self {
            csv: open("epochs.csv")?,
            epochs: open("epochs.jsonl")?,
            runs: open("runs.jsonl")?,
            dir: dir.to_path_buf(),
        };
        writer.check_csv_header()?;
        Ok(writer)
    }

    /// Writes the header into a new `epochs.csv`; one with another header is rewritten from
    /// `epochs.jsonl`, the complete record.
    fn check_csv_header(&mut self) -> Result<(), CliError> {
        let path = self.dir.join("epochs.csv");
        let mut first = String::new();
        (&self.csv)
            .seek(SeekFrom::Start(0))
            .and_then(|_| BufReader::new(&self.csv).read_line(&mut first))
            .map_err(|e| CliError::io("read", &path, e))?;
        if first == CSV_HEADER {
            return Ok(());
        }
        if !first.is_empty() {
            eprintln!(
                "warning: {} has the columns of an earlier version; rewritten from epochs.jsonl",
                path.display()
            );
        }
        let rows: Vec<EpochRecord> = read_lines(&self.dir.join("epochs.jsonl"))?;
        let mut text = CSV_HEADER.to_string();
        for row in &rows {
            text.push_str(&csv_line(row)?);
        }
        self.csv
            .set_len(0)
            .map_err(|e| CliError::io("write", &path, e))?;
        append_line(&mut self.csv, &text, &path)
    }

    /// Appends one epoch's scores to `epochs.csv` and `epochs.jsonl`.
    pub fn epoch(&mut self, r: &EpochRecord) -> Result<(), CliError> {
        append_line(&mut self.csv, &csv_line(r)?, &self.dir.join("epochs.csv"))?;
        json_line(&mut self.epochs, r, &self.dir.join("epochs.jsonl"))
    }

    /// Marks a run finished in `runs.jsonl`.
    pub fn run(&mut self, r: &RunRecord) -> Result<(), CliError> {
        json_line(&mut self.runs, r, &self.dir.join("runs.jsonl"))
    }
}

/// Cuts `file` after its last newline when it ends inside a line (a write interrupted by a crash
/// or a full disk), so the next record does not continue the torn one.
fn repair_torn_tail(file: &mut File, path: &Path) -> Result<(), CliError> {
    let io = |e| CliError::io("repair", path, e);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.last().is_none_or(|&b| b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    eprintln!(
        "warning: {}: dropped a torn last line of {} bytes (an interrupted write)",
        path.display(),
        bytes.len() - keep
    );
    file.set_len(keep as u64)
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// Appends `line` (ending in a newline) with one write, then syncs it to disk, so an interruption
/// leaves either the whole line or a torn tail that the next [`RecordWriter::open`] removes.
fn append_line(file: &mut File, line: &str, path: &Path) -> Result<(), CliError> {
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| CliError::io("write", path, e))
}

fn json_line<T: Serialize>(file: &mut File, value: &T, path: &Path) -> Result<(), CliError> {
    let mut line = serde_json::to_string(value)
        .map_err(|e| CliError(format!("cannot serialize a record: {e}")))?;
    line.push('\n');
    append_line(file, &line, path)
}

/// Every record of a JSON-lines file. A torn last line (no newline yet) is not read; a complete
/// line that is not a record is skipped with a warning naming it.
fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CliError::io("read", path, e)),
    };
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let mut out = Vec::new();
    for (i, line) in complete.lines().enumerate() {
        match serde_json::from_str(line) {
            Ok(value) => out.push(value),
            Err(e) => eprintln!(
                "warning: {} line {}: not a record ({e}), skipped",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(out)
}

/// Finished runs, and the epoch records of the attempt each finished with (records written before
/// attempts: the last record of each run and epoch), so rows of an interrupted attempt that was
/// later redone do not count.
pub fn load(dir: &Path) -> Result<(Vec<RunRecord>, Vec<EpochRecord>), CliError> {
    let mut runs: Vec<RunRecord> = read_lines(&dir.join("runs.jsonl"))?;
    let mut seen = HashSet::new();
    runs.retain(|r| seen.insert(key(&r.method, r.lr, r.seed)));
    let finished: BTreeMap<RunKey, &str> = runs
        .iter()
        .map(|r| (key(&r.method, r.lr, r.seed), r.attempt.as_str()))
        .collect();
    let epochs: Vec<EpochRecord> = read_lines(&dir.join("epochs.jsonl"))?;
    let mut latest = BTreeMap::new();
    for r in epochs {
        let k = key(&r.method, r.lr, r.seed);
        if finished.get(&k).is_some_and(|&a| a == r.attempt) {
            latest.insert((k, r.epoch), r);
        }
    }
    Ok((runs, latest.into_values().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(attempt: &str, epoch: usize) -> EpochRecord {
        EpochRecord {
            method: "adam".into(),
            lr: Some(1e-3),
            seed: 0,
            epoch,
            seconds: epoch as f64,
            val_accuracy: 0.5,
            val_loss: 0.25,
            objective: None,
            attempt: attempt.into(),
        }
    }

    fn run(attempt: &str) -> RunRecord {
        RunRecord {
            method: "adam".into(),
            lr: Some(1e-3),
            seed: 0,
            seconds: 2.0,
            peak_val_accuracy: 0.5,
            final_val_accuracy: 0.5,
            test_accuracy: None,
            objective: None,
            lower_bound: None,
            beta: None,
            head_seconds: None,
            attempt: attempt.into(),
        }
    }

    #[test]
    fn torn_last_lines_are_cut_on_open_so_the_next_records_parse() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RecordWriter::open(dir.path()).unwrap();
        writer.epoch(&epoch("a", 1)).unwrap();
        drop(writer);
        // An interrupted write of every file.
        for name in ["runs.jsonl", "epochs.jsonl", "epochs.csv"] {
            let mut file = OpenOptions::new()
                .append(true)
                .open(dir.path().join(name))
                .unwrap();
            file.write_all(b"{\"method\":\"torn").unwrap();
        }
        let mut writer = RecordWriter::open(dir.path()).unwrap();
        for name in ["runs.jsonl", "epochs.jsonl", "epochs.csv"] {
            let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'), "{name}: {text}");
            assert!(!text.contains("torn"), "{name}: {text}");
        }
        writer.epoch(&epoch("a", 2)).unwrap();
        writer.run(&run("a")).unwrap();
        let (runs, epochs) = load(dir.path()).unwrap();
        assert_eq!(runs, vec![run("a")]);
        assert_eq!(epochs, vec![epoch("a", 1), epoch("a", 2)]);
        let csv = std::fs::read_to_string(dir.path().join("epochs.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(csv.lines().all(|l| l.split(',').count() == 9), "{csv}");
    }

    /// A diverged run (SGD at a learning rate of 0.68 on the main job's two-layer task) has a NaN
    /// validation loss and objective, which JSON holds as `null`: its epochs are read back, not
    /// skipped as lines that are not records.
    #[test]
    fn the_epochs_of_a_diverged_run_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RecordWriter::open(dir.path()).unwrap();
        let diverged = EpochRecord {
            val_loss: f64::NAN,
            objective: Some(f64::NAN),
            ..epoch("a", 1)
        };
        writer.epoch(&diverged).unwrap();
        writer.run(&run("a")).unwrap();
        let (_, epochs) = load(dir.path()).unwrap();
        assert_eq!(epochs.len(), 1, "{epochs:?}");
        assert!(epochs[0].val_loss.is_nan(), "{epochs:?}");
        assert_eq!(epochs[0].objective, None);
        assert_eq!(epochs[0].val_accuracy, diverged.val_accuracy);
    }

    #[test]
    fn rows_of_an_interrupted_attempt_never_stand_in_for_the_finished_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RecordWriter::open(dir.path()).unwrap();
        // Attempt `a` is interrupted after its first epoch; the rerun `b` finishes, but its first
        // epoch row was lost.
        writer.epoch(&epoch("a", 1)).unwrap();
        writer.epoch(&epoch("b", 2)).unwrap();
        writer.run(&run("b")).unwrap();
        let (runs, epochs) = load(dir.path()).unwrap();
        assert_eq!(runs, vec![run("b")]);
        assert_eq!(epochs, vec![epoch("b", 2)]);
    }

    #[test]
    fn csv_of_an_earlier_layout_is_rewritten_from_the_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let old = epoch("", 1);
        std::fs::write(
            dir.path().join("epochs.jsonl"),
            serde_json::to_string(&old).unwrap() + "\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("epochs.csv"),
            "method,lr,seed,epoch,seconds,val_accuracy,val_loss\nadam,1e-3,0,1,1,0.5,0.25\n",
        )
        .unwrap();
        RecordWriter::open(dir.path()).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("epochs.csv")).unwrap();
        assert_eq!(csv, format!("{CSV_HEADER}{}", csv_line(&old).unwrap()));
    }
}
