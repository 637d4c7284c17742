//! Shape inference of every op: accepted operand types, the inferred result
//! type, and the `IrError::Type` reported for everything else. Expected
//! shapes are written out by hand (or, in the property tests, computed by
//! independent closed-form formulas), never by the code under test.

use proptest::prelude::*;
use triceratops_ir::infer::infer_type;
use triceratops_ir::{
    BinaryOp, CmpOp, ConvAttrs, Graph, IrError, Layout, NodeKind, Op, Padding, PoolAttrs,
    TensorType, UnaryOp,
};

// ---------------------------------------------------------------- helpers

fn t(dims: &[usize]) -> TensorType {
    TensorType::f32(dims.to_vec())
}

fn infer(op: &Op, shapes: &[&[usize]]) -> Result<TensorType, IrError> {
    let types: Vec<TensorType> = shapes.iter().map(|s| t(s)).collect();
    let refs: Vec<&TensorType> = types.iter().collect();
    infer_type(op, &refs)
}

/// Asserts that `op` accepts operands of `shapes` and returns `f32[expected]`.
#[track_caller]
fn ok(op: &Op, shapes: &[&[usize]], expected: &[usize]) {
    match infer(op, shapes) {
        Ok(ty) => assert_eq!(ty, t(expected), "{} on {shapes:?}", op.name()),
        Err(e) => panic!("{} on {shapes:?} should be accepted, got: {e}", op.name()),
    }
}

/// Asserts that `op` rejects operands of `shapes` with an `IrError::Type`
/// naming the op and listing the operand types, whose reason contains every
/// string of `reason_has`; also checks the Display text. Returns the reason.
#[track_caller]
fn rejects(op: &Op, shapes: &[&[usize]], reason_has: &[&str]) -> String {
    let err = match infer(op, shapes) {
        Ok(ty) => panic!("{} on {shapes:?} should be rejected, got {ty}", op.name()),
        Err(e) => e,
    };
    check_type_error(&err, op.name(), shapes, reason_has)
}

#[track_caller]
fn check_type_error(
    err: &IrError,
    op_name: &str,
    shapes: &[&[usize]],
    reason_has: &[&str],
) -> String {
    let IrError::Type {
        op,
        operands,
        reason,
    } = err
    else {
        panic!("expected IrError::Type, got {err:?}");
    };
    assert_eq!(op, op_name);
    let expected: Vec<TensorType> = shapes.iter().map(|s| t(s)).collect();
    assert_eq!(operands, &expected, "operand types of the error");
    assert!(!reason.trim().is_empty(), "empty reason");
    for needle in reason_has {
        assert!(
            reason.contains(needle),
            "reason `{reason}` should contain `{needle}`"
        );
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{op_name}: ")),
        "`{text}` should start with the op name"
    );
    for ty in &expected {
        assert!(
            text.contains(&ty.to_string()),
            "`{text}` should list operand type {ty}"
        );
    }
    assert!(text.contains(reason.as_str()));
    reason.clone()
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

use Layout::{Nchw, Nhwc};
use Padding::{Same, Valid};

// ------------------------------------------------------ type/text basics

#[test]
fn tensor_type_display_and_numel() {
    assert_eq!(t(&[2, 3]).to_string(), "f32[2,3]");
    assert_eq!(t(&[]).to_string(), "f32[]");
    assert_eq!(t(&[]).numel(), 1);
    assert_eq!(t(&[2, 0, 4]).numel(), 0);
    assert_eq!(t(&[2, 3, 4]).rank(), 3);
}

#[test]
fn error_display_format_is_exact() {
    let err = infer(&Op::MatMul, &[&[2, 3], &[4, 5]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matmul: cannot apply to (f32[2,3], f32[4,5]): contracting extents differ (3 vs 4)"
    );
}

#[test]
fn op_names_and_arities() {
    let names: Vec<&str> = UnaryOp::ALL.iter().map(|u| u.name()).collect();
    assert_eq!(
        names,
        [
            "neg", "exp", "log", "sqrt", "rsqrt", "recip", "tanh", "sigmoid", "relu", "abs",
            "square"
        ]
    );
    let names: Vec<&str> = BinaryOp::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names, ["add", "sub", "mul", "div", "max", "min"]);
    let names: Vec<&str> = CmpOp::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["gt", "ge", "eq"]);
    assert_eq!(Op::Select.arity(), 3);
    assert_eq!(Op::MatMul.arity(), 2);
    assert_eq!(Op::Pow { exponent: 2.0 }.arity(), 1);
    assert!(Op::Select.is_elementwise());
    assert!(Op::Pow { exponent: 2.0 }.is_elementwise());
    assert!(!Op::MatMul.is_elementwise());
    assert!(!Op::Reshape { shape: [1].into() }.is_elementwise());
}

// -------------------------------------------------------------- elementwise

#[test]
fn unary_ops_keep_the_shape() {
    for u in UnaryOp::ALL {
        let op = Op::Unary(u);
        ok(&op, &[&[]], &[]);
        ok(&op, &[&[3]], &[3]);
        ok(&op, &[&[2, 3, 4]], &[2, 3, 4]);
        ok(&op, &[&[0, 5]], &[0, 5]);
        rejects(&op, &[&[2], &[2]], &["takes 1 operand(s), got 2"]);
        rejects(&op, &[], &["takes 1 operand(s), got 0"]);
    }
}

