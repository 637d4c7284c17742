//! Values computed by the reference interpreter for every op, checked against
//! small examples worked out by hand (the expected numbers are literals, or
//! known constants such as tanh(0.5) computed independently). Every value
//! test runs in f32 and in f64.

use std::collections::HashMap;
use std::f64::consts::{FRAC_1_SQRT_2, LN_2, SQRT_2};

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use triceratops_ir::interp::{evaluate, Inputs, Scalar};
use triceratops_ir::{
    BinaryOp, CmpOp, ConvAttrs, Graph, IrError, Layout, Padding, PoolAttrs, UnaryOp, ValueId,
};

// ---------------------------------------------------------------- helpers

fn arr<T: Scalar>(shape: &[usize], data: &[f64]) -> ArrayD<T> {
    ArrayD::from_shape_vec(
        IxDyn(shape),
        data.iter()
            .map(|&v| num_traits::cast::<f64, T>(v).unwrap())
            .collect(),
    )
    .unwrap()
}

fn is_f32<T: Scalar>() -> bool {
    std::mem::size_of::<T>() == 4
}

/// Runs `g` on the given arguments and returns every named output.
fn run<T: Scalar>(g: &Graph, inputs: &[(&str, &[usize], &[f64])]) -> HashMap<String, ArrayD<T>> {
    let inputs: Inputs<T> = inputs
        .iter()
        .map(|(name, shape, data)| (name.to_string(), arr::<T>(shape, data)))
        .collect();
    let eval = evaluate::<T>(g, &inputs).unwrap_or_else(|e| panic!("evaluation failed: {e}"));
    g.outputs()
        .iter()
        .map(|(name, _)| (name.clone(), eval.output(name).unwrap().clone()))
        .collect()
}

/// Checks shape and values: NaN must be NaN, infinities exact, finite values
/// within 1e-5 (f32) or 1e-12 (f64) relative to max(1, |expected|).
#[track_caller]
fn expect<T: Scalar>(actual: &ArrayD<T>, shape: &[usize], expected: &[f64]) {
    assert_eq!(actual.shape(), shape, "shape");
    assert_eq!(actual.len(), expected.len(), "test bug: element count");
    let tol = if is_f32::<T>() { 1e-5 } else { 1e-12 };
    for (i, (a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a.to_f64().unwrap();
        let good = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= tol * e.abs().max(1.0)
        };
        assert!(
            good,
            "element {i} (row-major): got {a}, expected {e}\n actual: {actual:?}\n expected: {expected:?}"
        );
    }
}

/// Builds `x -> f(x)` on an input of shape `shape`, runs it on `data`.
fn unary_run<T: Scalar>(
    shape: &[usize],
    data: &[f64],
    f: impl FnOnce(&mut Graph, ValueId) -> ValueId,
) -> ArrayD<T> {
    let mut g = Graph::new("g");
    let x = g.input("x", shape.to_vec()).unwrap();
    let y = f(&mut g, x);
    g.add_output("y", y).unwrap();
    run::<T>(&g, &[("x", shape, data)]).remove("y").unwrap()
}

/// Builds `f(a, b)` on two inputs and runs it.
fn binary_run<T: Scalar>(
    a: (&[usize], &[f64]),
    b: (&[usize], &[f64]),
    f: impl FnOnce(&mut Graph, ValueId, ValueId) -> ValueId,
) -> ArrayD<T> {
    let mut g = Graph::new("g");
    let va = g.input("a", a.0.to_vec()).unwrap();
    let vb = g.input("b", b.0.to_vec()).unwrap();
    let y = f(&mut g, va, vb);
    g.add_output("y", y).unwrap();
    run::<T>(&g, &[("a", a.0, a.1), ("b", b.0, b.1)])
        .remove("y")
        .unwrap()
}

fn conv(strides: [usize; 2], padding: Padding, layout: Layout) -> ConvAttrs {
    ConvAttrs {
        strides,
        padding,
        layout,
    }
}

fn pool(window: [usize; 2], strides: [usize; 2], padding: Padding, layout: Layout) -> PoolAttrs {
    PoolAttrs {
        window,
        strides,
        padding,
        layout,
    }
}

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

