//! Snapshots of whole train-step graphs (forward, loss, backward, optimizer
//! update) of a tiny model. Each was read against the Keras update formulas
//! when accepted.

use triceratops::compile::{self, CompileSpec};
use triceratops::ir::text::print;
use triceratops::keras::losses::Loss;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Dense, Sequential};

/// Dense(2) on 3 features, MSE, batch 4.
fn train_step(optimizer: Optimizer) -> String {
    let mut model = Sequential::new("tiny", &[3]);
    model.add(Dense::new(2)).unwrap();
    let spec = CompileSpec {
        optimizer,
        loss: Loss::MeanSquaredError,
        metrics: vec![],
        // The graph before the passes (tests/it/passes_train_steps.rs
        // snapshots an optimized one).
        passes: compile::Passes::None,
    };
    let (compiled, _) = compile::train_step(&model, &spec, 4).unwrap();
    print(&compiled.graph)
}

#[test]
fn adam_train_step() {
    insta::assert_snapshot!(train_step(Optimizer::adam(Convention::Keras)));
}

#[test]
fn rmsprop_train_step() {
    insta::assert_snapshot!(train_step(Optimizer::rmsprop(Convention::Keras)));
}