#[test]
fn unary_builder_methods_produce_the_named_op() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2, 3]).unwrap();
    type Method =
        fn(&mut Graph, triceratops_ir::ValueId) -> triceratops_ir::Result<triceratops_ir::ValueId>;
    let methods: [(Method, UnaryOp); 11] = [
        (Graph::neg, UnaryOp::Neg),
        (Graph::exp, UnaryOp::Exp),
        (Graph::log, UnaryOp::Log),
        (Graph::sqrt, UnaryOp::Sqrt),
        (Graph::rsqrt, UnaryOp::Rsqrt),
        (Graph::recip, UnaryOp::Recip),
        (Graph::tanh, UnaryOp::Tanh),
        (Graph::sigmoid, UnaryOp::Sigmoid),
        (Graph::relu, UnaryOp::Relu),
        (Graph::abs, UnaryOp::Abs),
        (Graph::square, UnaryOp::Square),
    ];
    for (method, u) in methods {
        let y = method(&mut g, x).unwrap();
        assert_eq!(g.node(y).op(), Some(&Op::Unary(u)));
        assert_eq!(g.node(y).operands(), &[x]);
        assert_eq!(*g.ty(y), t(&[2, 3]));
    }
    triceratops_ir::verify(&g).unwrap();
}

#[test]
fn pow_keeps_the_shape() {
    let op = Op::Pow { exponent: 2.5 };
    ok(&op, &[&[]], &[]);
    ok(&op, &[&[4, 1, 2]], &[4, 1, 2]);
    rejects(&op, &[&[2], &[]], &["takes 1 operand(s), got 2"]);
}

#[test]
fn binary_and_compare_need_identical_shapes() {
    let ops: Vec<Op> = BinaryOp::ALL
        .iter()
        .map(|&b| Op::Binary(b))
        .chain(CmpOp::ALL.iter().map(|&c| Op::Compare(c)))
        .collect();
    assert_eq!(ops.len(), 9);
    for op in &ops {
        ok(op, &[&[], &[]], &[]);
        ok(op, &[&[2, 3], &[2, 3]], &[2, 3]);
        ok(op, &[&[1, 1, 5], &[1, 1, 5]], &[1, 1, 5]);
        // No implicit broadcasting in the IR, not even from a scalar or extent 1.
        rejects(op, &[&[2, 3], &[3]], &["shapes differ"]);
        rejects(op, &[&[2, 1], &[2, 3]], &["shapes differ"]);
        rejects(op, &[&[], &[2, 2]], &["shapes differ"]);
        rejects(op, &[&[2, 3], &[3, 2]], &["shapes differ"]);
        rejects(op, &[&[2, 3]], &["takes 2 operand(s), got 1"]);
        rejects(op, &[&[2], &[2], &[2]], &["takes 2 operand(s), got 3"]);
    }
    let reason = rejects(&Op::Binary(BinaryOp::Sub), &[&[2, 3], &[4]], &[]);
    assert!(
        reason.contains("broadcast"),
        "hint at broadcasting: {reason}"
    );
}

#[test]
fn select_needs_three_identical_shapes() {
    ok(&Op::Select, &[&[2, 2], &[2, 2], &[2, 2]], &[2, 2]);
    ok(&Op::Select, &[&[], &[], &[]], &[]);
    rejects(
        &Op::Select,
        &[&[2, 1], &[2, 2], &[2, 2]],
        &["shapes differ"],
    );
    rejects(&Op::Select, &[&[2, 2], &[2, 2], &[2]], &["shapes differ"]);
    rejects(
        &Op::Select,
        &[&[2, 2], &[2, 2]],
        &["takes 3 operand(s), got 2"],
    );
}

// ------------------------------------------------------------- broadcast

fn bcast(shape: &[usize], dims: &[usize]) -> Op {
    Op::Broadcast {
        shape: shape.to_vec().into(),
        dims: dims.to_vec(),
    }
}

#[test]
fn broadcast_accepted() {
    ok(&bcast(&[2, 3], &[1]), &[&[3]], &[2, 3]);
    ok(&bcast(&[2, 3], &[0]), &[&[2]], &[2, 3]);
    ok(&bcast(&[2, 2], &[]), &[&[]], &[2, 2]);
    ok(&bcast(&[], &[]), &[&[]], &[]);
    // Extent-1 operand axes expand.
    ok(&bcast(&[4, 3], &[0, 1]), &[&[1, 3]], &[4, 3]);
    ok(&bcast(&[4, 3], &[0, 1]), &[&[1, 1]], &[4, 3]);
    ok(&bcast(&[3, 5, 7], &[0, 2]), &[&[3, 1]], &[3, 5, 7]);
    ok(&bcast(&[2, 5, 3], &[0, 2]), &[&[2, 3]], &[2, 5, 3]);
    // Identity broadcast.
    ok(&bcast(&[2, 3], &[0, 1]), &[&[2, 3]], &[2, 3]);
}

#[test]
fn broadcast_rejected() {
    // dims must have one entry per operand axis.
    rejects(
        &bcast(&[2, 3], &[0, 1]),
        &[&[3]],
        &["dims has 2 entries", "rank 1"],
    );
    rejects(&bcast(&[2, 3], &[]), &[&[3]], &["dims has 0 entries"]);
    // Out of range.
    rejects(
        &bcast(&[2, 3], &[2]),
        &[&[3]],
        &["dims[0] = 2", "out of range", "[2,3]"],
    );
    rejects(&bcast(&[], &[0]), &[&[1]], &["out of range"]);
    // Not strictly increasing.
    rejects(
        &bcast(&[3, 2], &[1, 0]),
        &[&[2, 3]],
        &["strictly increasing"],
    );
    rejects(
        &bcast(&[3, 3], &[1, 1]),
        &[&[3, 3]],
        &["strictly increasing"],
    );
    // Extent neither 1 nor the result's.
    rejects(
        &bcast(&[2, 3], &[1]),
        &[&[4]],
        &["axis 0", "extent 4", "axis 1 of [2,3]"],
    );
    rejects(&bcast(&[2, 3], &[0, 1]), &[&[2, 2]], &["extent 2"]);
    // Broadcasting never shrinks an axis.
    rejects(&bcast(&[1, 3], &[0, 1]), &[&[2, 3]], &["extent 2"]);
    rejects(
        &bcast(&[2, 3], &[1]),
        &[&[3], &[3]],
        &["takes 1 operand(s), got 2"],
    );
}