/// Generates one `#[test]` per precision for each generic case function.
macro_rules! both_precisions {
    ($($case:ident),* $(,)?) => {
        mod f32_cases {
            $( #[test] fn $case() { super::$case::<f32>() } )*
        }
        mod f64_cases {
            $( #[test] fn $case() { super::$case::<f64>() } )*
        }
    };
}

both_precisions!(
    neg_abs_square,
    exp_log,
    sqrt_rsqrt_recip,
    tanh_values,
    sigmoid_values,
    sigmoid_is_stable_at_large_magnitude,
    relu_values,
    pow_values,
    binary_values,
    division_by_zero,
    max_min_propagate_nan,
    compare_values,
    select_values,
    builder_numpy_broadcast_values,
    broadcast_in_dim_values,
    reshape_transpose_lecture_example,
    transpose_rank3,
    pad_values,
    slice_values,
    reduce_sum_values,
    reduce_max_values,
    mean_values,
    matmul_lecture_examples,
    matmul_batched,
    conv2d_by_hand_nhwc,
    conv2d_by_hand_nchw,
    conv2d_same_3x3_box,
    conv2d_strided,
    conv2d_input_grad_by_hand,
    conv2d_filter_grad_by_hand,
    maxpool2d_by_hand,
    maxpool2d_same_ignores_padding,
    maxpool2d_nchw_by_hand,
    maxpool2d_grad_by_hand,
    maxpool2d_propagates_nan,
    constants_and_scalars,
    non_standard_layout_inputs,
);

// ----------------------------------------------------------------- unary ops

fn neg_abs_square<T: Scalar>() {
    let x = [1.0, -2.0, 0.0, 2.5];
    expect(
        &unary_run::<T>(&[4], &x, |g, x| g.neg(x).unwrap()),
        &[4],
        &[-1.0, 2.0, 0.0, -2.5],
    );
    expect(
        &unary_run::<T>(&[4], &x, |g, x| g.abs(x).unwrap()),
        &[4],
        &[1.0, 2.0, 0.0, 2.5],
    );
    expect(
        &unary_run::<T>(&[2, 2], &x, |g, x| g.square(x).unwrap()),
        &[2, 2],
        &[1.0, 4.0, 0.0, 6.25],
    );
    // Rank 0.
    expect(
        &unary_run::<T>(&[], &[-3.0], |g, x| g.abs(x).unwrap()),
        &[],
        &[3.0],
    );
}

fn exp_log<T: Scalar>() {
    expect(
        &unary_run::<T>(&[4], &[0.0, 1.0, -1.0, 2.0], |g, x| g.exp(x).unwrap()),
        &[4],
        &[
            1.0,
            std::f64::consts::E,
            0.36787944117144233,
            7.38905609893065,
        ],
    );
    expect(
        &unary_run::<T>(&[6], &[1.0, 2.0, 0.5, 0.0, -1.0, INF], |g, x| {
            g.log(x).unwrap()
        }),
        &[6],
        &[0.0, LN_2, -LN_2, -INF, NAN, INF],
    );
}

fn sqrt_rsqrt_recip<T: Scalar>() {
    expect(
        &unary_run::<T>(&[4], &[4.0, 2.0, 0.0, -1.0], |g, x| g.sqrt(x).unwrap()),
        &[4],
        &[2.0, SQRT_2, 0.0, NAN],
    );
    expect(
        &unary_run::<T>(&[4], &[4.0, 2.0, 0.25, 0.0], |g, x| g.rsqrt(x).unwrap()),
        &[4],
        &[0.5, FRAC_1_SQRT_2, 2.0, INF],
    );
    expect(
        &unary_run::<T>(&[4], &[2.0, -4.0, 0.5, 0.0], |g, x| g.recip(x).unwrap()),
        &[4],
        &[0.5, -0.25, 2.0, INF],
    );
}

fn tanh_values<T: Scalar>() {
    expect(
        &unary_run::<T>(&[5], &[0.0, 0.5, -3.0, 20.0, -100.0], |g, x| {
            g.tanh(x).unwrap()
        }),
        &[5],
        &[0.0, 0.46211715726000974, -0.9950547536867305, 1.0, -1.0],
    );
}

fn sigmoid_values<T: Scalar>() {
    expect(
        &unary_run::<T>(&[2, 2], &[0.0, 2.0, -2.0, 1.0], |g, x| {
            g.sigmoid(x).unwrap()
        }),
        &[2, 2],
        &[
            0.5,
            0.8807970779778823,
            0.11920292202211755,
            0.7310585786300049,
        ],
    );
}

fn sigmoid_is_stable_at_large_magnitude<T: Scalar>() {
    let x = [100.0, -100.0, 1000.0, -1000.0, 88.0, -88.0, 710.0, -710.0];
    let y = unary_run::<T>(&[8], &x, |g, x| g.sigmoid(x).unwrap());
    for (v, x) in y.iter().zip(x) {
        let v = v.to_f64().unwrap();
        assert!(v.is_finite(), "sigmoid({x}) = {v}");
        assert!((0.0..=1.0).contains(&v), "sigmoid({x}) = {v}");
    }
    let y: Vec<f64> = y.iter().map(|v| v.to_f64().unwrap()).collect();
    assert_eq!(y[0], 1.0);
    assert_eq!(y[2], 1.0);
    assert_eq!(y[3], 0.0);
    if is_f32::<T>() {
        // e^-100 is an f32 subnormal: positive, tiny.
        assert!(y[1] >= 0.0 && y[1] < 1e-40, "{}", y[1]);
    } else {
        // sigmoid(-100) = e^-100 / (1 + e^-100) = 3.720075976020836e-44.
        assert!(
            (y[1] - 3.720075976020836e-44).abs() < 1e-12 * 3.72e-44,
            "{}",
            y[1]
        );
        // sigmoid(-88) = 6.05460189...e-39
        assert!(
            (y[5] - 6.054601895401186e-39).abs() < 1e-10 * 6.05e-39,
            "{}",
            y[5]
        );
    }
}

fn relu_values<T: Scalar>() {
    expect(
        &unary_run::<T>(&[6], &[-1.0, 0.0, 2.5, -0.0, NAN, -INF], |g, x| {
            g.relu(x).unwrap()
        }),
        &[6],
        &[0.0, 0.0, 2.5, 0.0, NAN, 0.0],
    );
}

fn pow_values<T: Scalar>() {
    let x = [4.0, 1.0, 0.0, 9.0];
    expect(
        &unary_run::<T>(&[4], &x, |g, x| g.pow(x, 2.5).unwrap()),
        &[4],
        &[32.0, 1.0, 0.0, 243.0],
    );
    expect(
        &unary_run::<T>(&[4], &x, |g, x| g.pow(x, 0.5).unwrap()),
        &[4],
        &[2.0, 1.0, 0.0, 3.0],
    );
    expect(
        &unary_run::<T>(&[3], &[2.0, -2.0, 0.5], |g, x| g.pow(x, -1.0).unwrap()),
        &[3],
        &[0.5, -0.5, 2.0],
    );
    expect(
        &unary_run::<T>(&[3], &[-2.0, 3.0, -1.5], |g, x| g.pow(x, 3.0).unwrap()),
        &[3],
        &[-8.0, 27.0, -3.375],
    );
    expect(
        &unary_run::<T>(&[3], &[-2.0, 3.0, 0.0], |g, x| g.pow(x, 0.0).unwrap()),
        &[3],
        &[1.0, 1.0, 1.0],
    );
}

// ---------------------------------------------------------------- binary ops

fn binary_values<T: Scalar>() {
    let a: (&[usize], &[f64]) = (&[2, 2], &[1.0, -2.0, 3.0, 0.5]);
    let b: (&[usize], &[f64]) = (&[2, 2], &[2.0, 4.0, -1.0, 0.5]);
    let cases: [(BinaryOp, [f64; 4]); 6] = [
        (BinaryOp::Add, [3.0, 2.0, 2.0, 1.0]),
        (BinaryOp::Sub, [-1.0, -6.0, 4.0, 0.0]),
        (BinaryOp::Mul, [2.0, -8.0, -3.0, 0.25]),
        (BinaryOp::Div, [0.5, -0.5, -3.0, 1.0]),
        (BinaryOp::Max, [2.0, 4.0, 3.0, 0.5]),
        (BinaryOp::Min, [1.0, -2.0, -1.0, 0.5]),
    ];
    for (op, want) in cases {
        let y = binary_run::<T>(a, b, |g, a, b| g.binary(op, a, b).unwrap());
        expect(&y, &[2, 2], &want);
    }
    // The named builder methods are the same ops.
    let y = binary_run::<T>(a, b, |g, a, b| g.sub(a, b).unwrap());
    expect(&y, &[2, 2], &[-1.0, -6.0, 4.0, 0.0]);
    let y = binary_run::<T>(a, b, |g, a, b| g.div(a, b).unwrap());
    expect(&y, &[2, 2], &[0.5, -0.5, -3.0, 1.0]);
    let y = binary_run::<T>(a, b, |g, a, b| g.maximum(a, b).unwrap());
    expect(&y, &[2, 2], &[2.0, 4.0, 3.0, 0.5]);
    let y = binary_run::<T>(a, b, |g, a, b| g.minimum(a, b).unwrap());
    expect(&y, &[2, 2], &[1.0, -2.0, -1.0, 0.5]);
}

fn division_by_zero<T: Scalar>() {
    let y = binary_run::<T>(
        (&[3], &[1.0, -1.0, 0.0]),
        (&[3], &[0.0, 0.0, 0.0]),
        |g, a, b| g.div(a, b).unwrap(),
    );
    expect(&y, &[3], &[INF, -INF, NAN]);
}

fn max_min_propagate_nan<T: Scalar>() {
    let a: (&[usize], &[f64]) = (&[4], &[NAN, 1.0, NAN, -INF]);
    let b: (&[usize], &[f64]) = (&[4], &[1.0, NAN, NAN, 2.0]);
    let y = binary_run::<T>(a, b, |g, a, b| g.maximum(a, b).unwrap());
    expect(&y, &[4], &[NAN, NAN, NAN, 2.0]);
    let y = binary_run::<T>(a, b, |g, a, b| g.minimum(a, b).unwrap());
    expect(&y, &[4], &[NAN, NAN, NAN, -INF]);
}

fn compare_values<T: Scalar>() {
    let a: (&[usize], &[f64]) = (&[5], &[1.0, 2.0, 3.0, NAN, -0.0]);
    let b: (&[usize], &[f64]) = (&[5], &[2.0, 2.0, 2.0, NAN, 0.0]);
    let cases = [
        (CmpOp::Gt, [0.0, 0.0, 1.0, 0.0, 0.0]),
        (CmpOp::Ge, [0.0, 1.0, 1.0, 0.0, 1.0]),
        (CmpOp::Eq, [0.0, 1.0, 0.0, 0.0, 1.0]),
    ];
    for (op, want) in cases {
        let y = binary_run::<T>(a, b, |g, a, b| g.compare(op, a, b).unwrap());
        expect(&y, &[5], &want);
    }
    // Against a broadcast scalar: x > 0.
    let y = unary_run::<T>(&[2, 2], &[-1.0, 0.0, 0.5, 3.0], |g, x| {
        let zero = g.scalar(0.0).unwrap();
        g.compare(CmpOp::Gt, x, zero).unwrap()
    });
    expect(&y, &[2, 2], &[0.0, 0.0, 1.0, 1.0]);
}

fn select_values<T: Scalar>() {
    let mut g = Graph::new("g");
    let m = g.input("m", [5]).unwrap();
    let t = g.input("t", [5]).unwrap();
    let f = g.input("f", [5]).unwrap();
    let y = g.select(m, t, f).unwrap();
    g.add_output("y", y).unwrap();
    // Any nonzero mask picks on_true (including negatives); -0 is zero.
    let out = run::<T>(
        &g,
        &[
            ("m", &[5], &[1.0, 0.0, 2.0, -1.0, -0.0]),
            ("t", &[5], &[10.0, 20.0, 30.0, 40.0, 50.0]),
            ("f", &[5], &[-10.0, -20.0, -30.0, -40.0, -50.0]),
        ],
    );
    expect(&out["y"], &[5], &[10.0, -20.0, 30.0, 40.0, -50.0]);

    // relu via select(x > 0, x, 0) with a broadcast scalar and mask from compare.
    let y = unary_run::<T>(&[2, 3], &[-1.0, 2.0, 0.0, 3.5, -0.5, 7.0], |g, x| {
        let zero = g.scalar(0.0).unwrap();
        let mask = g.compare(CmpOp::Gt, x, zero).unwrap();
        g.select(mask, x, zero).unwrap()
    });
    expect(&y, &[2, 3], &[0.0, 2.0, 0.0, 3.5, 0.0, 7.0]);
}

// ------------------------------------------------------- broadcast and shape

fn builder_numpy_broadcast_values<T: Scalar>() {
    // [2,3] + [3]: the row is added to every row.
    let y = binary_run::<T>(
        (&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        (&[3], &[10.0, 20.0, 30.0]),
        |g, a, b| g.add(a, b).unwrap(),
    );
    expect(&y, &[2, 3], &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    // [2,1] - [1,4]: outer difference.
    let y = binary_run::<T>(
        (&[2, 1], &[10.0, 20.0]),
        (&[1, 4], &[1.0, 2.0, 3.0, 4.0]),
        |g, a, b| g.sub(a, b).unwrap(),
    );
    expect(&y, &[2, 4], &[9.0, 8.0, 7.0, 6.0, 19.0, 18.0, 17.0, 16.0]);
    // scalar * [2,2].
    let y = binary_run::<T>(
        (&[], &[3.0]),
        (&[2, 2], &[1.0, 2.0, 3.0, 4.0]),
        |g, a, b| g.mul(a, b).unwrap(),
    );
    expect(&y, &[2, 2], &[3.0, 6.0, 9.0, 12.0]);
    // [2,2] / [2,1]: divide each row by its own value.
    let y = binary_run::<T>(
        (&[2, 2], &[2.0, 4.0, 9.0, 3.0]),
        (&[2, 1], &[2.0, 3.0]),
        |g, a, b| g.div(a, b).unwrap(),
    );
    expect(&y, &[2, 2], &[1.0, 2.0, 3.0, 1.0]);
}

fn broadcast_in_dim_values<T: Scalar>() {
    // [3] to [2,3] along axis 1: repeated rows.
    let y = unary_run::<T>(&[3], &[1.0, 2.0, 3.0], |g, x| {
        g.broadcast_in_dim(x, [2, 3], vec![1]).unwrap()
    });
    expect(&y, &[2, 3], &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    // [2] to [2,3] along axis 0: repeated columns.
    let y = unary_run::<T>(&[2], &[1.0, 2.0], |g, x| {
        g.broadcast_in_dim(x, [2, 3], vec![0]).unwrap()
    });
    expect(&y, &[2, 3], &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    // Scalar to [2,2].
    let y = unary_run::<T>(&[], &[7.0], |g, x| {
        g.broadcast_in_dim(x, [2, 2], vec![]).unwrap()
    });
    expect(&y, &[2, 2], &[7.0; 4]);
    // [1,3] to [2,3]: extent-1 axis expanded in place.
    let y = unary_run::<T>(&[1, 3], &[4.0, 5.0, 6.0], |g, x| {
        g.broadcast_in_dim(x, [2, 3], vec![0, 1]).unwrap()
    });
    expect(&y, &[2, 3], &[4.0, 5.0, 6.0, 4.0, 5.0, 6.0]);
    // [2,1] to [2,3,2] with dims [0,2]: out[i,j,k] = x[i,0].
    let y = unary_run::<T>(&[2, 1], &[1.0, 2.0], |g, x| {
        g.broadcast_in_dim(x, [2, 3, 2], vec![0, 2]).unwrap()
    });
    expect(
        &y,
        &[2, 3, 2],
        &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
    );
    // [2,2] to [2,3,2] with dims [0,2]: out[i,j,k] = x[i,k].
    let y = unary_run::<T>(&[2, 2], &[1.0, 2.0, 3.0, 4.0], |g, x| {
        g.broadcast_in_dim(x, [2, 3, 2], vec![0, 2]).unwrap()
    });
    expect(
        &y,
        &[2, 3, 2],
        &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0],
    );
    // [3,2] to [3,2,2] with dims [0,1]: out[i,j,k] = x[i,j].
    let y = unary_run::<T>(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], |g, x| {
        g.broadcast_in_dim(x, [3, 2, 2], vec![0, 1]).unwrap()
    });
    expect(
        &y,
        &[3, 2, 2],
        &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0],
    );
}

fn reshape_transpose_lecture_example<T: Scalar>() {
    let mut g = Graph::new("lecture");
    let x = g.input("x", [4, 3]).unwrap();
    let r = g.reshape(x, [2, 6]).unwrap();
    let t = g.transpose(r, &[1, 0]).unwrap();
    g.add_output("r", r).unwrap();
    g.add_output("t", t).unwrap();
    let x_data = [0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let out = run::<T>(&g, &[("x", &[4, 3], &x_data)]);
    expect(
        &out["r"],
        &[2, 6],
        &[0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    );
    expect(
        &out["t"],
        &[6, 2],
        &[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 2.0, 7.0, 3.0, 8.0, 4.0, 9.0],
    );
    // Reshape to and from rank 0 / 1.
    let y = unary_run::<T>(&[1, 1], &[5.0], |g, x| g.reshape(x, [0usize; 0]).unwrap());
    expect(&y, &[], &[5.0]);
    let y = unary_run::<T>(&[2, 2], &[1.0, 2.0, 3.0, 4.0], |g, x| {
        g.reshape(x, [4]).unwrap()
    });
    expect(&y, &[4], &[1.0, 2.0, 3.0, 4.0]);
}

fn transpose_rank3<T: Scalar>() {
    let x: Vec<f64> = (0..24).map(f64::from).collect();
    // out[i,j,k] = x[j,k,i] = 12j + 4k + i.
    let y = unary_run::<T>(&[2, 3, 4], &x, |g, x| g.transpose(x, &[2, 0, 1]).unwrap());
    expect(
        &y,
        &[4, 2, 3],
        &[
            0.0, 4.0, 8.0, 12.0, 16.0, 20.0, //
            1.0, 5.0, 9.0, 13.0, 17.0, 21.0, //
            2.0, 6.0, 10.0, 14.0, 18.0, 22.0, //
            3.0, 7.0, 11.0, 15.0, 19.0, 23.0,
        ],
    );
    // out[i,j,k] = x[k,i,j] = 12k + 4i + j (perm [1,2,0]).
    let y = unary_run::<T>(&[2, 3, 4], &x, |g, x| g.transpose(x, &[1, 2, 0]).unwrap());
    expect(
        &y,
        &[3, 4, 2],
        &[
            0.0, 12.0, 1.0, 13.0, 2.0, 14.0, 3.0, 15.0, //
            4.0, 16.0, 5.0, 17.0, 6.0, 18.0, 7.0, 19.0, //
            8.0, 20.0, 9.0, 21.0, 10.0, 22.0, 11.0, 23.0,
        ],
    );
}

fn pad_values<T: Scalar>() {
    let y = unary_run::<T>(&[2, 2], &[1.0, 2.0, 3.0, 4.0], |g, x| {
        g.pad(x, &[1, 0], &[0, 2]).unwrap()
    });
    expect(
        &y,
        &[3, 4],
        &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0],
    );
    let y = unary_run::<T>(&[2], &[-1.0, -2.0], |g, x| g.pad(x, &[2], &[1]).unwrap());
    expect(&y, &[5], &[0.0, 0.0, -1.0, -2.0, 0.0]);
    let y = unary_run::<T>(&[1, 1], &[5.0], |g, x| g.pad(x, &[1, 1], &[1, 1]).unwrap());
    expect(&y, &[3, 3], &[0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0]);
}

fn slice_values<T: Scalar>() {
    let x: Vec<f64> = (0..12).map(f64::from).collect();
    let y = unary_run::<T>(&[3, 4], &x, |g, x| g.slice(x, &[1, 1], &[3, 3]).unwrap());
    expect(&y, &[2, 2], &[5.0, 6.0, 9.0, 10.0]);
    let y = unary_run::<T>(&[3, 4], &x, |g, x| g.slice(x, &[0, 3], &[3, 4]).unwrap());
    expect(&y, &[3, 1], &[3.0, 7.0, 11.0]);
    let y = unary_run::<T>(&[3, 4], &x, |g, x| g.slice(x, &[2, 0], &[2, 4]).unwrap());
    expect(&y, &[0, 4], &[]);
    // slice(pad(x)) recovers x.
    let y = unary_run::<T>(&[3, 4], &x, |g, x| {
        let p = g.pad(x, &[1, 2], &[3, 0]).unwrap();
        g.slice(p, &[1, 2], &[4, 6]).unwrap()
    });
    expect(&y, &[3, 4], &x);
}

fn reduce_sum_values<T: Scalar>() {
    let x: Vec<f64> = (0..24).map(f64::from).collect(); // x[i,j,k] = 12i + 4j + k
    let s = [2, 3, 4];
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[0], false).unwrap());
    expect(
        &y,
        &[3, 4],
        &[
            12.0, 14.0, 16.0, 18.0, 20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0,
        ],
    );
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[1], false).unwrap());
    expect(
        &y,
        &[2, 4],
        &[12.0, 15.0, 18.0, 21.0, 48.0, 51.0, 54.0, 57.0],
    );
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[2], true).unwrap());
    expect(&y, &[2, 3, 1], &[6.0, 22.0, 38.0, 54.0, 70.0, 86.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[0, 2], true).unwrap());
    expect(&y, &[1, 3, 1], &[60.0, 92.0, 124.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[2, 0], false).unwrap());
    expect(&y, &[3], &[60.0, 92.0, 124.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[0, 1], true).unwrap());
    expect(&y, &[1, 1, 4], &[60.0, 66.0, 72.0, 78.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[0, 1, 2], false).unwrap());
    expect(&y, &[], &[276.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[0, 1, 2], true).unwrap());
    expect(&y, &[1, 1, 1], &[276.0]);
    let y = unary_run::<T>(&s, &x, |g, x| g.reduce_sum(x, &[], false).unwrap());
    expect(&y, &s, &x);
    // Summing an empty axis gives zeros.
    let y = unary_run::<T>(&[0, 2], &[], |g, x| g.reduce_sum(x, &[0], false).unwrap());
    expect(&y, &[2], &[0.0, 0.0]);
}

