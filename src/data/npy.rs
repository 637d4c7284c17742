//! A small, strict reader of NumPy's `.npy` files (`np.save`).
//!
//! Format: the magic `\x93NUMPY`, a major and minor version byte, the header
//! length (a little-endian u16 for version 1.0, u32 for 2.0 and 3.0), then
//! the header, a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with
//! spaces and ended by a newline, then the raw elements.
//!
//! Supported: little-endian `<f4`, `<f8`, `<i4`, `<i8` and `|u1`, C order
//! (`fortran_order: False`), any number of dimensions. Everything else is an
//! [`Error::Data`] that says what is unsupported. Declared sizes are checked
//! against the file's length before anything is allocated for them.
//!
//! This reader, not the `ndarray-npy` crate, also decodes the entries of NPZ
//! archives: [`super::npz`] says why (allocation from a lying header, one
//! element type fixed at compile time).

use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn};

use crate::data::Dataset;
use crate::error::{Error, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The element types [`read_npy`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyDtype {
    F4,
    F8,
    U1,
    I4,
    I8,
}

impl NpyDtype {
    /// The NumPy type string, as in the header.
    pub fn descr(self) -> &'static str {
        match self {
            NpyDtype::F4 => "<f4",
            NpyDtype::F8 => "<f8",
            NpyDtype::U1 => "|u1",
            NpyDtype::I4 => "<i4",
            NpyDtype::I8 => "<i8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            NpyDtype::U1 => 1,
            NpyDtype::F4 | NpyDtype::I4 => 4,
            NpyDtype::F8 | NpyDtype::I8 => 8,
        }
    }

    fn from_descr(descr: &str) -> std::result::Result<NpyDtype, String> {
        const ALL: [NpyDtype; 5] = [
            NpyDtype::F4,
            NpyDtype::F8,
            NpyDtype::U1,
            NpyDtype::I4,
            NpyDtype::I8,
        ];
        if let Some(&d) = ALL.iter().find(|d| d.descr() == descr) {
            return Ok(d);
        }
        let supported = ALL.map(NpyDtype::descr).join(", ");
        Err(if descr.starts_with('>') {
            format!("unsupported dtype '{descr}': big-endian data is not supported (supported: {supported})")
        } else {
            format!("unsupported dtype '{descr}' (supported: {supported})")
        })
    }
}

/// Reads a `.npy` file as `f32`, whatever its supported element type.
/// Values are converted, not rescaled: `|u1` pixels stay in 0..255.
pub fn read_npy(path: &Path) -> Result<ArrayD<f32>> {
    read_npy_typed(path).map(|(_, a)| a)
}

/// [`read_npy`] that also gives the element type the file stores.
pub fn read_npy_typed(path: &Path) -> Result<(NpyDtype, ArrayD<f32>)> {
    let fail = |message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path)
        .map_err(|e| fail(format!("cannot read it: {}", crate::output::describe(&e))))?;
    decode_npy(&bytes).map_err(fail)
}

/// Decodes the bytes of a `.npy` file, checking every size.
pub fn decode_npy(bytes: &[u8]) -> std::result::Result<(NpyDtype, ArrayD<f32>), String> {
    let prefix = &bytes[..bytes.len().min(MAGIC.len())];
    if prefix != &MAGIC[..prefix.len()] {
        return Err(format!(
            "not an NPY file: bad magic {:02x?} (expected \\x93NUMPY)",
            prefix
        ));
    }
    if bytes.len() < MAGIC.len() + 2 {
        return Err(format!(
            "truncated header: the file ends after {} bytes, inside the magic and version",
            bytes.len()
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(format!(
                "unsupported NPY format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            ))
        }
    };
    let start = 8 + len_bytes;
    let len_field = bytes.get(8..start).ok_or_else(|| {
        format!(
            "truncated header: the file ends after {} bytes, inside the header length",
            bytes.len()
        )
    })?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |n, &b| (n << 8) | b as usize);
    let end = start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            format!(
                "truncated header: the header claims {header_len} bytes but the file has only {} after the {start}-byte preamble",
                bytes.len() - start
            )
        })?;
    let header = &bytes[start..end];
    let header = std::str::from_utf8(header)
        .map_err(|_| "malformed header: not ASCII/UTF-8 text".to_string())?;
    let (dtype, fortran, shape) = parse_header(header)?;
    if fortran {
        return Err(format!(
            "Fortran-order (column-major) arrays are not supported (shape {shape:?}); \
             save a C-order array, e.g. np.save(path, np.ascontiguousarray(a))"
        ));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size()).map(|b| (n, b)));
    let (count, need) =
        count.ok_or_else(|| format!("shape {shape:?} of {} overflows", dtype.descr()))?;
    let data = &bytes[end..];
    if data.len() != need {
        let what = if data.len() < need {
            "truncated data"
        } else {
            "trailing bytes"
        };
        return Err(format!(
            "{what}: shape {shape:?} of {} needs {need} bytes of data, found {}",
            dtype.descr(),
            data.len()
        ));
    }
    let values: Vec<f32> = match dtype {
        NpyDtype::U1 => data.iter().map(|&b| b as f32).collect(),
        NpyDtype::F4 => convert(data, |b: [u8; 4]| f32::from_le_bytes(b)),
        NpyDtype::F8 => convert(data, |b: [u8; 8]| f64::from_le_bytes(b) as f32),
        NpyDtype::I4 => convert(data, |b: [u8; 4]| i32::from_le_bytes(b) as f32),
        NpyDtype::I8 => convert(data, |b: [u8; 8]| i64::from_le_bytes(b) as f32),
    };
    debug_assert_eq!(values.len(), count);
    let array = ArrayD::from_shape_vec(IxDyn(&shape), values)
        .map_err(|e| format!("shape {shape:?}: {e}"))?;
    Ok((dtype, array))
}