// ------------------------------------------------ reshape, transpose, pad, slice

#[test]
fn reshape() {
    let r = |s: &[usize]| Op::Reshape {
        shape: s.to_vec().into(),
    };
    ok(&r(&[3, 4]), &[&[2, 6]], &[3, 4]);
    ok(&r(&[2, 2, 3]), &[&[12]], &[2, 2, 3]);
    ok(&r(&[1, 1]), &[&[]], &[1, 1]);
    ok(&r(&[]), &[&[1, 1, 1]], &[]);
    ok(&r(&[0, 7]), &[&[3, 0]], &[0, 7]);
    rejects(
        &r(&[4, 2]),
        &[&[2, 3]],
        &["6 elements", "[4,2]", "8 elements"],
    );
    rejects(&r(&[]), &[&[2]], &["2 elements", "1 elements"]);
}

#[test]
fn transpose() {
    let p = |perm: &[usize]| Op::Transpose {
        perm: perm.to_vec(),
    };
    ok(&p(&[1, 0]), &[&[2, 3]], &[3, 2]);
    ok(&p(&[2, 0, 1]), &[&[2, 3, 4]], &[4, 2, 3]);
    ok(&p(&[1, 2, 0]), &[&[2, 3, 4]], &[3, 4, 2]);
    ok(&p(&[0, 1, 2]), &[&[2, 3, 4]], &[2, 3, 4]);
    ok(&p(&[]), &[&[]], &[]);
    rejects(&p(&[0, 0]), &[&[2, 3]], &["not a permutation"]);
    rejects(&p(&[0, 2]), &[&[2, 3]], &["not a permutation"]);
    rejects(&p(&[0]), &[&[2, 3]], &["perm has 1 entries for rank 2"]);
    rejects(&p(&[0, 1, 2]), &[&[2, 3]], &["perm has 3 entries"]);
}

#[test]
fn pad() {
    let p = |low: &[usize], high: &[usize]| Op::Pad {
        low: low.to_vec(),
        high: high.to_vec(),
    };
    ok(&p(&[1, 0], &[0, 2]), &[&[2, 3]], &[3, 5]);
    ok(&p(&[0, 0], &[0, 0]), &[&[2, 3]], &[2, 3]);
    ok(&p(&[2], &[3]), &[&[0]], &[5]);
    ok(&p(&[], &[]), &[&[]], &[]);
    rejects(
        &p(&[1], &[0, 0]),
        &[&[2, 3]],
        &["low has 1 entries for rank 2"],
    );
    rejects(&p(&[1, 1], &[0, 0, 0]), &[&[2, 3]], &["high has 3 entries"]);
}

#[test]
fn slice() {
    let s = |start: &[usize], end: &[usize]| Op::Slice {
        start: start.to_vec(),
        end: end.to_vec(),
    };
    ok(&s(&[1, 0], &[3, 5]), &[&[4, 5]], &[2, 5]);
    ok(&s(&[0, 0], &[4, 5]), &[&[4, 5]], &[4, 5]);
    ok(&s(&[2, 5], &[2, 5]), &[&[4, 5]], &[0, 0]);
    ok(&s(&[], &[]), &[&[]], &[]);
    rejects(
        &s(&[0, 0], &[5, 5]),
        &[&[4, 5]],
        &["axis 0", "0..5", "0..4"],
    );
    rejects(&s(&[0, 0], &[4, 6]), &[&[4, 5]], &["axis 1", "0..6"]);
    rejects(&s(&[3, 0], &[2, 5]), &[&[4, 5]], &["axis 0", "3..2"]);
    rejects(&s(&[0], &[4, 5]), &[&[4, 5]], &["start has 1 entries"]);
    rejects(&s(&[0, 0], &[4]), &[&[4, 5]], &["end has 1 entries"]);
}

// ---------------------------------------------------------------- reductions

#[test]
fn reductions() {
    for max in [false, true] {
        let r = |axes: &[usize], keepdims: bool| {
            if max {
                Op::ReduceMax {
                    axes: axes.to_vec(),
                    keepdims,
                }
            } else {
                Op::ReduceSum {
                    axes: axes.to_vec(),
                    keepdims,
                }
            }
        };
        let x: &[usize] = &[2, 3, 4];
        ok(&r(&[1], false), &[x], &[2, 4]);
        ok(&r(&[1], true), &[x], &[2, 1, 4]);
        ok(&r(&[0, 2], false), &[x], &[3]);
        ok(&r(&[0, 2], true), &[x], &[1, 3, 1]);
        ok(&r(&[0, 1, 2], false), &[x], &[]);
        ok(&r(&[0, 1, 2], true), &[x], &[1, 1, 1]);
        ok(&r(&[], false), &[x], &[2, 3, 4]);
        ok(&r(&[], true), &[x], &[2, 3, 4]);
        ok(&r(&[], false), &[&[]], &[]);
        ok(&r(&[0], false), &[&[5]], &[]);
        ok(&r(&[0], true), &[&[5]], &[1]);
        let name = if max { "reduce_max" } else { "reduce_sum" };
        let reason = rejects(&r(&[3], false), &[x], &["axis 3", "out of range", "rank 3"]);
        assert!(!reason.is_empty());
        rejects(&r(&[0], true), &[&[]], &["axis 0", "rank 0"]);
        rejects(&r(&[2, 0], false), &[x], &["strictly increasing"]);
        rejects(&r(&[1, 1], false), &[x], &["strictly increasing"]);
        assert_eq!(r(&[], false).name(), name);
    }
    // Summing an empty axis gives zeros; the max of nothing is undefined.
    ok(
        &Op::ReduceSum {
            axes: vec![0],
            keepdims: false,
        },
        &[&[0, 3]],
        &[3],
    );
    rejects(
        &Op::ReduceMax {
            axes: vec![0],
            keepdims: false,
        },
        &[&[0, 3]],
        &["empty axis 0"],
    );
}