fn reduce_max_values<T: Scalar>() {
    let x = [3.0, -1.0, 7.0, -5.0, 2.0, 0.0];
    let y = unary_run::<T>(&[2, 3], &x, |g, x| g.reduce_max(x, &[0], false).unwrap());
    expect(&y, &[3], &[3.0, 2.0, 7.0]);
    let y = unary_run::<T>(&[2, 3], &x, |g, x| g.reduce_max(x, &[1], true).unwrap());
    expect(&y, &[2, 1], &[7.0, 2.0]);
    let y = unary_run::<T>(&[2, 3], &x, |g, x| g.reduce_max(x, &[0, 1], false).unwrap());
    expect(&y, &[], &[7.0]);
    // All negative: the max is not clamped at 0.
    let y = unary_run::<T>(&[3], &[-3.0, -1.0, -2.0], |g, x| {
        g.reduce_max(x, &[0], false).unwrap()
    });
    expect(&y, &[], &[-1.0]);
    let y = unary_run::<T>(&[2], &[-INF, -INF], |g, x| {
        g.reduce_max(x, &[0], true).unwrap()
    });
    expect(&y, &[1], &[-INF]);
    // NaN anywhere in the reduced set propagates, wherever it is.
    let y = unary_run::<T>(
        &[3, 3],
        &[NAN, 1.0, 2.0, 1.0, NAN, 2.0, 1.0, 2.0, NAN],
        |g, x| g.reduce_max(x, &[1], false).unwrap(),
    );
    expect(&y, &[3], &[NAN, NAN, NAN]);
    // Rank 3, axes [0, 2] kept: x[i,j,k] = 12i + 4j + k, max at i=1,k=3.
    let x: Vec<f64> = (0..24).map(f64::from).collect();
    let y = unary_run::<T>(&[2, 3, 4], &x, |g, x| {
        g.reduce_max(x, &[0, 2], true).unwrap()
    });
    expect(&y, &[1, 3, 1], &[15.0, 19.0, 23.0]);
}

