//! Exact (not finite-difference) checks of `grad`'s edge cases: zero
//! gradients for params the loss does not depend on, the errors for a
//! non-scalar loss and for non-differentiable ops on the path (comparisons,
//! maxpool2d_grad), comparison masks in select, repeated and intermediate
//! `wrt` values and the names of gradient values, and pow 0 at 0.

use std::collections::HashMap;

use crate::grad_support::scalar_of;
use ndarray::{ArrayD, IxDyn};
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{
    grad, verify, CmpOp, Graph, IrError, Layout, Padding, PoolAttrs, Result, ValueId,
};

// ------------------------------------------------ zero gradients, errors

#[test]
fn a_param_the_loss_does_not_depend_on_gets_zeros_of_its_shape() -> Result<()> {
    let mut g = Graph::new("unused");
    let w = g.param("w", [2, 3])?;
    let unused = g.param("unused", [4, 1])?;
    let unused_scalar = g.param("unused_scalar", [])?;
    let x = g.input("x", [2, 3])?;
    let y = g.mul(w, x)?;
    let y = g.exp(y)?;
    let loss = g.reduce_sum(y, &[0, 1], false)?;
    // A value computed after the loss is not on any path either.
    let later = g.exp(w)?;
    let grads = grad(&mut g, loss, &[unused, w, unused_scalar, later])?;
    verify(&g)?;
    assert_eq!(g.shape(grads[0]).dims(), &[4, 1]);
    assert_eq!(g.shape(grads[2]).dims(), &[] as &[usize]);
    assert_eq!(g.shape(grads[3]).dims(), &[2, 3]);
    let inputs: Inputs<f64> = [
        ("w", ArrayD::from_elem(IxDyn(&[2, 3]), 0.5)),
        ("unused", ArrayD::from_elem(IxDyn(&[4, 1]), 3.0)),
        ("unused_scalar", ArrayD::from_elem(IxDyn(&[]), 3.0)),
        ("x", ArrayD::from_elem(IxDyn(&[2, 3]), 2.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let e = evaluate::<f64>(&g, &inputs)?;
    assert_eq!(e.value(grads[0]), &ArrayD::zeros(IxDyn(&[4, 1])));
    assert_eq!(e.value(grads[2]), &ArrayD::zeros(IxDyn(&[])));
    assert_eq!(e.value(grads[3]), &ArrayD::zeros(IxDyn(&[2, 3])));
    // d/dw sum(exp(w x)) = x exp(w x) = 2 e.
    for &v in e.value(grads[1]) {
        assert!((v - 2.0 * 1f64.exp()).abs() < 1e-12, "{v}");
    }
    Ok(())
}

#[track_caller]
fn expect_grad_error(result: Result<Vec<ValueId>>, needles: &[&str]) {
    match result {
        Err(IrError::Grad(msg)) => {
            for needle in needles {
                assert!(msg.contains(needle), "`{msg}` should mention `{needle}`");
            }
        }
        Err(other) => panic!("expected IrError::Grad, got {other:?}"),
        Ok(grads) => panic!("expected IrError::Grad, got gradients {grads:?}"),
    }
}

#[test]
fn a_non_scalar_loss_is_an_error() -> Result<()> {
    let mut g = Graph::new("non_scalar");
    let w = g.param("w", [2, 3])?;
    let y = g.exp(w)?;
    let len = g.len();
    expect_grad_error(grad(&mut g, y, &[w]), &["scalar", "f32[2,3]"]);
    assert_eq!(g.len(), len, "a rejected loss adds nothing");
    let keep = g.reduce_sum(y, &[1], true)?; // [2, 1]: rank 2 even with one element per row
    let one = g.reduce_sum(keep, &[0], true)?; // [1, 1]: one element, still not a scalar
    expect_grad_error(grad(&mut g, one, &[w]), &["scalar"]);
    Ok(())
}

#[test]
fn a_comparison_on_the_path_is_an_error_naming_the_op() -> Result<()> {
    for op in CmpOp::ALL {
        let mut g = Graph::new("cmp");
        let w = g.param("w", [3])?;
        let zero = g.scalar(0.0)?;
        let mask = g.compare(op, w, zero)?;
        let y = g.mul(mask, w)?;
        let loss = g.reduce_sum(y, &[0], false)?;
        expect_grad_error(grad(&mut g, loss, &[w]), &[op.name(), "not differentiable"]);
        // Whatever `grad` appended before failing, the graph stays well formed.
        verify(&g)?;
    }
    Ok(())
}

#[test]
fn a_mask_from_a_comparison_in_select_is_fine() -> Result<()> {
    let mut g = Graph::new("select_mask");
    let w = g.param("w", [3])?;
    let zero = g.scalar(0.0)?;
    let mask = g.compare(CmpOp::Gt, w, zero)?;
    let y = g.select(mask, w, zero)?;
    let loss = g.reduce_sum(y, &[0], false)?;
    let grads = grad(&mut g, loss, &[w])?;
    let inputs: Inputs<f64> = [(
        "w".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[3]), vec![-1.0, 0.5, 2.0]).expect("fits"),
    )]
    .into_iter()
    .collect();
    let e = evaluate::<f64>(&g, &inputs)?;
    assert_eq!(
        e.value(grads[0]).iter().copied().collect::<Vec<_>>(),
        [0.0, 1.0, 1.0]
    );
    Ok(())
}

#[test]
fn maxpool2d_grad_on_the_path_is_an_error() -> Result<()> {
    let attrs = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    // Directly: maxpool2d_grad w.r.t. either of its operands.
    for wrt_dy in [false, true] {
        let mut g = Graph::new("pool_grad");
        let x = g.param("x", [1, 4, 4, 1])?;
        let dy = g.param("dy", [1, 2, 2, 1])?;
        let dx = g.maxpool2d_grad(x, dy, attrs)?;
        let loss = g.reduce_sum(dx, &[0, 1, 2, 3], false)?;
        let wrt = if wrt_dy { dy } else { x };
        expect_grad_error(grad(&mut g, loss, &[wrt]), &["maxpool2d_grad"]);
    }
    // The realistic way to get there: differentiating a gradient through a
    // max pool (second order).
    let mut g = Graph::new("pool_second_order");
    let x = g.param("x", [1, 4, 4, 1])?;
    let y = g.maxpool2d(x, attrs)?;
    let y = g.square(y)?;
    let inner = g.reduce_sum(y, &[0, 1, 2, 3], false)?;
    let dx = grad(&mut g, inner, &[x])?[0];
    let outer = g.reduce_sum(dx, &[0, 1, 2, 3], false)?;
    expect_grad_error(
        grad(&mut g, outer, &[x]),
        &["maxpool2d_grad", "not differentiable"],
    );
    Ok(())
}

#[test]
fn gradients_of_repeated_intermediate_and_loss_values() -> Result<()> {
    let mut g = Graph::new("wrt_kinds");
    let w = g.param("w", [3])?;
    let two = g.scalar(2.0)?;
    let h = g.mul(w, two)?;
    let e = g.exp(h)?;
    let loss = g.reduce_sum(e, &[0], false)?;
    let grads = grad(&mut g, loss, &[w, h, w, loss])?;
    verify(&g)?;
    assert_eq!(
        grads[0], grads[2],
        "a repeated wrt value gets the same gradient"
    );
    assert_eq!(g.value_name(grads[0]), "grad.w");
    let h_name = format!("grad.{}", g.value_name(h));
    assert_eq!(
        g.value_name(grads[1]),
        h_name,
        "computed values are renamed too"
    );
    let w0 = [-0.5, 0.25, 1.0];
    let inputs: Inputs<f64> = [(
        "w".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[3]), w0.to_vec()).expect("fits"),
    )]
    .into_iter()
    .collect();
    let ev = evaluate::<f64>(&g, &inputs)?;
    for (i, &x) in w0.iter().enumerate() {
        let e2x = (2.0 * x).exp();
        assert!((ev.value(grads[0])[i] - 2.0 * e2x).abs() < 1e-12);
        assert!((ev.value(grads[1])[i] - e2x).abs() < 1e-12);
    }
    assert_eq!(scalar_of(ev.value(grads[3])), 1.0);
    Ok(())
}