#[test]
fn builder_reductions_sort_and_dedup_axes() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2, 3, 4]).unwrap();
    let s = g.reduce_sum(x, &[2, 0, 2], true).unwrap();
    assert_eq!(*g.ty(s), t(&[1, 3, 1]));
    assert_eq!(
        g.node(s).op(),
        Some(&Op::ReduceSum {
            axes: vec![0, 2],
            keepdims: true
        })
    );
    let m = g.reduce_max(x, &[1, 0], false).unwrap();
    assert_eq!(*g.ty(m), t(&[4]));
    let e = g.reduce_sum(x, &[3], false).unwrap_err();
    check_type_error(&e, "reduce_sum", &[&[2, 3, 4]], &["axis 3"]);
    let mean = g.mean(x, &[1], false).unwrap();
    assert_eq!(*g.ty(mean), t(&[2, 4]));
}

// -------------------------------------------------------------------- matmul

#[test]
fn matmul() {
    let m = Op::MatMul;
    ok(&m, &[&[2, 3], &[3, 4]], &[2, 4]);
    ok(&m, &[&[1, 2], &[2, 3]], &[1, 3]);
    ok(&m, &[&[5, 2, 3], &[5, 3, 4]], &[5, 2, 4]);
    ok(&m, &[&[2, 7, 2, 3], &[2, 7, 3, 1]], &[2, 7, 2, 1]);
    ok(&m, &[&[2, 0], &[0, 3]], &[2, 3]);
    rejects(&m, &[&[2, 3], &[4, 5]], &["contracting", "3 vs 4"]);
    rejects(&m, &[&[5, 2, 3], &[6, 3, 4]], &["batch"]);
    rejects(&m, &[&[2, 5, 2, 3], &[5, 2, 3, 4]], &["batch"]);
    rejects(&m, &[&[3], &[3]], &["rank", "at least 2"]);
    rejects(&m, &[&[], &[]], &["rank"]);
    rejects(&m, &[&[2, 3], &[1, 3, 4]], &["same rank"]);
    rejects(&m, &[&[3], &[3, 4]], &["rank"]);
    rejects(&m, &[&[2, 3]], &["takes 2 operand(s), got 1"]);
}

// -------------------------------------------------------------------- conv2d

#[test]
fn conv2d_nhwc() {
    let f: &[usize] = &[3, 3, 3, 8];
    let x: &[usize] = &[1, 5, 5, 3];
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[x, f],
        &[1, 3, 3, 8],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nhwc)),
        &[x, f],
        &[1, 5, 5, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nhwc)),
        &[x, f],
        &[1, 2, 2, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nhwc)),
        &[x, f],
        &[1, 3, 3, 8],
    );
    // Even input, stride 2: same gives in/2; valid floor((6-3)/2)+1 = 2.
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nhwc)),
        &[&[4, 6, 6, 3], f],
        &[4, 3, 3, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nhwc)),
        &[&[4, 6, 6, 3], f],
        &[4, 2, 2, 8],
    );
    // Non-square image, filter and strides.
    let x2: &[usize] = &[2, 7, 6, 3];
    let f2: &[usize] = &[3, 2, 3, 4];
    ok(
        &Op::Conv2d(conv([2, 3], Valid, Nhwc)),
        &[x2, f2],
        &[2, 3, 2, 4],
    );
    ok(
        &Op::Conv2d(conv([2, 3], Same, Nhwc)),
        &[x2, f2],
        &[2, 4, 2, 4],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[x2, f2],
        &[2, 5, 5, 4],
    );
    // Window as large as the image.
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[&[1, 3, 3, 1], &[3, 3, 1, 2]],
        &[1, 1, 1, 2],
    );
    // Window larger than the image: only same padding fits.
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nhwc)),
        &[&[1, 2, 2, 3], f],
        &[1, 2, 2, 8],
    );
}

#[test]
fn conv2d_nchw() {
    let x: &[usize] = &[1, 3, 5, 5];
    let f: &[usize] = &[8, 3, 3, 3];
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nchw)),
        &[x, f],
        &[1, 8, 3, 3],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nchw)),
        &[x, f],
        &[1, 8, 5, 5],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nchw)),
        &[x, f],
        &[1, 8, 2, 2],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nchw)),
        &[x, f],
        &[1, 8, 3, 3],
    );
    // [n, c, h, w] = [2, 3, 7, 6]; OIHW filter [4, 3, 3, 2].
    let x2: &[usize] = &[2, 3, 7, 6];
    let f2: &[usize] = &[4, 3, 3, 2];
    ok(
        &Op::Conv2d(conv([2, 3], Valid, Nchw)),
        &[x2, f2],
        &[2, 4, 3, 2],
    );
    ok(
        &Op::Conv2d(conv([2, 3], Same, Nchw)),
        &[x2, f2],
        &[2, 4, 4, 2],
    );
    // An NHWC-shaped pair is wrong in NCHW (channels read from axis 1).
    rejects(
        &Op::Conv2d(conv([1, 1], Valid, Nchw)),
        &[&[1, 5, 5, 3], &[3, 3, 3, 8]],
        &["channels"],
    );
}

