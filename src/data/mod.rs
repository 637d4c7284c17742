//! Data sets as arrays: loaders for real file formats, plus the small
//! transforms training needs (one-hot labels, train/validation splits).

pub mod idx;

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
pub fn mnist_test_set(dir: &Path) -> Result<Dataset> {
    let images = idx::read_idx(&find(dir, "t10k-images-idx3-ubyte")?)?;
    let labels = idx::read_idx(&find(dir, "t10k-labels-idx1-ubyte")?)?;
    mnist_from_idx(images, labels)
}

fn mnist_from_idx(images: idx::Idx, labels: idx::Idx) -> Result<Dataset> {
    let (ipath, lpath) = (images.path.clone(), labels.path.clone());
    if images.dims.len() != 3 || labels.dims.len() != 1 || images.dims[0] != labels.dims[0] {
        return Err(Error::Data {
            path: ipath,
            message: format!(
                "expected images [n, rows, cols] and labels [n]; got {:?} and {:?} ({})",
                images.dims,
                labels.dims,
                lpath.display()
            ),
        });
    }
    let x = ArrayD::from_shape_vec(
        IxDyn(&images.dims),
        images.data.iter().map(|&p| p as f32 / 255.0).collect(),
    )
    .expect("read_idx checked the size");
    let y = one_hot(&labels.data, 10).map_err(|e| Error::Data {
        path: lpath,
        message: e.to_string(),
    })?;
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
