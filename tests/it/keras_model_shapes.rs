//! Building Keras `Sequential` models against Keras 3: output shapes and
//! parameter counts of the lecture's CNN in both data formats, its
//! `summary()` table (an insta snapshot), the `Error::Layer` values for layers
//! that do not fit their input, automatic layer names, and each layer's Keras
//! class name and defaults.

use crate::keras_support::{array, compiled};
use triceratops::keras::{
    Activation, ActivationLayer, Conv2D, DataFormat, Dense, Dropout, Flatten, Layer, MaxPooling2D,
    Sequential,
};
use triceratops::Error;

// ----------------------------------------------------------------- helpers

/// The lecture's CNN: two conv/pool stages, Flatten, a softmax Dense.
fn lecture_cnn(format: DataFormat) -> Sequential {
    let input: &[usize] = match format {
        DataFormat::ChannelsLast => &[32, 32, 3],
        DataFormat::ChannelsFirst => &[3, 32, 32],
    };
    let mut m = Sequential::new("sequential", input);
    m.add(
        Conv2D::new(32, (3, 3))
            .activation(Activation::Relu)
            .data_format(format),
    )
    .unwrap();
    m.add(MaxPooling2D::new((2, 2)).data_format(format))
        .unwrap();
    m.add(
        Conv2D::new(16, (3, 3))
            .activation(Activation::Relu)
            .data_format(format),
    )
    .unwrap();
    m.add(MaxPooling2D::new((2, 2)).data_format(format))
        .unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(10).activation(Activation::Softmax))
        .unwrap();
    m
}

fn param_count(model: &Sequential, i: usize) -> usize {
    model.layers()[i]
        .params()
        .iter()
        .map(|p| p.shape.iter().product::<usize>())
        .sum()
}

/// The `Error::Layer` fields, or a panic naming what came instead.
fn layer_err<T: std::fmt::Debug>(
    r: triceratops::Result<T>,
) -> (String, &'static str, String, String) {
    match r {
        Err(e @ Error::Layer { .. }) => {
            let shown = e.to_string();
            let Error::Layer {
                layer,
                kind,
                message,
            } = e
            else {
                unreachable!()
            };
            (layer, kind, message, shown)
        }
        other => panic!("expected Error::Layer, got {other:?}"),
    }
}

// ------------------------------------------------------- shapes and params

#[test]
fn lecture_cnn_shapes_and_params_channels_last() {
    let m = lecture_cnn(DataFormat::ChannelsLast);
    let shapes: Vec<Vec<usize>> = m.layers().iter().map(|l| l.output_shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![30, 30, 32],
            vec![15, 15, 32],
            vec![13, 13, 16],
            vec![6, 6, 16],
            vec![576],
            vec![10],
        ]
    );
    let params: Vec<usize> = (0..6).map(|i| param_count(&m, i)).collect();
    assert_eq!(params, vec![896, 0, 4624, 0, 0, 5770]);
    assert_eq!(m.count_params(), 11_290);
    assert_eq!(m.output_shape(), &[10]);
    // Kernels are HWIO, as Keras stores them.
    let conv = m.layers()[0].params();
    assert_eq!(conv[0].name, "kernel");
    assert_eq!(conv[0].shape, vec![3, 3, 3, 32]);
    assert_eq!(conv[1].name, "bias");
    assert_eq!(conv[1].shape, vec![32]);
    let dense = m.layers()[5].params();
    assert_eq!(dense[0].shape, vec![576, 10]);
}

#[test]
fn lecture_cnn_summary_is_keras_table() {
    let m = lecture_cnn(DataFormat::ChannelsLast);
    insta::assert_snapshot!(m.summary());
}

