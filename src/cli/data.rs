//! `--data` specs: bundled data by name, or files by format.
//!
//! | spec | data | default `--scale` |
//! | --- | --- | --- |
//! | `mnist` | the bundled real MNIST test set (10,000 digits, 28x28), embedded in the binary | `1/255` |
//! | `mnist32` | the same, zero-padded to 32x32 and repeated over 3 channels | `1/255` |
//! | `line` | 256 samples of `y = 2x + 1` plus a small deterministic wiggle | `none` |
//! | `idx:IMAGES,LABELS` | MNIST or Fashion-MNIST IDX files (gzipped or not) | `1/255` |
//! | `cifar10:BATCH[,BATCH...]` | CIFAR-10 binary batches | `1/255` |
//! | `npy:X,Y` | NumPy arrays; integer class labels in `Y` are one-hot encoded | `none` |
//! | `npz:FILE` | a NumPy archive in Keras's layout (`mnist.npz`): `x_train`, `y_train` | `none` |
//! | `npz:FILE:x=KEY,y=KEY` | the arrays `KEY` of a NumPy archive (either key may be left out) | `none` |
//!
//! The scale ([`Scale`]: `none` or `1/N`) applies to the inputs only, as
//! `x.astype("float32") / N` does in Keras code; the defaults are those of
//! [`default_scale`]. NPY data is taken as stored unless a scale is given,
//! so `npy:` files of `uint8` pixels want `--scale 1/255`. NPZ archives
//! follow NPY (as Keras code divides `mnist.npz`'s pixels itself): Keras's
//! `mnist.npz` wants `--scale 1/255` too.
//!
//! An archive in Keras's layout (`npz:FILE` with `x_test` and `y_test`
//! besides the training arrays) brings its own validation data: `train`
//! validates on the test arrays unless `--validation-data` or
//! `--validation-split` says otherwise ([`implied_validation`]), and
//! `eval --split test` evaluates on them ([`test_spec`]).
//!
//! The samples are then fitted to the model's input shape: a channels-last
//! image is transposed for a channels-first model, and otherwise any shape
//! with the same number of elements is reshaped (28x28 -> 784).
//!
//! A data set with no samples is an [`Error::Data`] naming its inputs file;
//! [`check_finite`] refuses NaN and infinite values with the file, the
//! sample and the part (train or validation) that holds them.

use std::fmt;
use std::path::PathBuf;

use ndarray::{Array1, ArrayD, Axis, IxDyn};

use crate::data::{self, bundled, Dataset, Scale};
use crate::error::{Error, Result};
use crate::keras::DataFormat;

/// What a spec names.
enum Source {
    Mnist,
    Mnist32,
    Line,
    Idx {
        images: PathBuf,
        labels: PathBuf,
    },
    Cifar10(Vec<PathBuf>),
    Npy {
        x: PathBuf,
        y: PathBuf,
    },
    /// `keys`: whether the spec named keys (else Keras's layout).
    Npz {
        file: PathBuf,
        x: String,
        y: String,
        keys: bool,
    },
}

/// Keras's `mnist.npz` keys, the defaults of `npz:FILE`.
const KERAS_X: &str = "x_train";
const KERAS_Y: &str = "y_train";
const KERAS_TEST_X: &str = "x_test";
const KERAS_TEST_Y: &str = "y_test";

/// `FILE` or `FILE:x=KEY,y=KEY` (either key optional) after `npz:`.
fn parse_npz(spec: &str, rest: &str) -> Result<Source> {
    let (file, options) = match rest.rsplit_once(':') {
        Some((file, opts)) if opts.starts_with("x=") || opts.starts_with("y=") => {
            (file, Some(opts))
        }
        _ => (rest, None),
    };
    if file.is_empty() {
        return Err(Error::Config(format!(
            "data spec `{spec}` has an empty file name"
        )));
    }
    let (mut x, mut y) = (None, None);
    for option in options.map(|o| o.split(',')).into_iter().flatten() {
        let (slot, key) = match option.split_once('=') {
            Some(("x", key)) => (&mut x, key),
            Some(("y", key)) => (&mut y, key),
            _ => {
                return Err(Error::Config(format!(
                    "data spec `{spec}`: `{option}` is not x=KEY or y=KEY \
                     (as in npz:FILE:x=images,y=labels)"
                )))
            }
        };
        if key.is_empty() {
            return Err(Error::Config(format!(
                "data spec `{spec}`: `{option}` names an empty key"
            )));
        }
        if slot.replace(key.to_string()).is_some() {
            return Err(Error::Config(format!(
                "data spec `{spec}`: `{option}` names a key twice"
            )));
        }
    }
    Ok(Source::Npz {
        file: PathBuf::from(file),
        keys: options.is_some(),
        x: x.unwrap_or_else(|| KERAS_X.into()),
        y: y.unwrap_or_else(|| KERAS_Y.into()),
    })
}

