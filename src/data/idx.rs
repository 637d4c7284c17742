//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero
//! bytes, a type code, the number of dimensions, one u32 per dimension) and
//! the raw elements. Gzipped files are recognized by their magic bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

/// The type code of unsigned bytes, the only element type MNIST uses.
const U8: u8 = 0x08;

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug)]
pub struct Idx {
    pub path: PathBuf,
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads and validates an IDX file (gzipped or not).
pub fn read_idx(path: &Path) -> Result<Idx> {
    let fail = |message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    let raw = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("corrupt gzip stream: {e}")))?;
        out
    } else {
        raw
    };
    decode(&bytes).map_err(fail).map(|(dims, data)| Idx {
        path: path.to_path_buf(),
        dims,
        data,
    })
}

/// Splits IDX bytes into dimensions and elements, checking every size.
pub fn decode(bytes: &[u8]) -> std::result::Result<(Vec<usize>, Vec<u8>), String> {
    let header = bytes
        .get(..4)
        .ok_or("truncated: shorter than the 4-byte IDX magic")?;
    if header[0] != 0 || header[1] != 0 {
        return Err(format!(
            "not an IDX file: magic {:02x}{:02x}{:02x}{:02x} does not start with two zero bytes",
            header[0], header[1], header[2], header[3]
        ));
    }
    if header[2] != U8 {
        return Err(format!(
            "IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
            header[2]
        ));
    }
    let ndims = header[3] as usize;
    if ndims == 0 {
        return Err("IDX file declares zero dimensions".into());
    }
    let dims_end = 4 + 4 * ndims;
    let dim_bytes = bytes
        .get(4..dims_end)
        .ok_or_else(|| format!("truncated: header declares {ndims} dimensions"))?;
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("dimensions overflow")?;
    let data = &bytes[dims_end..];
    if data.len() != count {
        let what = if data.len() < count {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(format!(
            "{what}: dimensions {dims:?} need {count} bytes of data, found {}",
            data.len()
        ));
    }
    Ok((dims, data.to_vec()))
}
