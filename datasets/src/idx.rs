//! The IDX format of MNIST and Fashion-MNIST (<http://yann.lecun.com/exdb/mnist/>): a 4-byte
//! magic `0 0 type rank`, `rank` big-endian `u32` dimensions, then the values. Only unsigned bytes
//! (type `0x08`) occur in these datasets, so only they are read. Files may be gzipped; that is
//! detected from the gzip magic bytes, not the extension, so renamed files still load.

use std::io::{Read, Write};
use std::path::Path;

use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use crate::error::{read_bytes, DatasetError, Result};

/// IDX element type code for unsigned bytes.
const UBYTE: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An IDX array of unsigned bytes: its dimensions and its values in row-major order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (`[n, rows, cols]` for images, `[n]` for labels).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values.
    pub data: Vec<u8>,
}

/// Reads an IDX file, gzipped or not.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    parse_idx(&read_bytes(path)?, path)
}

/// Parses IDX bytes (gzipped or not); `path` only names the source in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let raw;
    let bytes = if bytes.starts_with(&GZIP_MAGIC) {
        raw = gunzip(bytes, path)?;
        &raw[..]
    } else {
        bytes
    };
    let bad = |problem: String| DatasetError::format(path, problem);
    let header = bytes.get(..4).ok_or_else(|| {
        bad(format!(
            "file has {} bytes, too short for the 4-byte IDX magic",
            bytes.len()
        ))
    })?;
    if header[..2] != [0, 0] {
        return Err(bad(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x}: expected 0000 followed by the type and rank",
            header[0], header[1], header[2], header[3]
        )));
    }
    if header[2] != UBYTE {
        return Err(bad(format!(
            "unsupported IDX element type 0x{:02x}: expected 0x08 (unsigned byte)",
            header[2]
        )));
    }
    let rank = usize::from(header[3]);
    let dims_end = 4 + 4 * rank;
    let dim_bytes = bytes.get(4..dims_end).ok_or_else(|| {
        bad(format!(
            "truncated header: rank {rank} needs {dims_end} bytes, file has {}",
            bytes.len()
        ))
    })?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let data = &bytes[dims_end..];
    if data.len() != expected {
        return Err(bad(format!(
            "dimensions {dims:?} need {expected} data bytes, found {} ({})",
            data.len(),
            if data.len() < expected {
                "truncated"
            } else {
                "trailing bytes"
            }
        )));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Encodes an unsigned-byte IDX array (not compressed).
pub fn encode_idx(array: &IdxArray) -> Result<Vec<u8>> {
    let expected: usize = array.dims.iter().product();
    let rank = u8::try_from(array.dims.len())
        .ok()
        .filter(|_| expected == array.data.len());
    let rank = rank.ok_or_else(|| {
        DatasetError::Invalid(format!(
            "IDX array with dimensions {:?} needs {expected} values, has {}",
            array.dims,
            array.data.len()
        ))
    })?;
    let mut out = Vec::with_capacity(4 + 4 * array.dims.len() + array.data.len());
    out.extend_from_slice(&[0, 0, UBYTE, rank]);
    for &d in &array.dims {
        let d = u32::try_from(d)
            .map_err(|_| DatasetError::Invalid(format!("IDX dimension {d} exceeds u32")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    Ok(out)
}

/// Writes an IDX array gzipped at the best compression level, as the official files are.
pub fn write_idx_gz(path: &Path, array: &IdxArray) -> Result<()> {
    let bytes = encode_idx(array)?;
    let io = |e| DatasetError::io(path, e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut encoder = GzEncoder::new(file, Compression::best());
    encoder.write_all(&bytes).map_err(io)?;
    encoder.finish().map_err(io)?;
    Ok(())
}

fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| DatasetError::format(path, format!("corrupt or truncated gzip data: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IdxArray {
        IdxArray {
            dims: vec![2, 2, 3],
            data: (0..12).collect(),
        }
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let raw = encode_idx(&sample()).unwrap();
        assert_eq!(&raw[..4], &[0, 0, 8, 3]);
        assert_eq!(parse_idx(&raw, Path::new("a")).unwrap(), sample());
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&raw).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(parse_idx(&gz, Path::new("a.gz")).unwrap(), sample());
    }

    #[test]
    fn rejects_bad_headers_and_sizes() {
        let raw = encode_idx(&sample()).unwrap();
        let err = |bytes: &[u8]| {
            parse_idx(bytes, Path::new("f.idx"))
                .unwrap_err()
                .to_string()
        };
        assert!(err(&raw[..2]).contains("too short"));
        assert!(err(&[1, 2, 8, 1, 0, 0, 0, 0]).contains("wrong magic number 01020801"));
        assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("element type 0x0d"));
        assert!(err(&raw[..10]).contains("truncated header"));
        let e = err(&raw[..raw.len() - 1]);
        assert!(
            e.contains("need 12 data bytes, found 11 (truncated)") && e.starts_with("f.idx"),
            "{e}"
        );
        let mut long = raw.clone();
        long.push(0);
        assert!(err(&long).contains("trailing bytes"));
        assert!(err(&[0x1f, 0x8b, 8, 0, 1]).contains("gzip"));
    }
}
