//! What the Keras layers compute, against Keras 3 and hand-written
//! references: Flatten's element order in both data formats (through a model
//! and through the lowered IR graph), Dense on a rank-3 input, and Conv2D in
//! both formats against a plain cross-correlation, alone and in a
//! conv/pool/flatten/dense stack.

use std::collections::HashMap;

use crate::keras_support::{array, assert_all_close, compiled, compiled_seeded, state};
use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::evaluate;
use triceratops::ir::Graph;
use triceratops::keras::layers::Mode;
use triceratops::keras::{
    Activation, Conv2D, DataFormat, Dense, Flatten, MaxPooling2D, Sequential,
};

// ----------------------------------------------------------------- flatten

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

// ------------------------------------------------------------------- dense

#[test]
fn dense_on_rank3_input_applies_to_last_axis() {
    let mut m = Sequential::new("m", &[2, 3, 4]);
    m.add(Dense::new(5)).unwrap();
    assert_eq!(m.output_shape(), &[2, 3, 5]);
    assert_eq!(m.count_params(), 4 * 5 + 5);
    let mut model = compiled(m);
    let kernel = array(&[4, 5], |i| (i as f32 - 9.5) / 7.0);
    let bias = array(&[5], |i| i as f32 * 0.25 - 0.5);
    model
        .state_mut()
        .set("dense.kernel", &kernel.view())
        .unwrap();
    model.state_mut().set("dense.bias", &bias.view()).unwrap();
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

// -------------------------------------------------------------------- conv

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
            assert_eq!(state(&model, "conv2d.kernel").shape(), &[3, 2, 2, 3]);
            model
                .state_mut()
                .set("conv2d.kernel", &kernel.view())
                .unwrap();
            model.state_mut().set("conv2d.bias", &bias.view()).unwrap();
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
    assert_eq!(a.state().as_slice(), b.state().as_slice());
    for i in 0..a.state().len() {
        if a.state().entries()[i].name.ends_with(".bias") {
            a.state_mut()
                .slice_mut(i)
                .iter_mut()
                .enumerate()
                .for_each(|(i, e)| *e = 0.1 * i as f32 - 0.05);
        }
    }
    for entry in a.state().entries() {
        let value = a.state().view(&entry.name).unwrap();
        b.state_mut().set(&entry.name, &value).unwrap();
    }
    let x = array(&[3, 8, 9, 2], |i| ((i * 31) % 19) as f32 / 9.0 - 1.0);
    let ya = a.predict(&x, 3).unwrap();
    let yb = b.predict(&to_nchw(&x), 3).unwrap();
    assert_all_close(&yb, &ya, 1e-5);
    assert!(ya.iter().any(|v| v.abs() > 1e-3));
}
