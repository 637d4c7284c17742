//! What the Keras JSON import refuses, and how: every unsupported layer or
//! option is a `Config` error naming the layer and the option, wrong types
//! and malformed JSON are clear errors, and no input (truncated, mutated,
//! mistyped) makes it panic. Fixtures and helpers are `keras_json`'s.

use proptest::prelude::*;
use serde_json::{json, Value};
use triceratops::keras::json::{from_json, load};
use triceratops::keras::to_json::to_json;
use triceratops::{Error, Result};

use crate::keras_json::{assert_mentions, config_error, edited, fixture, layer, text, VALID};

// ------------------------------------------------- what is refused, and how

#[test]
fn unsupported_fixtures_name_layer_class_and_option() {
    let cases: [(&str, &[&str]); 7] = [
        (
            "unsupported_layer.json",
            &[
                "`batch_normalization`",
                "BatchNormalization",
                "not supported",
            ],
        ),
        (
            "unsupported_option.json",
            &["`conv2d`", "Conv2D", "dilation_rate", "[2, 2]"],
        ),
        (
            "unsupported_regularizer.json",
            &["`dense`", "Dense", "kernel_regularizer", "L2"],
        ),
        (
            "unsupported_trainable.json",
            &["`dense`", "Dense", "trainable: false"],
        ),
        (
            "unsupported_dtype.json",
            &["`dense`", "Dense", "mixed_float16"],
        ),
        (
            "unsupported_initializer.json",
            &["`dense`", "Dense", "kernel_initializer", "HeNormal"],
        ),
        ("functional.json", &["Functional", "only Sequential"]),
    ];
    for (file, parts) in cases {
        let message = config_error(load(&fixture(file)));
        assert_mentions(&message, parts);
        assert_mentions(&message, &[file]);
    }
}

#[test]
fn missing_input_shape_is_an_error() {
    let message = config_error(load(&fixture("no_input_shape.json")));
    assert_mentions(&message, &["no_input_shape", "missing input shape"]);
}

