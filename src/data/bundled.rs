//! The real MNIST test set (10,000 digits), embedded in the library with
//! `include_bytes!` from `data/mnist/`, so that the `mnist` and `mnist32`
//! data specs work from any folder and from an installed binary, without
//! the source tree.
//!
//! Errors about the embedded files (which cannot happen unless the build
//! embedded broken files) name them as `data/mnist/<file> (built in)`.

use std::path::PathBuf;

use super::{idx, idx_dataset, Dataset, Scale};
use crate::error::Result;

/// The gzipped IDX images, as published.
pub const MNIST_IMAGES: &[u8] = include_bytes!("../../data/mnist/t10k-images-idx3-ubyte.gz");
/// The gzipped IDX labels, as published.
pub const MNIST_LABELS: &[u8] = include_bytes!("../../data/mnist/t10k-labels-idx1-ubyte.gz");

/// The name errors give an embedded file of `data/mnist/`.
pub fn name(file: &str) -> PathBuf {
    PathBuf::from(format!("data/mnist/{file} (built in)"))
}

/// The embedded MNIST test set: `x` is `[10000, 28, 28]` with the pixels
/// scaled by `scale` ([`Scale::BYTE`] gives the 0..1 of
/// [`super::mnist_test_set`]), `y` one-hot `[10000, 10]`.
pub fn mnist(scale: Scale) -> Result<Dataset> {
    let images = idx::read_idx_bytes(
        &name("t10k-images-idx3-ubyte.gz"),
        MNIST_IMAGES,
        Some(idx::Kind::Images),
    )?;
    let labels = idx::read_idx_bytes(
        &name("t10k-labels-idx1-ubyte.gz"),
        MNIST_LABELS,
        Some(idx::Kind::Labels),
    )?;
    idx_dataset(images, labels, 10, scale)
}
