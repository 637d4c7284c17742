//! Built-in models, each with the settings it trains well with and the
//! bundled data it trains on by default, so `triceratops train --model NAME`
//! works on a fresh machine.

use crate::error::Result;
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Convention, Optimizer};
use crate::keras::{Activation, Conv2D, Dense, Flatten, MaxPooling2D, Sequential};

/// A model and its default training recipe.
pub struct Builtin {
    pub model: Sequential,
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub metrics: Vec<Metric>,
    pub epochs: usize,
    pub batch_size: usize,
    /// The data spec used when `--data` is not given (see `cli::data`).
    pub data: &'static str,
}

pub const NAMES: [&str; 3] = ["linreg", "mnist-mlp", "seed-cnn"];

/// The built-in model called `name`, if there is one.
pub fn builtin(name: &str) -> Result<Option<Builtin>> {
    Ok(Some(match name {
        "linreg" => linreg()?,
        "mnist-mlp" => mnist_mlp()?,
        "seed-cnn" => seed_cnn()?,
        _ => return Ok(None),
    }))
}

/// The lecture's `y = a*x + b` as a one-unit Dense layer, fitted by SGD.
fn linreg() -> Result<Builtin> {
    let mut model = Sequential::new("linreg", &[1]);
    model.add(Dense::new(1))?;
    Ok(Builtin {
        model,
        loss: Loss::MeanSquaredError,
        optimizer: Optimizer::sgd(Convention::Keras).with_learning_rate(0.1),
        metrics: vec![],
        epochs: 20,
        batch_size: 32,
        data: "line",
    })
}

/// 784-128-10 on MNIST, Adam.
fn mnist_mlp() -> Result<Builtin> {
    let mut model = Sequential::new("mnist_mlp", &[784]);
    model.add(Dense::new(128).activation(Activation::Relu))?;
    model.add(Dense::new(10).activation(Activation::Softmax))?;
    Ok(Builtin {
        model,
        loss: Loss::CategoricalCrossentropy { from_logits: false },
        optimizer: Optimizer::adam(Convention::Keras),
        metrics: vec![Metric::Accuracy],
        epochs: 5,
        batch_size: 128,
        data: "mnist",
    })
}

/// The lecture's CNN (11,290 parameters) with its compile settings
/// (`rmsprop`, categorical cross-entropy, accuracy).
fn seed_cnn() -> Result<Builtin> {
    let mut model = Sequential::new("seed_cnn", &[32, 32, 3]);
    model.add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))?;
    model.add(MaxPooling2D::new((2, 2)))?;
    model.add(Conv2D::new(16, (3, 3)).activation(Activation::Relu))?;
    model.add(MaxPooling2D::new((2, 2)))?;
    model.add(Flatten::new())?;
    model.add(Dense::new(10).activation(Activation::Softmax))?;
    Ok(Builtin {
        model,
        loss: Loss::CategoricalCrossentropy { from_logits: false },
        optimizer: Optimizer::rmsprop(Convention::Keras),
        metrics: vec![Metric::Accuracy],
        epochs: 3,
        batch_size: 128,
        data: "mnist32",
    })
}
