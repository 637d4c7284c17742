//! Training end to end: the MNIST MLP on the bundled real digits, fit /
//! evaluate / predict agreeing with hand computations, Keras'
//! validation_split, error values for bad arguments and diverging runs,
//! every optimizer lowering a loss, and sparse labels.

use std::path::Path;

use ndarray::{ArrayD, Axis, IxDyn};
use triceratops::backend::Interpreter;
use triceratops::data::{mnist_test_set, Dataset};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::train::Silent;
use triceratops::{Error, FitOptions, Model, Validation};

// ---------------------------------------------------------------- helpers

fn array(shape: &[usize], f: impl FnMut(usize) -> f32) -> ArrayD<f32> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

/// A deterministic pseudo-random stream in [0, 1) (an LCG), so the test data
/// does not depend on the library's RNG.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// `n` points in `[-1, 1]^2` around three centres, with one-hot labels and
/// the class indices.
fn blobs(n: usize, seed: u64) -> (Dataset, Vec<usize>) {
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

fn classifier() -> Sequential {
    let mut m = Sequential::new("classifier", &[2]);
    m.add(Dense::new(8).activation(Activation::Tanh)).unwrap();
    m.add(Dense::new(3).activation(Activation::Softmax))
        .unwrap();
    m
}

/// `y = 1.5 x0 - 2 x1 + 0.5 x2 + 0.3` on `n` points in `[-1, 1]^3`.
fn regression(n: usize, seed: u64) -> Dataset {
    let mut rng = Lcg(seed);
    let x = array(&[n, 3], |_| 2.0 * rng.next() - 1.0);
    let y = array(&[n, 1], |i| {
        1.5 * x[[i, 0]] - 2.0 * x[[i, 1]] + 0.5 * x[[i, 2]] + 0.3
    });
    Dataset { x, y }
}

fn linear(units_in: usize) -> Sequential {
    let mut m = Sequential::new("linear", &[units_in]);
    m.add(Dense::new(1)).unwrap();
    m
}

fn model(m: Sequential, optimizer: Optimizer, loss: Loss, metrics: &[Metric], seed: u64) -> Model {
    Model::new(m, optimizer, loss, metrics, Box::new(Interpreter), seed).unwrap()
}

fn options(epochs: usize, batch_size: usize, shuffle: bool, validation: Validation) -> FitOptions {
    FitOptions {
        epochs,
        batch_size,
        shuffle,
        validation,
    }
}

fn all_finite(model: &Model) -> bool {
    model
        .state
        .values()
        .all(|a| a.iter().all(|v| v.is_finite()))
}

/// Keras' categorical cross-entropy on probabilities (renormalized and
/// clipped) and argmax accuracy, by hand in f64.
fn ce_and_accuracy(pred: &ArrayD<f32>, target: &ArrayD<f32>) -> (f64, f64) {
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
fn argmax(v: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, x) in v.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}

// ------------------------------------------------------------------ MNIST

#[test]
fn mnist_mlp_reaches_90_percent_in_3_epochs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let data = mnist_test_set(&dir).unwrap();
    let n = data.len();
    assert_eq!(n, 10_000);
    let x = data.x.into_shape_with_order((n, 784)).unwrap().into_dyn();
    let data = Dataset { x, y: data.y };
    let (train, validation) = data.split_at(8000);
    assert_eq!((train.len(), validation.len()), (8000, 2000));

    let mut m = Sequential::new("mnist_mlp", &[784]);
    m.add(Dense::new(128).activation(Activation::Relu)).unwrap();
    m.add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    assert_eq!(m.count_params(), 784 * 128 + 128 + 128 * 10 + 10);
    let mut model = m
        .compile(
            Optimizer::adam(Convention::Keras),
            Loss::CategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
        )
        .unwrap();
    let history = model
        .fit(
            &train,
            &options(3, 128, true, Validation::Data(Box::new(validation.clone()))),
            &mut Silent,
        )
        .unwrap();

    assert_eq!(history.epochs.len(), 3);
    let epochs: Vec<usize> = history.epochs.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, [1, 2, 3]);
    let loss = history.loss();
    assert!(
        loss.windows(2).all(|w| w[1] < w[0]),
        "training loss must fall every epoch: {loss:?}"
    );
    assert_eq!(history.metric("accuracy").len(), 3);
    let val_acc = history.val_metric("accuracy");
    assert_eq!(val_acc.len(), 3, "val accuracy logged under `accuracy`");
    assert_eq!(history.val_loss().len(), 3);
    let last = *val_acc.last().unwrap();
    assert!(
        last >= 0.90,
        "validation accuracy {last} after 3 epochs ({val_acc:?})"
    );
    // 63 batches of 128 (the last one 64) per epoch.
    assert_eq!(model.steps(), 3 * 63);
    // The last epoch's validation entry is evaluate() on the same data.
    let eval = model.evaluate(&validation, 128).unwrap();
    let logged = history.epochs[2].validation.as_ref().unwrap();
    assert_eq!(eval.loss, logged.loss);
    assert_eq!(eval.metric("accuracy"), logged.metric("accuracy"));
}

