//! `canonicalize`: dead code goes, identical `(op, operands)` and equal
//! constants are shared, and the calling convention (arguments and their
//! order, outputs, update targets) and the computed values are unchanged.

use std::collections::HashSet;

use proptest::prelude::*;
use triceratops_ir::analysis::live_values;
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::testing::{arb_graph, random_inputs};
use triceratops_ir::text::{parse, print};
use triceratops_ir::{
    canonicalize, grad, verify, ConstId, Constant, F32Bits, Graph, NodeKind, Role, TensorType,
};

fn ops(g: &Graph) -> Vec<&str> {
    g.nodes()
        .iter()
        .filter_map(|n| n.op().map(|o| o.name()))
        .collect()
}

#[test]
fn identical_ops_and_constants_are_shared() {
    let mut g = Graph::new("dup");
    let x = g.input("x", [3]).unwrap();
    let one_a = g.scalar(1.0).unwrap();
    let one_b = g.scalar(1.0).unwrap();
    let a = g.add(x, one_a).unwrap();
    let b = g.add(x, one_b).unwrap();
    let s = g.mul(a, b).unwrap();
    g.add_output("s", s).unwrap();
    let c = canonicalize(&g);
    assert_eq!(
        print(&c),
        "graph dup {\n  input %x: f32[3]\n  const %c1: f32[] = 1.0\n  \
         %3: f32[3] = broadcast %c1, shape=[3], dims=[]\n  %4: f32[3] = add %x, %3\n  \
         %7: f32[3] = mul %4, %4\n  output s = %7\n}\n"
    );
}

#[test]
fn dead_values_go_but_every_argument_stays_in_order() {
    let mut g = Graph::new("dead");
    let unused = g.param("unused", [2]).unwrap();
    let x = g.input("x", [2]).unwrap();
    let s = g.state("s", []).unwrap();
    let dead = g.exp(x).unwrap();
    let _dead_too = g.neg(dead).unwrap();
    let _dead_const = g.scalar(7.0).unwrap();
    let y = g.relu(x).unwrap();
    g.add_output("y", y).unwrap();
    let c = canonicalize(&g);
    let args: Vec<(&str, Role)> = c
        .arguments()
        .map(|v| (c.value_name(v), c.node(v).role().unwrap()))
        .collect();
    assert_eq!(
        args,
        [
            ("unused", Role::Param),
            ("x", Role::Input),
            ("s", Role::State)
        ]
    );
    assert_eq!(ops(&c), ["relu"]);
    assert!(c.constants().is_empty(), "the dead constant left the pool");
    let _ = (unused, s);
}

#[test]
fn a_readable_name_survives_the_merge() {
    let mut g = Graph::new("names");
    let x = g.input("x", [2]).unwrap();
    let first = g.exp(x).unwrap(); // automatic name
    let second = g.exp(x).unwrap();
    g.rename(second, "loss").unwrap();
    let sum = g.add(first, second).unwrap();
    g.add_output("out", sum).unwrap();
    let c = canonicalize(&g);
    let text = print(&c);
    assert!(text.contains("%loss: f32[2] = exp %x"), "{text}");
    assert!(text.contains("add %loss, %loss"), "{text}");
}

#[test]
fn constants_differ_by_bits_and_by_type() {
    let mut g = Graph::new("bits");
    let x = g.input("x", []).unwrap();
    let pos = g.scalar(0.0).unwrap();
    let neg = g.scalar(-0.0).unwrap();
    let a = g.add(x, pos).unwrap();
    let b = g.add(x, neg).unwrap();
    let wide = g
        .constant("wide", TensorType::f32([2]), vec![0.0, 0.0])
        .unwrap();
    g.add_output("a", a).unwrap();
    g.add_output("b", b).unwrap();
    g.add_output("w", wide).unwrap();
    let c = canonicalize(&g);
    // +0 and -0 stay apart (x + -0 is x, x + +0 turns -0 into +0); the
    // [2]-shaped zeros are another node but share the pool entry of +0.
    let consts = c
        .nodes()
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Const(_)))
        .count();
    assert_eq!(consts, 3);
    assert_eq!(c.constants().len(), 2);
}

#[test]
fn dense_data_with_equal_elements_is_the_splat() {
    // A pass may hand `from_parts` a pool with the same tensor twice, once
    // dense and once as a splat; canonicalize merges them.
    let mut g = Graph::new("pool");
    let x = g.input("x", [3]).unwrap();
    let a = g.constant("a", TensorType::f32([3]), vec![2.0; 3]).unwrap();
    let b = g.constant("b", TensorType::f32([3]), vec![2.0; 3]).unwrap();
    let sa = g.add(x, a).unwrap();
    let sb = g.add(x, b).unwrap();
    g.add_output("a", sa).unwrap();
    g.add_output("b", sb).unwrap();
    let mut parts = g.into_parts();
    assert_eq!(
        parts.constants,
        [Constant::splat(2.0)],
        "the builder interns"
    );
    parts
        .constants
        .push(Constant::Dense(vec![F32Bits::new(2.0); 3].into()));
    parts.nodes[b.index()].kind = NodeKind::Const(ConstId::new(1));
    let g = Graph::from_parts(parts).unwrap();
    assert_ne!(g.node(a).kind, g.node(b).kind);
    let c = canonicalize(&g);
    assert_eq!(c.constants(), [Constant::splat(2.0)]);
    assert_eq!(ops(&c), ["add"], "{}", print(&c));
}