#[test]
fn a_gradient_that_is_a_forward_value_keeps_its_name() {
    // d exp(w)/dw = exp(w): the gradient is the forward value %loss itself,
    // which must not be renamed to grad.w.
    let mut g = Graph::new("exp");
    let w = g.param("w", []).unwrap();
    let e = g.exp(w).unwrap();
    g.rename(e, "loss").unwrap();
    let d = grad(&mut g, e, &[w]).unwrap()[0];
    assert_eq!(d, e);
    assert_eq!(g.lookup("loss"), Some(e));
}

#[test]
fn pow_zero_has_a_zero_gradient_even_at_zero() {
    let mut g = Graph::new("pow0");
    let x = g.param("x", [2]).unwrap();
    let y = g.pow(x, 0.0).unwrap();
    let loss = g.reduce_sum(y, &[0], false).unwrap();
    let d = grad(&mut g, loss, &[x]).unwrap()[0];
    g.add_output("d", d).unwrap();
    let inputs: HashMap<String, ArrayD<f64>> = HashMap::from([(
        "x".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.0, 2.0]).unwrap(),
    )]);
    let eval = evaluate(&g, &inputs).unwrap();
    assert_eq!(eval.output("d").unwrap().as_slice().unwrap(), &[0.0, 0.0]);
}