#[test]
fn lecture_cnn_channels_first_shapes_are_chw() {
    let m = lecture_cnn(DataFormat::ChannelsFirst);
    let shapes: Vec<Vec<usize>> = m.layers().iter().map(|l| l.output_shape.clone()).collect();
    assert_eq!(
        shapes,
        vec![
            vec![32, 30, 30],
            vec![32, 15, 15],
            vec![16, 13, 13],
            vec![16, 6, 6],
            vec![576],
            vec![10],
        ]
    );
    let params: Vec<usize> = (0..6).map(|i| param_count(&m, i)).collect();
    assert_eq!(params, vec![896, 0, 4624, 0, 0, 5770]);
    assert_eq!(m.count_params(), 11_290);
    // The kernel stays HWIO in channels_first too.
    assert_eq!(m.layers()[0].params()[0].shape, vec![3, 3, 3, 32]);
    assert_eq!(m.layers()[2].params()[0].shape, vec![3, 3, 32, 16]);
}

#[test]
fn lecture_cnn_lowers_and_predicts_in_both_formats() {
    for format in [DataFormat::ChannelsLast, DataFormat::ChannelsFirst] {
        let m = lecture_cnn(format);
        let input = m.input_shape.clone();
        let mut model = compiled(m);
        let mut shape = vec![2];
        shape.extend(&input);
        let x = array(&shape, |i| ((i * 37) % 101) as f32 / 101.0);
        let y = model.predict(&x, 2).unwrap();
        assert_eq!(y.shape(), &[2, 10]);
        for row in y.outer_iter() {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-5,
                "{format:?}: softmax row sums to {sum}"
            );
            assert!(row.iter().all(|p| *p > 0.0 && *p < 1.0));
        }
    }
}

// ------------------------------------------------------------------ errors

#[test]
fn conv2d_on_rank1_input_is_a_layer_error() {
    let mut m = Sequential::new("m", &[10]);
    let (layer, kind, message, shown) = layer_err(m.add(Conv2D::new(4, (3, 3))).map(|_| ()));
    assert_eq!(layer, "conv2d");
    assert_eq!(kind, "Conv2D");
    assert!(message.contains("(None, 10)"), "{message}");
    assert!(
        shown.contains("conv2d") && shown.contains("Conv2D"),
        "{shown}"
    );
    assert!(shown.contains("rank-3"), "{shown}");
    // The failed layer was not added.
    assert!(m.layers().is_empty());
}

#[test]
fn kernel_larger_than_image_is_a_layer_error() {
    let mut m = Sequential::new("m", &[7, 7, 1]);
    m.add(Conv2D::new(16, (5, 5))).unwrap();
    assert_eq!(m.output_shape(), &[3, 3, 16]);
    let (layer, kind, _, shown) = layer_err(m.add(Conv2D::new(8, (5, 5))).map(|_| ()));
    assert_eq!(layer, "conv2d_1");
    assert_eq!(kind, "Conv2D");
    for part in ["conv2d_1", "Conv2D", "(None, 3, 3, 16)", "5x5", "valid"] {
        assert!(shown.contains(part), "`{part}` missing from: {shown}");
    }
    assert_eq!(m.layers().len(), 1);
    // `same` padding fits any image.
    m.add(Conv2D::new(8, (5, 5)).padding(triceratops::ir::Padding::Same))
        .unwrap();
    assert_eq!(m.output_shape(), &[3, 3, 8]);
}

#[test]
fn pool_larger_than_image_is_a_layer_error() {
    let mut m = Sequential::new("m", &[4, 4, 2]);
    let (layer, kind, _, shown) = layer_err(m.add(MaxPooling2D::new((5, 5))).map(|_| ()));
    assert_eq!(layer, "max_pooling2d");
    assert_eq!(kind, "MaxPooling2D");
    assert!(shown.contains("(None, 4, 4, 2)"), "{shown}");
    // In channels_first the same shape is a 4x2 image with 4 channels.
    let mut m = Sequential::new("m", &[4, 4, 2]);
    let (_, _, _, shown) = layer_err(
        m.add(MaxPooling2D::new((3, 3)).data_format(DataFormat::ChannelsFirst))
            .map(|_| ()),
    );
    assert!(shown.contains("(None, 4, 4, 2)"), "{shown}");
}