fn paths(spec: &str, rest: &str) -> Result<Vec<PathBuf>> {
    let parts: Vec<&str> = rest.split(',').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::Config(format!(
            "data spec `{spec}` has an empty file name"
        )));
    }
    Ok(parts.into_iter().map(PathBuf::from).collect())
}

fn two_paths(spec: &str, rest: &str) -> Result<(PathBuf, PathBuf)> {
    match paths(spec, rest)?.as_slice() {
        [a, b] => Ok((a.clone(), b.clone())),
        _ => Err(Error::Config(format!(
            "data spec `{spec}` needs two comma-separated files"
        ))),
    }
}

impl Source {
    fn parse(spec: &str) -> Result<Source> {
        if let Some(rest) = spec.strip_prefix("idx:") {
            let (images, labels) = two_paths(spec, rest)?;
            return Ok(Source::Idx { images, labels });
        }
        if let Some(rest) = spec.strip_prefix("cifar10:") {
            return Ok(Source::Cifar10(paths(spec, rest)?));
        }
        if let Some(rest) = spec.strip_prefix("npz:") {
            return parse_npz(spec, rest);
        }
        if let Some(rest) = spec.strip_prefix("npy:") {
            let (x, y) = two_paths(spec, rest)?;
            return Ok(Source::Npy { x, y });
        }
        match spec {
            "mnist" => Ok(Source::Mnist),
            "mnist32" => Ok(Source::Mnist32),
            "line" => Ok(Source::Line),
            other => Err(Error::Config(format!(
                "unknown data `{other}`: use mnist, mnist32, line, idx:IMAGES,LABELS, cifar10:FILES, npy:X,Y or npz:FILE[:x=KEY,y=KEY]"
            ))),
        }
    }

    fn default_scale(&self) -> Scale {
        match self {
            Source::Mnist | Source::Mnist32 | Source::Idx { .. } | Source::Cifar10(_) => {
                Scale::BYTE
            }
            // NPZ as NPY: arrays as stored (Keras code scales mnist.npz
            // itself), so the same file gives the same values either way.
            Source::Line | Source::Npy { .. } | Source::Npz { .. } => Scale::None,
        }
    }

    /// The file holding the inputs (`targets: false`) or the targets of
    /// sample `index`, with the record's index within that file where it is
    /// not the sample's; `None` for generated data.
    fn file_of(&self, index: usize, targets: bool) -> Option<(PathBuf, Option<usize>)> {
        let pick = |x: &PathBuf, y: &PathBuf| Some((if targets { y } else { x }.clone(), None));
        match self {
            Source::Line => None,
            Source::Mnist | Source::Mnist32 => Some((
                bundled::name(if targets {
                    "t10k-labels-idx1-ubyte.gz"
                } else {
                    "t10k-images-idx3-ubyte.gz"
                }),
                None,
            )),
            Source::Idx { images, labels } => pick(images, labels),
            Source::Npy { x, y } => pick(x, y),
            Source::Npz { file, .. } => Some((file.clone(), None)),
            Source::Cifar10(paths) => {
                // Labels and images share the records of the batch files.
                let mut start = 0;
                for path in paths {
                    let records = std::fs::metadata(path)
                        .map_or(0, |m| m.len() as usize / data::cifar::RECORD_BYTES);
                    if index - start < records {
                        return Some((path.clone(), Some(index - start)));
                    }
                    start += records;
                }
                paths.last().map(|p| (p.clone(), None))
            }
        }
    }
}

