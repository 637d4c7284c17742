//! Training that cannot or must not go on: bad `fit` / `evaluate` /
//! `predict` arguments as `Error::Config`, NaN data, diverging losses and
//! infinite gradients stopping `fit` with the last good state kept,
//! overflowing updates stopping it a step later and never checkpointed, and the
//! checks added in review (sparse labels that are not class indices, dropout
//! rates outside [0, 1), models too large to allocate, a metric that does not
//! fit the targets).

use crate::training_support::{
    all_finite, array, classifier, config_error, linear, model, options, regression,
};
use ndarray::{ArrayD, IxDyn};
use triceratops::backend::Interpreter;
use triceratops::checkpoint::{self, RunSettings};
use triceratops::data::Dataset;
use triceratops::error::Divergence;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Dense, Sequential};
use triceratops::train::Silent;
use triceratops::{Error, History, Model, Validation};

// ----------------------------------------------------------- bad arguments

#[test]
fn bad_fit_arguments_are_config_errors() {
    let data = regression(20, 5);
    let mut m = model(
        linear(3),
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        0,
    );
    let ok = options(1, 4, false, Validation::None);

    let wrong_x = Dataset {
        x: ArrayD::zeros(IxDyn(&[20, 4])),
        y: data.y.clone(),
    };
    let msg = config_error(m.fit(&wrong_x, &ok, &mut Silent));
    assert!(msg.contains("[3]") && msg.contains("[20, 4]"), "{msg}");

    let wrong_y = Dataset {
        x: data.x.clone(),
        y: ArrayD::zeros(IxDyn(&[20, 2])),
    };
    let msg = config_error(m.fit(&wrong_y, &ok, &mut Silent));
    assert!(msg.contains("[20, 1]") && msg.contains("[20, 2]"), "{msg}");

    let fewer_y = Dataset {
        x: data.x.clone(),
        y: ArrayD::zeros(IxDyn(&[19, 1])),
    };
    config_error(m.fit(&fewer_y, &ok, &mut Silent));

    let msg = config_error(m.fit(&data, &options(1, 0, false, Validation::None), &mut Silent));
    assert!(msg.contains("batch_size"), "{msg}");

    // A run whose epoch counter would overflow (a crafted checkpoint).
    m.epochs_done = usize::MAX;
    let msg = config_error(m.fit(&data, &ok, &mut Silent));
    assert!(msg.contains("do not fit a counter"), "{msg}");
    m.epochs_done = 0;

    let msg = config_error(m.fit(
        &data,
        &options(1, 4, false, Validation::Split(1.5)),
        &mut Silent,
    ));
    assert!(
        msg.contains("validation_split") && msg.contains("1.5"),
        "{msg}"
    );
    config_error(m.fit(
        &data,
        &options(1, 4, false, Validation::Split(-0.1)),
        &mut Silent,
    ));

    let bad_val = Dataset {
        x: ArrayD::zeros(IxDyn(&[5, 2])),
        y: ArrayD::zeros(IxDyn(&[5, 1])),
    };
    config_error(m.fit(
        &data,
        &options(1, 4, false, Validation::Data(Box::new(bad_val))),
        &mut Silent,
    ));

    config_error(m.predict(&ArrayD::zeros(IxDyn(&[2, 5])), 4));
    config_error(m.evaluate(&wrong_y, 4));

    // Nothing ran.
    assert_eq!(m.steps(), 0);
}

// -------------------------------------------------------------- divergence

/// Trains a copy (same seed) on the first `steps` batches of `data` in order.
fn reference_steps(build: impl Fn() -> Model, data: &Dataset, batch: usize, steps: usize) -> Model {
    let mut m = build();
    for s in 0..steps {
        let b = data.slice(s * batch, ((s + 1) * batch).min(data.len()));
        m.train_on_batch(b.x, b.y).unwrap();
    }
    m
}

