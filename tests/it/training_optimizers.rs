//! Every optimizer trains: each one, by name, lowers a regression loss and
//! counts its steps; the Keras defaults train the blob classifier; and
//! `set_learning_rate` changes the step without recompiling.

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
    let before = state(&build(), "dense.kernel");
    assert_eq!(state(&a, "dense.kernel"), before, "lr 0 leaves the weights");
    assert_ne!(state(&b, "dense.kernel"), before, "lr 0.01 moves them");
    assert_eq!(a.spec().optimizer.learning_rate, 0.0);
}
