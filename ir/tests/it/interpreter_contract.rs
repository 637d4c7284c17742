//! What `interp::evaluate` promises beyond any one op's arithmetic: constants
//! are f32 literals, inputs in non-standard memory order are read by their
//! logical indices, zero-sized extents work in every op, the `Evaluation`
//! accessors (outputs, values, updates), errors for missing, misshapen and
//! unknown arguments, and f32/f64 runs that agree.

use ndarray::{ArrayD, IxDyn};
use triceratops_ir::interp::{evaluate, Inputs, Scalar};
use triceratops_ir::{Graph, IrError, Layout, Padding, Role, TensorType, ValueId};

use crate::interp_support::eval::{arr, binary_run, both_precisions, expect, run, unary_run};
use crate::interp_support::{conv, pool};

both_precisions!(constants_and_scalars, non_standard_layout_inputs);

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
    let inputs = good_inputs();
    let eval = evaluate::<f64>(&g, &inputs).unwrap();
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
    let updates: Vec<(&str, ArrayD<f64>)> =
        eval.updates().map(|(n, a)| (n, a.to_owned())).collect();
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
    assert_eq!(
        err,
        IrError::MissingArgument {
            name: "w".into(),
            role: Role::Param,
            ty: TensorType::f32([2, 3]),
        }
    );
    assert_eq!(err.to_string(), "interpreter: missing param %w: f32[2,3]");
    let mut inputs = good_inputs();
    inputs.remove("step");
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(
        matches!(&err, IrError::MissingArgument { name, role: Role::State, .. } if name == "step"),
        "{err}"
    );
}

#[test]
fn wrong_shape_is_reported() {
    let (g, _, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert("x".into(), arr::<f64>(&[3, 2], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert_eq!(
        err,
        IrError::ArgumentMismatch {
            name: "x".into(),
            role: Role::Input,
            expected: TensorType::f32([2, 3]),
            found: vec![3, 2],
        }
    );
    assert_eq!(
        err.to_string(),
        "interpreter: input %x has shape [3, 2], expected f32[2,3]"
    );
    // Same element count, different rank; and a scalar given as [1].
    let mut inputs = good_inputs();
    inputs.insert("x".into(), arr::<f64>(&[6], &[0.0; 6]));
    assert!(matches!(
        evaluate::<f64>(&g, &inputs),
        Err(IrError::ArgumentMismatch { found, .. }) if found == [6]
    ));
    let mut inputs = good_inputs();
    inputs.insert("step".into(), arr::<f64>(&[1], &[0.0]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(
        matches!(&err, IrError::ArgumentMismatch { name, .. } if name == "step"),
        "{err}"
    );
}

#[test]
fn unknown_input_name_is_reported() {
    let (g, _, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert("xx".into(), arr::<f64>(&[2, 3], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert_eq!(
        err,
        IrError::NotAnArgument {
            name: "xx".into(),
            graph: "net".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "interpreter: `xx` is not an argument of graph net"
    );
    // The name of a non-argument value is rejected too.
    let (g, y, _) = small_graph();
    let mut inputs = good_inputs();
    inputs.insert(g.value_name(y).to_string(), arr::<f64>(&[2, 3], &[0.0; 6]));
    let err = evaluate::<f64>(&g, &inputs).unwrap_err();
    assert!(matches!(&err, IrError::NotAnArgument { .. }), "{err}");
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

#[test]
fn positional_arguments_are_borrowed_not_copied() {
    let (g, y, _) = small_graph();
    let inputs = good_inputs();
    let args: Vec<_> = g
        .arguments()
        .map(|v| inputs[g.value_name(v)].view())
        .collect();
    let eval = triceratops_ir::interp::evaluate_args(&g, args).unwrap();
    let y_value = eval.value(y).to_owned();
    let values = eval.into_values();
    for v in g.arguments() {
        assert!(
            values[v.index()].is_view(),
            "%{} was copied",
            g.value_name(v)
        );
    }
    assert!(!values[y.index()].is_view(), "computed values are owned");
    assert_eq!(values[y.index()], y_value);
    // By name, too.
    let eval = evaluate::<f64>(&g, &inputs).unwrap();
    let values = eval.into_values();
    assert!(g.arguments().all(|v| values[v.index()].is_view()));
}

#[test]
fn positional_arguments_must_be_one_per_argument() {
    let (g, _, _) = small_graph();
    let inputs = good_inputs();
    let mut args: Vec<_> = g
        .arguments()
        .map(|v| inputs[g.value_name(v)].view())
        .collect();
    args.pop();
    let err = triceratops_ir::interp::evaluate_args(&g, args).unwrap_err();
    assert_eq!(
        err,
        IrError::ArgumentCount {
            graph: "net".into(),
            expected: 3,
            found: 2
        }
    );
}
