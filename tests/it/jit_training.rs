//! Training on the JIT: the MNIST MLP reaches the interpreter's accuracy on
//! the bundled digits; the NaN/inf guard and the divergence reports behave
//! exactly as on the interpreter; wrong batches and graphs too large for
//! memory are errors, never crashes.

use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::compile::{train_step, CompileSpec, Passes};
use triceratops::data::{mnist_test_set, Dataset};
use triceratops::error::Divergence;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::state::StateLayout;
use triceratops::train::Silent;
use triceratops::{Error, Model, Validation};

use crate::training_support::{all_finite, linear, options, regression};

fn mlp() -> Sequential {
    let mut m = Sequential::new("mnist_mlp", &[784]);
    m.add(Dense::new(128).activation(Activation::Relu)).unwrap();
    m.add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    m
}

/// Validation accuracy after `epochs` epochs of the MNIST MLP on 8000 of
/// the bundled digits, validated on the other 2000.
fn mnist_accuracy(backend: Box<dyn Backend>, epochs: usize) -> Vec<f32> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let data = mnist_test_set(&dir).unwrap();
    let n = data.len();
    let x = data.x.into_shape_with_order((n, 784)).unwrap().into_dyn();
    let (train, validation) = Dataset { x, y: data.y }.split_at(8000);
    let mut model = Model::new(
        mlp(),
        Optimizer::adam(Convention::Keras),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
        backend,
        0,
    )
    .unwrap();
    let history = model
        .fit(
            &train,
            &options(epochs, 128, true, Validation::Data(Box::new(validation))),
            &mut Silent,
        )
        .unwrap();
    history.val_metric("accuracy")
}

#[test]
fn mnist_mlp_on_the_jit_reaches_the_interpreters_accuracy() {
    let jit = mnist_accuracy(Box::new(Jit::new()), 2);
    let interp = mnist_accuracy(Box::new(Interpreter), 2);
    let (j, i) = (*jit.last().unwrap(), *interp.last().unwrap());
    assert!(j >= 0.88, "JIT validation accuracy {jit:?}");
    // Same seed, same batches: the runs differ only by f32 rounding.
    assert!(
        (j - i).abs() <= 0.01,
        "JIT {jit:?} vs interpreter {interp:?}"
    );
}

fn jit_model(optimizer: Optimizer, seed: u64) -> Model {
    Model::new(
        linear(3),
        optimizer,
        Loss::MeanSquaredError,
        &[],
        Box::new(Jit::new()),
        seed,
    )
    .unwrap()
}

#[test]
fn a_nan_producing_learning_rate_stops_training_and_keeps_the_last_good_state() {
    let data = regression(40, 7);
    let build = || {
        jit_model(
            Optimizer::sgd(Convention::Keras).with_learning_rate(1e12),
            3,
        )
    };
    let mut m = build();
    let err = m
        .fit(&data, &options(5, 10, false, Validation::None), &mut Silent)
        .unwrap_err();
    let Error::NonFinite { epoch, step, .. } = err else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert!(all_finite(&m), "a non-finite value reached the state");
    let done = (epoch - 1) * 4 + step - 1;
    assert_eq!(m.steps(), done as u64);
    let mut reference = build();
    for s in 0..done {
        let b = data.slice((s % 4) * 10, (s % 4) * 10 + 10);
        reference.train_on_batch(b.x, b.y).unwrap();
    }
    assert_eq!(
        m.state(),
        reference.state(),
        "the failing update was discarded"
    );
}

#[test]
fn an_infinite_gradient_leaves_the_jit_state_untouched() {
    let mut m = jit_model(Optimizer::adam(Convention::Keras), 4);
    let kernel = ArrayD::from_shape_vec(IxDyn(&[3, 1]), vec![0.5, 0.0, 0.0]).unwrap();
    m.state_mut().set("dense.kernel", &kernel.view()).unwrap();
    let initial = m.state().clone();
    let x = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![2e19, 0.0, 0.0]).unwrap();
    let err = m
        .train_on_batch(x, ArrayD::zeros(IxDyn(&[1, 1])))
        .unwrap_err();
    let Error::NonFinite { cause, .. } = &err else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert_eq!(*cause, Divergence::Gradient);
    assert_eq!(
        m.state(),
        &initial,
        "the guard kept every in-place update out"
    );
    assert_eq!(m.steps(), 0);
}

#[test]
fn a_wrong_shaped_batch_is_an_error_on_the_jit() {
    let mut m = jit_model(Optimizer::sgd(Convention::Keras), 0);
    let err = m
        .train_on_batch(ArrayD::zeros(IxDyn(&[4, 5])), ArrayD::zeros(IxDyn(&[4, 1])))
        .unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
    let err = m
        .train_on_batch(ArrayD::zeros(IxDyn(&[4, 3])), ArrayD::zeros(IxDyn(&[5, 1])))
        .unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
    assert_eq!(m.steps(), 0);
}

#[test]
fn a_graph_too_large_for_memory_is_refused_by_the_jit() {
    // The MLP's train step for a batch of 2^40 samples: every shape is
    // valid, but its arena would need petabytes.
    let spec = CompileSpec::new(
        &mlp(),
        Optimizer::sgd(Convention::Keras),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
        Passes::None,
    );
    let (compiled, _) = train_step(&mlp(), &spec, 1 << 40).unwrap();
    let layout = StateLayout::new(compiled.signature.state_args().map(|(_, a)| {
        let triceratops::compile::ArgRole::State(kind) = a.role else {
            unreachable!()
        };
        (a.name.clone(), kind, a.ty.shape.clone())
    }))
    .unwrap();
    let err = Jit::default()
        .compile(compiled, &Arc::new(layout))
        .err()
        .expect("refused");
    let shown = err.to_string();
    assert!(
        shown.contains("cannot allocate") && shown.contains("too large"),
        "{shown}"
    );
}
