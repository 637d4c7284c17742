//! NumPy's `.npz` archives (`np.savez`, `np.savez_compressed`, Keras's
//! `mnist.npz`): a zip file of `.npy` entries named `KEY.npy`.
//!
//! The zip layer is the `zip` crate (stored and deflate entries; NumPy
//! writes nothing else). Each entry's bytes go through our own NPY decoder
//! ([`super::npy::decode_npy`]), so an array in an archive gets the same
//! checks and messages as a `.npy` file, prefixed with the archive and key.
//!
//! Why not `ndarray-npy` (0.10, the maintained crate, which also reads NPZ):
//! its reader allocates the element buffer from the header's shape before
//! reading any data (`vec![zero; len]` in `read_to_end_exact_vec`,
//! `src/npy/elements/num.rs`), and the header buffer from the header-length
//! field, so a 100-byte file claiming shape `(2**40,)` asks for terabytes
//! and aborts the process: the fuzz tests' "no huge allocation from a lying
//! header" would not hold. It also reads one element type chosen at compile
//! time, where users need whatever dtype the file holds (uint8 pixels, int64
//! labels) as `f32`, with the dtype and shape named when it is refused.
//! Wrapping it would mean parsing the header ourselves first anyway; our
//! decoder already does that and is fuzz-tested. `tests/it/data_npz.rs`
//! shows the abort (`ndarray_npy_allocates_from_a_lying_header`, in a child
//! process) and checks our refusal of the same lie inside an archive.
//!
//! Entry sizes: an entry is read through a limit of its declared
//! uncompressed size (plus one byte, to notice an entry longer than
//! declared), growing the buffer only as real data arrives; the zip crate
//! checks each entry's CRC when it has been read whole.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ndarray::ArrayD;

use super::npy::{decode_npy, pair, NpyDtype};
use super::Dataset;
use crate::error::{Error, Result};

/// An open archive and its path (for messages).
pub struct Npz {
    path: std::path::PathBuf,
    zip: zip::ZipArchive<BufReader<File>>,
}

impl Npz {
    /// Opens `path` and reads its zip directory.
    pub fn open(path: &Path) -> Result<Npz> {
        let fail = |message: String| Error::Data {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path)
            .map_err(|e| fail(format!("cannot read it: {}", crate::output::describe(&e))))?;
        let zip = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| fail(format!("not a readable NPZ (zip) archive: {e}")))?;
        Ok(Npz {
            path: path.to_path_buf(),
            zip,
        })
    }

    /// The keys of the arrays the archive holds (entry names without
    /// `.npy`), in archive order.
    pub fn keys(&self) -> Vec<String> {
        self.zip
            .file_names_raw()
            .map(|raw| {
                let n = String::from_utf8_lossy(raw);
                n.strip_suffix(".npy").unwrap_or(&n).to_string()
            })
            .collect()
    }

    /// Whether the archive holds an array `key`.
    pub fn has(&self, key: &str) -> bool {
        self.keys().iter().any(|k| k == key)
    }

    fn fail(&self, key: &str, message: impl std::fmt::Display) -> Error {
        Error::Data {
            path: self.path.clone(),
            message: format!("key '{key}': {message}"),
        }
    }

    /// The array `key` as `f32` (converted, not rescaled), with the dtype
    /// the archive stores.
    pub fn array(&mut self, key: &str) -> Result<(NpyDtype, ArrayD<f32>)> {
        let name = format!("{key}.npy");
        let index = match self.zip.index_for_name(&name) {
            Some(i) => i,
            None => {
                let keys = self.keys();
                let held = if keys.is_empty() {
                    "the archive is empty".to_string()
                } else {
                    format!("the archive holds: {}", keys.join(", "))
                };
                return Err(self.fail(key, format!("no such array ({held})")));
            }
        };
        let bytes = match self.zip.by_index(index) {
            Err(e) => Err(format!("corrupt entry {name}: {e}")),
            Ok(entry) => {
                let declared = entry.size();
                let mut bytes = Vec::new();
                let read = entry
                    .take(declared.saturating_add(1))
                    .read_to_end(&mut bytes);
                match read {
                    Ok(n) if n as u64 > declared => Err(format!(
                    "corrupt entry {name}: more data than the {declared} bytes its header declares"
                )),
                    Ok(_) => Ok(bytes),
                    Err(e) => Err(format!("corrupt entry {name}: {e}")),
                }
            }
        };
        let bytes = bytes.map_err(|m| self.fail(key, m))?;
        decode_npy(&bytes).map_err(|m| self.fail(key, m))
    }
}

/// The array `key` of the archive `path` as `f32` (see [`Npz::array`]).
pub fn read_npz_array(path: &Path, key: &str) -> Result<ArrayD<f32>> {
    Npz::open(path)?.array(key).map(|(_, a)| a)
}

/// Inputs from the array `x` and targets from `y` of the archive `path`,
/// checked and labels one-hot encoded exactly as [`super::load_npy_dataset`]
/// does for two `.npy` files; every error names the archive and the key.
pub fn load_npz_dataset(path: &Path, x: &str, y: &str, classes: Option<usize>) -> Result<Dataset> {
    let mut npz = Npz::open(path)?;
    let (_, xs) = npz.array(x)?;
    let ys = npz.array(y)?;
    let fail = |key: &str, message: String| Error::Data {
        path: path.to_path_buf(),
        message: format!("key '{key}': {message}"),
    };
    pair(
        xs,
        ys,
        classes,
        &|m| fail(x, m),
        &|m| fail(y, m),
        &format!("key '{x}'"),
    )
}
