//! Numeric tables in CSV: every column is a feature except one chosen label column. Labels that
//! are all non-negative integers are used as class indices; otherwise each distinct label string
//! becomes a class, numbered in sorted order (so `setosa, versicolor, virginica` are 0, 1, 2).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{DatasetError, Result};
use crate::labeled::LabeledSet;
use crate::matrix::Matrix;
use crate::real::Real;

/// Which column holds the labels.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum LabelColumn {
    /// The last column (the common layout).
    #[default]
    Last,
    /// A column by 0-based position.
    Index(usize),
    /// A column by its header name (requires a header row).
    Name(String),
}

impl FromStr for LabelColumn {
    type Err = DatasetError;

    /// `last`, a 0-based index, or a header name.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "last" => Self::Last,
            _ => s
                .parse()
                .map_or_else(|_| Self::Name(s.to_string()), Self::Index),
        })
    }
}

impl fmt::Display for LabelColumn {
    /// The spelling [`FromStr`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Last => write!(f, "last"),
            Self::Index(i) => write!(f, "{i}"),
            Self::Name(name) => write!(f, "{name}"),
        }
    }
}

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The label column.
    pub label_column: LabelColumn,
    /// Field delimiter.
    pub delimiter: u8,
    /// Whether the first row names the columns; `None` detects it (a first row with a
    /// non-numeric feature field is a header).
    pub has_header: Option<bool>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            label_column: LabelColumn::Last,
            delimiter: b',',
            has_header: None,
        }
    }
}

/// Reads a CSV file into a labelled set. Fields are parsed straight into `T`, so a decimal field
/// read as `f32` is rounded once (not through `f64`), and read as `f64` keeps every digit `f64`
/// can hold.
pub fn load<T: Real>(path: &Path, options: &CsvOptions) -> Result<LabeledSet<T>> {
    let bad = |problem: String| DatasetError::format(path, problem);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(false)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let mut records = Vec::new();
    for record in reader.records() {
        records.push(record.map_err(|e| csv_error(path, e))?);
    }
    let Some(first) = records.first() else {
        return Err(bad("file is empty: expected rows of numbers".into()));
    };
    let width = first.len();
    let label_col = match &options.label_column {
        LabelColumn::Last => width.checked_sub(1),
        LabelColumn::Index(i) => Some(*i).filter(|&i| i < width),
        LabelColumn::Name(name) => first.iter().position(|h| h.trim() == name),
    }
    .ok_or_else(|| {
        bad(format!(
            "label column {} not found among {width} columns",
            options.label_column
        ))
    })?;
    let has_header = options.has_header.unwrap_or_else(|| {
        matches!(options.label_column, LabelColumn::Name(_))
            || first
                .iter()
                .enumerate()
                .any(|(j, f)| j != label_col && f.trim().parse::<f32>().is_err())
    });
    let body = if has_header {
        &records[1..]
    } else {
        &records[..]
    };
    let mut data = Vec::with_capacity(body.len() * width.saturating_sub(1));
    let mut raw_labels = Vec::with_capacity(body.len());
    for (r, record) in body.iter().enumerate() {
        let line = r + 1 + usize::from(has_header);
        for (j, field) in record.iter().enumerate() {
            let field = field.trim();
            if j == label_col {
                raw_labels.push(field.to_string());
                continue;
            }
            let value: T = field.parse().map_err(|_| {
                bad(format!(
                    "line {line}, column {j}: expected a number, found '{field}'"
                ))
            })?;
            if !value.widen().is_finite() {
                // Finite as f64 but infinite as T: the value is beyond the f32 range.
                if field.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Err(DatasetError::OutOfRange {
                        path: path.to_path_buf(),
                        problem: format!(
                            "line {line}, column {j}: value {field} does not fit {}",
                            T::NAME
                        ),
                    });
                }
                return Err(bad(format!(
                    "line {line}, column {j}: value {value} is not finite"
                )));
            }
            data.push(value);
        }
    }
    let (labels, class_names) = encode_labels(&raw_labels);
    let x = Matrix::new(body.len(), width - 1, data)?;
    LabeledSet::new(x, labels, class_names, None)
}

/// Integer labels as they are (classes `0..=max`), other strings as sorted distinct classes.
fn encode_labels(raw: &[String]) -> (Vec<usize>, Vec<String>) {
    if let Some(indices) = raw
        .iter()
        .map(|s| s.parse::<usize>().ok())
        .collect::<Option<Vec<_>>>()
    {
        let k = indices.iter().max().map_or(0, |&m| m + 1);
        return (indices, (0..k).map(|i| i.to_string()).collect());
    }
    let mut names: Vec<String> = raw.to_vec();
    names.sort();
    names.dedup();
    let labels = raw
        .iter()
        .map(|s| names.binary_search(s).unwrap_or_default())
        .collect();
    (labels, names)
}

fn csv_error(path: &Path, e: ::csv::Error) -> DatasetError {
    let message = e.to_string();
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => DatasetError::io(path, io),
        _ => DatasetError::format(path, format!("malformed CSV: {message}")),
    }
}