fn convert<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
    data.chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunks of N bytes")))
        .collect()
}

/// Inputs from `x` and targets from `y`, two `.npy` files whose first axes
/// (the samples) must match.
///
/// With `classes: Some(c)` and a 1-D `y`, `y` holds integer labels and
/// becomes one-hot `[n, c]`: every value must be a whole number in `0..c`.
/// With `Some(c)` and a 2-D `y`, `y` must already be `[n, c]`. Otherwise
/// (`None`, or more dimensions) `y` is used as stored.
/// Values are converted to `f32` but not rescaled.
pub fn load_npy_dataset(x: &Path, y: &Path, classes: Option<usize>) -> Result<Dataset> {
    let xs = read_npy(x)?;
    let (ytype, ys) = read_npy_typed(y)?;
    let fail = |path: &Path, message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    pair(
        xs,
        (ytype, ys),
        classes,
        &|m| fail(x, m),
        &|m| fail(y, m),
        &x.display().to_string(),
    )
}

/// Inputs and targets read from `.npy` files or NPZ entries, checked and
/// labels one-hot encoded as [`load_npy_dataset`] says. `fail_x` and
/// `fail_y` make the error naming where each came from; `x_name` is how the
/// sample-count mismatch names the inputs.
pub(crate) fn pair(
    xs: ArrayD<f32>,
    (ytype, ys): (NpyDtype, ArrayD<f32>),
    classes: Option<usize>,
    fail_x: &dyn Fn(String) -> Error,
    fail_y: &dyn Fn(String) -> Error,
    x_name: &str,
) -> Result<Dataset> {
    if xs.ndim() == 0 {
        return Err(fail_x("a 0-dimensional array has no sample axis".into()));
    }
    if ys.ndim() == 0 {
        return Err(fail_y("a 0-dimensional array has no sample axis".into()));
    }
    if xs.shape()[0] != ys.shape()[0] {
        return Err(fail_y(format!(
            "sample count mismatch: y has shape {:?} but x ({x_name}) has shape {:?}",
            ys.shape(),
            xs.shape()
        )));
    }
    let ys = match (classes, ys.ndim()) {
        (Some(0), _) => return Err(Error::Config("classes must be at least 1".into())),
        (Some(c), 1) => {
            let mut out = Array2::zeros((ys.len(), c));
            for (i, &v) in ys.iter().enumerate() {
                if !(v.is_finite() && v.fract() == 0.0) {
                    return Err(fail_y(format!(
                        "label {v} at index {i} is not a whole number ({} labels)",
                        ytype.descr()
                    )));
                }
                if v < 0.0 || v >= c as f32 {
                    return Err(fail_y(format!("label {v} at index {i} is outside 0..{c}")));
                }
                out[[i, v as usize]] = 1.0;
            }
            out.into_dyn()
        }
        (Some(c), 2) if ys.shape()[1] != c => {
            return Err(fail_y(format!(
                "y has shape {:?} but {c} classes were asked for ([n] labels or [n, {c}] targets)",
                ys.shape()
            )))
        }
        _ => ys,
    };
    Ok(Dataset { x: xs, y: ys })
}

