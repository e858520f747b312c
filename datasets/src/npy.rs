//! Feature matrices saved by numpy: single arrays in `.npy` files and named arrays in `.npz`
//! archives (read with `npyz`). Floats (`float32`, `float64`), signed and unsigned integers and
//! booleans of either byte order are accepted and converted to the matrix precision `T` (`f32` or
//! `f64`; a `float64` file read as `f64` keeps every bit); anything else, an array of the wrong
//! rank, a NaN/Inf value, or a value beyond the range of `T` is an error naming the file and the
//! array.
//!
//! Two layouts are understood:
//! * a classification set: `X` (`n x d`) with integer labels `y` (`n`), or targets `Y`
//!   (`n x c` one-hot or scores, argmax gives the class; `n` or `n x 1` of +-1 or class indices),
//!   and optionally a held-out part with the suffix `_test` or `_val` (`X_test`, `y_test`, ...);
//!   in an `.npz` archive or as `X.npy`, `y.npy`, ... in a directory;
//! * a regression or multi-output "problem": [`Problem`], `X`, `Y`, optional `X_val`, `Y_val`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::{npz::NpzArchive, DType, NpyFile, NpyHeader, Order, TypeChar};

use crate::error::{read_bytes, DatasetError, Result};
use crate::labeled::LabeledSet;
use crate::matrix::Matrix;
use crate::real::{narrow_checked, Real, Unrepresentable};

/// Arrays of an NPZ problem file: training inputs and targets, and an optional validation pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem<T = f32> {
    /// `n x d` inputs (`X`).
    pub x: Matrix<T>,
    /// `n x c` targets (`Y`; a vector is read as one column).
    pub y: Matrix<T>,
    /// `m x d` validation inputs (`X_val`).
    pub x_val: Option<Matrix<T>>,
    /// `m x c` validation targets (`Y_val`).
    pub y_val: Option<Matrix<T>>,
}

/// Reads a rank-2 array (a rank-1 array becomes one column) from a `.npy` file.
pub fn read_npy_matrix<T: Real>(path: &Path) -> Result<Matrix<T>> {
    parse_npy(read_bytes(path)?, path.to_path_buf())?.into_matrix()
}

/// Reads integer class labels (rank 1, or `n x 1`) from a `.npy` file.
pub fn read_npy_labels(path: &Path) -> Result<Vec<usize>> {
    parse_npy(read_bytes(path)?, path.to_path_buf())?.into_labels()
}

/// Reads `X`, `Y` and the optional `X_val`, `Y_val` from an `.npz` archive, checking that rows
/// of inputs and targets agree and that validation arrays have the training widths.
pub fn read_problem_npz<T: Real>(path: &Path) -> Result<Problem<T>> {
    let mut arrays = Arrays::open_npz(path)?;
    let x = arrays.require("X")?.into_matrix()?;
    let y = arrays.require("Y")?.into_matrix()?;
    check_rows(path, ("X", &x), ("Y", &y))?;
    let x_val = arrays.get("X_val")?.map(NdArray::into_matrix).transpose()?;
    let y_val = arrays.get("Y_val")?.map(NdArray::into_matrix).transpose()?;
    match (&x_val, &y_val) {
        (Some(xv), Some(yv)) => {
            check_rows(path, ("X_val", xv), ("Y_val", yv))?;
            check_cols(path, ("X", &x), ("X_val", xv))?;
            check_cols(path, ("Y", &y), ("Y_val", yv))?;
        }
        (None, None) => {}
        _ => {
            return Err(DatasetError::format(
                path,
                "X_val and Y_val must be given together, found only one of them",
            ))
        }
    }
    Ok(Problem { x, y, x_val, y_val })
}

/// Reads the array `name` of an `.npz` archive as a matrix (rank 0 becomes `1 x 1`, rank 1 one
/// column), e.g. gate vectors or reference values stored beside a problem.
pub fn read_npz_matrix<T: Real>(path: &Path, name: &str) -> Result<Matrix<T>> {
    Arrays::open_npz(path)?.require(name)?.into_matrix()
}

/// Reads `X` of an `.npz` archive and `Y` when present (inputs whose targets are optional, as for
/// predictions), checking that `Y` has a row per row of `X`.
pub fn read_inputs_npz<T: Real>(path: &Path) -> Result<(Matrix<T>, Option<Matrix<T>>)> {
    let mut arrays = Arrays::open_npz(path)?;
    let x = arrays.require("X")?.into_matrix()?;
    let y = arrays.get("Y")?.map(NdArray::into_matrix).transpose()?;
    if let Some(y) = &y {
        check_rows(path, ("X", &x), ("Y", y))?;
    }
    Ok((x, y))
}