/// The scale `load(spec, _, None)` applies: `1/255` for the image
/// formats (`mnist`, `mnist32`, `idx:`, `cifar10:`), `none` for `npy:` and
/// `line` (and for an unknown spec, which [`load`] refuses).
pub fn default_scale(spec: &str) -> Scale {
    Source::parse(spec).map_or(Scale::None, |s| s.default_scale())
}

/// Loads the data a spec names (before fitting it to a model). `classes`
/// is the model's class count when its targets are classes: IDX labels are
/// one-hot encoded with it (10 when not given), NPY integer labels too
/// (kept as stored when not given). `scale` divides the inputs; `None` is
/// the format's default ([`default_scale`]). The default scales give the
/// same values, bit for bit, as the loaders did before `--scale` existed.
///
/// A data set with no samples is an [`Error::Data`] naming its inputs file.
pub fn load(spec: &str, classes: Option<usize>, scale: Option<Scale>) -> Result<Dataset> {
    let source = Source::parse(spec)?;
    let scale = scale.unwrap_or_else(|| source.default_scale());
    let data = match &source {
        Source::Idx { images, labels } => {
            data::load_idx_dataset_scaled(images, labels, classes.unwrap_or(10), scale)?
        }
        Source::Cifar10(paths) => {
            data::cifar::load_cifar10_batches_scaled(paths, DataFormat::ChannelsLast, scale)?
        }
        Source::Npy { x, y } => {
            let mut d = data::npy::load_npy_dataset(x, y, classes)?;
            scale.apply_all(&mut d.x);
            d
        }
        Source::Npz { file, x, y, keys } => {
            let mut d = data::load_npz_dataset(file, x, y, classes).map_err(|e| match e {
                // Not Keras's layout: say how to name the arrays.
                Error::Data { path, message } if !keys && message.contains("no such array") => {
                    Error::Data {
                        path,
                        message: format!("{message}; name the arrays with npz:FILE:x=KEY,y=KEY"),
                    }
                }
                other => other,
            })?;
            scale.apply_all(&mut d.x);
            d
        }
        Source::Mnist => bundled::mnist(scale)?,
        Source::Mnist32 => {
            let d = bundled::mnist(scale)?;
            let padded = data::pad_images(&d.x, 2).insert_axis(Axis(3));
            let n = padded.shape()[0];
            let x = padded
                .broadcast(IxDyn(&[n, 32, 32, 3]))
                .expect("one channel repeats to three")
                .to_owned();
            Dataset { x, y: d.y }
        }
        Source::Line => {
            let x = Array1::linspace(-1.0f32, 1.0, 256);
            let y = x.mapv(|v| 2.0 * v + 1.0)
                + Array1::from_shape_fn(256, |i| 0.05 * (7.0 * i as f32).sin());
            let mut x = x.insert_axis(Axis(1)).into_dyn();
            scale.apply_all(&mut x);
            Dataset {
                x,
                y: y.insert_axis(Axis(1)).into_dyn(),
            }
        }
    };
    if data.is_empty() {
        let (path, _) = source
            .file_of(0, false)
            .expect("generated data has samples");
        return Err(Error::Data {
            path,
            message: format!(
                "no samples: the inputs have shape {:?}, with 0 along the sample axis",
                data.x.shape()
            ),
        });
    }
    Ok(data)
}

