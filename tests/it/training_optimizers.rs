//! Every optimizer trains: each one, by name, lowers a regression loss and
//! counts its steps; the Keras defaults lower the blob classifier's loss
//! every epoch; and `set_learning_rate` changes the step while the compiled
//! step is reused.

use crate::training_support::{blobs, classifier, linear, model, options, regression, state};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::train::Silent;
use triceratops::Validation;

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
            m.state().step(),
            (epochs * 5) as f32,
            "{name}: step counter"
        );
        assert_eq!(m.steps(), (epochs * 5) as u64);
    }
}

#[test]
fn optimizer_defaults_train_the_classifier() {
    // Keras defaults, unchanged, on the blobs: the loss over the whole set
    // falls after every one of 3 epochs (no lucky step can do that), by at
    // least about half of what each optimizer reaches (measured: sgd 11%,
    // momentum 54%, adagrad 2%, rmsprop 10%, adam and adamw 8%).
    let (data, _) = blobs(90, 11);
    for (name, min_drop) in [
        ("sgd", 0.05),
        ("momentum", 0.25),
        ("adagrad", 0.01),
        ("rmsprop", 0.05),
        ("adam", 0.04),
        ("adamw", 0.04),
    ] {
        let optimizer = Optimizer::from_name(name, Convention::Keras).unwrap();
        let mut m = model(
            classifier(),
            optimizer,
            Loss::CategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
            12,
        );
        let mut losses = vec![m.evaluate(&data, 90).unwrap().loss];
        for _ in 0..3 {
            m.fit(&data, &options(1, 10, true, Validation::None), &mut Silent)
                .unwrap();
            losses.push(m.evaluate(&data, 90).unwrap().loss);
        }
        assert!(
            losses.windows(2).all(|w| w[1] < w[0]),
            "{name}: the loss must fall every epoch: {losses:?}"
        );
        let drop = 1.0 - losses[3] / losses[0];
        assert!(drop > min_drop, "{name}: {losses:?} fell by {drop}");
        assert_eq!(m.steps(), 27, "{name}");
    }
}

#[test]
fn set_learning_rate_changes_the_step_without_recompiling() {
    let data = regression(16, 3);
    let mut m = model(
        linear(3),
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        0,
    );
    let initial = state(&m, "dense.kernel");
    m.train_on_batch(data.x.clone(), data.y.clone()).unwrap();
    let moved = state(&m, "dense.kernel");
    assert_ne!(moved, initial, "lr 0.01 moves the weights");
    assert_eq!(m.compilations(), 1, "one train step compiled");

    m.set_learning_rate(0.0);
    m.train_on_batch(data.x.clone(), data.y.clone()).unwrap();
    assert_eq!(state(&m, "dense.kernel"), moved, "lr 0 leaves them");
    assert_eq!(m.spec().optimizer.learning_rate, 0.0);
    m.set_learning_rate(0.01);
    m.train_on_batch(data.x.clone(), data.y.clone()).unwrap();
    assert_ne!(
        state(&m, "dense.kernel"),
        moved,
        "and lr 0.01 moves them again"
    );
    assert_eq!(m.steps(), 3);
    assert_eq!(
        m.compilations(),
        1,
        "the learning rate is a graph input: the cached step is reused"
    );
    // A new batch size is a new static graph; evaluation another one.
    m.train_on_batch(
        data.x
            .slice_axis(ndarray::Axis(0), (0..8).into())
            .to_owned(),
        data.y
            .slice_axis(ndarray::Axis(0), (0..8).into())
            .to_owned(),
    )
    .unwrap();
    m.evaluate(&data, 16).unwrap();
    m.evaluate(&data, 16).unwrap();
    assert_eq!(m.compilations(), 3);
}