#[test]
fn nan_in_the_data_stops_fit_and_keeps_the_last_good_state() {
    let mut data = regression(40, 6);
    data.x[[25, 1]] = f32::NAN; // in batch 3 of 10
    let build = || {
        model(
            linear(3),
            Optimizer::adam(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
            2,
        )
    };
    let mut m = build();
    let err = m
        .fit(&data, &options(2, 10, false, Validation::None), &mut Silent)
        .unwrap_err();
    match &err {
        Error::NonFinite {
            loss,
            epoch,
            step,
            cause,
        } => {
            assert!(loss.is_nan());
            assert_eq!((*epoch, *step), (1, 3));
            assert_eq!(*cause, Divergence::Loss);
        }
        other => panic!("expected Error::NonFinite, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(
        shown.contains("epoch 1") && shown.contains("step 3"),
        "{shown}"
    );
    assert!(all_finite(&m), "NaN leaked into the state");
    assert_eq!(m.steps(), 2);
    // The state is exactly the one after the two good steps.
    let reference = reference_steps(build, &data, 10, 2);
    assert_eq!(m.state(), reference.state());
}

#[test]
fn divergence_stops_fit_and_discards_the_failing_update() {
    let data = regression(40, 7);
    let build = || {
        model(
            linear(3),
            Optimizer::sgd(Convention::Keras).with_learning_rate(1e12),
            Loss::MeanSquaredError,
            &[],
            3,
        )
    };
    let mut m = build();
    let err = m
        .fit(&data, &options(5, 10, false, Validation::None), &mut Silent)
        .unwrap_err();
    let Error::NonFinite {
        loss, epoch, step, ..
    } = err
    else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert!(!loss.is_finite());
    assert!(
        (1..=5).contains(&epoch) && (1..=4).contains(&step),
        "{epoch} {step}"
    );
    assert!(all_finite(&m), "a non-finite value reached the state");
    let done = (epoch - 1) * 4 + step - 1;
    assert_eq!(m.steps(), done as u64);
    // Replaying the good steps in order gives exactly the same state.
    let mut reference = build();
    for s in 0..done {
        let b = data.slice((s % 4) * 10, (s % 4) * 10 + 10);
        reference.train_on_batch(b.x, b.y).unwrap();
    }
    assert_eq!(m.state(), reference.state());
}

#[test]
fn an_infinite_gradient_with_a_finite_loss_leaves_the_state_untouched() {
    // pred = 0.5 * 2e19 = 1e19, loss = 1e38 (finite), but
    // d loss / d w0 = 2 * pred * x0 = 4e38 overflows f32.
    let mut m = model(
        linear(3),
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        4,
    );
    let kernel = ArrayD::from_shape_vec(IxDyn(&[3, 1]), vec![0.5, 0.0, 0.0]).unwrap();
    m.state_mut().set("dense.kernel", &kernel.view()).unwrap();
    let initial = m.state().clone();
    let x = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![2e19, 0.0, 0.0]).unwrap();
    let y = ArrayD::zeros(IxDyn(&[1, 1]));
    let err = m.train_on_batch(x, y).unwrap_err();
    let Error::NonFinite { loss, cause, .. } = &err else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert_eq!(*loss, 1e38);
    assert_eq!(*cause, Divergence::Gradient);
    assert!(
        err.to_string().contains("a gradient is not finite"),
        "{err}"
    );
    assert_eq!(m.state(), &initial, "the guard kept the update out");
    assert_eq!(m.steps(), 0);
}

/// SGD with lr 1e36 on targets ~1e3: the first step's loss and gradients are
/// finite, but `w - lr * g` overflows f32. The in-graph guard covers the
/// loss and the gradients (so updates can be written in place, as PyTorch's
/// GradScaler checks gradients only), so the overflow is reported when the
/// next step's guard trips, or at the end of the epoch when it was its last
/// step — as the state entry that holds it; no checkpoint ever takes it.
fn overflowing(epochs: usize, batch: usize) -> (Model, Error) {
    let mut data = regression(40, 9);
    data.y.mapv_inplace(|v| 1000.0 * v);
    let mut m = model(
        linear(3),
        Optimizer::sgd(Convention::Keras).with_learning_rate(1e36),
        Loss::MeanSquaredError,
        &[],
        4,
    );
    let err = m
        .fit(
            &data,
            &options(epochs, batch, false, Validation::None),
            &mut Silent,
        )
        .unwrap_err();
    (m, err)
}

#[test]
fn an_overflowing_update_stops_training_at_the_next_step() {
    let (m, err) = overflowing(2, 10);
    let Error::NonFinite {
        epoch, step, cause, ..
    } = &err
    else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert_eq!((*epoch, *step), (1, 2));
    assert_eq!(
        *cause,
        Divergence::State {
            entry: "dense.kernel".into()
        },
        "the poisoned state is named, not just the loss it caused"
    );
    assert!(
        err.to_string().contains("`dense.kernel` is not finite"),
        "{err}"
    );
    assert_eq!(m.steps(), 1, "the second step was not applied");
    assert!(!all_finite(&m), "the first step's overflow is in the state");
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("ck.safetensors");
    let refused =
        checkpoint::save(&path, &m, &RunSettings::default(), &History::default()).unwrap_err();
    assert!(refused.to_string().contains("non-finite"), "{refused}");
    assert!(!path.exists(), "no checkpoint of a diverged state");
}

#[test]
fn an_overflow_in_the_last_step_of_an_epoch_is_found_at_its_end() {
    let (m, err) = overflowing(3, 40);
    let Error::NonFinite {
        epoch, step, cause, ..
    } = &err
    else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert_eq!((*epoch, *step), (1, 1));
    assert_eq!(
        *cause,
        Divergence::State {
            entry: "dense.kernel".into()
        }
    );
    assert!(
        err.to_string().contains("`dense.kernel` is not finite"),
        "{err}"
    );
    assert_eq!(m.epochs_done, 0, "the epoch does not count as done");
}

// ------------------------------------------------------ review regressions

#[test]
fn sparse_labels_must_be_class_indices() {
    let sparse = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let x = array(&[4, 2], |i| i as f32 * 0.1);
    for bad in [3.0, -1.0, 2.5, f32::NAN] {
        let mut m = model(
            classifier(),
            Optimizer::sgd(Convention::Keras),
            sparse,
            &[],
            0,
        );
        let y = array(&[4], |i| if i == 2 { bad } else { 1.0 });
        let msg = config_error(m.train_on_batch(x.clone(), y.clone()));
        assert!(msg.contains("index 2") && msg.contains("0..3"), "{msg}");
        let msg = config_error(m.evaluate(&Dataset { x: x.clone(), y }, 4));
        assert!(msg.contains("sparse label"), "{msg}");
    }
}

#[test]
fn dropout_rate_outside_zero_one_is_a_layer_error() {
    for rate in [-0.5, 1.0, 1.5, f32::NAN] {
        let mut m = Sequential::new("d", &[4]);
        let err = m.add(triceratops::keras::Dropout::new(rate)).unwrap_err();
        assert!(matches!(err, Error::Layer { .. }), "{err:?}");
        assert!(err.to_string().contains("rate must be in [0, 1)"), "{err}");
    }
}

#[test]
fn models_too_large_to_allocate_are_refused() {
    let mut m = Sequential::new("huge", &[1 << 20]);
    m.add(Dense::new(1 << 20)).unwrap();
    let err = Model::new(
        m,
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        Box::new(Interpreter),
        0,
    )
    .err()
    .expect("a 2^40-parameter model is refused");
    assert!(err.to_string().contains("parameters"), "{err}");
}

#[test]
fn a_metric_that_does_not_fit_the_targets_is_an_error() {
    // Sparse accuracy with one-hot (categorical) targets: refused when
    // compiling, instead of comparing class indices with one-hot rows.
    let err = Model::new(
        classifier(),
        Optimizer::sgd(Convention::Keras),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::SparseCategoricalAccuracy],
        Box::new(Interpreter),
        0,
    )
    .err()
    .expect("mismatched metric");
    assert!(
        err.to_string().contains("sparse_categorical_accuracy"),
        "{err}"
    );
}