// -------------------------------------------- fit / evaluate / predict

#[test]
fn evaluate_matches_predict_by_hand() {
    let (data, _) = blobs(50, 1);
    let mut model = model(
        classifier(),
        Optimizer::adam(Convention::Keras).with_learning_rate(0.02),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
        3,
    );
    let before = model.evaluate(&data, 50).unwrap();
    model
        .fit(&data, &options(5, 8, true, Validation::None), &mut Silent)
        .unwrap();
    let after = model.evaluate(&data, 50).unwrap();
    assert!(
        after.loss < before.loss,
        "{} -> {}",
        before.loss,
        after.loss
    );

    let p7 = model.predict(&data.x, 7).unwrap();
    let p32 = model.predict(&data.x, 32).unwrap();
    let p50 = model.predict(&data.x, 50).unwrap();
    assert_eq!(p7.shape(), &[50, 3]);
    assert_eq!(p7, p32, "predict depends on the batch size");
    assert_eq!(p7, p50, "predict depends on the batch size");

    let (loss, accuracy) = ce_and_accuracy(&p7, &data.y);
    for batch in [50, 7, 16, 1] {
        let logs = model.evaluate(&data, batch).unwrap();
        assert!(
            (logs.loss as f64 - loss).abs() < 1e-5,
            "batch {batch}: evaluate loss {} vs hand {loss}",
            logs.loss
        );
        let acc = logs.metric("accuracy").unwrap() as f64;
        assert!(
            (acc - accuracy).abs() < 1e-5,
            "batch {batch}: {acc} vs {accuracy}"
        );
    }
    // Evaluate and predict change nothing.
    assert_eq!(model.steps(), 5 * 7);
}

