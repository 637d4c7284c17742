//! Helpers shared by the `keras_*` layer tests: compiling a `Sequential`
//! into a `Model` (with or without a chosen seed), building arrays from an
//! index function, and comparing floats with a relative tolerance.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use triceratops::backend::Interpreter;
use triceratops::keras::losses::Loss;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::Sequential;
use triceratops::Model;

/// Compiles with plain SGD and MSE: enough to run `predict` and set weights.
pub fn compiled(model: Sequential) -> Model {
    model
        .compile(
            Optimizer::sgd(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap()
}

pub fn compiled_seeded(model: Sequential, seed: u64) -> Model {
    Model::new(
        model,
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        Box::new(Interpreter),
        seed,
    )
    .unwrap()
}

pub fn array(shape: &[usize], f: impl FnMut(usize) -> f32) -> ArrayD<f32> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

pub fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

pub fn assert_all_close(got: &ArrayD<f32>, want: &ArrayD<f32>, tol: f32) {
    assert_eq!(got.shape(), want.shape());
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(close(*g, *w, tol), "element {i}: got {g}, want {w}");
    }
}

/// A copy of the model's state entry `name`.
pub fn state(m: &Model, name: &str) -> ArrayD<f32> {
    m.state()
        .view(name)
        .unwrap_or_else(|| panic!("the model has no state `{name}`"))
        .to_owned()
}