#[test]
fn conv2d_rejected() {
    for layout in [Nhwc, Nchw] {
        let op = Op::Conv2d(conv([1, 1], Valid, layout));
        let (x, f_bad): (&[usize], &[usize]) = match layout {
            Nhwc => (&[1, 5, 5, 3], &[3, 3, 4, 8]),
            Nchw => (&[1, 3, 5, 5], &[8, 4, 3, 3]),
        };
        let reason = rejects(
            &op,
            &[x, f_bad],
            &["3 channels", "expects 4", layout.name()],
        );
        assert!(reason.contains("filter"));
        // Window larger than the image with valid padding.
        let (small, f): (&[usize], &[usize]) = match layout {
            Nhwc => (&[1, 2, 2, 3], &[3, 3, 3, 8]),
            Nchw => (&[1, 3, 2, 2], &[8, 3, 3, 3]),
        };
        rejects(&op, &[small, f], &["3x3 window", "2x2 image", "valid"]);
        // Rank errors.
        rejects(&op, &[&[5, 5, 3], f], &["rank 4"]);
        rejects(&op, &[x, &[3, 3, 3]], &["rank 4"]);
        rejects(&op, &[&[1, 1, 5, 5, 3], f], &["rank 4"]);
        // Zero stride.
        let zero = Op::Conv2d(conv([0, 1], Same, layout));
        rejects(&zero, &[x, f], &["strides must be positive"]);
        let zero = Op::Conv2d(conv([1, 0], Valid, layout));
        rejects(&zero, &[x, f], &["strides must be positive"]);
        rejects(&op, &[x], &["takes 2 operand(s), got 1"]);
    }
    // Window taller than the image only along one axis.
    rejects(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[&[1, 2, 9, 1], &[3, 1, 1, 1]],
        &["3x1 window", "2x9 image"],
    );
}

#[test]
fn conv2d_input_grad() {
    let a = conv([1, 1], Valid, Nhwc);
    let op = |a: ConvAttrs, input: &[usize]| Op::Conv2dInputGrad {
        conv: a,
        input_shape: input.to_vec().into(),
    };
    let f: &[usize] = &[3, 3, 3, 8];
    ok(&op(a, &[1, 5, 5, 3]), &[&[1, 3, 3, 8], f], &[1, 5, 5, 3]);
    // Stride 2 same: 5 and 6 both give 3 outputs; input_shape disambiguates.
    let s2 = conv([2, 2], Same, Nhwc);
    ok(&op(s2, &[1, 5, 5, 3]), &[&[1, 3, 3, 8], f], &[1, 5, 5, 3]);
    ok(&op(s2, &[1, 6, 6, 3]), &[&[1, 3, 3, 8], f], &[1, 6, 6, 3]);
    // NCHW.
    let n = conv([2, 1], Valid, Nchw);
    ok(
        &op(n, &[2, 3, 7, 6]),
        &[&[2, 4, 3, 5], &[4, 3, 3, 2]],
        &[2, 3, 7, 6],
    );
    // dy shape mismatch.
    rejects(
        &op(a, &[1, 5, 5, 3]),
        &[&[1, 4, 4, 8], f],
        &["dy has shape [1,4,4,8]", "[1,3,3,8]"],
    );
    rejects(
        &op(a, &[1, 5, 5, 3]),
        &[&[1, 3, 3, 7], f],
        &["dy has shape"],
    );
    // Invalid input_shape or filter.
    rejects(
        &op(a, &[1, 5, 5]),
        &[&[1, 3, 3, 8], f],
        &["input_shape [1,5,5]", "rank 4"],
    );
    rejects(
        &op(a, &[1, 5, 5, 2]),
        &[&[1, 3, 3, 8], f],
        &["input_shape", "channels"],
    );
    rejects(
        &op(a, &[1, 2, 2, 3]),
        &[&[1, 1, 1, 8], f],
        &["input_shape", "does not fit"],
    );
    rejects(
        &op(conv([0, 1], Valid, Nhwc), &[1, 5, 5, 3]),
        &[&[1, 3, 3, 8], f],
        &["strides must be positive"],
    );
}

#[test]
fn conv2d_filter_grad() {
    let a = conv([1, 1], Valid, Nhwc);
    let op = |a: ConvAttrs, filter: &[usize]| Op::Conv2dFilterGrad {
        conv: a,
        filter_shape: filter.to_vec().into(),
    };
    let x: &[usize] = &[1, 5, 5, 3];
    ok(&op(a, &[3, 3, 3, 8]), &[x, &[1, 3, 3, 8]], &[3, 3, 3, 8]);
    ok(
        &op(conv([2, 2], Same, Nhwc), &[2, 2, 3, 1]),
        &[x, &[1, 3, 3, 1]],
        &[2, 2, 3, 1],
    );
    ok(
        &op(conv([1, 1], Same, Nchw), &[8, 3, 3, 3]),
        &[&[1, 3, 5, 5], &[1, 8, 5, 5]],
        &[8, 3, 3, 3],
    );
    rejects(
        &op(a, &[3, 3, 3, 8]),
        &[x, &[1, 3, 3, 4]],
        &["dy has shape [1,3,3,4]", "[1,3,3,8]"],
    );
    rejects(
        &op(a, &[3, 3, 3, 8]),
        &[x, &[1, 5, 5, 8]],
        &["dy has shape [1,5,5,8]"],
    );
    rejects(
        &op(a, &[3, 3, 2, 8]),
        &[x, &[1, 3, 3, 8]],
        &["filter_shape [3,3,2,8]", "channels"],
    );
    rejects(
        &op(a, &[3, 3, 3]),
        &[x, &[1, 3, 3, 8]],
        &["filter_shape", "rank 4"],
    );
}

// ----------------------------------------------------------------- maxpool2d

