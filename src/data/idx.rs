//! The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero
//! bytes, a type code, the number of dimensions, one u32 per dimension) and
//! the raw elements, row-major. Gzipped files are recognized by their magic
//! bytes (`1f 8b`), whatever their name.
//!
//! Only unsigned-byte elements (type code `0x08`, what MNIST, Fashion-MNIST
//! and EMNIST use) are read; the other IDX element types are recognized and
//! rejected by name.
//!
//! Every declared size is checked against the bytes actually present before
//! anything is allocated for it, so a header that lies cannot make the reader
//! allocate more than the file really holds.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

use crate::error::{Error, Result};

/// The type code of unsigned bytes, the only element type MNIST uses.
const U8: u8 = 0x08;

/// The first two bytes of every gzip member.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX file of unsigned bytes.
#[derive(Clone, Debug)]
pub struct Idx {
    pub path: PathBuf,
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// What an IDX file of a data set holds, by its number of dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Images `[n, rows, cols]`: magic `0x00000803`.
    Images,
    /// Labels `[n]`: magic `0x00000801`.
    Labels,
}

impl Kind {
    /// The number of dimensions, the magic's last byte.
    pub fn ndims(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }

    /// The whole magic number of such a file of unsigned bytes.
    pub fn magic(self) -> u32 {
        (U8 as u32) << 8 | self.ndims() as u32
    }

    /// The message for a file of this kind whose header declares `ndims`.
    pub(crate) fn mismatch(self, ndims: usize) -> String {
        let (what, other) = match self {
            Kind::Images => ("images [n, rows, cols]", Kind::Labels),
            Kind::Labels => ("labels [n]", Kind::Images),
        };
        let found = (U8 as u32) << 8 | ndims as u32;
        let hint = if ndims == other.ndims() {
            match other {
                Kind::Images => " (this is an images file: are images and labels swapped?)",
                Kind::Labels => " (this is a labels file: are images and labels swapped?)",
            }
        } else {
            ""
        };
        format!(
            "expected magic 0x{:08x} ({what} of unsigned bytes), found 0x{found:08x} \
             ({ndims} dimension{}){hint}",
            self.magic(),
            if ndims == 1 { "" } else { "s" }
        )
    }
}

/// Reads and validates an IDX file (gzipped or not).
///
/// Errors are [`Error::Data`] naming `path`: unreadable file, corrupt or
/// truncated gzip stream, garbage after the gzip stream, truncated header,
/// bad magic, unsupported element type, and data shorter or longer than the
/// dimensions say.
pub fn read_idx(path: &Path) -> Result<Idx> {
    read(path, None)
}

/// [`read_idx`] for a file that must be of `kind`: any other number of
/// dimensions is refused from the header, before the data is read, with the
/// magic number expected.
pub fn read_idx_of(path: &Path, kind: Kind) -> Result<Idx> {
    read(path, Some(kind))
}

fn read(path: &Path, kind: Option<Kind>) -> Result<Idx> {
    let raw = std::fs::read(path).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        message: format!("cannot read it: {}", crate::output::describe(&e)),
    })?;
    read_bytes(path, &raw, kind)
}

/// Decodes the bytes of an IDX file (gzipped or not) already in memory;
/// `path` is the name errors and the [`Idx`] carry.
pub fn read_idx_bytes(path: &Path, raw: &[u8], kind: Option<Kind>) -> Result<Idx> {
    read_bytes(path, raw, kind)
}

fn read_bytes(path: &Path, raw: &[u8], kind: Option<Kind>) -> Result<Idx> {
    let decoded = if raw.starts_with(&GZIP_MAGIC) {
        decode_from(&mut Gunzip::new(raw), None, kind)
    } else {
        decode_from(&mut &raw[..], Some(raw.len()), kind)
    };
    decoded
        .map_err(|message| Error::Data {
            path: path.to_path_buf(),
            message,
        })
        .map(|(dims, data)| Idx {
            path: path.to_path_buf(),
            dims,
            data,
        })
}

/// Splits (uncompressed) IDX bytes into dimensions and elements, checking
/// every size.
pub fn decode(bytes: &[u8]) -> std::result::Result<(Vec<usize>, Vec<u8>), String> {
    decode_from(&mut &bytes[..], Some(bytes.len()), None)
}