#[test]
fn dense_on_scalar_input_is_a_layer_error() {
    let mut m = Sequential::new("m", &[]);
    let (layer, kind, _, shown) = layer_err(m.add(Dense::new(3)).map(|_| ()));
    assert_eq!(layer, "dense");
    assert_eq!(kind, "Dense");
    // Python's repr of the one-element tuple.
    assert!(shown.contains("(None,)"), "{shown}");
}

#[test]
fn duplicate_layer_name_is_a_layer_error() {
    let mut m = Sequential::new("m", &[4]);
    m.add_named("hidden", Dense::new(3)).unwrap();
    let (layer, kind, _, shown) = layer_err(m.add_named("hidden", Dropout::new(0.5)).map(|_| ()));
    assert_eq!(layer, "hidden");
    assert_eq!(kind, "Dropout");
    assert!(
        shown.contains("hidden") && shown.contains("Dropout"),
        "{shown}"
    );
    assert_eq!(m.layers().len(), 1);
    // An automatic name never collides with a chosen one.
    m.add_named("dense", Dense::new(3)).unwrap();
    m.add(Dense::new(2)).unwrap();
    let names: Vec<&str> = m.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["hidden", "dense", "dense_1"]);
}

// ------------------------------------------------------------------- names

#[test]
fn automatic_names_follow_keras() {
    let mut m = Sequential::new("m", &[8, 8, 1]);
    m.add(Conv2D::new(2, (3, 3))).unwrap();
    m.add(MaxPooling2D::new((2, 2))).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(4)).unwrap();
    m.add(Dropout::new(0.5)).unwrap();
    m.add(ActivationLayer::new(Activation::Tanh)).unwrap();
    m.add(Dense::new(2)).unwrap();
    let names: Vec<&str> = m.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv2d",
            "max_pooling2d",
            "flatten",
            "dense",
            "dropout",
            "activation",
            "dense_1"
        ]
    );
    let classes: Vec<&str> = m.layers().iter().map(|l| l.layer.class_name()).collect();
    assert_eq!(
        classes,
        [
            "Conv2D",
            "MaxPooling2D",
            "Flatten",
            "Dense",
            "Dropout",
            "Activation",
            "Dense"
        ]
    );
    // Parameter names are `<layer>.<param>`.
    let model = compiled(m);
    let mut params: Vec<&str> = model
        .state()
        .entries()
        .iter()
        .map(|e| e.name.as_str())
        .filter(|k| k.ends_with(".kernel") || k.ends_with(".bias"))
        .collect();
    params.sort();
    assert_eq!(
        params,
        [
            "conv2d.bias",
            "conv2d.kernel",
            "dense.bias",
            "dense.kernel",
            "dense_1.bias",
            "dense_1.kernel"
        ]
    );
}

#[test]
fn layer_enum_reports_keras_classes() {
    let layers: Vec<Layer> = vec![
        Dense::new(1).into(),
        Conv2D::new(1, (1, 1)).into(),
        MaxPooling2D::new((2, 2)).into(),
        Flatten::new().into(),
        ActivationLayer::new(Activation::Relu).into(),
        Dropout::new(0.1).into(),
    ];
    let names: Vec<(&str, &str)> = layers
        .iter()
        .map(|l| (l.class_name(), l.default_name()))
        .collect();
    assert_eq!(
        names,
        [
            ("Dense", "dense"),
            ("Conv2D", "conv2d"),
            ("MaxPooling2D", "max_pooling2d"),
            ("Flatten", "flatten"),
            ("Activation", "activation"),
            ("Dropout", "dropout"),
        ]
    );
    // Keras defaults.
    let pool = MaxPooling2D::new((3, 2));
    assert_eq!(pool.strides, [3, 2]);
    let conv = Conv2D::new(4, (3, 3));
    assert_eq!(conv.strides, [1, 1]);
    assert_eq!(conv.padding, triceratops::ir::Padding::Valid);
    assert_eq!(conv.data_format, DataFormat::ChannelsLast);
    assert!(conv.use_bias);
    assert_eq!(Flatten::new().data_format, DataFormat::ChannelsLast);
}