#[test]
fn maxpool2d() {
    let p = |w, s, pad, l| Op::MaxPool2d(pool(w, s, pad, l));
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nhwc),
        &[&[1, 5, 5, 2]],
        &[1, 3, 3, 2],
    );
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 5, 5, 2]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([3, 3], [1, 1], Same, Nhwc),
        &[&[3, 5, 4, 2]],
        &[3, 5, 4, 2],
    );
    ok(
        &p([3, 2], [1, 2], Valid, Nhwc),
        &[&[1, 5, 5, 1]],
        &[1, 3, 2, 1],
    );
    ok(
        &p([2, 2], [2, 2], Valid, Nchw),
        &[&[1, 2, 5, 5]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nchw),
        &[&[1, 2, 5, 5]],
        &[1, 2, 3, 3],
    );
    ok(
        &p([3, 2], [1, 2], Valid, Nchw),
        &[&[1, 7, 5, 5]],
        &[1, 7, 3, 2],
    );
    // Window larger than the image with same padding is fine.
    ok(
        &p([4, 4], [1, 1], Same, Nhwc),
        &[&[1, 2, 3, 1]],
        &[1, 2, 3, 1],
    );
    for l in [Nhwc, Nchw] {
        rejects(&p([2, 2], [2, 2], Valid, l), &[&[4, 4, 2]], &["rank 4"]);
        rejects(
            &p([2, 2], [0, 2], Valid, l),
            &[&[1, 4, 4, 4]],
            &["strides must be positive"],
        );
        rejects(
            &p([0, 2], [1, 1], Same, l),
            &[&[1, 4, 4, 4]],
            &["0x2 window"],
        );
    }
    rejects(
        &p([3, 3], [1, 1], Valid, Nhwc),
        &[&[1, 2, 2, 5]],
        &["3x3 window", "2x2 image", "valid"],
    );
    rejects(
        &p([3, 3], [1, 1], Valid, Nchw),
        &[&[1, 5, 2, 2]],
        &["3x3 window", "2x2 image"],
    );
    rejects(
        &p([1, 1], [1, 1], Valid, Nhwc),
        &[&[1, 2, 2, 5], &[1, 2, 2, 5]],
        &["takes 1"],
    );
}

#[test]
fn maxpool2d_grad() {
    let p = |w, s, pad, l| Op::MaxPool2dGrad(pool(w, s, pad, l));
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2], &[1, 2, 2, 2]],
        &[1, 4, 4, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nchw),
        &[&[1, 2, 5, 5], &[1, 2, 3, 3]],
        &[1, 2, 5, 5],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2], &[1, 2, 2, 1]],
        &["dy has shape [1,2,2,1]", "[1,2,2,2]"],
    );
    rejects(
        &p([2, 2], [2, 2], Same, Nhwc),
        &[&[1, 5, 5, 2], &[1, 2, 2, 2]],
        &["dy has shape", "[1,3,3,2]"],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[4, 4, 2], &[2, 2, 2]],
        &["rank 4"],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2]],
        &["takes 2"],
    );
}

// ------------------------------------------------- builder: numpy broadcasting

fn broadcast_node(
    g: &Graph,
    v: triceratops_ir::ValueId,
) -> (Vec<usize>, Vec<usize>, triceratops_ir::ValueId) {
    match &g.node(v).kind {
        NodeKind::Op {
            op: Op::Broadcast { shape, dims },
            operands,
        } => (shape.dims().to_vec(), dims.clone(), operands[0]),
        other => panic!("%{} is not a broadcast: {other:?}", g.value_name(v)),
    }
}

#[test]
fn builder_broadcasts_trailing_axes() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [3]).unwrap();
    let y = g.add(a, b).unwrap();
    assert_eq!(*g.ty(y), t(&[2, 3]));
    // Exactly one broadcast node was inserted, for b.
    assert_eq!(g.len(), 4);
    let ops = g.node(y).operands().to_vec();
    assert_eq!(ops[0], a, "an operand of the right shape is used as is");
    assert_eq!(broadcast_node(&g, ops[1]), (vec![2, 3], vec![1], b));
    assert_eq!(g.node(y).op(), Some(&Op::Binary(BinaryOp::Add)));
    triceratops_ir::verify(&g).unwrap();

    // Operand order is kept when the left side is broadcast.
    let y = g.sub(b, a).unwrap();
    let ops = g.node(y).operands().to_vec();
    assert_eq!(broadcast_node(&g, ops[0]), (vec![2, 3], vec![1], b));
    assert_eq!(ops[1], a);
}

#[test]
fn builder_broadcasts_both_sides() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 1]).unwrap();
    let b = g.input("b", [1, 4]).unwrap();
    let y = g.mul(a, b).unwrap();
    assert_eq!(*g.ty(y), t(&[2, 4]));
    let ops = g.node(y).operands().to_vec();
    assert_eq!(broadcast_node(&g, ops[0]), (vec![2, 4], vec![0, 1], a));
    assert_eq!(broadcast_node(&g, ops[1]), (vec![2, 4], vec![0, 1], b));
    assert_eq!(g.len(), 5);
}

#[test]
fn builder_broadcasts_scalars() {
    let mut g = Graph::new("g");
    let s = g.scalar(2.0).unwrap();
    let x = g.input("x", [2, 2]).unwrap();
    let y = g.add(s, x).unwrap();
    assert_eq!(*g.ty(y), t(&[2, 2]));
    let ops = g.node(y).operands().to_vec();
    assert_eq!(broadcast_node(&g, ops[0]), (vec![2, 2], vec![], s));
    assert_eq!(ops[1], x);
    // Rank-3 with rank-1: trailing alignment.
    let z = g.input("z", [4, 1, 3]).unwrap();
    let v = g.input("v", [5, 1]).unwrap();
    let y = g.maximum(z, v).unwrap();
    assert_eq!(*g.ty(y), t(&[4, 5, 3]));
    let ops = g.node(y).operands().to_vec();
    assert_eq!(
        broadcast_node(&g, ops[0]),
        (vec![4, 5, 3], vec![0, 1, 2], z)
    );
    assert_eq!(broadcast_node(&g, ops[1]), (vec![4, 5, 3], vec![1, 2], v));
    triceratops_ir::verify(&g).unwrap();
}