/// Loads a classification set (and its held-out part, if present) from an `.npz` archive.
pub fn load_npz<T: Real>(path: &Path) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    load_labeled(Arrays::open_npz(path)?)
}

/// Loads a classification set from `X.npy`, `y.npy` (or `Y.npy`), ... in a directory.
pub fn load_npy_dir<T: Real>(dir: &Path) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    load_labeled(Arrays::Dir(dir.to_path_buf()))
}

fn load_labeled<T: Real>(mut arrays: Arrays) -> Result<(LabeledSet<T>, Option<LabeledSet<T>>)> {
    let train = labeled_part(&mut arrays, "")?.ok_or_else(|| arrays.missing("X"))?;
    let test = match labeled_part(&mut arrays, "_test")? {
        Some(part) => Some(part),
        None => labeled_part(&mut arrays, "_val")?,
    };
    if let Some(test) = &test {
        if test.x.cols != train.x.cols {
            return Err(DatasetError::format(
                &arrays.location(),
                format!(
                    "held-out X has {} columns, training X has {}",
                    test.x.cols, train.x.cols
                ),
            ));
        }
    }
    // Both parts share one set of classes, enough for the labels of either.
    let k = train
        .num_classes
        .max(test.as_ref().map_or(0, |t| t.num_classes));
    let to_set = |part: Part<T>| LabeledSet::new(part.x, part.labels, numbered_classes(k), None);
    Ok((to_set(train)?, test.map(to_set).transpose()?))
}

/// Features, labels, and the number of classes they imply.
struct Part<T> {
    x: Matrix<T>,
    labels: Vec<usize>,
    num_classes: usize,
}

/// Reads `X{suffix}` and its labels; `None` when `X{suffix}` is absent.
fn labeled_part<T: Real>(arrays: &mut Arrays, suffix: &str) -> Result<Option<Part<T>>> {
    let Some(x) = arrays.get(&format!("X{suffix}"))? else {
        return Ok(None);
    };
    let x = x.into_matrix()?;
    let (labels, columns) = if let Some(y) = arrays.get(&format!("y{suffix}"))? {
        (y.into_labels()?, 0)
    } else if let Some(y) = arrays.get(&format!("Y{suffix}"))? {
        let name = y.name.clone();
        let y = y.into_matrix::<T>()?;
        let labels =
            labels_from_targets(&y).map_err(|problem| DatasetError::format(&name, problem))?;
        // One-hot targets name every class, even one absent from this part.
        (labels, if y.cols > 1 { y.cols } else { 0 })
    } else {
        return Err(arrays.missing(&format!("y{suffix} (or Y{suffix})")));
    };
    if labels.len() != x.rows {
        return Err(DatasetError::format(
            &arrays.location(),
            format!(
                "X{suffix} has {} rows but its labels have {} entries",
                x.rows,
                labels.len()
            ),
        ));
    }
    let num_classes = labels.iter().max().map_or(0, |&m| m + 1).max(columns);
    Ok(Some(Part {
        x,
        labels,
        num_classes,
    }))
}

fn numbered_classes(k: usize) -> Vec<String> {
    (0..k).map(|i| i.to_string()).collect()
}

/// Class labels from a target matrix: the argmax of each row when there are several columns;
/// for one column, +-1 targets map to classes 0 (-1) and 1 (+1), non-negative integers are
/// taken as they are. Real-valued single columns (regression targets) are rejected.
pub fn labels_from_targets<T: Real>(y: &Matrix<T>) -> std::result::Result<Vec<usize>, String> {
    if y.cols > 1 {
        return Ok(y
            .row_iter()
            .map(|row| {
                row.iter()
                    .map(|&v| v.widen())
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (j, v)| {
                        if v > best.1 {
                            (j, v)
                        } else {
                            best
                        }
                    })
                    .0
            })
            .collect());
    }
    let values = || y.data.iter().map(|&v| v.widen());
    if values().all(|v| v == -1.0 || v == 1.0) {
        return Ok(values().map(|v| usize::from(v > 0.0)).collect());
    }
    values()
        .map(|v| (v >= 0.0 && v.fract() == 0.0).then_some(v as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            "one column of real values: expected +-1 targets or class indices (regression \
             targets cannot be used as labels)"
                .to_string()
        })
}

fn check_rows<T>(path: &Path, a: (&str, &Matrix<T>), b: (&str, &Matrix<T>)) -> Result<()> {
    if a.1.rows == b.1.rows {
        return Ok(());
    }
    Err(DatasetError::format(
        path,
        format!("{} has {} rows but {} has {}", a.0, a.1.rows, b.0, b.1.rows),
    ))
}

fn check_cols<T>(path: &Path, a: (&str, &Matrix<T>), b: (&str, &Matrix<T>)) -> Result<()> {
    if a.1.cols == b.1.cols {
        return Ok(());
    }
    Err(DatasetError::format(
        path,
        format!(
            "{} has {} columns but {} has {}",
            b.0, b.1.cols, a.0, a.1.cols
        ),
    ))
}