/// Parses the header dict: dtype, Fortran order and shape.
fn parse_header(text: &str) -> std::result::Result<(NpyDtype, bool, Vec<usize>), String> {
    let bad = |what: &str| format!("malformed header {:?}: {what}", truncate(text));
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let Value::Dict(entries) = p.value(0).map_err(|e| bad(&e))? else {
        return Err(bad("not a dict"));
    };
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(bad("text after the dict"));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in entries {
        let slot_taken = match key.as_str() {
            "descr" => descr.replace(value).is_some(),
            "fortran_order" => fortran.replace(value).is_some(),
            "shape" => shape.replace(value).is_some(),
            _ => return Err(bad(&format!("unexpected key '{key}'"))),
        };
        if slot_taken {
            return Err(bad(&format!("key '{key}' appears twice")));
        }
    }
    let dtype = match descr.ok_or_else(|| bad("no 'descr'"))? {
        Value::Str(s) => NpyDtype::from_descr(&s)?,
        Value::List => {
            return Err("unsupported dtype: structured (record) arrays are not supported".into())
        }
        _ => return Err(bad("'descr' is not a string")),
    };
    let fortran = match fortran.ok_or_else(|| bad("no 'fortran_order'"))? {
        Value::Bool(b) => b,
        _ => return Err(bad("'fortran_order' is not True or False")),
    };
    let shape = match shape.ok_or_else(|| bad("no 'shape'"))? {
        Value::Tuple(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Int(n) => usize::try_from(n).map_err(|_| bad("a dimension is too large")),
                _ => Err(bad("'shape' holds something other than integers")),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        _ => return Err(bad("'shape' is not a tuple")),
    };
    Ok((dtype, fortran, shape))
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// The Python literals an NPY header uses.
enum Value {
    Str(String),
    Bool(bool),
    Int(u64),
    Tuple(Vec<Value>),
    /// A list (structured dtypes); its items are not kept.
    List,
    Dict(Vec<(String, Value)>),
}

/// A recursive-descent parser of those literals; nesting is bounded so that
/// a hostile header cannot exhaust the stack.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        match self.peek() {
            None => Err("ends early".into()),
            Some(b'{') => {
                let items = self.sequence(b'}', depth, |p, depth| {
                    let Value::Str(key) = p.value(depth)? else {
                        return Err("a dict key is not a string".into());
                    };
                    if p.peek() != Some(b':') {
                        return Err(format!("no ':' after key '{key}'"));
                    }
                    p.i += 1;
                    Ok((key, p.value(depth)?))
                })?;
                Ok(Value::Dict(items))
            }
            Some(b'(') => Ok(Value::Tuple(self.sequence(b')', depth, |p, d| p.value(d))?)),
            Some(b'[') => {
                self.sequence(b']', depth, |p, d| p.value(d))?;
                Ok(Value::List)
            }
            Some(q @ (b'\'' | b'"')) => {
                let rest = &self.s[self.i + 1..];
                let len = rest
                    .iter()
                    .position(|&c| c == q || c == b'\\')
                    .filter(|&n| rest[n] == q)
                    .ok_or("unterminated (or escaped) string")?;
                let text = String::from_utf8_lossy(&rest[..len]).into_owned();
                self.i += len + 2;
                Ok(Value::Str(text))
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits");
                let n = digits
                    .parse::<u64>()
                    .map_err(|_| format!("integer {digits} is too large"))?;
                // Python 2 wrote long integers with an `L` suffix.
                if self.s.get(self.i) == Some(&b'L') {
                    self.i += 1;
                }
                Ok(Value::Int(n))
            }
            Some(_) => {
                for (word, b) in [("True", true), ("False", false)] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(Value::Bool(b));
                    }
                }
                Err(format!("unexpected character {:?}", self.s[self.i] as char))
            }
        }
    }

    /// Items after an opening bracket, separated by commas (a trailing comma
    /// allowed), up to `close`.
    fn sequence<T>(
        &mut self,
        close: u8,
        depth: usize,
        mut item: impl FnMut(&mut Self, usize) -> std::result::Result<T, String>,
    ) -> std::result::Result<Vec<T>, String> {
        self.i += 1; // the opening bracket
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(items);
            }
            items.push(item(self, depth + 1)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                Some(c) => return Err(format!("unexpected character {:?}", c as char)),
                None => return Err("ends early".into()),
            }
        }
    }
}
