//! CIFAR-10 (<https://www.cs.toronto.edu/~kriz/cifar.html>) in both official distributions:
//!
//! * binary: `data_batch_{1..5}.bin` and `test_batch.bin`, records of 3073 bytes (a label byte,
//!   then 3072 pixels, the red plane, the green plane, the blue plane, each 32x32 row-major), and
//!   class names in `batches.meta.txt`;
//! * Python: `data_batch_{1..5}` and `test_batch`, each a pickled dict whose `data` is a
//!   `10000 x 3072` `uint8` numpy array in the same CHW layout and whose `labels` is a list of
//!   ints, written by Python 2 `cPickle` with protocol 2; class names in `batches.meta`.
//!
//! A numpy array pickles as `_reconstruct(ndarray, (0,), b'b')` followed by a `BUILD` with the
//! state tuple `(version, shape, dtype, is_fortran, raw_bytes)`. `serde-pickle` keeps that state
//! (with `keep_restore_state`) in place of the opaque object, which is all we need.
//! Pixels are returned as stored, `0..=255` in `f32`.
//!
//! Every official batch holds [`RECORDS_PER_BATCH`] records, and [`load_dir`] requires that count:
//! a binary batch cut on a record boundary (or an empty one) still parses, and only the count
//! tells it apart from a whole one. [`load_dir_sized`] takes other counts for subsets written in
//! the official layout, such as the test fixtures.

use std::path::{Path, PathBuf};

use serde_pickle::{DeOptions, HashableValue, Value};

use crate::error::{read_bytes, DatasetError, Result};
use crate::labeled::{ImageShape, LabeledSet};
use crate::matrix::Matrix;

/// CIFAR-10 class names, by label (used when the meta file is absent).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Layout of one CIFAR image.
pub const CIFAR_IMAGE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// Records in each official batch, training and test alike.
pub const RECORDS_PER_BATCH: usize = 10_000;

/// Records each batch of a directory must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSizes {
    /// Records in each of `data_batch_1` to `data_batch_5`.
    pub train: usize,
    /// Records in `test_batch`.
    pub test: usize,
}

impl BatchSizes {
    /// The official distribution's: 10,000 records in every batch.
    pub const OFFICIAL: Self = Self {
        train: RECORDS_PER_BATCH,
        test: RECORDS_PER_BATCH,
    };
}

const PIXELS: usize = 3072;
const RECORD: usize = PIXELS + 1;

/// Which official distribution a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarFormat {
    /// `cifar-10-batches-bin`.
    Binary,
    /// `cifar-10-batches-py`.
    Python,
}

impl CifarFormat {
    fn batch_file(self, stem: &str) -> String {
        match self {
            Self::Binary => format!("{stem}.bin"),
            Self::Python => stem.to_string(),
        }
    }
}

/// Finds the batches in `dir` or in its `cifar-10-batches-bin` / `cifar-10-batches-py`
/// sub-folder (the folder the official archives unpack to).
pub fn locate(dir: &Path) -> Result<(PathBuf, CifarFormat)> {
    let candidates = [
        (dir.to_path_buf(), CifarFormat::Binary),
        (dir.to_path_buf(), CifarFormat::Python),
        (dir.join("cifar-10-batches-bin"), CifarFormat::Binary),
        (dir.join("cifar-10-batches-py"), CifarFormat::Python),
    ];
    candidates
        .into_iter()
        .find(|(d, f)| d.join(f.batch_file("data_batch_1")).is_file())
        .ok_or_else(|| {
            DatasetError::format(
                dir,
                "no CIFAR-10 batches: expected data_batch_1.bin (binary) or data_batch_1 (Python), \
                 here or in cifar-10-batches-bin/ or cifar-10-batches-py/",
            )
        })
}

/// Loads `(train, test)`: the five training batches and the test batch, in either format, each
/// holding the official [`RECORDS_PER_BATCH`] records.
pub fn load_dir(dir: &Path) -> Result<(LabeledSet, LabeledSet)> {
    load_dir_sized(dir, BatchSizes::OFFICIAL)
}