/// Named arrays: members of an `.npz` archive or `<name>.npy` files in a directory.
enum Arrays {
    Npz {
        path: PathBuf,
        archive: NpzArchive<BufReader<File>>,
    },
    Dir(PathBuf),
}

impl Arrays {
    fn open_npz(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| DatasetError::io(path, e))?;
        let archive = NpzArchive::new(BufReader::new(file)).map_err(|e| {
            DatasetError::format(path, format!("not a valid NPZ (zip) archive: {e}"))
        })?;
        Ok(Self::Npz {
            path: path.to_path_buf(),
            archive,
        })
    }

    fn location(&self) -> PathBuf {
        match self {
            Self::Npz { path, .. } | Self::Dir(path) => path.clone(),
        }
    }

    fn missing(&self, name: &str) -> DatasetError {
        DatasetError::format(
            &self.location(),
            format!("required array {name} is missing"),
        )
    }

    fn require(&mut self, name: &str) -> Result<NdArray> {
        self.get(name)?.ok_or_else(|| self.missing(name))
    }

    fn get(&mut self, name: &str) -> Result<Option<NdArray>> {
        match self {
            Self::Npz { path, archive } => {
                let member = PathBuf::from(format!("{}:{name}", path.display()));
                let bad = |e: std::io::Error| {
                    DatasetError::format(&member, format!("corrupt or truncated member: {e}"))
                };
                if !archive.array_names().any(|n| n == name) {
                    return Ok(None);
                }
                let file_name = npyz::npz::file_name_from_array_name(name);
                let mut file = archive
                    .zip_archive()
                    .by_name(&file_name)
                    .map_err(|e| bad(std::io::Error::other(e.to_string())))?;
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(bad)?;
                parse_npy(bytes, member).map(Some)
            }
            Self::Dir(dir) => {
                let path = dir.join(format!("{name}.npy"));
                if !path.is_file() {
                    return Ok(None);
                }
                parse_npy(read_bytes(&path)?, path).map(Some)
            }
        }
    }
}

/// A numpy array converted to `f64` values in C order.
struct NdArray {
    name: PathBuf,
    shape: Vec<usize>,
    values: Vec<f64>,
    integer: bool,
}

fn parse_npy(bytes: Vec<u8>, name: PathBuf) -> Result<NdArray> {
    let bad = |problem: String| DatasetError::format(&name, problem);
    let mut rest: &[u8] = &bytes;
    let header = NpyHeader::from_reader(&mut rest)
        .map_err(|e| bad(format!("not a valid NPY header: {e}")))?;
    let DType::Plain(type_str) = header.dtype() else {
        return Err(bad(format!(
            "unsupported structured dtype {}: expected a plain numeric array",
            header.dtype().descr()
        )));
    };
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let size = type_str.num_bytes().unwrap_or(0);
    let needed = count.saturating_mul(size);
    if rest.len() < needed {
        return Err(bad(format!(
            "truncated: shape {shape:?} of {type_str} needs {needed} data bytes, found {}",
            rest.len()
        )));
    }
    let order = header.order();
    let file = NpyFile::with_header(header, rest);
    let integer = matches!(
        type_str.type_char(),
        TypeChar::Int | TypeChar::Uint | TypeChar::Bool
    );
    let values = match (type_str.type_char(), type_str.size_field()) {
        (TypeChar::Float, 4) => convert::<f32>(file, f64::from),
        (TypeChar::Float, 8) => convert::<f64>(file, |v| v),
        (TypeChar::Int, 1) => convert::<i8>(file, f64::from),
        (TypeChar::Int, 2) => convert::<i16>(file, f64::from),
        (TypeChar::Int, 4) => convert::<i32>(file, f64::from),
        (TypeChar::Int, 8) => convert::<i64>(file, |v| v as f64),
        (TypeChar::Uint, 1) => convert::<u8>(file, f64::from),
        (TypeChar::Uint, 2) => convert::<u16>(file, f64::from),
        (TypeChar::Uint, 4) => convert::<u32>(file, f64::from),
        (TypeChar::Uint, 8) => convert::<u64>(file, |v| v as f64),
        (TypeChar::Bool, 1) => convert::<bool>(file, |v| f64::from(u8::from(v))),
        _ => {
            return Err(bad(format!(
                "unsupported dtype {type_str}: expected float32, float64, an integer or bool type"
            )))
        }
    }
    .map_err(|e| bad(format!("cannot read data: {e}")))?;
    let values = match (order, shape.as_slice()) {
        (Order::Fortran, &[rows, cols]) => transpose_fortran(&values, rows, cols),
        _ => values,
    };
    Ok(NdArray {
        name,
        shape,
        values,
        integer,
    })
}

