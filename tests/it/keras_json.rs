//! Keras `model.to_json()` import (`triceratops::keras::json`) against files
//! written by real Keras 3.15.1 (tests/fixtures/keras/README.md): the lecture
//! CNN is the model built in Rust, summaries equal the tables Keras printed,
//! every unsupported layer or option is a `Config` error naming the layer and
//! the option, and no input (truncated, mutated, mistyped) makes it panic.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{json, Value};
use triceratops::ir::Padding;
use triceratops::keras::json::{from_json, load};
use triceratops::keras::to_json::to_json;
use triceratops::keras::{
    Activation, ActivationLayer, Conv2D, DataFormat, Dense, Dropout, Flatten, Layer, MaxPooling2D,
    Sequential,
};
use triceratops::{Error, Result};

// ---------------------------------------------------------------- helpers

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture exists")
}

/// A fixture as a JSON value, edited by `f`, back as text.
fn edited(name: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&text(name)).expect("fixtures are JSON");
    f(&mut v);
    v.to_string()
}

/// The `i`-th entry of `config.layers` (0 is the InputLayer).
fn layer(v: &mut Value, i: usize) -> &mut Value {
    &mut v["config"]["layers"][i]
}

/// The message of a `Config` error; anything else fails the test.
fn config_error(result: Result<Sequential>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(model) => panic!("expected an error, got\n{}", model.summary()),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "error message does not mention {part:?}:\n{message}"
        );
    }
}

/// The lecture CNN exactly as `examples/seed_cnn.rs` builds it.
fn lecture_cnn() -> Sequential {
    let mut network = Sequential::new("seed_cnn", &[32, 32, 3]);
    network
        .add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))
        .unwrap();
    network.add(MaxPooling2D::new((2, 2))).unwrap();
    network
        .add(Conv2D::new(16, (3, 3)).activation(Activation::Relu))
        .unwrap();
    network.add(MaxPooling2D::new((2, 2))).unwrap();
    network.add(Flatten::new()).unwrap();
    network
        .add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    network
}

fn names(model: &Sequential) -> Vec<&str> {
    model.layers().iter().map(|l| l.name.as_str()).collect()
}

fn shapes(model: &Sequential) -> Vec<Vec<usize>> {
    model
        .layers()
        .iter()
        .map(|l| l.output_shape.clone())
        .collect()
}

// Tables printed by Keras 3.15.1's `model.summary()` for the fixtures.

const KERAS_SEED_CNN: &str = "\
Model: \"seed_cnn\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 30, 30, 32)     │           896 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 15, 15, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 13, 13, 16)     │         4,624 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 6, 6, 16)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 576)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │         5,770 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 11,290 (44.10 KB)
 Trainable params: 11,290 (44.10 KB)
 Non-trainable params: 0 (0.00 B)
";

const KERAS_MNIST_MLP: &str = "\
Model: \"mnist_mlp\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense (Dense)                   │ (None, 128)            │       100,480 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 128)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 101,770 (397.54 KB)
 Trainable params: 101,770 (397.54 KB)
 Non-trainable params: 0 (0.00 B)
";

const KERAS_CHANNELS_FIRST: &str = "\
Model: \"cnn_channels_first\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 8, 14, 14)      │           600 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ activation (Activation)         │ (None, 8, 14, 14)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 8, 7, 7)        │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 4, 5, 5)        │           292 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 100)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │         1,010 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ activation_1 (Activation)       │ (None, 10)             │             0 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,902 (7.43 KB)
 Trainable params: 1,902 (7.43 KB)
 Non-trainable params: 0 (0.00 B)
";

/// The fixtures that import.
const VALID: [&str; 5] = [
    "seed_cnn.json",
    "mnist_mlp.json",
    "cnn_channels_first.json",
    "lecture_style.json",
    "built_without_input.json",
];

// ------------------------------------------------------- models that import

#[test]
fn seed_cnn_is_the_lecture_cnn_built_in_rust() {
    let imported = load(&fixture("seed_cnn.json")).unwrap();
    let built = lecture_cnn();
    // Everything after the model-name line, then the whole table (Keras'
    // model name is the example's).
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    assert_eq!(body(&imported.summary()), body(&built.summary()));
    assert_eq!(imported.summary(), built.summary());
    assert_eq!(imported, built);
    assert_eq!(imported.count_params(), 11_290);
    assert_eq!(
        names(&imported),
        [
            "conv2d",
            "max_pooling2d",
            "conv2d_1",
            "max_pooling2d_1",
            "flatten",
            "dense"
        ]
    );
}

#[test]
fn summaries_equal_the_tables_keras_printed() {
    for (file, table) in [
        ("seed_cnn.json", KERAS_SEED_CNN),
        ("mnist_mlp.json", KERAS_MNIST_MLP),
        ("cnn_channels_first.json", KERAS_CHANNELS_FIRST),
    ] {
        assert_eq!(load(&fixture(file)).unwrap().summary(), table, "{file}");
    }
}

#[test]
fn mnist_mlp_layers_and_shapes() {
    let model = load(&fixture("mnist_mlp.json")).unwrap();
    assert_eq!(model.name, "mnist_mlp");
    assert_eq!(model.input_shape, [784]);
    assert_eq!(names(&model), ["dense", "dropout", "dense_1"]);
    assert_eq!(shapes(&model), [vec![128], vec![128], vec![10]]);
    let layers: Vec<&Layer> = model.layers().iter().map(|l| &l.layer).collect();
    assert_eq!(
        layers,
        [
            &Dense::new(128).activation(Activation::Relu).into(),
            &Dropout::new(0.2).into(),
            &Dense::new(10).activation(Activation::Softmax).into(),
        ]
    );
    assert_eq!(model.count_params(), 101_770);
}