#[test]
fn builder_rejects_incompatible_broadcasts() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [4]).unwrap();
    let before = g.len();
    let err = g.add(a, b).unwrap_err();
    let reason = check_type_error(&err, "add", &[&[2, 3], &[4]], &["broadcast"]);
    assert!(!reason.is_empty());
    assert_eq!(g.len(), before, "a failed build adds no nodes");
    let err = g.compare(CmpOp::Gt, a, b).unwrap_err();
    check_type_error(&err, "gt", &[&[2, 3], &[4]], &["broadcast"]);
    let c = g.input("c", [3, 3]).unwrap();
    let err = g.select(a, c, a).unwrap_err();
    check_type_error(&err, "select", &[&[2, 3], &[3, 3], &[2, 3]], &["broadcast"]);
    // broadcast_to a lower rank.
    let err = g.broadcast_to(a, [3]).unwrap_err();
    check_type_error(&err, "broadcast", &[&[2, 3]], &["[3]"]);
}

#[test]
fn builder_compare_and_select_broadcast() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 3]).unwrap();
    let zero = g.scalar(0.0).unwrap();
    let m = g.compare(CmpOp::Ge, a, zero).unwrap();
    assert_eq!(*g.ty(m), t(&[2, 3]));
    let mask = g.input("mask", [2, 1]).unwrap();
    let on_true = g.scalar(1.0).unwrap();
    let y = g.select(mask, on_true, a).unwrap();
    assert_eq!(*g.ty(y), t(&[2, 3]));
    let ops = g.node(y).operands().to_vec();
    assert_eq!(broadcast_node(&g, ops[0]), (vec![2, 3], vec![0, 1], mask));
    assert_eq!(broadcast_node(&g, ops[1]), (vec![2, 3], vec![], on_true));
    assert_eq!(ops[2], a);
    // broadcast_to the same shape is the identity (no node added).
    let before = g.len();
    assert_eq!(g.broadcast_to(a, [2, 3]).unwrap(), a);
    assert_eq!(g.len(), before);
    triceratops_ir::verify(&g).unwrap();
}

#[test]
fn builder_reports_type_errors_of_every_op() {
    let mut g = Graph::new("g");
    let a = g.input("a", [2, 3]).unwrap();
    let b = g.input("b", [4, 5]).unwrap();
    let err = g.matmul(a, b).unwrap_err();
    check_type_error(&err, "matmul", &[&[2, 3], &[4, 5]], &["contracting"]);
    assert!(err.to_string().contains("matmul") && err.to_string().contains("f32[2,3]"));
    let err = g.reshape(a, [7]).unwrap_err();
    check_type_error(&err, "reshape", &[&[2, 3]], &["6 elements"]);
    let err = g.transpose(a, &[0, 0]).unwrap_err();
    check_type_error(&err, "transpose", &[&[2, 3]], &["permutation"]);
    let err = g.slice(a, &[0, 0], &[3, 3]).unwrap_err();
    check_type_error(&err, "slice", &[&[2, 3]], &["axis 0"]);
    let err = g.pad(a, &[0], &[0]).unwrap_err();
    check_type_error(&err, "pad", &[&[2, 3]], &["low"]);
    let err = g.broadcast_in_dim(a, [2, 3, 4], vec![0, 2]).unwrap_err();
    check_type_error(&err, "broadcast", &[&[2, 3]], &["extent 3"]);
    let err = g.conv2d(a, b, conv([1, 1], Valid, Nhwc)).unwrap_err();
    check_type_error(&err, "conv2d", &[&[2, 3], &[4, 5]], &["rank 4"]);
    let err = g
        .maxpool2d(a, pool([2, 2], [1, 1], Valid, Nhwc))
        .unwrap_err();
    check_type_error(&err, "maxpool2d", &[&[2, 3]], &["rank 4"]);
    let err = g.push_op(Op::MatMul, &[a]).unwrap_err();
    check_type_error(&err, "matmul", &[&[2, 3]], &["takes 2 operand(s), got 1"]);
    // Unknown operand: a graph error, not a type error.
    let err = g
        .push_op(Op::Unary(UnaryOp::Neg), &[triceratops_ir::ValueId(99)])
        .unwrap_err();
    assert!(
        matches!(&err, IrError::Graph(m) if m.contains("neg") && m.contains("99")),
        "{err}"
    );
    let err = g.add(a, triceratops_ir::ValueId(99)).unwrap_err();
    assert!(
        matches!(&err, IrError::Graph(m) if m.contains("99")),
        "{err}"
    );
    assert_eq!(g.len(), 2);
}

#[test]
fn builder_types_of_every_op_agree_with_inference() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2, 6, 6, 3]).unwrap();
    let w = g.param("w", [3, 3, 3, 4]).unwrap();
    let y = g.conv2d(x, w, conv([2, 2], Same, Nhwc)).unwrap();
    assert_eq!(*g.ty(y), t(&[2, 3, 3, 4]));
    let dx = g
        .conv2d_input_grad(y, w, conv([2, 2], Same, Nhwc), [2, 6, 6, 3])
        .unwrap();
    assert_eq!(*g.ty(dx), t(&[2, 6, 6, 3]));
    let dw = g
        .conv2d_filter_grad(x, y, conv([2, 2], Same, Nhwc), [3, 3, 3, 4])
        .unwrap();
    assert_eq!(*g.ty(dw), t(&[3, 3, 3, 4]));
    let pa = pool([2, 2], [2, 2], Valid, Nhwc);
    let p = g.maxpool2d(x, pa).unwrap();
    assert_eq!(*g.ty(p), t(&[2, 3, 3, 3]));
    let pg = g.maxpool2d_grad(x, p, pa).unwrap();
    assert_eq!(*g.ty(pg), t(&[2, 6, 6, 3]));
    let r = g.reshape(p, [18, 3]).unwrap();
    let tr = g.transpose(r, &[1, 0]).unwrap();
    assert_eq!(*g.ty(tr), t(&[3, 18]));
    let mm = g.matmul(tr, r).unwrap();
    assert_eq!(*g.ty(mm), t(&[3, 3]));
    let pd = g.pad(mm, &[1, 0], &[2, 3]).unwrap();
    assert_eq!(*g.ty(pd), t(&[6, 6]));
    let sl = g.slice(pd, &[1, 2], &[4, 6]).unwrap();
    assert_eq!(*g.ty(sl), t(&[3, 4]));
    let pw = g.pow(sl, 3.0).unwrap();
    assert_eq!(*g.ty(pw), t(&[3, 4]));
    let b = g.broadcast_in_dim(pw, [3, 2, 4], vec![0, 2]).unwrap();
    assert_eq!(*g.ty(b), t(&[3, 2, 4]));
    triceratops_ir::verify(&g).unwrap();
}

