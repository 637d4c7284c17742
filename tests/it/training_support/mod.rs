//! Helpers shared by the `training_*` tests: deterministic data sets (noisy
//! points around three centres to classify, a linear regression), the small
//! models trained on them, `FitOptions` and `Model` shorthands, and hand
//! computations of Keras' categorical cross-entropy, accuracy and argmax.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use ndarray::{ArrayD, Axis, IxDyn};
use triceratops::backend::Interpreter;
use triceratops::data::Dataset;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::Optimizer;
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::{Error, FitOptions, Model, Validation};

pub fn array(shape: &[usize], f: impl FnMut(usize) -> f32) -> ArrayD<f32> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

/// A deterministic pseudo-random stream in [0, 1) (an LCG), so the test data
/// does not depend on the library's RNG.
pub struct Lcg(u64);

impl Lcg {
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// `n` points in `[-1, 1]^2` around three centres, with one-hot labels and
/// the class indices.
pub fn blobs(n: usize, seed: u64) -> (Dataset, Vec<usize>) {
    let centres = [[-0.6f32, -0.5], [0.6, -0.4], [0.0, 0.6]];
    let mut rng = Lcg(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let c = (i * 7 + i / 3) % 3;
        for centre in centres[c] {
            x.push(centre + 0.5 * (rng.next() - 0.5));
        }
        for k in 0..3 {
            y.push(if k == c { 1.0 } else { 0.0 });
        }
        labels.push(c);
    }
    let data = Dataset {
        x: ArrayD::from_shape_vec(IxDyn(&[n, 2]), x).unwrap(),
        y: ArrayD::from_shape_vec(IxDyn(&[n, 3]), y).unwrap(),
    };
    (data, labels)
}

pub fn classifier() -> Sequential {
    let mut m = Sequential::new("classifier", &[2]);
    m.add(Dense::new(8).activation(Activation::Tanh)).unwrap();
    m.add(Dense::new(3).activation(Activation::Softmax))
        .unwrap();
    m
}

/// `y = 1.5 x0 - 2 x1 + 0.5 x2 + 0.3` on `n` points in `[-1, 1]^3`.
pub fn regression(n: usize, seed: u64) -> Dataset {
    let mut rng = Lcg(seed);
    let x = array(&[n, 3], |_| 2.0 * rng.next() - 1.0);
    let y = array(&[n, 1], |i| {
        1.5 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.5 * x[[i, 2]] + 0.3
    });
    Dataset { x, y }
}

pub fn linear(units_in: usize) -> Sequential {
    let mut m = Sequential::new("linear", &[units_in]);
    m.add(Dense::new(1)).unwrap();
    m
}

pub fn model(
    m: Sequential,
    optimizer: Optimizer,
    loss: Loss,
    metrics: &[Metric],
    seed: u64,
) -> Model {
    Model::new(m, optimizer, loss, metrics, Box::new(Interpreter), seed).unwrap()
}

pub fn options(
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
    validation: Validation,
) -> FitOptions {
    FitOptions {
        epochs,
        batch_size,
        shuffle,
        validation,
    }
}

pub fn all_finite(model: &Model) -> bool {
    model.state().first_non_finite().is_none()
}

/// Keras' categorical cross-entropy on probabilities (renormalized and
/// clipped) and argmax accuracy, by hand in f64.
pub fn ce_and_accuracy(pred: &ArrayD<f32>, target: &ArrayD<f32>) -> (f64, f64) {
    let n = pred.shape()[0];
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for i in 0..n {
        let p = pred.index_axis(Axis(0), i);
        let t = target.index_axis(Axis(0), i);
        let total: f64 = p.iter().map(|&v| v as f64).sum();
        for (pk, tk) in p.iter().zip(t.iter()) {
            let q = (*pk as f64 / total).clamp(1e-7, 1.0 - 1e-7);
            loss -= *tk as f64 * q.ln();
        }
        if argmax(p.iter().copied()) == argmax(t.iter().copied()) {
            correct += 1;
        }
    }
    (loss / n as f64, correct as f64 / n as f64)
}

/// The first index of the maximum, as Keras' argmax picks it.
pub fn argmax(v: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, x) in v.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

pub fn config_error<T: std::fmt::Debug>(r: triceratops::Result<T>) -> String {
    match r {
        Err(Error::Config(msg)) => msg,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

/// A copy of the model's state entry `name`.
pub fn state(m: &Model, name: &str) -> ArrayD<f32> {
    m.state()
        .view(name)
        .unwrap_or_else(|| panic!("the model has no state `{name}`"))
        .to_owned()
}