/// The spec with each file path made absolute (against the current
/// folder, without resolving symbolic links), so that a checkpoint that
/// records it finds the same files when resumed from another folder.
/// Built-in names (`mnist`, `mnist32`, `line`) are returned unchanged.
///
/// Errors ([`Error::Config`]): an invalid spec (as [`load`] says), a path
/// that cannot be made absolute, or one that would not fit in a spec once
/// absolute (not UTF-8, or holding a comma).
pub fn absolute_spec(spec: &str) -> Result<String> {
    let absolute = |p: &PathBuf| -> Result<String> {
        let abs = std::path::absolute(p).map_err(|e| {
            Error::Config(format!(
                "data file {}: cannot make the path absolute: {e}",
                p.display()
            ))
        })?;
        match abs.to_str() {
            Some(s) if !s.contains(',') => Ok(s.to_string()),
            Some(s) => Err(Error::Config(format!(
                "data file {s}: a path with a comma cannot be written in a data spec"
            ))),
            None => Err(Error::Config(format!(
                "data file {}: the absolute path is not UTF-8",
                abs.display()
            ))),
        }
    };
    Ok(match Source::parse(spec)? {
        Source::Mnist | Source::Mnist32 | Source::Line => spec.to_string(),
        Source::Idx { images, labels } => {
            format!("idx:{},{}", absolute(&images)?, absolute(&labels)?)
        }
        Source::Npy { x, y } => format!("npy:{},{}", absolute(&x)?, absolute(&y)?),
        Source::Npz {
            file,
            x,
            y,
            keys: true,
        } => format!("npz:{}:x={x},y={y}", absolute(&file)?),
        Source::Npz { file, .. } => format!("npz:{}", absolute(&file)?),
        Source::Cifar10(paths) => {
            let abs: Vec<String> = paths.iter().map(absolute).collect::<Result<_>>()?;
            format!("cifar10:{}", abs.join(","))
        }
    })
}

/// The spec of the test arrays of an `npz:FILE` archive in Keras's layout
/// (`x_test`, `y_test`), as `npz:FILE:x=x_test,y=y_test`: what
/// `eval --split test` evaluates. Any other spec is an [`Error::Config`]
/// saying so (a missing array is found when the spec is loaded).
pub fn test_spec(spec: &str) -> Result<String> {
    match Source::parse(spec)? {
        Source::Npz {
            file, keys: false, ..
        } => match file.to_str() {
            Some(f) => Ok(format!("npz:{f}:x={KERAS_TEST_X},y={KERAS_TEST_Y}")),
            None => Err(Error::Config(format!(
                "data file {}: the path is not UTF-8",
                file.display()
            ))),
        },
        _ => Err(Error::Config(format!(
            "--split test needs data with a test part: an NPZ archive in Keras's layout \
             (npz:FILE with x_test and y_test), not `{spec}`"
        ))),
    }
}

/// The validation data an archive in Keras's layout brings: its test
/// arrays ([`test_spec`]) when the archive holds both `x_test` and
/// `y_test`, else `None` (and for every other spec). Opens the archive
/// (its directory only); a missing or corrupt archive is an error naming it.
pub fn implied_validation(spec: &str) -> Result<Option<String>> {
    let Ok(Source::Npz {
        file, keys: false, ..
    }) = Source::parse(spec)
    else {
        return Ok(None);
    };
    let npz = data::npz::Npz::open(&file)?;
    if npz.has(KERAS_TEST_X) && npz.has(KERAS_TEST_Y) {
        test_spec(spec).map(Some)
    } else {
        Ok(None)
    }
}

/// Which part of a split data set samples belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Train,
    Validation,
    /// Data given to `eval` or `predict` with `--data`, used whole.
    Evaluated,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Train => "train part",
            Part::Validation => "validation part",
            Part::Evaluated => "data to evaluate",
        })
    }
}

/// Refuses NaN and infinite values in `data`, the `part` of the data `spec`
/// loaded whose first sample is sample `first_index` of the loaded file(s).
///
/// The error names the first sample (lowest index; inputs before targets)
/// that holds one, e.g. `sample 8123 (validation part) holds NaN in its
/// inputs`: an [`Error::Data`] naming the file that holds it (the inputs or
/// targets file; for `cifar10:` the batch file, with the record's index in
/// it; for `mnist` the embedded file), or an [`Error::Config`] for generated
/// data (`line`). An invalid spec is an [`Error::Config`].
pub fn check_finite(spec: &str, data: &Dataset, part: Part, first_index: usize) -> Result<()> {
    let all_finite = |a: &ArrayD<f32>| a.iter().all(|v| v.is_finite());
    if all_finite(&data.x) && all_finite(&data.y) {
        return Ok(());
    }
    let source = Source::parse(spec)?;
    let first_bad = |a: &ArrayD<f32>, i: usize| {
        (a.ndim() > 0 && i < a.shape()[0])
            .then(|| {
                a.index_axis(Axis(0), i)
                    .iter()
                    .copied()
                    .find(|v| !v.is_finite())
            })
            .flatten()
    };
    let n = data.x.shape().first().max(data.y.shape().first());
    let n = n.copied().unwrap_or(0);
    for i in 0..n {
        let found = match (first_bad(&data.x, i), first_bad(&data.y, i)) {
            (Some(v), _) => (v, false),
            (None, Some(v)) => (v, true),
            (None, None) => continue,
        };
        return Err(non_finite(spec, &source, part, first_index + i, found));
    }
    // Arrays without a sample axis: not from a loader, but not finite either.
    Err(Error::Config(format!(
        "data `{spec}` ({part}) holds values that are not finite"
    )))
}