// ------------------------------------------------- properties vs closed forms

/// Output extent of one axis, written independently of `geometry::window`.
fn expected_extent(input: usize, k: usize, s: usize, same: bool) -> Option<usize> {
    if same {
        Some(input.div_ceil(s))
    } else if input >= k {
        Some((input - k) / s + 1)
    } else {
        None
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn conv2d_output_extents(
        n in 1usize..4, h in 1usize..12, w in 1usize..12, c in 1usize..5, o in 1usize..5,
        kh in 1usize..6, kw in 1usize..6, sh in 1usize..4, sw in 1usize..4,
        same in any::<bool>(), nchw in any::<bool>(),
    ) {
        let padding = if same { Same } else { Valid };
        let layout = if nchw { Nchw } else { Nhwc };
        let (x, f) = if nchw {
            (vec![n, c, h, w], vec![o, c, kh, kw])
        } else {
            (vec![n, h, w, c], vec![kh, kw, c, o])
        };
        let op = Op::Conv2d(conv([sh, sw], padding, layout));
        let got = infer(&op, &[&x, &f]);
        match (expected_extent(h, kh, sh, same), expected_extent(w, kw, sw, same)) {
            (Some(oh), Some(ow)) => {
                let want = if nchw { vec![n, o, oh, ow] } else { vec![n, oh, ow, o] };
                prop_assert_eq!(got.unwrap(), t(&want));
                // The gradients accept that dy and give back the image/filter.
                let dy = want;
                let ig = Op::Conv2dInputGrad { conv: conv([sh, sw], padding, layout), input_shape: x.clone().into() };
                prop_assert_eq!(infer(&ig, &[&dy, &f]).unwrap(), t(&x));
                let fg = Op::Conv2dFilterGrad { conv: conv([sh, sw], padding, layout), filter_shape: f.clone().into() };
                prop_assert_eq!(infer(&fg, &[&x, &dy]).unwrap(), t(&f));
            }
            _ => {
                prop_assert!(!same);
                let reason = match got.unwrap_err() { IrError::Type { reason, .. } => reason, e => panic!("{e:?}") };
                prop_assert!(reason.contains("does not fit"), "{}", reason);
            }
        }
        let pa = pool([kh, kw], [sh, sw], padding, layout);
        let got = infer(&Op::MaxPool2d(pa), &[&x]);
        match (expected_extent(h, kh, sh, same), expected_extent(w, kw, sw, same)) {
            (Some(oh), Some(ow)) => {
                let want = if nchw { vec![n, c, oh, ow] } else { vec![n, oh, ow, c] };
                prop_assert_eq!(got.unwrap(), t(&want));
                prop_assert_eq!(infer(&Op::MaxPool2dGrad(pa), &[&x, &want]).unwrap(), t(&x));
            }
            _ => prop_assert!(got.is_err()),
        }
    }

    #[test]
    fn reduce_shapes(dims in prop::collection::vec(1usize..5, 0..5), mask in any::<u8>(), keepdims in any::<bool>()) {
        let axes: Vec<usize> = (0..dims.len()).filter(|i| mask & (1 << i) != 0).collect();
        let mut want = Vec::new();
        for (i, &d) in dims.iter().enumerate() {
            if !axes.contains(&i) {
                want.push(d);
            } else if keepdims {
                want.push(1);
            }
        }
        let op = Op::ReduceSum { axes: axes.clone(), keepdims };
        prop_assert_eq!(infer(&op, &[&dims]).unwrap(), t(&want));
        let op = Op::ReduceMax { axes, keepdims };
        prop_assert_eq!(infer(&op, &[&dims]).unwrap(), t(&want));
    }

    #[test]
    fn numpy_broadcast_shapes(a in prop::collection::vec(1usize..4, 0..4), b in prop::collection::vec(1usize..4, 0..4)) {
        // Independent numpy rule: align right; extents equal or one of them 1.
        let rank = a.len().max(b.len());
        let at = |s: &[usize], i: usize| if i + s.len() >= rank { s[i + s.len() - rank] } else { 1 };
        let mut want = Some(Vec::new());
        for i in 0..rank {
            let (x, y) = (at(&a, i), at(&b, i));
            match (&mut want, x == y || x == 1 || y == 1) {
                (Some(v), true) => v.push(x.max(y)),
                _ => want = None,
            }
        }
        let mut g = Graph::new("g");
        let va = g.input("a", a.clone()).unwrap();
        let vb = g.input("b", b.clone()).unwrap();
        match (g.add(va, vb), want) {
            (Ok(y), Some(want)) => {
                prop_assert_eq!(g.ty(y).clone(), t(&want));
                triceratops_ir::verify(&g).unwrap();
            }
            (Err(e), None) => {
                let is_type = matches!(e, IrError::Type { .. });
                prop_assert!(is_type, "{:?}", e);
            }
            (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
        }
    }
}
