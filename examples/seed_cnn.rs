//! The lecture's CNN, written as in its Keras listing:
//!
//! ```python
//! network.add(Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
//! network.add(MaxPool2D())
//! network.add(Conv2D(16, (3, 3), activation='relu'))
//! network.add(MaxPool2D())
//! network.add(Flatten())
//! network.add(Dense(10, activation='softmax'))
//! network.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
//! ```
//!
//! The lecture's 32x32x3 input suggests CIFAR-10, which is not bundled; it
//! trains here on the real MNIST digits of `data/mnist`, zero-padded from
//! 28x28 to 32x32 and repeated over 3 channels, so the model is exactly the
//! lecture's (11,290 parameters). 4,000 images train and 1,000 validate, on
//! the reference interpreter.
//!
//! Run with `cargo run --release --example seed_cnn [epochs]`.

use ndarray::{Axis, IxDyn};
use triceratops::data::{bundled, pad_images, Dataset, Scale};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Conv2D, Dense, Flatten, MaxPooling2D, Sequential};
use triceratops::train::PrintEpochs;
use triceratops::{FitOptions, Result, Validation};

/// MNIST as 32x32 "RGB": pad by 2, repeat the gray channel 3 times.
fn rgb32(data: Dataset) -> Dataset {
    let padded = pad_images(&data.x, 2).insert_axis(Axis(3));
    let n = padded.shape()[0];
    let x = padded
        .broadcast(IxDyn(&[n, 32, 32, 3]))
        .expect("one channel broadcasts to three")
        .to_owned();
    Dataset { x, y: data.y }
}

fn main() -> Result<()> {
    let epochs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let data = bundled::mnist(Scale::BYTE)?;
    let data = rgb32(data.slice(0, 5000));
    let (train, validation) = data.split_at(4000);

    let mut network = Sequential::new("seed_cnn", &[32, 32, 3]);
    network.add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))?;
    network.add(MaxPooling2D::new((2, 2)))?;
    network.add(Conv2D::new(16, (3, 3)).activation(Activation::Relu))?;
    network.add(MaxPooling2D::new((2, 2)))?;
    network.add(Flatten::new())?;
    network.add(Dense::new(10).activation(Activation::Softmax))?;
    print!("{}", network.summary());

    let mut network = network.compile(
        Optimizer::rmsprop(Convention::Keras),
        Loss::CategoricalCrossentropy { from_logits: false },
        &[Metric::Accuracy],
    )?;
    let options = FitOptions {
        epochs,
        batch_size: 128,
        shuffle: true,
        validation: Validation::Data(Box::new(validation)),
    };
    network.fit(&train, &options, &mut PrintEpochs)?;
    Ok(())
}