#[test]
fn nan_payloads_and_signs_stay_apart() {
    // Hash-consing compares bits: two different NaNs are two constants.
    let mut g = Graph::new("nan");
    let x = g.input("x", []).unwrap();
    let quiet = g.scalar(f32::NAN).unwrap();
    let other = g.scalar(f32::from_bits(0x7fc0_0001)).unwrap();
    let same = g.scalar(f32::NAN).unwrap();
    for (i, c) in [quiet, other, same].into_iter().enumerate() {
        let s = g.add(x, c).unwrap();
        g.add_output(&format!("o{i}"), s).unwrap();
    }
    let c = canonicalize(&g);
    assert_eq!(c.constants().len(), 2);
    assert_eq!(ops(&c), ["add", "add"]);
}

#[test]
fn one_value_may_update_several_targets() {
    let mut g = Graph::new("shared");
    let p = g.param("p", [2]).unwrap();
    let q = g.state("q", [2]).unwrap();
    let a = g.exp(p).unwrap();
    let b = g.exp(p).unwrap();
    g.add_update(p, a).unwrap();
    g.add_update(q, b).unwrap();
    let c = canonicalize(&g);
    let u = c.updates();
    assert_eq!(u.len(), 2);
    assert_eq!(u[0].value, u[1].value, "the two exps are one node");
    assert_eq!(c.value_name(u[1].target), "q");
}

#[test]
fn outputs_and_updates_keep_their_names_and_targets() {
    let mut g = Graph::new("upd");
    let p = g.param("p", [2]).unwrap();
    let lr = g.input("lr", []).unwrap();
    let step = g.mul(p, lr).unwrap();
    let step_again = g.mul(p, lr).unwrap();
    let new = g.sub(p, step).unwrap();
    g.add_output("step", step_again).unwrap();
    g.add_update(p, new).unwrap();
    let c = canonicalize(&g);
    assert_eq!(c.outputs().len(), 1);
    let (name, v) = &c.outputs()[0];
    assert_eq!(name, "step");
    let u = c.updates()[0];
    assert_eq!(c.value_name(u.target), "p");
    assert_eq!(
        c.node(u.value).operands()[1],
        *v,
        "the output is the shared mul"
    );
}

#[test]
fn the_autodiff_seed_and_repeated_helpers_disappear() {
    // A mean-reduced loss, as every Keras loss is: its VJP never reads the
    // seed `1.0` of d loss/d loss; both relu rules mint a 0 and broadcast it.
    let mut g = Graph::new("relu2");
    let w = g.param("w", [4]).unwrap();
    let h = g.relu(w).unwrap();
    let h2 = g.relu(h).unwrap();
    let loss = g.mean(h2, &[0], false).unwrap();
    let dw = grad(&mut g, loss, &[w]).unwrap()[0];
    g.add_output("loss", loss).unwrap();
    g.add_output("dw", dw).unwrap();
    let count = |g: &Graph, text: &str| print(g).matches(text).count();
    assert_eq!(count(&g, "= 1.0\n"), 1, "{}", print(&g));
    assert_eq!(count(&g, "= 0.0\n"), 2, "{}", print(&g));
    let c = canonicalize(&g);
    let text = print(&c);
    assert_eq!(count(&c, "= 1.0\n"), 0, "{text}");
    assert_eq!(count(&c, "= 0.0\n"), 1, "{text}");
    assert_eq!(
        ops(&c).iter().filter(|o| **o == "broadcast").count(),
        2,
        "one broadcast of 0 shared by both masks, one of the loss gradient: {text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn canonical_graphs_compute_the_same_values(g in arb_graph(), seed in any::<u64>()) {
        let c = canonicalize(&g);
        verify(&c).unwrap();
        let inputs: Inputs<f32> = random_inputs(&g, seed);
        let before = evaluate(&g, &inputs).unwrap();
        let after = evaluate(&c, &inputs).unwrap();
        let bits = |a: ndarray::ArrayViewD<f32>| -> Vec<u32> {
            a.iter().map(|v| if v.is_nan() { f32::NAN.to_bits() } else { v.to_bits() }).collect()
        };
        for (name, _) in g.outputs() {
            prop_assert_eq!(bits(before.output(name).unwrap()), bits(after.output(name).unwrap()), "output {}", name);
        }
        let new: Vec<_> = after.updates().map(|(n, a)| (n.to_string(), bits(a))).collect();
        let old: Vec<_> = before.updates().map(|(n, a)| (n.to_string(), bits(a))).collect();
        prop_assert_eq!(old, new);
    }

    #[test]
    fn canonical_graphs_are_minimal_and_stable(g in arb_graph()) {
        let c = canonicalize(&g);
        // Same arguments, in the same order, with the same names and types.
        let sig = |g: &Graph| -> Vec<(String, TensorType)> {
            g.arguments().map(|v| (g.value_name(v).to_string(), g.ty(v).clone())).collect()
        };
        prop_assert_eq!(sig(&g), sig(&c));
        // Nothing dead, nothing duplicated.
        let live = live_values(&c);
        let mut seen_ops = HashSet::new();
        let mut seen_consts = HashSet::new();
        for v in c.ids() {
            let node = c.node(v);
            match &node.kind {
                NodeKind::Arg(_) => {}
                NodeKind::Const(_) => {
                    prop_assert!(live[v.index()]);
                    prop_assert!(seen_consts.insert((node.ty.clone(), c.const_value(v).unwrap().clone())));
                }
                NodeKind::Op { op, operands } => {
                    prop_assert!(live[v.index()]);
                    prop_assert!(seen_ops.insert((op.clone(), operands.clone())));
                }
            }
        }
        // Idempotent, and still printable and parseable.
        let text = print(&c);
        prop_assert_eq!(&print(&canonicalize(&c)), &text);
        prop_assert_eq!(&print(&parse(&text).unwrap()), &text);
    }
}
