//! Finite-difference checks of the elementwise VJPs: every unary op (on its
//! smooth domain and, for the smooth-everywhere ones, on values crossing
//! zero), pow with integer and fractional exponents, every binary op and
//! select, all under numpy-style broadcasting with either operand (or both)
//! differentiated. Also the checker's self-test: it must fail gradients off
//! by ten times its tolerance. The method is described in `grad_support`.

use crate::grad_support::{
    arg, away_from_zero, broadcast_shapes, check, check_scaled, config, extents, grid, input,
    named_pairs, numel, param, shaped_signed, shaped_uniform, signed, unary_domain, uniform, Out,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use triceratops_ir::{BinaryOp, CmpOp, Graph, Result, UnaryOp, ValueId};

/// The checker itself: it passes a right gradient and fails one that is off
/// by a relative 1e-4 (ten times the tolerance) or has a flipped sign.
#[test]
fn the_checker_is_sharp() {
    let args = [param("x", &[2, 3], vec![-1.5, -0.3, 0.2, 0.7, 1.1, 1.9])];
    let build = |g: &mut Graph, p: &[ValueId]| -> Result<Out> { Ok(Out::new(g.tanh(p[0])?)) };
    check_scaled("tanh", &args, build, 1.0).expect("right gradient passes");
    for scale in [1.0 + 1e-4, 1.0 - 1e-4, -1.0, 0.0] {
        match check_scaled("tanh", &args, build, scale) {
            Err(TestCaseError::Fail(msg)) => assert!(msg.message().contains("symbolic"), "{msg}"),
            other => panic!("a gradient scaled by {scale} should fail, got {other:?}"),
        }
    }
}

// ------------------------------------------------------- elementwise ops

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn unary_ops((shape, raw) in shaped_signed(4)) {
        for op in UnaryOp::ALL {
            let data = raw.iter().map(|&v| unary_domain(op, v)).collect();
            check(op.name(), &[param("x", &shape, data)], |g, p| g.unary(op, p[0]))?;
        }
    }

    #[test]
    fn unary_ops_on_unrestricted_values((shape, raw) in shaped_uniform(3)) {
        // The smooth-everywhere ops, on values crossing zero.
        for op in [UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Square] {
            check(op.name(), &[param("x", &shape, raw.clone())], |g, p| g.unary(op, p[0]))?;
        }
    }

    #[test]
    fn pow_op((shape, raw) in shaped_signed(4)) {
        // Integer exponents on bases of either sign, fractional ones on
        // positive bases.
        for e in [2.0f32, 3.0, 1.0, 0.0, -1.0, -2.0] {
            let what = format!("pow {e}");
            check(&what, &[param("x", &shape, raw.clone())], |g, p| g.pow(p[0], e))?;
        }
        let positive: Vec<f64> = raw.iter().map(|v| v.abs() + 0.4).collect();
        for e in [0.5f32, -0.5, 1.5, 2.5, -1.5] {
            let what = format!("pow {e}");
            check(&what, &[param("x", &shape, positive.clone())], |g, p| g.pow(p[0], e))?;
        }
    }

    #[test]
    fn binary_ops_with_broadcasting(
        (shapes, a, b) in (broadcast_shapes(2), any::<bool>()).prop_flat_map(|(s, swap)| {
            // Either operand may be the one on the odd grid.
            let (na, nb) = (numel(&s[0]), numel(&s[1]));
            let (oa, ob) = if swap { (0.1, 0.0) } else { (0.0, 0.1) };
            (Just(s), grid(na, oa), grid(nb, ob))
        }),
        which in 1u8..4,
    ) {
        let (sa, sb) = (&shapes[0], &shapes[1]);
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [
                arg("a", sa, a.clone(), which & 1 != 0),
                arg("b", sb, b, which & 2 != 0),
            ];
            let what = format!("{} {sa:?} {sb:?}", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[1]))?;
        }
    }

    #[test]
    fn binary_ops_on_named_broadcast_pairs(
        (sa, sb, a, b) in named_pairs().prop_flat_map(|(sa, sb)| {
            let (na, nb) = (numel(&sa), numel(&sb));
            (Just(sa), Just(sb), grid(na, 0.1), grid(nb, 0.0))
        }),
    ) {
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [param("a", &sa, a.clone()), param("b", &sb, b)];
            let what = format!("{} {sa:?} {sb:?}", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[1]))?;
        }
    }

    #[test]
    fn select_wrt_both_branches(
        (shapes, mask, t, f) in broadcast_shapes(3).prop_flat_map(|s| {
            let (nm, nt, nf) = (numel(&s[0]), numel(&s[1]), numel(&s[2]));
            let mask = prop::collection::vec(prop::sample::select(vec![0.0, 1.0, 0.0, -2.5]), nm);
            (Just(s), mask, uniform(nt, -2.0, 2.0), uniform(nf, -2.0, 2.0))
        }),
        which in 1u8..4,
    ) {
        let args = [
            input("mask", &shapes[0], mask),
            arg("on_true", &shapes[1], t, which & 1 != 0),
            arg("on_false", &shapes[2], f, which & 2 != 0),
        ];
        let what = format!("select {shapes:?}");
        check(&what, &args, |g, p| g.select(p[0], p[1], p[2]))?;
    }

    #[test]
    fn select_with_a_mask_computed_from_the_param(
        (shape, w, v) in extents(3).prop_flat_map(|s| {
            let n = numel(&s);
            (Just(s), signed(n), uniform(n, -2.0, 2.0))
        }),
    ) {
        // The mask depends on w but gets no gradient; w is 0.1 away from the
        // switching point, so the loss is smooth there.
        let args = [param("w", &shape, w), param("v", &shape, v)];
        check("select(gt(w, 0), w^2, w * v)", &args, |g, p| {
            let zero = g.scalar(0.0)?;
            let mask = g.compare(CmpOp::Gt, p[0], zero)?;
            let t = g.square(p[0])?;
            let f = g.mul(p[0], p[1])?;
            g.select(mask, t, f)
        })?;
    }
}
