//! Data sets as arrays: loaders for real file formats, plus the small
//! transforms training needs (one-hot labels, train/validation splits).
//!
//! Formats:
//! - IDX ([`idx`]), gzipped or not: MNIST through [`mnist_test_set`] or
//!   [`load_idx_dataset`]. Fashion-MNIST, KMNIST and EMNIST use the same
//!   format (u8 images `[n, 28, 28]`, u8 labels `[n]`) and load with
//!   [`load_idx_dataset`] unchanged, e.g. `load_idx_dataset(&dir.join(
//!   "t10k-images-idx3-ubyte.gz"), &dir.join("t10k-labels-idx1-ubyte.gz"), 10)`
//!   (EMNIST with its own class count).
//! - CIFAR-10 binary batches ([`cifar`]): [`load_cifar10_batches`].
//! - NumPy `.npy` ([`npy`]): [`read_npy`], [`load_npy_dataset`].
//! - NumPy `.npz` archives ([`npz`], stored or deflated, e.g. Keras's
//!   `mnist.npz`): [`npz::read_npz_array`], [`load_npz_dataset`].
//!
//! - The real MNIST test set, embedded in the library ([`bundled`]):
//!   [`bundled::mnist`].
//!
//! Every malformed file is an [`Error::Data`] that names the file and says
//! what is wrong; no loader panics on bad input, and none allocates more
//! than the file actually holds because a header says so.
//!
//! Input scaling is explicit where the format has a choice: [`Scale`].

pub mod bundled;
pub mod cifar;
pub mod idx;
pub mod npy;
pub mod npz;
mod scale;

pub use cifar::load_cifar10_batches;
pub use npy::{load_npy_dataset, read_npy};
pub use npz::load_npz_dataset;
pub use scale::Scale;

use std::path::Path;

use ndarray::{s, Array2, ArrayD, Axis, IxDyn};

use crate::error::{Error, Result};

/// Inputs and targets, first axis = samples.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub x: ArrayD<f32>,
    pub y: ArrayD<f32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        Dataset {
            x: self.x.slice_axis(Axis(0), (start..end).into()).to_owned(),
            y: self.y.slice_axis(Axis(0), (start..end).into()).to_owned(),
        }
    }

    /// The first `n` samples and the rest.
    pub fn split_at(&self, n: usize) -> (Dataset, Dataset) {
        let n = n.min(self.len());
        (self.slice(0, n), self.slice(n, self.len()))
    }
}

/// One-hot rows for integer labels in `0..classes`.
pub fn one_hot(labels: &[u8], classes: usize) -> Result<Array2<f32>> {
    let mut out = Array2::zeros((labels.len(), classes));
    for (i, &l) in labels.iter().enumerate() {
        if l as usize >= classes {
            return Err(Error::Config(format!(
                "label {l} at index {i} is outside 0..{classes}"
            )));
        }
        out[[i, l as usize]] = 1.0;
    }
    Ok(out)
}

/// The MNIST images of `dir` (`t10k-images-idx3-ubyte[.gz]` and labels)
/// as `[n, 28, 28]` pixels scaled to 0..1 and one-hot `[n, 10]` labels.
/// Works for a Fashion-MNIST directory too (same file names and format).
pub fn mnist_test_set(dir: &Path) -> Result<Dataset> {
    load_idx_dataset(
        &find(dir, "t10k-images-idx3-ubyte")?,
        &find(dir, "t10k-labels-idx1-ubyte")?,
        10,
    )
}

/// Images and labels from two IDX files (gzipped or not), as MNIST and
/// Fashion-MNIST publish them: `x` is `[n, rows, cols]` scaled to 0..1
/// (divided by 255), `y` one-hot `[n, classes]`.
///
/// Errors ([`Error::Data`], naming the offending file): anything
/// [`idx::read_idx`] rejects, images that are not 3-D (magic other than
/// `0x00000803`) or labels that are not 1-D (magic other than `0x00000801`),
/// a different number of images and labels, a label `>= classes`.
pub fn load_idx_dataset(images: &Path, labels: &Path, classes: usize) -> Result<Dataset> {
    load_idx_dataset_scaled(images, labels, classes, Scale::BYTE)
}

/// [`load_idx_dataset`] with the pixels scaled by `scale` instead of 1/255.
pub fn load_idx_dataset_scaled(
    images: &Path,
    labels: &Path,
    classes: usize,
    scale: Scale,
) -> Result<Dataset> {
    if classes == 0 {
        return Err(Error::Config("classes must be at least 1".into()));
    }
    let images = idx::read_idx_of(images, idx::Kind::Images)?;
    let labels = idx::read_idx_of(labels, idx::Kind::Labels)?;
    idx_dataset(images, labels, classes, scale)
}

/// Images and labels from decoded IDX files: the common part of
/// [`load_idx_dataset_scaled`] and [`bundled::mnist`].
pub(crate) fn idx_dataset(
    images: idx::Idx,
    labels: idx::Idx,
    classes: usize,
    scale: Scale,
) -> Result<Dataset> {
    if classes == 0 {
        return Err(Error::Config("classes must be at least 1".into()));
    }
    for (file, kind) in [(&images, idx::Kind::Images), (&labels, idx::Kind::Labels)] {
        if file.dims.len() != kind.ndims() {
            return Err(Error::Data {
                path: file.path.clone(),
                message: kind.mismatch(file.dims.len()),
            });
        }
    }
    if images.dims[0] != labels.dims[0] {
        return Err(Error::Data {
            path: labels.path,
            message: format!(
                "count mismatch: {} labels but {} images in {}",
                labels.dims[0],
                images.dims[0],
                images.path.display()
            ),
        });
    }
    let y = one_hot(&labels.data, classes).map_err(|e| Error::Data {
        path: labels.path.clone(),
        message: e.to_string(),
    })?;
    let x = ArrayD::from_shape_vec(
        IxDyn(&images.dims),
        images.data.iter().map(|&p| scale.apply(p as f32)).collect(),
    )
    .expect("read_idx checked the size");
    Ok(Dataset { x, y: y.into_dyn() })
}

/// `dir/name.gz` or `dir/name`, whichever exists.
fn find(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    let plain = dir.join(name);
    [gz.clone(), plain]
        .into_iter()
        .find(|p| p.exists())
        .ok_or_else(|| Error::Data {
            path: gz,
            message: "file not found (neither gzipped nor plain)".into(),
        })
}

/// Pads `[n, h, w]` images with zeros to `[n, h + 2p, w + 2p]`.
pub fn pad_images(x: &ArrayD<f32>, p: usize) -> ArrayD<f32> {
    let (n, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let mut out = ArrayD::zeros(IxDyn(&[n, h + 2 * p, w + 2 * p]));
    out.slice_mut(s![.., p..p + h, p..p + w]).assign(x);
    out
}