fn mean_values<T: Scalar>() {
    // Counts that are powers of two have exact f32 reciprocals.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let y = unary_run::<T>(&[2, 4], &x, |g, x| g.mean(x, &[1], false).unwrap());
    expect(&y, &[2], &[2.5, 6.5]);
    let y = unary_run::<T>(&[2, 4], &x, |g, x| g.mean(x, &[0], true).unwrap());
    expect(&y, &[1, 4], &[3.0, 4.0, 5.0, 6.0]);
    let y = unary_run::<T>(&[2, 4], &x, |g, x| g.mean(x, &[0, 1], false).unwrap());
    expect(&y, &[], &[4.5]);
    // Otherwise the scale is the f32 constant 1/count, also in an f64 run
    // (constants are f32 literals): 6 * f32(1/3), 15 * f32(1/3).
    let third = f64::from(1.0f32 / 3.0);
    let y = unary_run::<T>(&[2, 3], &x[..6], |g, x| g.mean(x, &[1], false).unwrap());
    expect(&y, &[2], &[6.0 * third, 15.0 * third]);
}

// -------------------------------------------------------------------- matmul

fn matmul_lecture_examples<T: Scalar>() {
    let mm = |a: (&[usize], &[f64]), b: (&[usize], &[f64])| {
        binary_run::<T>(a, b, |g, a, b| g.matmul(a, b).unwrap())
    };
    let y = mm(
        (&[1, 2], &[1.0, 2.0]),
        (&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    );
    expect(&y, &[1, 3], &[9.0, 12.0, 15.0]);
    let y = mm(
        (&[2, 2], &[1.0, 3.0, 2.0, 4.0]),
        (&[2, 2], &[5.0, 7.0, 6.0, 8.0]),
    );
    expect(&y, &[2, 2], &[23.0, 31.0, 34.0, 46.0]);
    let y = mm(
        (&[3, 3], &[1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 2.0, 3.0, 4.0]),
        (&[3, 2], &[2.0, 5.0, 6.0, 7.0, 1.0, 8.0]),
    );
    expect(&y, &[3, 2], &[15.0, 27.0, 6.0, 7.0, 26.0, 63.0]);
    // Column vector times row vector: outer product.
    let y = mm((&[3, 1], &[1.0, 2.0, 3.0]), (&[1, 2], &[10.0, -1.0]));
    expect(&y, &[3, 2], &[10.0, -1.0, 20.0, -2.0, 30.0, -3.0]);
}

fn matmul_batched<T: Scalar>() {
    let mm = |a: (&[usize], &[f64]), b: (&[usize], &[f64])| {
        binary_run::<T>(a, b, |g, a, b| g.matmul(a, b).unwrap())
    };
    // Batch 0: [[1,2,3],[4,5,6]] x [1,0,-1]^T = [-2,-2];
    // batch 1: [[1,0,0],[0,2,0]] x [3,4,5]^T = [3,8].
    let y = mm(
        (
            &[2, 2, 3],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0],
        ),
        (&[2, 3, 1], &[1.0, 0.0, -1.0, 3.0, 4.0, 5.0]),
    );
    expect(&y, &[2, 2, 1], &[-2.0, -2.0, 3.0, 8.0]);
    // Rank 4, batch [2,1]: identity and a swap matrix.
    let y = mm(
        (&[2, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0]),
        (&[2, 1, 2, 2], &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]),
    );
    expect(&y, &[2, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0, 2.0, 1.0, 4.0, 3.0]);
    // Rank 4, batch [1,2] (the batch is not just the leading axis):
    // [1,2] x [1,1]^T = 3; [3,4] x [2,-1]^T = 2.
    let y = mm(
        (&[1, 2, 1, 2], &[1.0, 2.0, 3.0, 4.0]),
        (&[1, 2, 2, 1], &[1.0, 1.0, 2.0, -1.0]),
    );
    expect(&y, &[1, 2, 1, 1], &[3.0, 2.0]);
    // Rank 5, batch [2,1,2]: each batch element multiplies by a scalar 1x1.
    let y = mm(
        (&[2, 1, 2, 1, 1], &[1.0, 2.0, 3.0, 4.0]),
        (&[2, 1, 2, 1, 1], &[10.0, 20.0, 30.0, 40.0]),
    );
    expect(&y, &[2, 1, 2, 1, 1], &[10.0, 40.0, 90.0, 160.0]);
    // Empty contraction: zeros.
    let y = mm((&[2, 0], &[]), (&[0, 3], &[]));
    expect(&y, &[2, 3], &[0.0; 6]);
}

// -------------------------------------------------------------------- conv2d

const X3: [f64; 9] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
const W2: [f64; 4] = [1.0, 2.0, 3.0, 4.0];

fn conv_run<T: Scalar>(
    x: (&[usize], &[f64]),
    w: (&[usize], &[f64]),
    attrs: ConvAttrs,
) -> ArrayD<T> {
    binary_run::<T>(x, w, |g, x, w| g.conv2d(x, w, attrs).unwrap())
}

