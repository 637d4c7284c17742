//! The lecture's optimizers side by side: the same model (784-32-10 on 2,000
//! real MNIST digits), the same initial weights and the same batch order,
//! trained with SGD, momentum, AdaGrad, RMSProp and Adam, each with its
//! Keras defaults, plus Adam without bias correction (the lecture's figure of
//! what the correction does early on). Prints the training loss per epoch,
//! one column each, and draws all curves into `optimizer_zoo.svg` (or the
//! path given as the second argument; `.png` works too).
//!
//! Run with `cargo run --release --example optimizer_zoo [epochs] [plot]`.

use std::path::Path;

use triceratops::data::{bundled, Dataset, Scale};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Kind, Optimizer};
use triceratops::keras::{Activation, Dense, Sequential};
use triceratops::plot::draw;
use triceratops::train::Silent;
use triceratops::{FitOptions, Result};

fn model() -> Result<Sequential> {
    let mut m = Sequential::new("zoo", &[784]);
    m.add(Dense::new(32).activation(Activation::Relu))?;
    m.add(Dense::new(10).activation(Activation::Softmax))?;
    Ok(m)
}

fn main() -> Result<()> {
    let epochs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    let data = bundled::mnist(Scale::BYTE)?;
    let data = data.slice(0, 2000);
    let n = data.len();
    let x = data
        .x
        .into_shape_with_order((n, 784))
        .expect("28x28")
        .into_dyn();
    let data = Dataset { x, y: data.y };

    let c = Convention::Keras;
    let zoo = [
        Optimizer::sgd(c),
        Optimizer::momentum(c, 0.9),
        Optimizer::adagrad(c),
        Optimizer::rmsprop(c),
        Optimizer::adam(c),
        Optimizer::adam(c).with_bias_correction(false),
    ];
    let options = FitOptions {
        epochs,
        batch_size: 64,
        ..FitOptions::default()
    };
    let mut columns = Vec::new();
    for optimizer in zoo {
        let name = match optimizer.kind {
            Kind::Adam {
                bias_correction: false,
                ..
            } => "adam, no bias corr.",
            _ => optimizer.name(),
        };
        let lr = optimizer.learning_rate;
        let loss = Loss::CategoricalCrossentropy { from_logits: false };
        let mut m = model()?.compile(optimizer, loss, &[Metric::Accuracy])?;
        let history = m.fit(&data, &options, &mut Silent)?;
        columns.push((format!("{name} ({lr})"), history.loss()));
    }

    print!("{:>5}", "epoch");
    for (name, _) in &columns {
        print!("{name:>28}");
    }
    println!();
    for e in 0..epochs {
        print!("{:>5}", e + 1);
        for (_, losses) in &columns {
            print!("{:>28.4}", losses[e]);
        }
        println!();
    }
    let path = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "optimizer_zoo.svg".into());
    let path = Path::new(&path);
    draw(
        path,
        &[("training loss, same model and data", "loss", columns)],
    )?;
    println!("wrote {}", path.display());
    Ok(())
}
