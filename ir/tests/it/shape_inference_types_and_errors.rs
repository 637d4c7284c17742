//! The vocabulary of shape inference and how the builder applies it to every
//! op: `TensorType` display/numel/rank, op names and arities, the exact text
//! of an `IrError::Type`, the builder reporting each op's type errors (and
//! adding no node), and builder result types agreeing with inference.

use triceratops_ir::{BinaryOp, CmpOp, Graph, IrError, Layout, Op, Padding, UnaryOp};

use crate::interp_support::types::{check_type_error, infer, t};
use crate::interp_support::{conv, pool};
use Layout::Nhwc;
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
    let err = infer(&Op::MATMUL, &[&[2, 3], &[4, 5]]).unwrap_err();
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
    assert_eq!(Op::MATMUL.arity(), 2);
    assert_eq!(Op::pow(2.0).arity(), 1);
    assert!(Op::Select.is_elementwise());
    assert!(Op::pow(2.0).is_elementwise());
    assert!(!Op::MATMUL.is_elementwise());
    assert!(!Op::Reshape { shape: [1].into() }.is_elementwise());
}

// --------------------------------------------------------- builder: every op

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
    let err = g.push_op(Op::MATMUL, &[a]).unwrap_err();
    check_type_error(&err, "matmul", &[&[2, 3]], &["takes 2 operand(s), got 1"]);
    // Unknown operand: a graph error, not a type error.
    let err = g
        .push_op(Op::Unary(UnaryOp::Neg), &[triceratops_ir::ValueId::new(99)])
        .unwrap_err();
    assert!(
        matches!(&err, IrError::UnknownValue { index: 99, .. }),
        "{err}"
    );
    let err = g.add(a, triceratops_ir::ValueId::new(99)).unwrap_err();
    assert!(
        matches!(&err, IrError::UnknownValue { index: 99, .. }),
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