fn conv2d_by_hand_nhwc<T: Scalar>() {
    use Layout::Nhwc;
    // Cross-correlation of [[1,2,3],[4,5,6],[7,8,9]] with [[1,2],[3,4]].
    let y = conv_run::<T>(
        (&[1, 3, 3, 1], &X3),
        (&[2, 2, 1, 1], &W2),
        conv([1, 1], Padding::Valid, Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[37.0, 47.0, 67.0, 77.0]);
    // Same, stride 1, 2x2: one row/column of zero padding after (bottom/right).
    let y = conv_run::<T>(
        (&[1, 3, 3, 1], &X3),
        (&[2, 2, 1, 1], &W2),
        conv([1, 1], Padding::Same, Nhwc),
    );
    expect(
        &y,
        &[1, 3, 3, 1],
        &[37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0],
    );
    // 1x1 conv with 2 input and 3 output channels: a per-pixel matmul.
    // Pixels [1,2],[3,4],[5,6],[7,8]; w = [[1,0,2],[0,1,-1]] (c x o).
    let y = conv_run::<T>(
        (&[1, 2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
        (&[1, 1, 2, 3], &[1.0, 0.0, 2.0, 0.0, 1.0, -1.0]),
        conv([1, 1], Padding::Valid, Nhwc),
    );
    expect(
        &y,
        &[1, 2, 2, 3],
        &[1.0, 2.0, 0.0, 3.0, 4.0, 2.0, 5.0, 6.0, 4.0, 7.0, 8.0, 6.0],
    );
    // Batch of 2: the second image is the first negated.
    let mut x2 = X3.to_vec();
    x2.extend(X3.iter().map(|v| -v));
    let y = conv_run::<T>(
        (&[2, 3, 3, 1], &x2),
        (&[2, 2, 1, 1], &W2),
        conv([1, 1], Padding::Valid, Nhwc),
    );
    expect(
        &y,
        &[2, 2, 2, 1],
        &[37.0, 47.0, 67.0, 77.0, -37.0, -47.0, -67.0, -77.0],
    );
}

fn conv2d_by_hand_nchw<T: Scalar>() {
    use Layout::Nchw;
    let y = conv_run::<T>(
        (&[1, 1, 3, 3], &X3),
        (&[1, 1, 2, 2], &W2),
        conv([1, 1], Padding::Same, Nchw),
    );
    expect(
        &y,
        &[1, 1, 3, 3],
        &[37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0],
    );
    // The 1x1 example in NCHW/OIHW: channel 0 = [[1,3],[5,7]], channel 1 =
    // [[2,4],[6,8]]; filter rows o0 = [1,0], o1 = [0,1], o2 = [2,-1].
    let y = conv_run::<T>(
        (&[1, 2, 2, 2], &[1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 6.0, 8.0]),
        (&[3, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0, 2.0, -1.0]),
        conv([1, 1], Padding::Valid, Nchw),
    );
    expect(
        &y,
        &[1, 3, 2, 2],
        &[1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 6.0, 8.0, 0.0, 2.0, 4.0, 6.0],
    );
}

fn conv2d_same_3x3_box<T: Scalar>() {
    // 3x3 all-ones filter, same padding (one zero row/column on every side):
    // every output is the sum of the in-image 3x3 neighbourhood.
    let want = [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0];
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (xs, ws): (&[usize], &[usize]) = match layout {
            Layout::Nhwc => (&[1, 3, 3, 1], &[3, 3, 1, 1]),
            Layout::Nchw => (&[1, 1, 3, 3], &[1, 1, 3, 3]),
        };
        let y = conv_run::<T>(
            (xs, &X3),
            (ws, &[1.0; 9]),
            conv([1, 1], Padding::Same, layout),
        );
        expect(&y, xs, &want);
    }
    // Stride 2 same on 3x3: out 2x2, pad 1 before and 1 after.
    let y = conv_run::<T>(
        (&[1, 3, 3, 1], &X3),
        (&[3, 3, 1, 1], &[1.0; 9]),
        conv([2, 2], Padding::Same, Layout::Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[12.0, 16.0, 24.0, 28.0]);
}

fn conv2d_strided<T: Scalar>() {
    let x: Vec<f64> = (0..16).map(f64::from).collect(); // 4x4, x[r,c] = 4r + c
                                                        // Diagonal 2x2 filter, stride 2 valid: x[2i,2j] + x[2i+1,2j+1].
    let y = conv_run::<T>(
        (&[1, 4, 4, 1], &x),
        (&[2, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0]),
        conv([2, 2], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[5.0, 9.0, 21.0, 25.0]);
    // Stride 2 same, 2x2 filter on 3x3: windows at rows/cols 0 and 2, pad after.
    let y = conv_run::<T>(
        (&[1, 3, 3, 1], &X3),
        (&[2, 2, 1, 1], &W2),
        conv([2, 2], Padding::Same, Layout::Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[37.0, 21.0, 23.0, 9.0]);
    // Unequal strides (1, 3), 1x2 filter [1, -1] on 4x4 valid: out 4x1,
    // x[r,0] - x[r,1] = -1 for every row.
    let y = conv_run::<T>(
        (&[1, 4, 4, 1], &x),
        (&[1, 2, 1, 1], &[1.0, -1.0]),
        conv([1, 3], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 4, 1, 1], &[-1.0, -1.0, -1.0, -1.0]);
    // Same with strides (1, 3): ceil(4/3) = 2 columns; pad total
    // max((2-1)*3 + 2 - 4, 0) = 1, all after. Columns at 0 and 3.
    let y = conv_run::<T>(
        (&[1, 4, 4, 1], &x),
        (&[1, 2, 1, 1], &[1.0, -1.0]),
        conv([1, 3], Padding::Same, Layout::Nhwc),
    );
    expect(
        &y,
        &[1, 4, 2, 1],
        &[-1.0, 3.0, -1.0, 7.0, -1.0, 11.0, -1.0, 15.0],
    );
}

fn conv2d_input_grad_by_hand<T: Scalar>() {
    let grad = |dy: &[f64], attrs: ConvAttrs, dy_shape: &[usize]| {
        binary_run::<T>((dy_shape, dy), (&[2, 2, 1, 1], &W2), |g, dy, w| {
            g.conv2d_input_grad(dy, w, attrs, [1, 3, 3, 1]).unwrap()
        })
    };
    let valid = conv([1, 1], Padding::Valid, Layout::Nhwc);
    // A unit dy places the filter at the matching window.
    let y = grad(&[1.0, 0.0, 0.0, 0.0], valid, &[1, 2, 2, 1]);
    expect(
        &y,
        &[1, 3, 3, 1],
        &[1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0],
    );
    let y = grad(&[0.0, 0.0, 0.0, 1.0], valid, &[1, 2, 2, 1]);
    expect(
        &y,
        &[1, 3, 3, 1],
        &[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0],
    );
    // All-ones dy: overlapping windows add up.
    let y = grad(&[1.0; 4], valid, &[1, 2, 2, 1]);
    expect(
        &y,
        &[1, 3, 3, 1],
        &[1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0],
    );
    // Stride 2 same (windows at 0 and 2, padding after): no overlap.
    let y = grad(
        &[1.0; 4],
        conv([2, 2], Padding::Same, Layout::Nhwc),
        &[1, 2, 2, 1],
    );
    expect(
        &y,
        &[1, 3, 3, 1],
        &[1.0, 2.0, 1.0, 3.0, 4.0, 3.0, 1.0, 2.0, 1.0],
    );
    // NCHW: same single-channel numbers.
    let y = binary_run::<T>(
        (&[1, 1, 2, 2], &[1.0; 4]),
        (&[1, 1, 2, 2], &W2),
        |g, dy, w| {
            g.conv2d_input_grad(
                dy,
                w,
                conv([1, 1], Padding::Valid, Layout::Nchw),
                [1, 1, 3, 3],
            )
            .unwrap()
        },
    );
    expect(
        &y,
        &[1, 1, 3, 3],
        &[1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0],
    );
}

fn conv2d_filter_grad_by_hand<T: Scalar>() {
    let grad = |dy: &[f64], attrs: ConvAttrs, dy_shape: &[usize]| {
        binary_run::<T>((&[1, 3, 3, 1], &X3), (dy_shape, dy), |g, x, dy| {
            g.conv2d_filter_grad(x, dy, attrs, [2, 2, 1, 1]).unwrap()
        })
    };
    let valid = conv([1, 1], Padding::Valid, Layout::Nhwc);
    // dw[p,q] = sum_ij dy[i,j] x[i+p, j+q].
    let y = grad(&[1.0; 4], valid, &[1, 2, 2, 1]);
    expect(&y, &[2, 2, 1, 1], &[12.0, 16.0, 24.0, 28.0]);
    let y = grad(&[1.0, 0.0, 0.0, 0.0], valid, &[1, 2, 2, 1]);
    expect(&y, &[2, 2, 1, 1], &[1.0, 2.0, 4.0, 5.0]);
    let y = grad(&[0.0, 0.0, 0.0, 2.0], valid, &[1, 2, 2, 1]);
    expect(&y, &[2, 2, 1, 1], &[10.0, 12.0, 16.0, 18.0]);
    // Stride 2 same: dw[p,q] = sum of in-image x[2i+p, 2j+q].
    let y = grad(
        &[1.0; 4],
        conv([2, 2], Padding::Same, Layout::Nhwc),
        &[1, 2, 2, 1],
    );
    expect(&y, &[2, 2, 1, 1], &[20.0, 10.0, 10.0, 5.0]);
    // Two output channels (dy channel 1 = 2 * channel 0) in NCHW/OIHW.
    let y = binary_run::<T>(
        (&[1, 1, 3, 3], &X3),
        (&[1, 2, 2, 2], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]),
        |g, x, dy| {
            g.conv2d_filter_grad(
                x,
                dy,
                conv([1, 1], Padding::Valid, Layout::Nchw),
                [2, 1, 2, 2],
            )
            .unwrap()
        },
    );
    expect(
        &y,
        &[2, 1, 2, 2],
        &[12.0, 16.0, 24.0, 28.0, 24.0, 32.0, 48.0, 56.0],
    );
}

// ----------------------------------------------------------------- maxpool2d

const P4: [f64; 16] = [
    1.0, 5.0, 2.0, 0.0, //
    3.0, 4.0, 8.0, 1.0, //
    0.0, 2.0, 6.0, 7.0, //
    9.0, 1.0, 3.0, 5.0,
];

fn pool_run<T: Scalar>(shape: &[usize], x: &[f64], attrs: PoolAttrs) -> ArrayD<T> {
    unary_run::<T>(shape, x, |g, x| g.maxpool2d(x, attrs).unwrap())
}

fn maxpool2d_by_hand<T: Scalar>() {
    use Layout::Nhwc;
    let y = pool_run::<T>(
        &[1, 4, 4, 1],
        &P4,
        pool([2, 2], [2, 2], Padding::Valid, Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[5.0, 8.0, 9.0, 7.0]);
    // 3x3 stride 1 valid.
    let y = pool_run::<T>(
        &[1, 4, 4, 1],
        &P4,
        pool([3, 3], [1, 1], Padding::Valid, Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[8.0, 8.0, 9.0, 8.0]);
    // Non-square 1x3 window, strides (2, 1).
    let y = pool_run::<T>(
        &[1, 4, 4, 1],
        &P4,
        pool([1, 3], [2, 1], Padding::Valid, Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[5.0, 5.0, 6.0, 7.0]);
    // Two channels pooled independently: channel 1 = -channel 0.
    let x: Vec<f64> = P4.iter().flat_map(|&v| [v, -v]).collect();
    let y = pool_run::<T>(
        &[1, 4, 4, 2],
        &x,
        pool([2, 2], [2, 2], Padding::Valid, Nhwc),
    );
    expect(
        &y,
        &[1, 2, 2, 2],
        &[5.0, -1.0, 8.0, 0.0, 9.0, 0.0, 7.0, -3.0],
    );
}

fn maxpool2d_same_ignores_padding<T: Scalar>() {
    // All-negative image: padded zeros must never win.
    let x: Vec<f64> = (1..=9).map(|v| -f64::from(v)).collect();
    let y = pool_run::<T>(
        &[1, 3, 3, 1],
        &x,
        pool([2, 2], [1, 1], Padding::Same, Layout::Nhwc),
    );
    expect(&y, &[1, 3, 3, 1], &x);
    // 3x3 stride 2 same on 4x4: out 2x2, pad total 1 (after): windows rows
    // 0..3 and 2..5 (row 4 is padding).
    let neg: Vec<f64> = P4.iter().map(|v| -v - 1.0).collect();
    let y = pool_run::<T>(
        &[1, 4, 4, 1],
        &neg,
        pool([3, 3], [2, 2], Padding::Same, Layout::Nhwc),
    );
    // max of -(v+1) = -(min v + 1). Window (0,0): rows 0-2, cols 0-2, min 0;
    // (0,1): rows 0-2 cols 2-3, min 0; (1,0): rows 2-3 cols 0-2, min 0;
    // (1,1): rows 2-3 cols 2-3: {6,7,3,5} min 3.
    expect(&y, &[1, 2, 2, 1], &[-1.0, -1.0, -1.0, -4.0]);
    // 3x3 stride 1 same on 3x3: pad 1 on every side.
    let y = pool_run::<T>(
        &[1, 3, 3, 1],
        &x,
        pool([3, 3], [1, 1], Padding::Same, Layout::Nhwc),
    );
    expect(
        &y,
        &[1, 3, 3, 1],
        &[-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -4.0, -4.0, -5.0],
    );
}

fn maxpool2d_nchw_by_hand<T: Scalar>() {
    // Channel 0 = P4, channel 1 = -P4.
    let mut x = P4.to_vec();
    x.extend(P4.iter().map(|v| -v));
    let y = pool_run::<T>(
        &[1, 2, 4, 4],
        &x,
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nchw),
    );
    expect(
        &y,
        &[1, 2, 2, 2],
        &[5.0, 8.0, 9.0, 7.0, -1.0, 0.0, 0.0, -3.0],
    );
}

fn maxpool2d_grad_by_hand<T: Scalar>() {
    let grad = |shape: &[usize], x: &[f64], dy_shape: &[usize], dy: &[f64], attrs: PoolAttrs| {
        binary_run::<T>((shape, x), (dy_shape, dy), |g, x, dy| {
            g.maxpool2d_grad(x, dy, attrs).unwrap()
        })
    };
    let y = grad(
        &[1, 4, 4, 1],
        &P4,
        &[1, 2, 2, 1],
        &[1.0, 2.0, 3.0, 4.0],
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc),
    );
    expect(
        &y,
        &[1, 4, 4, 1],
        &[
            0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 2.0, 0.0, //
            0.0, 0.0, 0.0, 4.0, //
            3.0, 0.0, 0.0, 0.0,
        ],
    );
    // Overlapping windows that share a maximum accumulate.
    let y = grad(
        &[1, 1, 3, 1],
        &[1.0, 3.0, 2.0],
        &[1, 1, 2, 1],
        &[1.0, 10.0],
        pool([1, 2], [1, 1], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 1, 3, 1], &[0.0, 11.0, 0.0]);
    // Ties go to the first maximum in row-major window order.
    let y = grad(
        &[1, 2, 2, 1],
        &[5.0, 5.0, 5.0, 5.0],
        &[1, 1, 1, 1],
        &[7.0],
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[7.0, 0.0, 0.0, 0.0]);
    let y = grad(
        &[1, 2, 2, 1],
        &[1.0, 5.0, 5.0, 5.0],
        &[1, 1, 1, 1],
        &[7.0],
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 2, 2, 1], &[0.0, 7.0, 0.0, 0.0]);
    // NCHW, 2 channels (channel 1 = -P4).
    let mut x = P4.to_vec();
    x.extend(P4.iter().map(|v| -v));
    let y = grad(
        &[1, 2, 4, 4],
        &x,
        &[1, 2, 2, 2],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nchw),
    );
    // Channel 1 (-P4) takes the argmins of P4 per window: rows 0-1 cols 0-1
    // {1,5,3,4}: min 1 at (0,0); cols 2-3 {2,0,8,1}: min 0 at (0,3); rows
    // 2-3 cols 0-1 {0,2,9,1}: min 0 at (2,0); cols 2-3 {6,7,3,5}: min 3 at (3,2).
    expect(
        &y,
        &[1, 2, 4, 4],
        &[
            0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 2.0, 0.0, //
            0.0, 0.0, 0.0, 4.0, //
            3.0, 0.0, 0.0, 0.0, //
            5.0, 0.0, 0.0, 6.0, //
            0.0, 0.0, 0.0, 0.0, //
            7.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 8.0, 0.0,
        ],
    );
}

fn maxpool2d_propagates_nan<T: Scalar>() {
    let y = pool_run::<T>(
        &[1, 2, 4, 1],
        &[1.0, NAN, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc),
    );
    expect(&y, &[1, 1, 2, 1], &[NAN, 8.0]);
}

// --------------------------------------------------------- constants, layout

fn constants_and_scalars<T: Scalar>() {
    let mut g = Graph::new("g");
    let c = g.tensor([2, 2], vec![0.1, -2.0, 3.5, 1e-7]).unwrap();
    let s = g.scalar(0.5).unwrap();
    let y = g.mul(c, s).unwrap();
    g.add_output("c", c).unwrap();
    g.add_output("y", y).unwrap();
    let out = run::<T>(&g, &[]);
    // Constants are f32 literals: 0.1f32 widened to f64 is 0.10000000149011612.
    expect(
        &out["c"],
        &[2, 2],
        &[f64::from(0.1f32), -2.0, 3.5, f64::from(1e-7f32)],
    );
    expect(
        &out["y"],
        &[2, 2],
        &[
            f64::from(0.1f32) * 0.5,
            -1.0,
            1.75,
            f64::from(1e-7f32) * 0.5,
        ],
    );
}

/// Inputs that are not in standard (row-major) memory order must be read by
/// their logical indices.
fn non_standard_layout_inputs<T: Scalar>() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [3, 2]).unwrap();
    let mm = g.matmul(a, b).unwrap();
    let r = g.reshape(a, [3, 2]).unwrap();
    let s = g.add(r, b).unwrap();
    let img = g.input("img", [1, 2, 2, 1]).unwrap();
    let p = g
        .maxpool2d(img, pool([2, 1], [1, 1], Padding::Valid, Layout::Nhwc))
        .unwrap();
    let w = g.input("w", [1, 1, 1, 1]).unwrap();
    let cv = g
        .conv2d(img, w, conv([1, 1], Padding::Valid, Layout::Nhwc))
        .unwrap();
    for (n, v) in [("mm", mm), ("r", r), ("s", s), ("p", p), ("cv", cv)] {
        g.add_output(n, v).unwrap();
    }
    // a = [[1,2,3],[4,5,6]] stored column-major (transpose of a [3,2] array).
    let a_t: ArrayD<T> = arr::<T>(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]).reversed_axes();
    assert!(!a_t.is_standard_layout());
    // b = [[1,0],[0,1],[1,1]] as column-major.
    let b_t: ArrayD<T> = arr::<T>(&[2, 3], &[1.0, 0.0, 1.0, 0.0, 1.0, 1.0]).reversed_axes();
    // img[0,:,:,0] = [[1,2],[3,4]] with permuted strides.
    let img_t: ArrayD<T> =
        arr::<T>(&[1, 2, 2, 1], &[1.0, 3.0, 2.0, 4.0]).permuted_axes(IxDyn(&[0, 2, 1, 3]));
    assert!(!img_t.is_standard_layout());
    let inputs: Inputs<T> = [
        ("a".to_string(), a_t),
        ("b".to_string(), b_t),
        ("img".to_string(), img_t),
        ("w".to_string(), arr::<T>(&[1, 1, 1, 1], &[2.0])),
    ]
    .into_iter()
    .collect();
    let eval = evaluate::<T>(&g, &inputs).unwrap();
    // [[1,2,3],[4,5,6]] x [[1,0],[0,1],[1,1]] = [[4,5],[10,11]].
    expect(eval.output("mm").unwrap(), &[2, 2], &[4.0, 5.0, 10.0, 11.0]);
    expect(
        eval.output("r").unwrap(),
        &[3, 2],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    );
    expect(
        eval.output("s").unwrap(),
        &[3, 2],
        &[2.0, 2.0, 3.0, 5.0, 6.0, 7.0],
    );
    expect(eval.output("p").unwrap(), &[1, 1, 2, 1], &[3.0, 4.0]);
    expect(
        eval.output("cv").unwrap(),
        &[1, 2, 2, 1],
        &[2.0, 4.0, 6.0, 8.0],
    );
}

