//! Training end to end on real data: the MNIST MLP on the bundled digits
//! reaches 90% validation accuracy in three epochs, with a falling loss, the
//! expected step count and a history that agrees with `evaluate()`.

use std::path::Path;

use crate::training_support::options;
use triceratops::data::{mnist_test_set, Dataset};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::train::Silent;
use triceratops::Validation;

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