fn convert<T: npyz::Deserialize>(
    file: NpyFile<&[u8]>,
    to_f64: impl Fn(T) -> f64,
) -> std::io::Result<Vec<f64>> {
    Ok(file.into_vec::<T>()?.into_iter().map(to_f64).collect())
}

/// Column-major `rows x cols` values to row-major.
fn transpose_fortran(values: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; values.len()];
    for (k, &v) in values.iter().enumerate() {
        let (i, j) = (k % rows, k / rows);
        out[i * cols + j] = v;
    }
    out
}

impl NdArray {
    fn error(&self, problem: String) -> DatasetError {
        DatasetError::format(&self.name, problem)
    }

    /// Rank 2 as is, rank 1 as one column; every value must be finite and fit `T`.
    fn into_matrix<T: Real>(self) -> Result<Matrix<T>> {
        let (rows, cols) = match self.shape.as_slice() {
            &[rows, cols] => (rows, cols),
            &[rows] => (rows, 1),
            &[] => (1, 1),
            other => {
                return Err(self.error(format!(
                    "expected a matrix (rank 2), a vector (rank 1) or a scalar, found rank {} with shape {other:?}",
                    other.len()
                )))
            }
        };
        let mut data = Vec::with_capacity(self.values.len());
        for (k, &v) in self.values.iter().enumerate() {
            let at = || format!("row {}, column {}", k / cols.max(1), k % cols.max(1));
            match narrow_checked::<T>(v) {
                Ok(t) => data.push(t),
                Err(Unrepresentable::NotFinite) => {
                    return Err(self.error(format!(
                        "value at {} is {v} (expected a finite number)",
                        at()
                    )))
                }
                Err(Unrepresentable::Overflow) => {
                    return Err(DatasetError::OutOfRange {
                        path: self.name,
                        problem: format!("value {v:e} at {} does not fit {}", at(), T::NAME),
                    })
                }
            }
        }
        Matrix::new(rows, cols, data)
    }

    /// Rank 1 or `n x 1` of non-negative integers.
    fn into_labels(self) -> Result<Vec<usize>> {
        if !matches!(self.shape.as_slice(), &[_] | &[_, 1]) {
            return Err(self.error(format!(
                "labels must have shape (n,) or (n, 1), found {:?}",
                self.shape
            )));
        }
        if !self.integer {
            return Err(self.error(
                "labels must have an integer dtype, found a float array (use Y for float targets)"
                    .into(),
            ));
        }
        match self.values.iter().position(|&v| v < 0.0) {
            Some(i) => {
                Err(self.error(format!("label {} at index {i} is negative", self.values[i])))
            }
            None => Ok(self.values.iter().map(|&v| v as usize).collect()),
        }
    }
}

/// A row-major `rows x cols` f64 matrix as the bytes of an `.npy` file, for writers that put the
/// whole file in place at once. Panics if `values` does not hold `rows x cols` entries.
pub fn npy_bytes(rows: usize, cols: usize, values: &[f64]) -> Vec<u8> {
    use npyz::WriterBuilder;
    assert_eq!(
        values.len(),
        rows * cols,
        "npy_bytes: values do not fill the shape"
    );
    let mut out = Vec::new();
    // Writing into memory cannot fail.
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[rows as u64, cols as u64])
        .writer(&mut out)
        .begin_nd()
        .expect("npy header in memory");
    writer
        .extend(values.iter().copied())
        .expect("npy data in memory");
    writer.finish().expect("npy file in memory");
    out
}

/// Writes named f64 arrays (`(name, shape, row-major values)`) as an uncompressed (stored) `.npz` archive
/// that numpy reads with `np.load`; a 0-d array (empty shape) is a scalar.
pub fn write_npz(path: &Path, arrays: &[(&str, &[usize], &[f64])]) -> Result<()> {
    use npyz::WriterBuilder;
    let io = |e: std::io::Error| DatasetError::io(path, e);
    let mut npz = npyz::npz::NpzWriter::create(path).map_err(io)?;
    for &(name, shape, values) in arrays {
        let expected: usize = shape.iter().product();
        if expected != values.len() {
            return Err(DatasetError::format(
                path,
                format!(
                    "array `{name}`: shape {shape:?} needs {expected} values, found {}",
                    values.len()
                ),
            ));
        }
        let shape: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
        let mut writer = npz
            .array::<f64>(
                name,
                zip::write::FileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )
            .map_err(io)?
            .default_dtype()
            .shape(&shape)
            .begin_nd()
            .map_err(io)?;
        writer.extend(values.iter().copied()).map_err(io)?;
        writer.finish().map_err(io)?;
    }
    npz.zip_writer().finish().map_err(|e| io(e.into()))?;
    Ok(())
}