// ------------------------------------------- every op is covered by a value test

#[test]
fn every_unary_op_has_a_value_test() {
    // One value per op at x = 0.25, checked against known constants.
    let want = |u: UnaryOp| -> f64 {
        match u {
            UnaryOp::Neg => -0.25,
            UnaryOp::Exp => 1.2840254166877414,
            UnaryOp::Log => -1.3862943611198906,
            UnaryOp::Sqrt => 0.5,
            UnaryOp::Rsqrt => 2.0,
            UnaryOp::Recip => 4.0,
            UnaryOp::Tanh => 0.24491866240370913,
            UnaryOp::Sigmoid => 0.5621765008857981,
            UnaryOp::Relu => 0.25,
            UnaryOp::Abs => 0.25,
            UnaryOp::Square => 0.0625,
        }
    };
    for u in UnaryOp::ALL {
        let y = unary_run::<f64>(&[1], &[0.25], |g, x| g.unary(u, x).unwrap());
        expect(&y, &[1], &[want(u)]);
        let y = unary_run::<f32>(&[1], &[0.25], |g, x| g.unary(u, x).unwrap());
        expect(&y, &[1], &[want(u)]);
    }
}

// ------------------------------------------------------- interpreter contract

fn small_graph() -> (Graph, ValueId, ValueId) {
    let mut g = Graph::new("net");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [2, 3]).unwrap();
    let step = g.state("step", [0usize; 0]).unwrap();
    let y = g.mul(x, w).unwrap();
    let lr = g.scalar(0.5).unwrap();
    let dw = g.mul(y, lr).unwrap();
    let new_w = g.sub(w, dw).unwrap();
    let one = g.scalar(1.0).unwrap();
    let new_step = g.add(step, one).unwrap();
    g.add_output("y", y).unwrap();
    g.add_update(w, new_w).unwrap();
    g.add_update(step, new_step).unwrap();
    (g, y, new_w)
}

