//! A 784-128-10 perceptron on the real MNIST digits bundled in `data/mnist`
//! (the 10,000-image test set: the first 8,000 train, the last 2,000
//! validate), trained with Adam on the reference interpreter.
//!
//! Run with `cargo run --release --example mnist_mlp [epochs]`.

use triceratops::data::{bundled, Scale};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::train::PrintEpochs;
use triceratops::{FitOptions, Result, Validation};

fn main() -> Result<()> {
    let epochs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let data = bundled::mnist(Scale::BYTE)?;
    let n = data.len();
    let x = data
        .x
        .into_shape_with_order((n, 784))
        .expect("28x28 images")
        .into_dyn();
    let data = triceratops::data::Dataset { x, y: data.y };
    let (train, validation) = data.split_at(8000);

    let mut model = Sequential::new("mnist_mlp", &[784]);
    model.add(Dense::new(128).activation(Activation::Relu))?;
    model.add(Dense::new(10).activation(Activation::Softmax))?;
    print!("{}", model.summary());

    let mut model = model.compile(
        Optimizer::adam(Convention::Keras),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    let options = FitOptions {
        epochs,
        batch_size: 128,
        shuffle: true,
        validation: Validation::Data(Box::new(validation)),
    };
    let history = model.fit(&train, &options, &mut PrintEpochs)?;
    let last = history.epochs.last().expect("at least one epoch");
    println!(
        "final validation accuracy: {:.4}",
        last.validation
            .as_ref()
            .and_then(|v| v.metric("accuracy"))
            .unwrap_or(0.0)
    );
    Ok(())
}
