//! Finite-difference checks of adjoint accumulation: a value used several
//! times (by different ops, or as both operands of one binary op, select,
//! matmul or conv2d) must get the sum of the adjoints of all its uses. The
//! method is described in `grad_support`.

use crate::grad_support::{check, config, layout, param, shaped_signed, uniform};
use proptest::prelude::*;
use triceratops_ir::{BinaryOp, ConvAttrs, Layout, Padding};

// ------------------------------------------------- adjoint accumulation

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_value_used_several_times((shape, x) in shaped_signed(3)) {
        let args = [param("x", &shape, x.clone())];
        check("x*x + exp(x) + x", &args, |g, p| {
            let x = p[0];
            let sq = g.mul(x, x)?;
            let e = g.exp(x)?;
            let s = g.add(sq, e)?;
            g.add(s, x)
        })?;
        check("tanh(x)^2 + sigmoid(tanh(x)) * x", &args, |g, p| {
            let h = g.tanh(p[0])?;
            let a = g.mul(h, h)?;
            let b = g.sigmoid(h)?;
            let b = g.mul(b, p[0])?;
            g.add(a, b)
        })?;
        for op in BinaryOp::ALL {
            // x op x: both operand slots of one node feed the same adjoint
            // (max/min tie exactly, and the tie rule must still total 1).
            let what = format!("x {} x", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[0]))?;
        }
        check("select(mask, x, x)", &args, |g, p| {
            let n = g.shape(p[0]).numel();
            let mask: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
            let mask = g.tensor(g.shape(p[0]).clone(), mask)?;
            g.select(mask, p[0], p[0])
        })?;
        if !shape.is_empty() {
            let axes: Vec<usize> = (0..shape.len()).step_by(2).collect();
            check("x * reduce_sum(x, keepdims)", &args, |g, p| {
                let s = g.reduce_sum(p[0], &axes, true)?;
                g.mul(p[0], s)
            })?;
            check("x - reduce_max(x)", &[param("x", &shape, distinct_like(&x))], |g, p| {
                let m = g.reduce_max(p[0], &axes, false)?;
                let m = g.reshape(m, reduced_shape(&shape, &axes))?;
                g.sub(p[0], m)
            })?;
        }
    }

    #[test]
    fn square_operand_used_twice_in_matmul_and_conv(
        (k, c, x) in (1usize..4, 1usize..3).prop_flat_map(|(k, c)| {
            (Just(k), Just(c), uniform(k * k * c * c, -1.0, 1.0))
        }),
        layout in layout(),
    ) {
        check("matmul(x, x)", &[param("x", &[k, k], x[..k * k].to_vec())], |g, p| {
            g.matmul(p[0], p[0])
        })?;
        // One tensor as both image and filter: [k, k, c, c] is an NHWC image
        // (n = h = k, w = c, c channels) and a HWIO filter (k x k, c -> c);
        // [c, c, k, k] is an NCHW image (n = c, c channels, k x k) and an
        // OIHW filter (c -> c, k x k).
        let shape = match layout {
            Layout::Nhwc => [k, k, c, c],
            Layout::Nchw => [c, c, k, k],
        };
        let attrs = ConvAttrs { strides: [1, 1], padding: Padding::Same, layout };
        let what = format!("conv2d(x, x) {shape:?} {layout:?}");
        check(&what, &[param("x", &shape, x)], |g, p| g.conv2d(p[0], p[0], attrs))?;
    }
}

/// Spread-out distinct values in the order of `x`'s ranks (keeps the case's
/// randomness but removes near-ties).
fn distinct_like(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut out = vec![0.0; x.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = rank as f64 * 0.1 - 1.0 + x[i] * 0.01;
    }
    out
}

fn reduced_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    (0..shape.len())
        .map(|i| if axes.contains(&i) { 1 } else { shape[i] })
        .collect()
}