fn good_inputs() -> Inputs<f64> {
    [
        (
            "x".to_string(),
            arr::<f64>(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
        (
            "w".to_string(),
            arr::<f64>(&[2, 3], &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]),
        ),
        ("step".to_string(), arr::<f64>(&[], &[3.0])),
    ]
    .into_iter()
    .collect()
}

#[test]
fn evaluation_accessors() {
    let (g, y, new_w) = small_graph();
    let eval = evaluate::<f64>(&g, &good_inputs()).unwrap();
    expect(
        eval.output("y").unwrap(),
        &[2, 3],
        &[1.0, 2.0, 3.0, 8.0, 10.0, 12.0],
    );
    assert!(eval.output("nope").is_none());
    expect(eval.value(y), &[2, 3], &[1.0, 2.0, 3.0, 8.0, 10.0, 12.0]);
    // w - 0.5 * x * w.
    expect(
        eval.value(new_w),
        &[2, 3],
        &[0.5, 0.0, -0.5, -2.0, -3.0, -4.0],
    );
    let updates: Vec<(&str, ArrayD<f64>)> = eval.updates().map(|(n, a)| (n, a.clone())).collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0].0, "w");
    expect(&updates[0].1, &[2, 3], &[0.5, 0.0, -0.5, -2.0, -3.0, -4.0]);
    assert_eq!(updates[1].0, "step");
    expect(&updates[1].1, &[], &[4.0]);
    // Inputs are passed through as values.
    expect(
        eval.value(g.lookup("x").unwrap()),
        &[2, 3],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    );
    let values = eval.into_values();
    assert_eq!(values.len(), g.len());
    for (id, v) in g.ids().zip(&values) {
        assert_eq!(v.shape(), g.shape(id).dims(), "%{}", g.value_name(id));
    }
}