#[test]
fn channels_first_cnn_keeps_formats_strides_and_padding() {
    let model = load(&fixture("cnn_channels_first.json")).unwrap();
    assert_eq!(model.input_shape, [3, 28, 28]);
    let cf = DataFormat::ChannelsFirst;
    let expected: Vec<Layer> = vec![
        Conv2D::new(8, (5, 5))
            .strides((2, 2))
            .padding(Padding::Same)
            .data_format(cf)
            .use_bias(false)
            .into(),
        ActivationLayer::new(Activation::Tanh).into(),
        MaxPooling2D::new((3, 3))
            .strides((2, 2))
            .padding(Padding::Same)
            .data_format(cf)
            .into(),
        Conv2D::new(4, (3, 3))
            .data_format(cf)
            .activation(Activation::Sigmoid)
            .into(),
        Flatten::new().data_format(cf).into(),
        Dense::new(10).into(),
        ActivationLayer::new(Activation::Softmax).into(),
    ];
    let layers: Vec<Layer> = model.layers().iter().map(|l| l.layer.clone()).collect();
    assert_eq!(layers, expected);
    // Shapes and per-layer counts as Keras printed them.
    assert_eq!(
        shapes(&model),
        [
            vec![8, 14, 14],
            vec![8, 14, 14],
            vec![8, 7, 7],
            vec![4, 5, 5],
            vec![100],
            vec![10],
            vec![10]
        ]
    );
    let counts: Vec<usize> = model
        .layers()
        .iter()
        .map(|l| {
            l.params()
                .iter()
                .map(|p| p.shape.iter().product::<usize>())
                .sum()
        })
        .collect();
    assert_eq!(counts, [600, 0, 0, 292, 0, 1_010, 0]);
    assert_eq!(model.count_params(), 1_902);
}

#[test]
fn lecture_listing_and_built_models_import() {
    let lecture = load(&fixture("lecture_style.json")).unwrap();
    assert_eq!(lecture.name, "sequential");
    assert_eq!(lecture.input_shape, [32, 32, 3]);
    assert_eq!(lecture.count_params(), 72_906);
    let built = load(&fixture("built_without_input.json")).unwrap();
    assert_eq!(built.input_shape, [784]);
    assert_eq!(names(&built), ["dense", "dense_1"]);
    assert_eq!(built.count_params(), 25_450);
}

#[test]
fn exported_models_import_unchanged() {
    let mut mlp = Sequential::new("mlp", &[784]);
    mlp.add(Dense::new(64).activation(Activation::Tanh))
        .unwrap();
    mlp.add(Dropout::new(0.25)).unwrap();
    mlp.add(Dense::new(10).use_bias(false)).unwrap();
    let channels_first = load(&fixture("cnn_channels_first.json")).unwrap();
    for model in [lecture_cnn(), mlp, channels_first] {
        assert_eq!(from_json(&to_json(&model)).unwrap(), model);
    }
}

#[test]
fn keras_2_style_json_imports() {
    // tf.keras 2.x: no `module`/`registered_name`, dtypes as strings, the
    // input shape as the first layer's `batch_input_shape`, string
    // initializers, activations as function objects (Keras 2.13-2.15).
    let json = json!({
        "class_name": "Sequential",
        "keras_version": "2.15.0",
        "backend": "tensorflow",
        "config": {"name": "sequential", "layers": [
            {"class_name": "Dense", "config": {
                "name": "dense", "trainable": true, "dtype": "float32",
                "batch_input_shape": [null, 784], "units": 128,
                "activation": {"module": "keras.activations", "class_name": "function",
                               "config": "relu", "registered_name": "relu"},
                "use_bias": true,
                "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
                "bias_initializer": "zeros",
                "kernel_regularizer": null, "bias_regularizer": null,
                "activity_regularizer": null,
                "kernel_constraint": null, "bias_constraint": null}},
            {"class_name": "Dense", "config": {"name": "dense_1", "units": 10,
                                               "activation": "softmax"}}
        ]}
    });
    let model = from_json(&json.to_string()).unwrap();
    assert_eq!(model.input_shape, [784]);
    assert_eq!(names(&model), ["dense", "dense_1"]);
    assert_eq!(
        model.layers()[0].layer,
        Dense::new(128).activation(Activation::Relu).into()
    );
}

#[test]
fn input_shape_from_build_config_alone() {
    // No InputLayer: the first layer's `build_config.input_shape`, or only
    // the model's `build_input_shape`.
    let json = edited("mnist_mlp.json", |v| {
        v["config"]["layers"].as_array_mut().unwrap().remove(0);
        v["config"]
            .as_object_mut()
            .unwrap()
            .remove("build_input_shape");
        v.as_object_mut().unwrap().remove("build_config");
    });
    assert_eq!(from_json(&json).unwrap().input_shape, [784]);
    let json = edited("mnist_mlp.json", |v| {
        v["config"]["layers"].as_array_mut().unwrap().remove(0);
        layer(v, 0).as_object_mut().unwrap().remove("build_config");
    });
    assert_eq!(from_json(&json).unwrap().input_shape, [784]);
}

#[test]
fn missing_names_get_keras_automatic_names() {
    let json = edited("mnist_mlp.json", |v| {
        for i in 1..4 {
            layer(v, i)["config"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }
    });
    assert_eq!(
        names(&from_json(&json).unwrap()),
        ["dense", "dropout", "dense_1"]
    );
}

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
