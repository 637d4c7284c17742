//! Users and liveness: what a kernel planner and a memory planner read off
//! a graph.

use triceratops_ir::analysis::{default_schedule, LastUse, Liveness, Users};
use triceratops_ir::{Graph, IrError, OpClass, ValueId};

/// `p: param`, `x: input`; `a = mul x, p`, `b = exp a`, `c = add a, b`,
/// `d = neg a` (dead); output `c`, update `p <- b`.
fn graph() -> (Graph, [ValueId; 6]) {
    let mut g = Graph::new("live");
    let p = g.param("p", [4]).unwrap();
    let x = g.input("x", [4]).unwrap();
    let a = g.mul(x, p).unwrap();
    let b = g.exp(a).unwrap();
    let c = g.add(a, b).unwrap();
    let d = g.neg(a).unwrap();
    g.add_output("c", c).unwrap();
    g.add_update(p, b).unwrap();
    (g, [p, x, a, b, c, d])
}

#[test]
fn users_lists_each_reader_once_in_node_order() {
    let mut g = Graph::new("u");
    let x = g.input("x", [2]).unwrap();
    let sq = g.mul(x, x).unwrap();
    let e = g.exp(x).unwrap();
    let s = g.add(sq, e).unwrap();
    let users = Users::new(&g);
    assert_eq!(users.of(x), [sq, e]);
    assert_eq!(users.count(sq), 1);
    assert_eq!(users.of(s), []);
}

#[test]
fn liveness_over_the_node_order() {
    let (g, [p, x, a, b, c, d]) = graph();
    let schedule = default_schedule(&g);
    assert_eq!(schedule, [a, b, c, d]);
    let l = Liveness::new(&g, &schedule).unwrap();
    assert_eq!(l.defined(p), None, "arguments exist before the run");
    assert_eq!(l.defined(b), Some(1));
    // p is read last by `a` (position 0), so its in-place write may come
    // any time after; b is its new value and lives to the end.
    assert_eq!(l.last_use(p), LastUse::At(0));
    assert_eq!(l.last_use(x), LastUse::At(0));
    assert_eq!(l.last_use(a), LastUse::At(3));
    assert_eq!(l.last_use(b), LastUse::End);
    assert_eq!(l.last_use(c), LastUse::End);
    assert_eq!(l.last_use(d), LastUse::Never);
    assert!(l.is_live_at(a, 2));
    assert!(!l.is_live_at(x, 1));
    assert!(l.is_live_at(d, 3) && !l.is_live_at(d, 2));
}

#[test]
fn a_schedule_may_drop_dead_ops_and_reorder_independent_ones() {
    let (g, [_, _, a, b, c, _]) = graph();
    let l = Liveness::new(&g, &[a, b, c]).unwrap();
    assert_eq!(l.last_use(a), LastUse::At(2));
}

#[test]
fn bad_schedules_are_rejected() {
    let (g, [p, _, a, b, c, _]) = graph();
    let reason = |r: Result<Liveness, IrError>| match r {
        Err(IrError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    };
    assert!(reason(Liveness::new(&g, &[b, a, c])).contains("before its operand %2"));
    assert!(reason(Liveness::new(&g, &[a, b])).contains("needed but not scheduled"));
    assert!(reason(Liveness::new(&g, &[a, a, b, c])).contains("scheduled twice"));
    assert!(reason(Liveness::new(&g, &[p, a, b, c])).contains("only ops"));
    assert!(matches!(
        Liveness::new(&g, &[ValueId::new(50)]),
        Err(IrError::UnknownValue { index: 50, .. })
    ));
}

#[test]
fn op_classes_come_from_the_op_table() {
    let mut g = Graph::new("classes");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [3, 4]).unwrap();
    let m = g.matmul(x, w).unwrap();
    let t = g.transpose(m, &[1, 0]).unwrap();
    let r = g.reshape(t, [8]).unwrap();
    let s = g.reduce_sum(r, &[0], false).unwrap();
    let e = g.exp(s).unwrap();
    let class = |v: ValueId| g.node(v).op().map(|op| op.class());
    assert_eq!(class(x), None);
    assert_eq!(class(m), Some(OpClass::Contraction));
    assert_eq!(class(t), Some(OpClass::Movement));
    assert_eq!(class(r), Some(OpClass::View));
    assert_eq!(class(s), Some(OpClass::Reduce));
    assert_eq!(class(e), Some(OpClass::Elementwise));
}