fn non_finite(
    spec: &str,
    source: &Source,
    part: Part,
    index: usize,
    (value, targets): (f32, bool),
) -> Error {
    let what = if value.is_nan() {
        "NaN".to_string()
    } else {
        value.to_string() // inf or -inf
    };
    let place = if targets { "targets" } else { "inputs" };
    let message = format!("sample {index} ({part}) holds {what} in its {place}");
    match source.file_of(index, targets) {
        Some((path, record)) => Error::Data {
            path,
            message: match record {
                Some(r) if r != index => format!("{message} (record {r} of this file)"),
                _ => message,
            },
        },
        None => Error::Config(format!("data `{spec}`: {message}")),
    }
}

/// The dims other than extent-1 ones (so 28x28 and 28x28x1 compare equal).
fn squeezed(dims: &[usize]) -> Vec<usize> {
    dims.iter().copied().filter(|&d| d != 1).collect()
}

/// Reshapes or transposes samples to the model's input shape, or explains
/// why they cannot fit. Reshaping is only done where it keeps every pixel in
/// place — flattening for a rank-1 input, or adding/removing extent-1 axes —
/// and images in the other channel order are transposed.
pub fn conform(x: ArrayD<f32>, input: &[usize]) -> Result<ArrayD<f32>> {
    let n = x.shape()[0];
    let sample = x.shape()[1..].to_vec();
    if sample == input {
        return Ok(x);
    }
    let transposed = |perm: [usize; 4]| {
        x.view()
            .permuted_axes(IxDyn(&perm))
            .as_standard_layout()
            .into_owned()
    };
    if let (&[a, b, c], &[d, e, f]) = (sample.as_slice(), input) {
        // channels-last data, channels-first model: (h, w, c) -> (c, h, w).
        if (a, b, c) == (e, f, d) {
            return Ok(transposed([0, 3, 1, 2]));
        }
        // channels-first data, channels-last model: (c, h, w) -> (h, w, c).
        if (a, b, c) == (f, d, e) {
            return Ok(transposed([0, 2, 3, 1]));
        }
    }
    let flatten = input.len() == 1;
    let same_count = sample.iter().product::<usize>() == input.iter().product::<usize>();
    if same_count && (flatten || squeezed(&sample) == squeezed(input)) {
        let mut shape = vec![n];
        shape.extend(input);
        return Ok(x
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&shape))
            .expect("same element count"));
    }
    Err(Error::Config(format!(
        "data samples of shape {sample:?} do not fit the model's input {input:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(shape: &[usize]) -> ArrayD<f32> {
        let n = shape.iter().product();
        ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn conform_transposes_images_between_channel_orders() {
        // (h, w, c) = (2, 3, 4) data for a channels-first (4, 2, 3) model and back.
        let x = iota(&[1, 2, 3, 4]);
        let cf = conform(x.clone(), &[4, 2, 3]).unwrap();
        assert_eq!(cf[[0, 1, 0, 2]], x[[0, 0, 2, 1]]);
        let back = conform(cf, &[2, 3, 4]).unwrap();
        assert_eq!(back, x);
    }

    #[test]
    fn conform_reshapes_only_where_pixels_stay_in_place() {
        let x = iota(&[2, 28, 28]);
        assert_eq!(conform(x.clone(), &[784]).unwrap().shape(), [2, 784]);
        assert_eq!(
            conform(x.clone(), &[28, 28, 1]).unwrap().shape(),
            [2, 28, 28, 1]
        );
        // Same element count, but a reshape would scramble the image.
        assert!(conform(x, &[14, 56]).is_err());
        assert!(conform(iota(&[1, 3, 4, 5]), &[4, 3, 5]).is_err());
    }
}
