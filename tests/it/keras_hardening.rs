//! Keras front-end limits: the summary's size column in every unit Keras
//! uses, models without layers refused at import and at compile, and Keras
//! JSON files too large to be a model refused before they are read.

use serde_json::Value;
use tempfile::TempDir;
use triceratops::keras::json::{from_json, load, MAX_JSON_BYTES};
use triceratops::keras::{Dense, Sequential};
use triceratops::Error;

use crate::keras_json::{assert_mentions, config_error, edited};
use crate::keras_support::compiled;

// ------------------------------------------------------- summary sizes

/// The two lines after the table for a Dense layer of `units` on `inputs`.
fn totals(inputs: usize, units: usize) -> String {
    let mut m = Sequential::new("big", &[inputs]);
    m.add(Dense::new(units)).unwrap();
    let summary = m.summary();
    let lines: Vec<&str> = summary.lines().collect();
    lines[lines.len() - 3..lines.len() - 1].join("\n")
}

#[test]
fn summary_sizes_go_up_to_petabytes_as_in_keras() {
    // keras.src.utils.summary_utils.readable_memory_size: divide by 1024
    // while the size is at least 1024, units B to PB, two decimals.
    assert_eq!(
        totals(255, 1),
        " Total params: 256 (1.00 KB)\n Trainable params: 256 (1.00 KB)"
    );
    assert_eq!(
        totals(1 << 20, 1 << 12),
        " Total params: 4,294,971,392 (16.00 GB)\n Trainable params: 4,294,971,392 (16.00 GB)"
    );
    assert!(totals(1 << 24, 1 << 16).ends_with("(4.00 TB)"));
    assert!(totals(1 << 30, 1 << 20).ends_with("(4.00 PB)"));
    // Keras divides once more past PB and keeps the unit: 4096 PB is "4.00 PB".
    assert!(totals(1 << 40, 1 << 20).ends_with("(4.00 PB)"));
    // Just below a unit stays in the smaller one.
    assert!(totals(255, 1023).ends_with("(1023.00 KB)"));
    // Python's format rounds an exact tie to even: 1.125 KB is "1.12 KB".
    assert!(totals(287, 1).ends_with("(1.12 KB)"));
}

// ------------------------------------------------------- empty models

#[test]
fn keras_json_without_layers_is_refused() {
    let input_only = edited("mnist_mlp.json", |v| {
        let layers = v["config"]["layers"].as_array_mut().unwrap();
        layers.truncate(1); // the InputLayer alone
    });
    let message = config_error(from_json(&input_only));
    assert_mentions(
        &message,
        &[
            "model `",
            "no layers besides its InputLayer",
            "at least one layer",
        ],
    );
    let none = edited("mnist_mlp.json", |v| {
        v["config"]["layers"] = Value::Array(vec![]);
        v["config"]["build_input_shape"] = serde_json::json!([null, 784]);
    });
    let message = config_error(from_json(&none));
    assert_mentions(
        &message,
        &["the model has no layers;", "at least one layer"],
    );
}

#[test]
fn rust_models_without_layers_are_refused_at_compile_and_try_summary() {
    let empty = Sequential::new("empty", &[4]);
    let expected = "model `empty` has no layers: add at least one layer (an input shape \
                    alone is not a model) before compiling or summarizing it";
    match empty.clone().compile(
        triceratops::keras::optimizers::Optimizer::sgd(
            triceratops::keras::optimizers::Convention::Keras,
        ),
        triceratops::keras::losses::Loss::MeanSquaredError,
        &[],
    ) {
        Err(Error::Config(m)) => assert_eq!(m, expected),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("an empty model compiled"),
    }
    match empty.try_summary() {
        Err(Error::Config(m)) => assert_eq!(m, expected),
        other => panic!("{other:?}"),
    }
    assert!(empty.check_layers().is_err());
    let mut one = Sequential::new("one", &[4]);
    one.add(Dense::new(2)).unwrap();
    assert_eq!(one.try_summary().unwrap(), one.summary());
    compiled(one);
}

// ------------------------------------------------------- JSON size

#[test]
fn huge_keras_json_is_refused_before_reading() {
    let tmp = TempDir::new().unwrap();
    let path = tmp.path().join("garbage.json");
    // Sparse: 50 MB that take no disk and, refused by size, no memory.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 << 20).unwrap();
    match load(&path) {
        Err(Error::Data { path: p, message }) => {
            assert_eq!(p, path);
            assert_eq!(
                message,
                "Keras JSON of 52428800 bytes is over the limit of 4194304 bytes (4 MiB); \
                 model.to_json() gives a few KB: is this the right file?"
            );
        }
        other => panic!("{other:?}"),
    }
    // One byte over the limit is refused, and so is such a string.
    let over = " ".repeat(MAX_JSON_BYTES as usize + 1);
    std::fs::write(&path, &over).unwrap();
    assert!(matches!(load(&path), Err(Error::Data { .. })));
    let message = config_error(from_json(&over));
    assert_mentions(&message, &["over the limit of 4194304 bytes"]);
    // At the limit, the file is read (and here is not JSON).
    std::fs::write(&path, &over[1..]).unwrap();
    let message = config_error(load(&path));
    assert_mentions(&message, &["not valid JSON"]);
}