/// Decodes an IDX stream. `total`, when known, is the exact number of bytes
/// the stream holds: the data size is then checked before reading it.
/// Without it (a gzip stream), the data is read with a limit of one byte more
/// than declared, so memory stays bounded by what the stream really holds.
/// With a `kind`, another number of dimensions is refused from the magic.
fn decode_from<R: Read>(
    r: &mut R,
    total: Option<usize>,
    kind: Option<Kind>,
) -> std::result::Result<(Vec<usize>, Vec<u8>), String> {
    let mut magic = [0u8; 4];
    let got = read_full(r, &mut magic).map_err(stream_error)?;
    if got < 4 {
        return Err(format!(
            "truncated header: the file ends after {got} of the 4 magic bytes"
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(format!(
            "not an IDX file: magic {:02x}{:02x}{:02x}{:02x} does not start with two zero bytes",
            magic[0], magic[1], magic[2], magic[3]
        ));
    }
    if magic[2] != U8 {
        let name = match magic[2] {
            0x09 => Some("signed byte"),
            0x0B => Some("i16"),
            0x0C => Some("i32"),
            0x0D => Some("f32"),
            0x0E => Some("f64"),
            _ => None,
        };
        return Err(match name {
            Some(name) => format!(
                "IDX element type 0x{:02x} ({name}) is not supported (only unsigned bytes, 0x08)",
                magic[2]
            ),
            None => format!(
                "unknown IDX element type code 0x{:02x} (only unsigned bytes, 0x08, are supported)",
                magic[2]
            ),
        });
    }
    let ndims = magic[3] as usize;
    if ndims == 0 {
        return Err("IDX header declares zero dimensions".into());
    }
    if let Some(kind) = kind.filter(|k| k.ndims() != ndims) {
        return Err(kind.mismatch(ndims));
    }
    let header_len = 4 + 4 * ndims;
    let mut dim_bytes = vec![0u8; 4 * ndims]; // at most 1020 bytes
    let got = read_full(r, &mut dim_bytes).map_err(stream_error)?;
    if got < dim_bytes.len() {
        return Err(format!(
            "truncated header: {ndims} dimensions need a {header_len}-byte header, the file has {}",
            4 + got
        ));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("dimensions {dims:?} overflow the address space"))?;
    let size_error = |found: usize| {
        if found < count {
            format!("truncated data: dimensions {dims:?} need {count} bytes, found {found}")
        } else {
            format!(
                "trailing bytes: dimensions {dims:?} need {count} bytes, found {found} ({} extra)",
                found - count
            )
        }
    };
    if let Some(total) = total {
        let found = total - header_len;
        if found != count {
            return Err(size_error(found));
        }
    }
    // Never trust `count` for the allocation: grow with the actual data.
    let mut data = Vec::with_capacity(count.min(1 << 20));
    r.take(count as u64 + 1)
        .read_to_end(&mut data)
        .map_err(stream_error)?;
    if data.len() != count {
        let mut found = data.len();
        if found > count {
            found += io::copy(r, &mut io::sink()).map_err(stream_error)? as usize;
        }
        return Err(size_error(found));
    }
    Ok((dims, data))
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The message of a failed read of an in-memory (possibly gzip) stream: only
/// the gzip decoder can fail there.
pub(crate) fn stream_error(e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "truncated gzip stream: it ends before its end marker".into()
        }
        _ => {
            let message = e.to_string();
            if message.starts_with("corrupt gzip stream") {
                message // flate2's checksum error says it already
            } else {
                format!("corrupt gzip stream: {message}")
            }
        }
    }
}

/// A gzip decoder over bytes in memory that accepts several concatenated
/// members (RFC 1952) and rejects anything else after the last one.
pub(crate) struct Gunzip<'a> {
    decoder: GzDecoder<&'a [u8]>,
}

impl<'a> Gunzip<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Gunzip {
            decoder: GzDecoder::new(bytes),
        }
    }
}

impl<'a> Read for Gunzip<'a> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member ended and its checksum matched; the decoder consumed
            // exactly its bytes, so what is left follows the member.
            let rest: &'a [u8] = self.decoder.get_ref();
            if rest.is_empty() {
                return Ok(0);
            }
            if !rest.starts_with(&GZIP_MAGIC) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} trailing byte{} of garbage after the end of the gzip stream",
                        rest.len(),
                        if rest.len() == 1 { "" } else { "s" }
                    ),
                ));
            }
            self.decoder = GzDecoder::new(rest);
        }
    }
}