#[test]
fn history_logs_are_sample_weighted_means() {
    // With a zero learning rate the weights never move, so each epoch's
    // training loss must equal evaluate() over the same data.
    let (data, _) = blobs(45, 2);
    let mut model = model(
        classifier(),
        Optimizer::sgd(Convention::Keras).with_learning_rate(0.0),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
        4,
    );
    let history = model
        .fit(&data, &options(2, 10, true, Validation::None), &mut Silent)
        .unwrap();
    let eval = model.evaluate(&data, 45).unwrap();
    for e in &history.epochs {
        assert!(
            (e.train.loss - eval.loss).abs() < 1e-5,
            "{} vs {}",
            e.train.loss,
            eval.loss
        );
        let (a, b) = (
            e.train.metric("accuracy").unwrap(),
            eval.metric("accuracy").unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        assert!(e.validation.is_none());
    }
    assert_eq!(model.steps(), 2 * 5);
}

// ------------------------------------------------------ validation_split

/// 100 samples: the first 75 follow `y = 2x`, the last 25 `y = -3`, so a
/// model that trained on them or validated on others would show it.
fn split_data(n: usize, keep: usize) -> Dataset {
    let x = array(&[n, 1], |i| (i as f32 / n as f32) - 0.5);
    let y = array(&[n, 1], |i| if i < keep { 2.0 * x[[i, 0]] } else { -3.0 });
    Dataset { x, y }
}

#[test]
fn validation_split_takes_the_last_fraction_before_shuffling() {
    let data = split_data(100, 75);
    let adam = Optimizer::adam(Convention::Keras).with_learning_rate(0.05);
    let mut split = model(linear(1), adam, Loss::MeanSquaredError, &[], 9);
    let history = split
        .fit(
            &data,
            &options(4, 16, true, Validation::Split(0.25)),
            &mut Silent,
        )
        .unwrap();
    // Trained on 75 samples: 5 batches of 16 per epoch.
    assert_eq!(split.steps(), 4 * 5);
    let val = history.val_loss();
    assert_eq!(val.len(), 4);
    let tail = data.slice(75, 100);
    let eval = split.evaluate(&tail, 16).unwrap();
    assert_eq!(*val.last().unwrap(), eval.loss);
    // The targets -3 are far from anything y = 2x gives on these inputs.
    assert!(eval.loss > 4.0, "validation loss {}", eval.loss);

    // Exactly the run on the first 75 samples alone (same seed, same shuffles).
    let mut head = model(linear(1), adam, Loss::MeanSquaredError, &[], 9);
    head.fit(
        &data.slice(0, 75),
        &options(4, 16, true, Validation::None),
        &mut Silent,
    )
    .unwrap();
    assert_eq!(split.state, head.state);
}

#[test]
fn validation_split_rounds_like_keras() {
    // Keras 3: split_at = floor(n * (1 - validation_split)); 10 * 0.75 -> 7,
    // so the last 3 samples validate.
    let data = split_data(10, 7);
    let sgd = Optimizer::sgd(Convention::Keras);
    let mut split = model(linear(1), sgd, Loss::MeanSquaredError, &[], 1);
    let history = split
        .fit(
            &data,
            &options(1, 7, false, Validation::Split(0.25)),
            &mut Silent,
        )
        .unwrap();
    assert_eq!(split.steps(), 1, "7 training samples in one batch of 7");
    let eval = split.evaluate(&data.slice(7, 10), 7).unwrap();
    assert_eq!(history.val_loss(), vec![eval.loss]);

    // 0.1 means the decimal 0.1, as in Python: 90 train, 10 validate
    // (not 89 / 11 from the f32 0.100000001).
    let hundred = split_data(100, 90);
    let mut split = model(linear(1), sgd, Loss::MeanSquaredError, &[], 1);
    let history = split
        .fit(
            &hundred,
            &options(1, 90, false, Validation::Split(0.1)),
            &mut Silent,
        )
        .unwrap();
    assert_eq!(split.steps(), 1, "90 training samples in one batch of 90");
    let eval = split.evaluate(&hundred.slice(90, 100), 90).unwrap();
    assert_eq!(history.val_loss(), vec![eval.loss]);

    // 0.0 is no validation at all.
    let history = split
        .fit(
            &hundred,
            &options(1, 100, false, Validation::Split(0.0)),
            &mut Silent,
        )
        .unwrap();
    assert!(history.epochs[0].validation.is_none());
    assert_eq!(split.steps(), 2);

    // A split that leaves no training (or no validation) sample is an error.
    let mut m = model(linear(1), sgd, Loss::MeanSquaredError, &[], 1);
    match m.fit(
        &data,
        &options(1, 4, false, Validation::Split(0.95)),
        &mut Silent,
    ) {
        Err(Error::Config(msg)) => assert!(msg.contains("validation_split"), "{msg}"),
        other => panic!("expected Error::Config, got {other:?}"),
    }
    assert_eq!(m.steps(), 0);
}

// ----------------------------------------------------------------- errors

fn config_error<T: std::fmt::Debug>(r: triceratops::Result<T>) -> String {
    match r {
        Err(Error::Config(msg)) => msg,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

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
        Error::NonFinite { loss, epoch, step } => {
            assert!(loss.is_nan());
            assert_eq!((*epoch, *step), (1, 3));
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
    assert_eq!(m.state, reference.state);
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
    let Error::NonFinite { loss, epoch, step } = err else {
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
    assert_eq!(m.state, reference.state);
}

#[test]
fn an_overflowing_update_is_divergence_even_with_a_finite_loss() {
    // Step 1 has a finite loss (targets ~1e3) but lr 1e36 times gradients
    // ~1e3 overflows f32: the step must fail there, not leave infinite
    // weights for step 2 to trip over.
    let mut data = regression(40, 9);
    data.y.mapv_inplace(|v| 1000.0 * v);
    let mut m = model(
        linear(3),
        Optimizer::sgd(Convention::Keras).with_learning_rate(1e36),
        Loss::MeanSquaredError,
        &[],
        4,
    );
    let initial = m.state.clone();
    let err = m
        .fit(&data, &options(2, 10, false, Validation::None), &mut Silent)
        .unwrap_err();
    let Error::NonFinite { epoch, step, .. } = err else {
        panic!("expected Error::NonFinite, got {err:?}");
    };
    assert_eq!((epoch, step), (1, 1));
    assert!(all_finite(&m), "an infinite weight reached the state");
    assert_eq!(m.state, initial);
    assert_eq!(m.steps(), 0);
}

// ------------------------------------------------------------- optimizers

#[test]
fn every_optimizer_lowers_the_loss_and_counts_steps() {
    let data = regression(70, 8);
    let (epochs, batch) = (8, 16); // 5 batches per epoch, the last of 6
    for (name, lr) in [
        ("sgd", 0.1),
        ("momentum", 0.05),
        ("nesterov", 0.05),
        ("adagrad", 0.3),
        ("rmsprop", 0.1),
        ("adam", 0.05),
        ("adamw", 0.05),
    ] {
        let optimizer = Optimizer::from_name(name, Convention::Keras)
            .unwrap()
            .with_learning_rate(lr);
        assert_eq!(optimizer.name(), name);
        let mut m = model(linear(3), optimizer, Loss::MeanSquaredError, &[], 10);
        let before = m.evaluate(&data, 70).unwrap().loss;
        let history = m
            .fit(
                &data,
                &options(epochs, batch, true, Validation::None),
                &mut Silent,
            )
            .unwrap();
        let after = m.evaluate(&data, 70).unwrap().loss;
        assert!(
            after < 0.2 * before,
            "{name}: loss {before} -> {after} ({:?})",
            history.loss()
        );
        let loss = history.loss();
        assert!(loss.last() < loss.first(), "{name}: {loss:?}");
        assert_eq!(
            m.state["step"][[]],
            (epochs * 5) as f32,
            "{name}: step counter"
        );
        assert_eq!(m.steps(), (epochs * 5) as u64);
    }
}

#[test]
fn optimizer_defaults_train_the_classifier() {
    // Keras defaults, unchanged, on the blobs.
    let (data, _) = blobs(90, 11);
    for name in ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"] {
        let optimizer = Optimizer::from_name(name, Convention::Keras).unwrap();
        let mut m = model(
            classifier(),
            optimizer,
            Loss::CategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
            12,
        );
        let before = m.evaluate(&data, 90).unwrap().loss;
        m.fit(&data, &options(3, 10, true, Validation::None), &mut Silent)
            .unwrap();
        let after = m.evaluate(&data, 90).unwrap().loss;
        assert!(after < before, "{name}: {before} -> {after}");
        assert_eq!(m.steps(), 27, "{name}");
    }
}

// ---------------------------------------------------------- sparse labels

#[test]
fn sparse_categorical_crossentropy_trains_with_f32_labels() {
    let (data, labels) = blobs(90, 13);
    let sparse = Dataset {
        x: data.x.clone(),
        y: ArrayD::from_shape_vec(IxDyn(&[90]), labels.iter().map(|&c| c as f32).collect())
            .unwrap(),
    };
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let mut m = model(
        classifier(),
        Optimizer::adam(Convention::Keras).with_learning_rate(0.02),
        loss,
        &[Metric::Accuracy],
        14,
    );
    assert_eq!(
        m.spec().metrics,
        vec![("accuracy", Metric::SparseCategoricalAccuracy)]
    );
    // One-hot targets do not fit a sparse loss.
    config_error(m.fit(&data, &options(1, 10, true, Validation::None), &mut Silent));

    let history = m
        .fit(
            &sparse,
            &options(10, 10, true, Validation::Split(0.2)),
            &mut Silent,
        )
        .unwrap();
    let loss_curve = history.loss();
    assert!(loss_curve.last() < loss_curve.first(), "{loss_curve:?}");
    let acc = history.metric("accuracy");
    assert_eq!(acc.len(), 10);
    assert!(*acc.last().unwrap() > 0.9, "train accuracy {acc:?}");
    assert_eq!(history.val_metric("accuracy").len(), 10);

    // evaluate() against argmax == label by hand, and the same loss as the
    // one-hot categorical form on the same predictions.
    let pred = m.predict(&sparse.x, 32).unwrap();
    let (ce, _) = ce_and_accuracy(&pred, &data.y);
    let correct = pred
        .outer_iter()
        .zip(&labels)
        .filter(|(p, &c)| argmax(p.iter().copied()) == c)
        .count();
    let logs = m.evaluate(&sparse, 32).unwrap();
    assert!(
        (logs.loss as f64 - ce).abs() < 1e-5,
        "{} vs {ce}",
        logs.loss
    );
    let acc = logs.metric("accuracy").unwrap() as f64;
    assert!(
        (acc - correct as f64 / 90.0).abs() < 1e-6,
        "{acc} vs {correct}/90"
    );
}

// ------------------------------------------------- review regressions

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

#[test]
fn set_learning_rate_changes_the_step_without_recompiling() {
    let data = regression(16, 3);
    let build = || {
        model(
            linear(3),
            Optimizer::sgd(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
            0,
        )
    };
    let (mut a, mut b) = (build(), build());
    a.set_learning_rate(0.0);
    a.train_on_batch(data.x.clone(), data.y.clone()).unwrap();
    b.train_on_batch(data.x.clone(), data.y.clone()).unwrap();
    let before = build().state["dense.kernel"].clone();
    assert_eq!(a.state["dense.kernel"], before, "lr 0 leaves the weights");
    assert_ne!(b.state["dense.kernel"], before, "lr 0.01 moves them");
    assert_eq!(a.spec().optimizer.learning_rate, 0.0);
}
