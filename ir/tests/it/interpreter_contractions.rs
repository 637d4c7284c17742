//! Interpreter values of the contracting ops: `matmul` (by hand, batched,
//! and against a naive triple loop on random shapes) and `conv2d` with its
//! input and filter gradients in both layouts, valid/same padding and
//! strides, checked against examples worked out by hand. Every generic case
//! runs in f32 and in f64.

use ndarray::ArrayD;
use proptest::prelude::*;
use triceratops_ir::interp::Scalar;
use triceratops_ir::{ConvAttrs, Layout, Padding};

use crate::interp_support::conv;
use crate::interp_support::eval::{binary_run, both_precisions, expect};

both_precisions!(
    matmul_lecture_examples,
    matmul_batched,
    conv2d_by_hand_nhwc,
    conv2d_by_hand_nchw,
    conv2d_same_3x3_box,
    conv2d_strided,
    conv2d_input_grad_by_hand,
    conv2d_filter_grad_by_hand,
);

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
