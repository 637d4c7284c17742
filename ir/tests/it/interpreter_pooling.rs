//! Interpreter values of `maxpool2d` and `maxpool2d_grad` in both layouts:
//! windows and strides, same padding that never wins, tie-breaking and
//! accumulation of the gradient, NaN propagation — checked against examples
//! worked out by hand. Every generic case runs in f32 and in f64.

use ndarray::ArrayD;
use triceratops_ir::interp::Scalar;
use triceratops_ir::{Layout, Padding, PoolAttrs};

use crate::interp_support::eval::{binary_run, both_precisions, expect, unary_run, NAN};
use crate::interp_support::pool;

both_precisions!(
    maxpool2d_by_hand,
    maxpool2d_same_ignores_padding,
    maxpool2d_nchw_by_hand,
    maxpool2d_grad_by_hand,
    maxpool2d_propagates_nan,
);

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
