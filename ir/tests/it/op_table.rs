//! The op table drives the text format, and ops are `Eq + Ord + Hash` with
//! floats compared by bits.

use std::collections::HashSet;

use triceratops_ir::text::{parse, print};
use triceratops_ir::{AttrValue, F32Bits, Graph, Op, OpKind, Props, TensorType};

#[test]
fn every_op_kind_has_a_unique_name_and_parses_by_it() {
    let names: HashSet<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), OpKind::ALL.len());
    for &kind in OpKind::ALL {
        assert_eq!(OpKind::from_name(kind.name()), Some(kind));
        let text = format!(
            "graph g {{\n  input %x: f32[2]\n  %y: f32[2] = {} %x\n}}\n",
            kind.name()
        );
        // Whatever the op, the parser knows it: the error (if any) is about
        // operands or attributes, never an unknown op.
        if let Err(e) = parse(&text) {
            assert!(!e.to_string().contains("unknown op"), "{kind}: {e}");
        }
    }
}

#[test]
fn printed_attributes_follow_the_schema() {
    let mut g = Graph::new("attrs");
    let x = g.input("x", [1, 4, 4, 2]).unwrap();
    let p = g.pow(x, 1.5).unwrap();
    let r = g.reduce_max(p, &[1, 2], true).unwrap();
    g.add_output("r", r).unwrap();
    let text = print(&g);
    assert!(text.contains("pow %x, exponent=1.5"), "{text}");
    assert!(
        text.contains("reduce_max %1, axes=[1,2], keepdims=true"),
        "{text}"
    );
    let op = g.node(r).op().unwrap();
    let keys: Vec<&str> = op.kind().attrs().iter().map(|a| a.key).collect();
    assert_eq!(keys, ["axes", "keepdims"]);
    assert_eq!(
        op.attrs(),
        [AttrValue::Ints(vec![1, 2]), AttrValue::Bool(true)]
    );
}

#[test]
fn ops_hash_and_compare_floats_by_bits() {
    let set: HashSet<Op> = [
        Op::pow(0.0),
        Op::pow(-0.0),
        Op::pow(f32::NAN),
        Op::pow(f32::NAN),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 3, "+0 and -0 differ; a NaN equals itself");
    assert_ne!(F32Bits::new(0.0), F32Bits::new(-0.0));
    assert_eq!(F32Bits::new(f32::NAN), F32Bits::new(f32::NAN));
    assert_eq!(F32Bits::new(1.5).get(), 1.5);
    // A total order: sorting any permutation gives one sequence.
    let mut a = [Op::MatMul, Op::pow(2.0), Op::Select, Op::pow(-0.0)];
    let mut b = [Op::pow(-0.0), Op::Select, Op::pow(2.0), Op::MatMul];
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn properties_rules_need_are_in_the_table() {
    assert!(OpKind::Add.has(Props::COMMUTATIVE.union(Props::ASSOCIATIVE)));
    assert!(OpKind::Max.has(Props::IDEMPOTENT));
    assert!(OpKind::Neg.has(Props::INVOLUTION));
    assert!(OpKind::Gt.has(Props::MASK.union(Props::NOT_DIFFERENTIABLE)));
    assert!(!OpKind::Div.has(Props::COMMUTATIVE));
    assert!(OpKind::Broadcast.class().is_data_movement());
    assert!(OpKind::Reshape.class().is_data_movement());
}

#[test]
fn constants_live_in_an_interned_pool() {
    let mut g = Graph::new("pool");
    let a = g.constant("a", TensorType::f32([3]), vec![1.0; 3]).unwrap();
    let b = g.scalar(1.0).unwrap();
    let c = g
        .constant("c", TensorType::f32([2]), vec![1.0, 2.0])
        .unwrap();
    let d = g
        .constant("d", TensorType::f32([2]), vec![1.0, 2.0])
        .unwrap();
    // All-equal data is a splat, shared with the scalar; equal dense data
    // is stored once.
    assert_eq!(g.constants().len(), 2);
    assert_eq!(g.const_value(a), g.const_value(b));
    assert_eq!(g.const_value(c), g.const_value(d));
    assert_eq!(g.const_value(a).unwrap().as_splat(), Some(1.0));
    let text = print(&g);
    assert!(text.contains("const %a: f32[3] = splat(1.0)"), "{text}");
    assert!(text.contains("const %c: f32[2] = [1.0, 2.0]"), "{text}");
    assert_eq!(print(&parse(&text).unwrap()), text);
}