#[test]
fn missing_argument_is_reported() {
    let (g, _, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.remove("w");
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    let IrError::Interp(msg) = &err else {
        panic!("expected an interpreter error, got {err:?}");
    };
    assert!(msg.contains("missing"), "{msg}");
    assert!(msg.contains("param"), "{msg}");
    assert!(msg.contains("%w"), "{msg}");
    assert!(msg.contains("f32[2,3]"), "{msg}");
    assert!(err.to_string().starts_with("interpreter: "), "{err}");
    let mut inputs = good_inputs();
    inputs.remove("step");
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(
        matches!(&err, IrError::Interp(m) if m.contains("state") && m.contains("%step")),
        "{err}"
    );
}

#[test]
fn wrong_shape_is_reported() {
    let (g, _, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert("x".into(), arr::<f64>(&[3, 2], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    let IrError::Interp(msg) = &err else {
        panic!("expected an interpreter error, got {err:?}");
    };
    assert!(msg.contains("%x"), "{msg}");
    assert!(
        msg.contains("3, 2") || msg.contains("3,2"),
        "names the given shape: {msg}"
    );
    assert!(msg.contains("f32[2,3]"), "names the expected type: {msg}");
    // Same element count, different rank; and a scalar given as [1].
    let mut inputs = good_inputs();
    inputs.insert("x".into(), arr::<f64>(&[6], &[0.0; 6]));
    assert!(matches!(
        evaluate::<f64>(&g, &inputs),
        Err(IrError::Interp(_))
    ));
    let mut inputs = good_inputs();
    inputs.insert("step".into(), arr::<f64>(&[1], &[0.0]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(
        matches!(&err, IrError::Interp(m) if m.contains("%step")),
        "{err}"
    );
}

#[test]
fn unknown_input_name_is_reported() {
    let (g, _, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert("xx".into(), arr::<f64>(&[2, 3], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    let IrError::Interp(msg) = &err else {
        panic!("expected an interpreter error, got {err:?}");
    };
    assert!(msg.contains("xx"), "{msg}");
    assert!(msg.contains("not an argument"), "{msg}");
    assert!(msg.contains("net"), "names the graph: {msg}");
    // The name of a non-argument value is rejected too.
    let (g, y, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert(g.value_name(y).to_string(), arr::<f64>(&[2, 3], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(
        matches!(&err, IrError::Interp(m) if m.contains("not an argument")),
        "{err}"
    );
}

#[test]
fn f32_and_f64_agree_on_a_mixed_graph() {
    // A small MLP-like chain; f64 and f32 runs must agree to f32 precision.
    let mut g = Graph::new("mlp");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [3, 2]).unwrap();
    let b = g.param("b", [2]).unwrap();
    let h = g.matmul(x, w).unwrap();
    let h = g.add(h, b).unwrap();
    let h = g.tanh(h).unwrap();
    let s = g.reduce_sum(h, &[1], false).unwrap();
    g.add_output("s", s).unwrap();
    let data: [(&str, &[usize], &[f64]); 3] = [
        ("x", &[2, 3], &[0.1, -0.2, 0.3, 0.4, 0.5, -0.6]),
        ("w", &[3, 2], &[1.0, -1.0, 0.5, 0.25, -0.75, 2.0]),
        ("b", &[2], &[0.05, -0.05]),
    ];
    // Row 0: h = [0.1-0.1-0.225+0.05, -0.1-0.05+0.6-0.05] = [-0.175, 0.4];
    // row 1: [0.4+0.25+0.45+0.05, -0.4+0.125-1.2-0.05] = [1.15, -1.525].
    let want = [
        (-0.175f64).tanh() + 0.4f64.tanh(),
        1.15f64.tanh() + (-1.525f64).tanh(),
    ];
    expect(&run::<f64>(&g, &data)["s"], &[2], &want);
    expect(&run::<f32>(&g, &data)["s"], &[2], &want);
}

// ------------------------------------------- matmul against a naive triple loop

fn matmul_case() -> impl Strategy<Value = (Vec<usize>, usize, usize, usize, Vec<f64>, Vec<f64>)> {
    (
        prop::collection::vec(1usize..4, 0..3),
        1usize..5,
        1usize..5,
        1usize..5,
    )
        .prop_flat_map(|(batch, m, k, n)| {
            let b: usize = batch.iter().product();
            (
                Just(batch),
                Just(m),
                Just(k),
                Just(n),
                prop::collection::vec(-2.0f64..2.0, b * m * k),
                prop::collection::vec(-2.0f64..2.0, b * k * n),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn matmul_matches_naive_loops((batch, m, k, n, a, b) in matmul_case()) {
        let mut sa = batch.clone();
        sa.extend([m, k]);
        let mut sb = batch.clone();
        sb.extend([k, n]);
        let y = binary_run::<f64>((&sa, &a), (&sb, &b), |g, a, b| g.matmul(a, b).unwrap());
        let count: usize = batch.iter().product();
        let mut want = vec![0.0; count * m * n];
        for bi in 0..count {
            for i in 0..m {
                for j in 0..n {
                    for l in 0..k {
                        want[(bi * m + i) * n + j] += a[(bi * m + i) * k + l] * b[(bi * k + l) * n + j];
                    }
                }
            }
        }
        let mut sy = batch.clone();
        sy.extend([m, n]);
        expect(&y, &sy, &want);
    }
}

// ------------------------------------------------------------ empty extents

#[test]
fn zero_sized_extents() {
    let nhwc = |s| conv([s, s], Padding::Same, Layout::Nhwc);
    // Empty batch.
    let y = binary_run::<f64>(
        (&[0, 3, 3, 2], &[]),
        (&[2, 2, 2, 4], &[0.5; 32]),
        |g, x, w| g.conv2d(x, w, nhwc(2)).unwrap(),
    );
    expect(&y, &[0, 2, 2, 4], &[]);
    // No input channels: every output is an empty sum.
    let y = binary_run::<f64>((&[1, 3, 3, 0], &[]), (&[2, 2, 0, 2], &[]), |g, x, w| {
        g.conv2d(x, w, nhwc(1)).unwrap()
    });
    expect(&y, &[1, 3, 3, 2], &[0.0; 18]);
    // No output channels.
    let y = binary_run::<f64>(
        (&[1, 2, 2, 1], &[1.0; 4]),
        (&[1, 1, 1, 0], &[]),
        |g, x, w| g.conv2d(x, w, nhwc(1)).unwrap(),
    );
    expect(&y, &[1, 2, 2, 0], &[]);
    // Gradients with no output channels are zero.
    let y = binary_run::<f64>((&[1, 2, 2, 0], &[]), (&[1, 1, 3, 0], &[]), |g, dy, w| {
        g.conv2d_input_grad(dy, w, nhwc(1), [1, 2, 2, 3]).unwrap()
    });
    expect(&y, &[1, 2, 2, 3], &[0.0; 12]);
    let y = binary_run::<f64>(
        (&[1, 2, 2, 3], &[1.0; 12]),
        (&[1, 2, 2, 0], &[]),
        |g, x, dy| g.conv2d_filter_grad(x, dy, nhwc(1), [1, 1, 3, 0]).unwrap(),
    );
    expect(&y, &[1, 1, 3, 0], &[]);
    // Pooling an empty batch / no channels.
    let a = pool([2, 2], [1, 1], Padding::Valid, Layout::Nchw);
    let y = unary_run::<f64>(&[0, 2, 3, 3], &[], |g, x| g.maxpool2d(x, a).unwrap());
    expect(&y, &[0, 2, 2, 2], &[]);
    let y = unary_run::<f64>(&[1, 0, 3, 3], &[], |g, x| g.maxpool2d(x, a).unwrap());
    expect(&y, &[1, 0, 2, 2], &[]);
    // Reductions and data movement over empty arrays.
    let y = unary_run::<f64>(&[0, 3], &[], |g, x| g.transpose(x, &[1, 0]).unwrap());
    expect(&y, &[3, 0], &[]);
    let y = unary_run::<f64>(&[0, 3], &[], |g, x| g.pad(x, &[1, 0], &[0, 0]).unwrap());
    expect(&y, &[1, 3], &[0.0; 3]);
    let y = unary_run::<f64>(&[2, 0], &[], |g, x| g.reduce_sum(x, &[1], true).unwrap());
    expect(&y, &[2, 1], &[0.0, 0.0]);
}

/// max/min order -0 below +0 whichever operand holds it (IEEE 754-2019
/// maximum/minimum), so relu(-0) = +0 and a JIT's fmax can match bit for bit.
#[test]
fn signed_zeros_are_ordered_in_max_min_and_relu() {
    let mut g = Graph::new("zeros");
    let a = g.input("a", [2]).unwrap();
    let b = g.input("b", [2]).unwrap();
    let max = g.maximum(a, b).unwrap();
    let min = g.minimum(a, b).unwrap();
    let relu = g.relu(a).unwrap();
    g.add_output("max", max).unwrap();
    g.add_output("min", min).unwrap();
    g.add_output("relu", relu).unwrap();
    let arr = |v: [f32; 2]| ArrayD::from_shape_vec(IxDyn(&[2]), v.to_vec()).unwrap();
    let inputs = Inputs::from([
        ("a".into(), arr([0.0, -0.0])),
        ("b".into(), arr([-0.0, 0.0])),
    ]);
    let eval = evaluate(&g, &inputs).unwrap();
    let signs = |name: &str| -> Vec<bool> {
        eval.output(name)
            .unwrap()
            .iter()
            .map(|v| v.is_sign_negative())
            .collect()
    };
    assert_eq!(signs("max"), [false, false]);
    assert_eq!(signs("min"), [true, true]);
    assert_eq!(signs("relu"), [false, false]);
}
