//! Keras `model.to_json()` import (`triceratops::keras::json`) against files
//! written by real Keras 3.15.1 (tests/fixtures/keras/README.md): the lecture
//! CNN is the model built in Rust, summaries equal the tables Keras printed,
//! exported models import unchanged. What the import refuses is in
//! `keras_json_refusals`, which shares the helpers here.

use std::path::{Path, PathBuf};

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

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keras")
        .join(name)
}

pub(crate) fn text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture exists")
}

/// A fixture as a JSON value, edited by `f`, back as text.
pub(crate) fn edited(name: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&text(name)).expect("fixtures are JSON");
    f(&mut v);
    v.to_string()
}

/// The `i`-th entry of `config.layers` (0 is the InputLayer).
pub(crate) fn layer(v: &mut Value, i: usize) -> &mut Value {
    &mut v["config"]["layers"][i]
}

/// The message of a `Config` error; anything else fails the test.
pub(crate) fn config_error(result: Result<Sequential>) -> String {
    match result {
        Err(Error::Config(message)) => message,
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(model) => panic!("expected an error, got\n{}", model.summary()),
    }
}

pub(crate) fn assert_mentions(message: &str, parts: &[&str]) {
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
pub(crate) const VALID: [&str; 5] = [
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
