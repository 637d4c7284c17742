//! The graph builder's numpy-style broadcasting: which `broadcast` nodes it
//! inserts for binary, compare and select operands (trailing alignment,
//! scalars, both sides, operand order), the errors for incompatible shapes,
//! and the result shape against an independent numpy rule on random shapes.

use proptest::prelude::*;
use triceratops_ir::{BinaryOp, CmpOp, Graph, IrError, NodeKind, Op};

use crate::interp_support::types::{check_type_error, t};

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

// ---------------------------------------------- properties vs the numpy rule

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

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