/// [`load_dir`] for batches of `sizes` records instead of the official count.
pub fn load_dir_sized(dir: &Path, sizes: BatchSizes) -> Result<(LabeledSet, LabeledSet)> {
    let (dir, format) = locate(dir)?;
    let class_names = read_class_names(&dir, format)?;
    let read = |stem: &str, records: usize| {
        let path = dir.join(format.batch_file(stem));
        let bytes = read_bytes(&path)?;
        let (pixels, labels) = match format {
            CifarFormat::Binary => parse_binary(&bytes, &path),
            CifarFormat::Python => parse_pickle(&bytes, &path),
        }?;
        check_count(labels.len(), records, &path)?;
        Ok::<_, DatasetError>((pixels, labels))
    };
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for b in 1..=5 {
        let (p, l) = read(&format!("data_batch_{b}"), sizes.train)?;
        pixels.extend(p);
        labels.extend(l);
    }
    let train = to_set(pixels, labels, &class_names)?;
    let (p, l) = read("test_batch", sizes.test)?;
    Ok((train, to_set(p, l, &class_names)?))
}

fn check_count(found: usize, expected: usize, path: &Path) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    let why = if expected == RECORDS_PER_BATCH {
        "as every batch of the official CIFAR-10 distribution: cut short on a record boundary, \
         or not an official batch"
    } else {
        "as the batch size given"
    };
    Err(DatasetError::format(
        path,
        format!("holds {found} records, expected {expected} {why}"),
    ))
}

fn to_set(pixels: Vec<u8>, labels: Vec<usize>, class_names: &[String]) -> Result<LabeledSet> {
    let x = Matrix::new(
        labels.len(),
        PIXELS,
        pixels.into_iter().map(f32::from).collect(),
    )?;
    LabeledSet::new(x, labels, class_names.to_vec(), Some(CIFAR_IMAGE))
}

/// Class names from `batches.meta.txt` or `batches.meta`, or [`CIFAR10_CLASSES`] when absent.
fn read_class_names(dir: &Path, format: CifarFormat) -> Result<Vec<String>> {
    let names = match format {
        CifarFormat::Binary => {
            let path = dir.join("batches.meta.txt");
            if !path.is_file() {
                return Ok(default_names());
            }
            let text = String::from_utf8(read_bytes(&path)?)
                .map_err(|e| DatasetError::format(&path, format!("not UTF-8 text: {e}")))?;
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            (path, names)
        }
        CifarFormat::Python => {
            let path = dir.join("batches.meta");
            if !path.is_file() {
                return Ok(default_names());
            }
            let dict = unpickle_dict(&read_bytes(&path)?, &path)?;
            let list = match dict_get(&dict, "label_names") {
                Some(Value::List(l)) => l,
                other => return Err(wrong_entry(&path, "label_names", "a list", other)),
            };
            let names = list
                .iter()
                .map(|v| match v {
                    Value::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong_entry(&path, "label_names", "strings", Some(other))),
                })
                .collect::<Result<Vec<_>>>()?;
            (path, names)
        }
    };
    let (path, names) = names;
    if names.len() != CIFAR10_CLASSES.len() {
        return Err(DatasetError::format(
            &path,
            format!("expected 10 class names, found {}", names.len()),
        ));
    }
    Ok(names)
}

fn default_names() -> Vec<String> {
    CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
}

/// Parses a binary batch into CHW pixels and labels.
pub fn parse_binary(bytes: &[u8], path: &Path) -> Result<(Vec<u8>, Vec<usize>)> {
    if bytes.len() % RECORD != 0 {
        return Err(DatasetError::format(
            path,
            format!(
                "size {} is not a multiple of the {RECORD}-byte record (1 label + {PIXELS} pixels): \
                 truncated or not a CIFAR-10 binary batch",
                bytes.len()
            ),
        ));
    }
    let n = bytes.len() / RECORD;
    let mut pixels = Vec::with_capacity(n * PIXELS);
    let mut labels = Vec::with_capacity(n);
    for record in bytes.chunks_exact(RECORD) {
        labels.push(usize::from(record[0]));
        pixels.extend_from_slice(&record[1..]);
    }
    check_labels(&labels, path)?;
    Ok((pixels, labels))
}

