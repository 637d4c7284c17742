//! The Keras front end against Keras 3: output shapes and parameter counts of
//! the lecture's CNN in both data formats, the `summary()` table, layer
//! errors, automatic names, Flatten's element order, Dense on rank-3 inputs,
//! Conv2D in both formats against a hand-written cross-correlation, Glorot
//! initialization with Keras' fans, and Dropout in training and inference.

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::Interpreter;
use triceratops::compile::{self, noise_inputs, CompileSpec};
use triceratops::data::Dataset;
use triceratops::ir::interp::evaluate;
use triceratops::ir::Graph;
use triceratops::keras::layers::Mode;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{
    Activation, ActivationLayer, Conv2D, DataFormat, Dense, Dropout, Flatten, Layer, MaxPooling2D,
    Sequential,
};
use triceratops::train::Silent;
use triceratops::{Error, FitOptions, Model, Validation};

// ---------------------------------------------------------------- helpers

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

/// Compiles with plain SGD and MSE: enough to run `predict` and set weights.
fn compiled(model: Sequential) -> Model {
    model
        .compile(
            Optimizer::sgd(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap()
}

fn compiled_seeded(model: Sequential, seed: u64) -> Model {
    Model::new(
        model,
        Optimizer::sgd(Convention::Keras),
        Loss::MeanSquaredError,
        &[],
        Box::new(Interpreter),
        seed,
    )
    .unwrap()
}

fn array(shape: &[usize], f: impl FnMut(usize) -> f32) -> ArrayD<f32> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

fn assert_all_close(got: &ArrayD<f32>, want: &ArrayD<f32>, tol: f32) {
    assert_eq!(got.shape(), want.shape());
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(close(*g, *w, tol), "element {i}: got {g}, want {w}");
    }
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

// ----------------------------------------------------------------- errors

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

// ------------------------------------------------------------------ names

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
        .state
        .keys()
        .map(String::as_str)
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

// ---------------------------------------------------------------- flatten

/// Runs a model made of `layer` alone on the (2, 3, 4) tensor holding 0..23.
fn flatten_order(layer: Flatten) -> Vec<f32> {
    let mut m = Sequential::new("flat", &[2, 3, 4]);
    m.add(layer).unwrap();
    assert_eq!(m.output_shape(), &[24]);
    let mut model = compiled(m);
    let x = array(&[1, 2, 3, 4], |i| i as f32);
    let y = model.predict(&x, 1).unwrap();
    assert_eq!(y.shape(), &[1, 24]);
    y.iter().copied().collect()
}

#[test]
fn flatten_default_keeps_stored_order() {
    let want: Vec<f32> = (0..24).map(|i| i as f32).collect();
    assert_eq!(flatten_order(Flatten::new()), want);
}

#[test]
fn flatten_channels_first_moves_axis_1_last() {
    // Keras 3.15: 0, 12, 1, 13, ... (element [c, h, w] at position (h, w, c)).
    let want: Vec<f32> = vec![
        0., 12., 1., 13., 2., 14., 3., 15., 4., 16., 5., 17., //
        6., 18., 7., 19., 8., 20., 9., 21., 10., 22., 11., 23.,
    ];
    assert_eq!(
        flatten_order(Flatten::new().data_format(DataFormat::ChannelsFirst)),
        want
    );
}

#[test]
fn flatten_lowered_graph_runs_directly() {
    // The same order through `Sequential::lower` and the IR interpreter.
    let mut m = Sequential::new("flat", &[2, 3, 4]);
    m.add(Flatten::new().data_format(DataFormat::ChannelsFirst))
        .unwrap();
    let mut g = Graph::new("flat");
    let x = g.input("x", vec![2, 2, 3, 4]).unwrap();
    let fwd = m.lower(&mut g, x, Mode::Infer).unwrap();
    assert!(fwd.params.is_empty());
    g.add_output("y", fwd.output).unwrap();
    let mut inputs = HashMap::new();
    inputs.insert("x".to_string(), array(&[2, 2, 3, 4], |i| i as f32));
    let eval = evaluate(&g, &inputs).unwrap();
    let y = eval.output("y").unwrap();
    assert_eq!(y.shape(), &[2, 24]);
    // Sample 1 is sample 0 shifted by 24.
    let row1: Vec<f32> = y.index_axis(ndarray::Axis(0), 1).iter().copied().collect();
    assert_eq!(&row1[..6], &[24., 36., 25., 37., 26., 38.]);
    assert_eq!(row1[23], 47.);
}

// ------------------------------------------------------------------ dense

#[test]
fn dense_on_rank3_input_applies_to_last_axis() {
    let mut m = Sequential::new("m", &[2, 3, 4]);
    m.add(Dense::new(5)).unwrap();
    assert_eq!(m.output_shape(), &[2, 3, 5]);
    assert_eq!(m.count_params(), 4 * 5 + 5);
    let mut model = compiled(m);
    let kernel = array(&[4, 5], |i| (i as f32 - 9.5) / 7.0);
    let bias = array(&[5], |i| i as f32 * 0.25 - 0.5);
    model.state.insert("dense.kernel".into(), kernel.clone());
    model.state.insert("dense.bias".into(), bias.clone());
    let x = array(&[3, 2, 3, 4], |i| ((i * 13) % 17) as f32 / 8.0 - 1.0);
    let y = model.predict(&x, 3).unwrap();
    let mut want = ArrayD::zeros(IxDyn(&[3, 2, 3, 5]));
    for n in 0..3 {
        for a in 0..2 {
            for b in 0..3 {
                for u in 0..5 {
                    let mut s = bias[[u]];
                    for k in 0..4 {
                        s += x[[n, a, b, k]] * kernel[[k, u]];
                    }
                    want[[n, a, b, u]] = s;
                }
            }
        }
    }
    assert_all_close(&y, &want, 1e-6);
}

// ------------------------------------------------------------------- conv

/// Keras' Conv2D (valid, stride s) as a plain cross-correlation on NHWC data
/// with an HWIO kernel, plus bias.
fn conv_nhwc(
    x: &ArrayD<f32>,
    k: &ArrayD<f32>,
    b: &ArrayD<f32>,
    strides: (usize, usize),
) -> ArrayD<f32> {
    let (n, h, w, c) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (kh, kw, o) = (k.shape()[0], k.shape()[1], k.shape()[3]);
    let oh = (h - kh) / strides.0 + 1;
    let ow = (w - kw) / strides.1 + 1;
    let mut y = ArrayD::zeros(IxDyn(&[n, oh, ow, o]));
    for s in 0..n {
        for i in 0..oh {
            for j in 0..ow {
                for f in 0..o {
                    let mut acc = b[[f]];
                    for di in 0..kh {
                        for dj in 0..kw {
                            for ch in 0..c {
                                acc += x[[s, i * strides.0 + di, j * strides.1 + dj, ch]]
                                    * k[[di, dj, ch, f]];
                            }
                        }
                    }
                    y[[s, i, j, f]] = acc;
                }
            }
        }
    }
    y
}

fn to_nchw(x: &ArrayD<f32>) -> ArrayD<f32> {
    x.view().permuted_axes(IxDyn(&[0, 3, 1, 2])).to_owned()
}

#[test]
fn conv2d_formats_agree_with_hand_cross_correlation() {
    let kernel = array(&[3, 2, 2, 3], |i| ((i * 7) % 11) as f32 / 5.0 - 1.0);
    let bias = array(&[3], |i| [0.5, -1.0, 2.0][i]);
    let x_last = array(&[2, 6, 5, 2], |i| ((i * 29) % 23) as f32 / 11.0 - 1.0);
    let x_first = to_nchw(&x_last);
    for strides in [(1, 1), (2, 1)] {
        let want_last = conv_nhwc(&x_last, &kernel, &bias, strides);
        let want_first = to_nchw(&want_last);

        let mut last = Sequential::new("last", &[6, 5, 2]);
        last.add(Conv2D::new(3, (3, 2)).strides(strides)).unwrap();
        let mut first = Sequential::new("first", &[2, 6, 5]);
        first
            .add(
                Conv2D::new(3, (3, 2))
                    .strides(strides)
                    .data_format(DataFormat::ChannelsFirst),
            )
            .unwrap();
        assert_eq!(last.output_shape(), &want_last.shape()[1..]);
        assert_eq!(first.output_shape(), &want_first.shape()[1..]);

        let mut outputs = Vec::new();
        for (m, x) in [(last, &x_last), (first, &x_first)] {
            let mut model = compiled(m);
            assert_eq!(model.state["conv2d.kernel"].shape(), &[3, 2, 2, 3]);
            model.state.insert("conv2d.kernel".into(), kernel.clone());
            model.state.insert("conv2d.bias".into(), bias.clone());
            outputs.push(model.predict(x, 2).unwrap());
        }
        assert_all_close(&outputs[0], &want_last, 1e-5);
        assert_all_close(&outputs[1], &want_first, 1e-5);
    }
}

#[test]
fn conv_pool_flatten_channels_first_matches_channels_last() {
    // A channels_first stack ending in Flatten(channels_first) computes the
    // same vector as the channels_last stack with the default Flatten, so
    // the Dense after it takes the same weights.
    let build = |format: DataFormat, input: &[usize]| {
        let mut m = Sequential::new("m", input);
        m.add(
            Conv2D::new(4, (3, 3))
                .activation(Activation::Relu)
                .data_format(format),
        )
        .unwrap();
        m.add(MaxPooling2D::new((2, 2)).data_format(format))
            .unwrap();
        m.add(Flatten::new().data_format(format)).unwrap();
        m.add(Dense::new(3)).unwrap();
        m
    };
    let last = build(DataFormat::ChannelsLast, &[8, 9, 2]);
    let first = build(DataFormat::ChannelsFirst, &[2, 8, 9]);
    assert_eq!(last.output_shape(), &[3]);
    assert_eq!(first.layers()[2].output_shape, vec![3 * 3 * 4]);
    let mut a = compiled_seeded(last, 5);
    let mut b = compiled_seeded(first, 5);
    // Same seed, same HWIO shapes: same initial weights.
    assert_eq!(a.state, b.state);
    for (name, v) in a.state.iter_mut() {
        if name.ends_with(".bias") {
            v.iter_mut()
                .enumerate()
                .for_each(|(i, e)| *e = 0.1 * i as f32 - 0.05);
        }
    }
    b.state = a.state.clone();
    let x = array(&[3, 8, 9, 2], |i| ((i * 31) % 19) as f32 / 9.0 - 1.0);
    let ya = a.predict(&x, 3).unwrap();
    let yb = b.predict(&to_nchw(&x), 3).unwrap();
    assert_all_close(&yb, &ya, 1e-5);
    assert!(ya.iter().any(|v| v.abs() > 1e-3));
}

// -------------------------------------------------------------- glorot

fn moments(v: &ArrayD<f32>) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&e| e as f64).sum::<f64>() / n;
    let var = v.iter().map(|&e| (e as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn glorot_uniform_uses_keras_fans() {
    let mut dense = Sequential::new("mlp", &[784]);
    dense.add(Dense::new(128)).unwrap();
    let mut conv = Sequential::new("cnn", &[32, 32, 3]);
    conv.add(Conv2D::new(32, (3, 3))).unwrap();
    let cases = [
        (dense, "dense", vec![784, 128], 784 + 128),
        // fan_in = 3*3*3 = 27, fan_out = 3*3*32 = 288.
        (conv, "conv2d", vec![3, 3, 3, 32], 27 + 288),
    ];
    for (m, layer, shape, fans) in cases {
        let model = compiled_seeded(m, 42);
        let kernel = &model.state[&format!("{layer}.kernel")];
        assert_eq!(kernel.shape(), shape.as_slice());
        let limit = (6.0 / fans as f64).sqrt();
        let max = kernel.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
        assert!(
            max <= limit * (1.0 + 1e-6),
            "{layer}: |w| {max} > limit {limit}"
        );
        // Values reach close to the limit (so the fans are not too small).
        assert!(
            max >= 0.97 * limit,
            "{layer}: max |w| {max} far below limit {limit}"
        );
        let (mean, var) = moments(kernel);
        let n = kernel.len() as f64;
        // Uniform(-l, l): mean 0 (sd l/sqrt(3n)), variance l²/3.
        assert!(
            mean.abs() < 5.0 * limit / (3.0 * n).sqrt(),
            "{layer}: mean {mean}"
        );
        let want = limit * limit / 3.0;
        assert!(
            (var - want).abs() < 0.1 * want,
            "{layer}: variance {var}, want {want}"
        );
        // Roughly uniform: each quarter of [-l, l] holds about a quarter.
        for q in 0..4 {
            let lo = -limit + q as f64 * limit / 2.0;
            let hi = lo + limit / 2.0;
            let count = kernel
                .iter()
                .filter(|&&v| (v as f64) >= lo && (v as f64) < hi)
                .count() as f64;
            assert!(
                (count / n - 0.25).abs() < 0.06,
                "{layer}: quarter {q} holds {count} of {n}"
            );
        }
        let bias = &model.state[&format!("{layer}.bias")];
        assert!(
            bias.iter().all(|&b| b == 0.0),
            "{layer}: biases start at zero"
        );
    }
}

#[test]
fn initialization_is_seeded() {
    let build = || {
        let mut m = Sequential::new("m", &[6]);
        m.add(Dense::new(5).activation(Activation::Relu)).unwrap();
        m.add(Dense::new(2)).unwrap();
        m
    };
    let a = compiled_seeded(build(), 7);
    let b = compiled_seeded(build(), 7);
    let c = compiled_seeded(build(), 8);
    assert_eq!(a.state, b.state);
    for name in ["dense.kernel", "dense_1.kernel"] {
        assert_ne!(a.state[name], c.state[name], "{name} ignores the seed");
    }
    assert_eq!(a.steps(), 0);
}

// ---------------------------------------------------------------- dropout

/// A Dropout-only model lowered by hand, run on `x` with the given noise.
fn dropout_graph(rate: f32, features: usize, mode: Mode) -> Graph {
    let mut m = Sequential::new("d", &[features]);
    m.add(Dropout::new(rate)).unwrap();
    let mut g = Graph::new("d");
    let x = g.input("x", vec![1, features]).unwrap();
    let fwd = m.lower(&mut g, x, mode).unwrap();
    g.add_output("y", fwd.output).unwrap();
    g
}

#[test]
fn dropout_is_identity_at_inference() {
    let g = dropout_graph(0.5, 100, Mode::Infer);
    assert!(noise_inputs(&g).is_empty());
    let x = array(&[1, 100], |i| i as f32 - 50.0);
    let mut inputs = HashMap::new();
    inputs.insert("x".to_string(), x.clone());
    assert_eq!(evaluate(&g, &inputs).unwrap().output("y").unwrap(), &x);

    // And through a model: predict ignores dropout entirely.
    let mut m = Sequential::new("m", &[100]);
    m.add(Dropout::new(0.9)).unwrap();
    let mut model = compiled(m);
    let xs = array(&[4, 100], |i| i as f32 * 0.5);
    assert_eq!(model.predict(&xs, 3).unwrap(), xs);
}

#[test]
fn dropout_in_training_zeroes_rate_and_scales_the_rest() {
    let (rate, n) = (0.3f32, 10_000);
    let g = dropout_graph(rate, n, Mode::Train);
    assert_eq!(
        noise_inputs(&g),
        vec![("dropout.noise".to_string(), vec![1, n])]
    );
    let x = array(&[1, n], |i| 1.0 + (i % 7) as f32);

    // Exactly uniform noise k/n (k a permutation of 0..n): exactly 30% below `rate`.
    let noise = array(&[1, n], |i| ((i * 7919) % n) as f32 / n as f32);
    let mut inputs = HashMap::new();
    inputs.insert("x".to_string(), x.clone());
    inputs.insert("dropout.noise".to_string(), noise.clone());
    let eval = evaluate(&g, &inputs).unwrap();
    let y = eval.output("y").unwrap();
    let mut dropped = 0;
    for ((&yi, &xi), &u) in y.iter().zip(x.iter()).zip(noise.iter()) {
        if u < rate {
            assert_eq!(yi, 0.0);
            dropped += 1;
        } else {
            assert!(close(yi, xi / (1.0 - rate), 1e-6), "{yi} vs {xi}/(1-rate)");
        }
    }
    assert_eq!(dropped, 3000);

    // Random noise: about `rate` dropped, and the mean is preserved.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let noise = array(&[1, n], |_| rng.random::<f32>());
    inputs.insert("dropout.noise".to_string(), noise);
    let eval = evaluate(&g, &inputs).unwrap();
    let y = eval.output("y").unwrap();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f32 / n as f32;
    assert!((zeros - rate).abs() < 0.02, "dropped fraction {zeros}");
    let (mx, my) = (x.mean().unwrap(), y.mean().unwrap());
    assert!((my - mx).abs() < 0.03 * mx, "mean {my} vs {mx}");
}

#[test]
fn dropout_noise_is_only_in_the_train_step() {
    let mut m = Sequential::new("m", &[6]);
    m.add(Dense::new(8).activation(Activation::Relu)).unwrap();
    m.add(Dropout::new(0.5)).unwrap();
    m.add(Dense::new(2)).unwrap();
    let spec = CompileSpec {
        optimizer: Optimizer::adam(Convention::Keras),
        loss: Loss::MeanSquaredError,
        metrics: vec![],
    };
    let (train, _) = compile::train_step_graph(&m, &spec, 4).unwrap();
    assert_eq!(
        noise_inputs(&train),
        vec![("dropout.noise".to_string(), vec![4, 8])]
    );
    assert!(noise_inputs(&compile::eval_graph(&m, &spec, 4).unwrap()).is_empty());
    assert!(noise_inputs(&compile::predict_graph(&m, 4).unwrap()).is_empty());
}

#[test]
fn dropout_is_active_in_train_on_batch() {
    // pred = sum(keep_i / (1 - rate)) with unit inputs and weights, so
    // sqrt(loss) * (1 - rate) counts the kept units.
    let (rate, n) = (0.25f32, 4000);
    let mut m = Sequential::new("m", &[n]);
    m.add(Dropout::new(rate)).unwrap();
    m.add(Dense::new(1).use_bias(false)).unwrap();
    let mut model = Model::new(
        m,
        Optimizer::sgd(Convention::Keras).with_learning_rate(0.0),
        Loss::MeanSquaredError,
        &[],
        Box::new(Interpreter),
        11,
    )
    .unwrap();
    model
        .state
        .insert("dense.kernel".into(), ArrayD::ones(IxDyn(&[n, 1])));
    let x = ArrayD::ones(IxDyn(&[1, n]));
    let y = ArrayD::zeros(IxDyn(&[1, 1]));
    let mut kept_counts = Vec::new();
    for _ in 0..5 {
        let logs = model.train_on_batch(x.clone(), y.clone()).unwrap();
        let kept = logs.loss.sqrt() * (1.0 - rate);
        assert!(
            (kept - kept.round()).abs() < 0.05,
            "kept {kept} is not a whole number of units: the scale is not 1/(1-rate)"
        );
        let fraction = kept / n as f32;
        assert!(
            (fraction - (1.0 - rate)).abs() < 0.03,
            "kept fraction {fraction}"
        );
        kept_counts.push(kept.round() as usize);
    }
    // Fresh noise every step.
    kept_counts.dedup();
    assert!(
        kept_counts.len() > 1,
        "the same mask every step: {kept_counts:?}"
    );
    assert_eq!(model.steps(), 5);
    // Inference sees every unit, unscaled.
    assert_eq!(model.predict(&x, 1).unwrap()[[0, 0]], n as f32);
}

#[test]
fn training_with_dropout_is_reproducible_per_seed() {
    let build = || {
        let mut m = Sequential::new("m", &[5]);
        m.add(Dense::new(16).activation(Activation::Relu)).unwrap();
        m.add(Dropout::new(0.4)).unwrap();
        m.add(Dense::new(3).activation(Activation::Softmax))
            .unwrap();
        m
    };
    let n = 60;
    let x = array(&[n, 5], |i| ((i * 17) % 29) as f32 / 14.0 - 1.0);
    let y = array(&[n, 3], |i| if (i / 3) % 3 == i % 3 { 1.0 } else { 0.0 });
    let data = Dataset { x, y };
    let options = FitOptions {
        epochs: 3,
        batch_size: 8,
        shuffle: true,
        validation: Validation::None,
    };
    let run = |seed: u64| {
        let mut model = Model::new(
            build(),
            Optimizer::adam(Convention::Keras),
            Loss::CategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
            Box::new(Interpreter),
            seed,
        )
        .unwrap();
        let history = model.fit(&data, &options, &mut Silent).unwrap();
        (model.state, history)
    };
    let (a, ha) = run(123);
    let (b, hb) = run(123);
    assert_eq!(a, b, "same seed, same data: the weights must match exactly");
    assert_eq!(ha.loss(), hb.loss());
    let (c, _) = run(124);
    assert_ne!(a["dense.kernel"], c["dense.kernel"]);
    assert_eq!(a["step"][[]], (3 * n.div_ceil(8)) as f32);
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
