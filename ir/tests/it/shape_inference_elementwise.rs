//! Shape inference of the elementwise ops: unary ops and `pow` keep the
//! shape, binary/compare/select need identical shapes (no implicit
//! broadcasting in the IR), and the named unary builder methods produce the
//! named op. Expected shapes are written out by hand.

use triceratops_ir::{BinaryOp, CmpOp, Graph, Op, UnaryOp};

use crate::interp_support::types::{ok, rejects, t};

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
    let op = Op::pow(2.5);
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