/// Parses a pickled Python batch into CHW pixels and labels.
pub fn parse_pickle(bytes: &[u8], path: &Path) -> Result<(Vec<u8>, Vec<usize>)> {
    let dict = unpickle_dict(bytes, path)?;
    let labels = match dict_get(&dict, "labels") {
        Some(Value::List(l)) => l
            .iter()
            .map(|v| match v {
                Value::I64(i) => usize::try_from(*i).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>(),
        _ => None,
    }
    .ok_or_else(|| {
        wrong_entry(
            path,
            "labels",
            "a list of non-negative ints",
            dict_get(&dict, "labels"),
        )
    })?;
    let pixels = numpy_uint8_matrix(dict_get(&dict, "data"), path)?;
    let rows = pixels.len() / PIXELS;
    if rows != labels.len() {
        return Err(DatasetError::format(
            path,
            format!(
                "'data' has {rows} rows but 'labels' has {} entries",
                labels.len()
            ),
        ));
    }
    check_labels(&labels, path)?;
    Ok((pixels, labels))
}

fn check_labels(labels: &[usize], path: &Path) -> Result<()> {
    match labels.iter().enumerate().find(|(_, &l)| l >= 10) {
        Some((i, l)) => Err(DatasetError::format(
            path,
            format!("label {l} of record {i} is out of range: expected 0..=9"),
        )),
        None => Ok(()),
    }
}

fn unpickle_dict(bytes: &[u8], path: &Path) -> Result<Vec<(HashableValue, Value)>> {
    let options = DeOptions::new()
        .keep_restore_state()
        .replace_unresolved_globals();
    match serde_pickle::value_from_slice(bytes, options) {
        Ok(Value::Dict(d)) => Ok(d.into_iter().collect()),
        Ok(other) => Err(DatasetError::format(
            path,
            format!("expected a pickled dict, found {}", describe(&other)),
        )),
        Err(e) => Err(DatasetError::format(
            path,
            format!("corrupt or truncated pickle: {e}"),
        )),
    }
}

/// Looks `key` up whether the pickle stored it as a Python 2 `str` (bytes) or a `unicode`.
fn dict_get<'a>(dict: &'a [(HashableValue, Value)], key: &str) -> Option<&'a Value> {
    dict.iter().find_map(|(k, v)| match k {
        HashableValue::Bytes(b) if b == key.as_bytes() => Some(v),
        HashableValue::String(s) if s == key => Some(v),
        _ => None,
    })
}

fn wrong_entry(path: &Path, key: &str, expected: &str, found: Option<&Value>) -> DatasetError {
    let found = found.map_or_else(|| "no such key".to_string(), describe);
    DatasetError::format(
        path,
        format!("entry '{key}': expected {expected}, found {found}"),
    )
}

fn describe(value: &Value) -> String {
    match value {
        Value::None => "None".into(),
        Value::Bool(_) => "a bool".into(),
        Value::I64(_) | Value::Int(_) => "an int".into(),
        Value::F64(_) => "a float".into(),
        Value::Bytes(b) => format!("{} bytes", b.len()),
        Value::String(_) => "a string".into(),
        Value::List(l) => format!("a list of {}", l.len()),
        Value::Tuple(t) => format!("a tuple of {}", t.len()),
        Value::Set(_) | Value::FrozenSet(_) => "a set".into(),
        Value::Dict(_) => "a dict".into(),
    }
}

/// Extracts the raw bytes of a C-ordered `n x 3072` `uint8` numpy array from its pickled state
/// `(version, shape, dtype, is_fortran, raw)`.
fn numpy_uint8_matrix(value: Option<&Value>, path: &Path) -> Result<Vec<u8>> {
    let expected = "a numpy array state (version, shape, dtype, is_fortran, data)";
    let Some(Value::Tuple(state)) = value else {
        return Err(wrong_entry(path, "data", expected, value));
    };
    let [_, Value::Tuple(shape), _, Value::Bool(fortran), raw] = state.as_slice() else {
        return Err(wrong_entry(path, "data", expected, value));
    };
    let shape: Option<Vec<usize>> = shape
        .iter()
        .map(|d| match d {
            Value::I64(i) => usize::try_from(*i).ok(),
            _ => None,
        })
        .collect();
    let rows = match shape.as_deref() {
        Some(&[rows, PIXELS]) => rows,
        _ => {
            return Err(DatasetError::format(
                path,
                format!("'data' must have shape (n, {PIXELS}), found {shape:?}"),
            ))
        }
    };
    if *fortran {
        return Err(DatasetError::format(
            path,
            "'data' is Fortran-ordered; expected C order as in the official files",
        ));
    }
    let raw = match raw {
        Value::Bytes(b) => b,
        other => return Err(wrong_entry(path, "data", "raw array bytes", Some(other))),
    };
    if raw.len() != rows * PIXELS {
        return Err(DatasetError::format(
            path,
            format!(
                "'data' of shape ({rows}, {PIXELS}) holds {} bytes, expected {} (one uint8 per pixel)",
                raw.len(),
                rows * PIXELS
            ),
        ));
    }
    Ok(raw.clone())
}
