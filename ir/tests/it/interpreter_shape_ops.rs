//! Interpreter values of the ops that move, broadcast or reduce data across
//! axes: the builder's numpy-style broadcasting, `broadcast_in_dim`,
//! `reshape`, `transpose`, `pad`, `slice`, `reduce_sum`, `reduce_max` and
//! `mean`, checked against small examples worked out by hand. Every generic
//! case runs in f32 and in f64.

use triceratops_ir::interp::Scalar;
use triceratops_ir::Graph;

use crate::interp_support::eval::{binary_run, both_precisions, expect, run, unary_run, INF, NAN};

both_precisions!(
    builder_numpy_broadcast_values,
    broadcast_in_dim_values,
    reshape_transpose_lecture_example,
    transpose_rank3,
    pad_values,
    slice_values,
    reduce_sum_values,
    reduce_max_values,
    mean_values,
);

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

// ---------------------------------------------------------------- reductions

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