/// One edit of `seed_cnn.json` (layer 1 is `conv2d`, 6 is `dense`) and the
/// words its error must contain.
type Case = (&'static str, fn(&mut Value), &'static [&'static str]);

#[test]
fn unsupported_options_are_refused() {
    let cases: &[Case] = &[
        (
            "groups",
            |v| layer(v, 1)["config"]["groups"] = json!(2),
            &["`conv2d` (Conv2D)", "groups"],
        ),
        (
            "causal padding",
            |v| layer(v, 1)["config"]["padding"] = json!("causal"),
            &["`conv2d` (Conv2D)", "padding `causal`"],
        ),
        (
            "activity regularizer",
            |v| {
                layer(v, 6)["config"]["activity_regularizer"] = json!({"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.1}})
            },
            &["`dense` (Dense)", "activity_regularizer", "L1"],
        ),
        (
            "constraint",
            |v| {
                layer(v, 1)["config"]["kernel_constraint"] =
                    json!({"module": "keras.constraints", "class_name": "MaxNorm", "config": {}})
            },
            &["`conv2d` (Conv2D)", "kernel_constraint", "MaxNorm"],
        ),
        (
            "seeded initializer",
            |v| layer(v, 6)["config"]["kernel_initializer"]["config"]["seed"] = json!(42),
            &["`dense` (Dense)", "seed", "42"],
        ),
        (
            "bias initializer",
            |v| layer(v, 6)["config"]["bias_initializer"] = json!("ones"),
            &["`dense` (Dense)", "bias_initializer", "ones"],
        ),
        (
            "activation",
            |v| layer(v, 6)["config"]["activation"] = json!("gelu"),
            &["`dense` (Dense)", "activation `gelu`"],
        ),
        (
            "custom activation object",
            |v| {
                layer(v, 6)["config"]["activation"] = json!({"module": "my_pkg",
                    "class_name": "function", "config": "swish2", "registered_name": "my>swish2"})
            },
            &["`dense` (Dense)", "activation", "swish2"],
        ),
        (
            "lora",
            |v| layer(v, 6)["config"]["lora_rank"] = json!(4),
            &["`dense` (Dense)", "lora_rank"],
        ),
        (
            "unknown option",
            |v| layer(v, 1)["config"]["kernel_quantizer"] = json!("int8"),
            &["`conv2d` (Conv2D)", "unsupported option `kernel_quantizer`"],
        ),
        (
            "data format",
            |v| layer(v, 2)["config"]["data_format"] = json!("channels_middle"),
            &["`max_pooling2d` (MaxPooling2D)", "channels_middle"],
        ),
        (
            "dropout seed",
            |v| {
                layer(v, 6)["class_name"] = json!("Dropout");
                layer(v, 6)["config"] = json!({"name": "drop", "rate": 0.5, "seed": 7});
            },
            &["`drop` (Dropout)", "seed"],
        ),
        (
            "dropout noise shape",
            |v| {
                layer(v, 6)["class_name"] = json!("Dropout");
                layer(v, 6)["config"] =
                    json!({"name": "drop", "rate": 0.5, "noise_shape": [null, 1]});
            },
            &["`drop` (Dropout)", "noise_shape"],
        ),
        (
            "dropout rate 1",
            |v| {
                layer(v, 6)["class_name"] = json!("Dropout");
                layer(v, 6)["config"] = json!({"name": "drop", "rate": 1.0});
            },
            &["`drop` (Dropout)", "rate"],
        ),
        (
            "recurrent layer",
            |v| layer(v, 6)["class_name"] = json!("LSTM"),
            &["`dense` (LSTM)", "layer class `LSTM` is not supported"],
        ),
        (
            "custom layer",
            |v| layer(v, 6)["module"] = json!("my_project.layers"),
            &["`dense`", "Dense", "my_project.layers", "not a built-in"],
        ),
        (
            "registered custom layer",
            |v| layer(v, 6)["registered_name"] = json!("MyPackage>Dense"),
            &["`dense`", "Dense", "MyPackage>Dense"],
        ),
        (
            "fixed batch size",
            |v| layer(v, 0)["config"]["batch_shape"] = json!([32, 32, 32, 3]),
            &["input_layer", "fixed batch size"],
        ),
        (
            "variable image size",
            |v| layer(v, 0)["config"]["batch_shape"] = json!([null, null, null, 3]),
            &["input_layer", "no fixed size"],
        ),
        (
            "sparse input",
            |v| layer(v, 0)["config"]["sparse"] = json!(true),
            &["input_layer", "sparse"],
        ),
        (
            "second InputLayer",
            |v| {
                let input = layer(v, 0).clone();
                v["config"]["layers"]
                    .as_array_mut()
                    .unwrap()
                    .insert(3, input);
            },
            &["InputLayer", "only as the first layer"],
        ),
        (
            "disagreeing input shapes",
            |v| v["config"]["build_input_shape"] = json!([null, 28, 28, 1]),
            &[
                "input shapes disagree",
                "(None, 32, 32, 3)",
                "(None, 28, 28, 1)",
            ],
        ),
        (
            "build_config that does not fit",
            |v| layer(v, 3)["build_config"]["input_shape"] = json!([null, 16, 16, 32]),
            &[
                "`conv2d_1` (Conv2D)",
                "(None, 16, 16, 32)",
                "(None, 15, 15, 32)",
            ],
        ),
        (
            "frozen model",
            |v| v["config"]["trainable"] = json!(false),
            &["`seed_cnn` (Sequential)", "trainable"],
        ),
        (
            "model dtype",
            |v| v["config"]["dtype"]["config"]["name"] = json!("bfloat16"),
            &["`seed_cnn` (Sequential)", "bfloat16"],
        ),
        (
            "quantized dtype policy",
            |v| layer(v, 6)["config"]["dtype"]["class_name"] = json!("QuantizedDTypePolicy"),
            &["`dense` (Dense)", "QuantizedDTypePolicy"],
        ),
    ];
    for (what, edit, parts) in cases {
        let message = config_error(from_json(&edited("seed_cnn.json", edit)));
        for part in *parts {
            assert!(
                message.contains(part),
                "{what}: the error does not mention {part:?}:\n{message}"
            );
        }
    }
}

#[test]
fn wrong_types_are_clear_errors() {
    let cases: &[Case] = &[
        (
            "units as text",
            |v| layer(v, 6)["config"]["units"] = json!("ten"),
            &[
                "`dense` (Dense)",
                "`units` must be a positive integer",
                "\"ten\"",
            ],
        ),
        (
            "zero units",
            |v| layer(v, 6)["config"]["units"] = json!(0),
            &["`dense` (Dense)", "units"],
        ),
        (
            "negative filters",
            |v| layer(v, 1)["config"]["filters"] = json!(-3),
            &["`conv2d` (Conv2D)", "filters", "-3"],
        ),
        (
            "fractional units",
            |v| layer(v, 6)["config"]["units"] = json!(10.5),
            &["`dense` (Dense)", "units", "10.5"],
        ),
        (
            "kernel size of three",
            |v| layer(v, 1)["config"]["kernel_size"] = json!([3, 3, 3]),
            &["`conv2d` (Conv2D)", "kernel_size"],
        ),
        (
            "missing units",
            |v| {
                layer(v, 6)["config"]
                    .as_object_mut()
                    .unwrap()
                    .remove("units");
            },
            &["`dense` (Dense)", "missing `units`"],
        ),
        (
            "use_bias as text",
            |v| layer(v, 6)["config"]["use_bias"] = json!("yes"),
            &["`dense` (Dense)", "use_bias"],
        ),
        (
            "layers not a list",
            |v| v["config"]["layers"] = json!({"dense": 1}),
            &["`layers` must be a list"],
        ),
        (
            "layer not an object",
            |v| *layer(v, 6) = json!("Dense"),
            &["layer #6"],
        ),
        (
            "config not an object",
            |v| layer(v, 6)["config"] = json!([1, 2]),
            &["layer #6", "config"],
        ),
        (
            "huge dimensions",
            |v| layer(v, 0)["config"]["batch_shape"] = json!([null, 1u64 << 31, 1u64 << 31, 3]),
            &["input_layer", "2^40"],
        ),
        (
            "huge parameters",
            |v| layer(v, 6)["config"]["units"] = json!(1u64 << 31),
            &["`dense` (Dense)", "2^40"],
        ),
        (
            "duplicate names",
            |v| layer(v, 3)["config"]["name"] = json!("conv2d"),
            &["conv2d"],
        ),
    ];
    for (what, edit, parts) in cases {
        let result = from_json(&edited("seed_cnn.json", edit));
        let message = match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{what}: expected an error"),
        };
        for part in *parts {
            assert!(
                message.contains(part),
                "{what}: the error does not mention {part:?}:\n{message}"
            );
        }
    }
    // The type errors are Config errors.
    let units = edited("seed_cnn.json", |v| {
        layer(v, 6)["config"]["units"] = json!("ten")
    });
    config_error(from_json(&units));
}

#[test]
fn malformed_json_reports_line_and_column() {
    let message = config_error(from_json("{\n  \"class_name\": \"Sequential\",\n  oops\n}"));
    assert_mentions(&message, &["not valid JSON", "line 3", "column 3"]);
    for text in ["", "null", "[]", "42", "\"Sequential\"", "{}"] {
        config_error(from_json(text));
    }
}

#[test]
fn unreadable_file_is_a_data_error_with_its_path() {
    let path = fixture("does_not_exist.json");
    match load(&path) {
        Err(Error::Data { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a Data error, got {other:?}"),
    }
}

#[test]
fn truncated_fixtures_are_errors_at_every_byte() {
    for file in VALID {
        let text = text(file);
        let end = text.trim_end().len();
        for cut in 0..end {
            if let Some(prefix) = text.get(..cut) {
                assert!(
                    from_json(prefix).is_err(),
                    "{file} cut at byte {cut} imported"
                );
            }
        }
        assert!(from_json(&text).is_ok(), "{file}");
    }
}

/// What any import must do: a model that exports and imports back to the
/// same model, or a `Config`/`Layer` error with a message; nothing else.
fn check_import(text: &str) -> Result<(), TestCaseError> {
    match from_json(text) {
        Ok(model) => {
            let again = from_json(&to_json(&model))
                .map_err(|e| TestCaseError::fail(format!("re-import failed: {e}")))?;
            prop_assert_eq!(again.summary(), model.summary());
            prop_assert_eq!(to_json(&again), to_json(&model));
        }
        Err(Error::Config(message)) | Err(Error::Layer { message, .. }) => {
            prop_assert!(!message.trim().is_empty(), "an empty error message");
        }
        Err(other) => prop_assert!(false, "unexpected error kind: {:?}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// One byte of a valid fixture replaced by any printable character:
    /// a model that round-trips, or an error with a message.
    #[test]
    fn mutated_fixtures_never_panic(file in 0..VALID.len(), at in any::<prop::sample::Index>(),
                                    byte in 0x20u8..0x7f) {
        let mut bytes = text(VALID[file]).into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let text = String::from_utf8(bytes).expect("fixtures are ASCII");
        check_import(&text)?;
    }

    /// Any number in any integer option: a model holding exactly that
    /// number, or an error naming the option.
    #[test]
    fn any_number_in_any_size_option(n in prop_oneof![any::<i64>().prop_map(|n| json!(n)),
                                                      any::<u64>().prop_map(|n| json!(n)),
                                                      any::<f64>().prop_map(|n| json!(n))],
                                     option in 0usize..6) {
        let (i, key) = [(1, "filters"), (1, "kernel_size"), (2, "pool_size"),
                        (2, "strides"), (3, "strides"), (6, "units")][option];
        let json = edited("seed_cnn.json", |v| {
            layer(v, i)["config"][key] = n.clone();
        });
        match from_json(&json) {
            // Taken: exactly the number given, in every entry of the option.
            Ok(model) => {
                let mut back: Value = serde_json::from_str(&to_json(&model)).unwrap();
                let read = layer(&mut back, i)["config"][key].clone();
                let entries = match &read {
                    Value::Array(items) => items.clone(),
                    single => vec![single.clone()],
                };
                prop_assert!(!entries.is_empty());
                for e in entries {
                    prop_assert_eq!(e.as_f64(), n.as_f64(), "{} of layer {} read as {}", key, i, read);
                }
            }
            // Refused: a sentence naming the option.
            Err(Error::Config(message)) | Err(Error::Layer { message, .. }) => {
                prop_assert!(message.contains(key) || message.contains("output"),
                             "{} = {}: {}", key, n, message);
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {:?}", other),
        }
    }
}
