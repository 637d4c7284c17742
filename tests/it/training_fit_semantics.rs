//! What `fit`, `evaluate` and `predict` compute: evaluate agreeing with
//! predict and a hand-computed loss and accuracy at any batch size, history
//! logs as sample-weighted means, Keras' `validation_split` (which samples,
//! how it rounds), and sparse categorical cross-entropy on class-index labels.

use crate::training_support::{
    argmax, array, blobs, ce_and_accuracy, classifier, config_error, linear, model, options,
};
use ndarray::{ArrayD, IxDyn};
use triceratops::data::Dataset;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::train::Silent;
use triceratops::{Error, Validation};

// ------------------------------------------------ fit / evaluate / predict

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

// -------------------------------------------------------- validation_split

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
    assert_eq!(split.state(), head.state());
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

// ----------------------------------------------------------- sparse labels

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
