//! Finite-difference checks of gradients of gradients: the output checked is
//! itself a symbolic gradient, so its FD check exercises the VJPs of the ops
//! that first-order VJPs emit (conv2d_input_grad, conv2d_filter_grad, the
//! selects of relu/abs/reduce_max, broadcast's reduce_sum and reshape). The
//! method is described in `grad_support`.

use crate::grad_support::{
    away_from_zero, broadcast_shapes, check, config, conv_data, grid, numel, param, shaped_signed,
    unary_domain, uniform, weighted_sum,
};
use proptest::prelude::*;
use triceratops_ir::{grad, BinaryOp, UnaryOp};

// ------------------------------------------------------------ second order

proptest! {
    #![proptest_config(config(48))]

    /// `y = d sum(tanh(conv2d(x, w)) * R1) / d{x,w}`: checking `y` by FD
    /// exercises the VJPs of conv2d_input_grad and conv2d_filter_grad (and
    /// of tanh's own VJP) in context.
    #[test]
    fn second_order_through_conv2d((c, x, w, _) in conv_data(), wrt_filter in any::<bool>()) {
        let args = [param("image", &c.image, x), param("filter", &c.filter, w)];
        let what = format!("d conv2d / d {} {c:?}", if wrt_filter { "filter" } else { "image" });
        check(&what, &args, |g, p| {
            let z = g.conv2d(p[0], p[1], c.attrs)?;
            let t = g.tanh(z)?;
            let inner = weighted_sum(g, t, 7)?;
            let d = grad(g, inner, &[p[0], p[1]])?;
            Ok(d[usize::from(wrt_filter)])
        })?;
    }

    /// Second derivatives of the unary ops (abs and relu too: their VJPs use
    /// their masks only in selects, so they are differentiable again).
    #[test]
    fn second_order_unary((shape, raw) in shaped_signed(3)) {
        for op in UnaryOp::ALL {
            let data = raw.iter().map(|&v| unary_domain(op, v)).collect();
            let what = format!("d {} / dx", op.name());
            check(&what, &[param("x", &shape, data)], |g, p| {
                let y = g.unary(op, p[0])?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0]])?[0])
            })?;
        }
        let positive: Vec<f64> = raw.iter().map(|v| v.abs() + 0.4).collect();
        for e in [3.0f32, 0.5, -1.5] {
            let what = format!("d pow {e} / dx");
            check(&what, &[param("x", &shape, positive.clone())], |g, p| {
                let y = g.pow(p[0], e)?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0]])?[0])
            })?;
        }
    }

    /// Second derivatives of the binary ops under broadcasting (so the VJPs
    /// of reduce_sum and reshape, which broadcast's VJP emits, are hit too).
    #[test]
    fn second_order_binary(
        (shapes, a, b) in broadcast_shapes(2).prop_flat_map(|s| {
            let (na, nb) = (numel(&s[0]), numel(&s[1]));
            (Just(s), grid(na, 0.0), grid(nb, 0.1))
        }),
        wrt_b in any::<bool>(),
    ) {
        let (sa, sb) = (&shapes[0], &shapes[1]);
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [param("a", sa, a.clone()), param("b", sb, b)];
            let what = format!("d {} / d{} {sa:?} {sb:?}", op.name(), if wrt_b { "b" } else { "a" });
            check(&what, &args, |g, p| {
                // tanh makes the first derivative depend on both operands
                // even for add/sub.
                let y = g.binary(op, p[0], p[1])?;
                let y = g.tanh(y)?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0], p[1]])?[usize::from(wrt_b)])
            })?;
        }
    }

    /// Second derivatives through reduce_max, as in a max-shifted softmax:
    /// its VJP routes the gradient with selects, never through the mask.
    #[test]
    fn second_order_through_reduce_max((shape, raw) in shaped_signed(3)) {
        prop_assume!(!shape.is_empty());
        let last = shape.len() - 1;
        let spread: Vec<f64> = raw.iter().enumerate().map(|(i, v)| v + 0.37 * i as f64).collect();
        check("d softmax-like / dx", &[param("x", &shape, spread)], |g, p| {
            let m = g.reduce_max(p[0], &[last], true)?;
            let z = g.sub(p[0], m)?;
            let e = g.exp(z)?;
            let inner = weighted_sum(g, e, 7)?;
            Ok(grad(g, inner, &[p[0]])?[0])
        })?;
    }

    #[test]
    fn second_order_through_matmul(
        (m, k, n, a, b) in (1usize..4, 1usize..4, 1usize..4).prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), uniform(m * k, -1.0, 1.0), uniform(k * n, -1.0, 1.0))
        }),
        wrt_b in any::<bool>(),
    ) {
        let args = [param("a", &[m, k], a), param("b", &[k, n], b)];
        check("d matmul", &args, |g, p| {
            let y = g.matmul(p[0], p[1])?;
            let y = g.sigmoid(y)?;
            let inner = weighted_sum(g, y, 7)?;
            Ok(grad(g, inner, &[p[0], p[1]])?[usize::from(wrt_b)])
        })?;
    }
}
