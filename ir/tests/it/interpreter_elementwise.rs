//! Interpreter values of the elementwise ops (unary, `pow`, binary,
//! compare, select), checked against small examples worked out by hand (the
//! expected numbers are literals, or known constants such as tanh(0.5)
//! computed independently): NaN/infinity/signed-zero behaviour, a value test
//! for every unary op. Every generic case runs in f32 and in f64.

use std::f64::consts::{FRAC_1_SQRT_2, LN_2, SQRT_2};

use ndarray::{ArrayD, IxDyn};
use triceratops_ir::interp::{evaluate, Inputs, Scalar};
use triceratops_ir::{BinaryOp, CmpOp, Graph, UnaryOp};

use crate::interp_support::eval::{
    binary_run, both_precisions, expect, is_f32, run, unary_run, INF, NAN,
};

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

// -------------------------------------------------------------- signed zeros

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
