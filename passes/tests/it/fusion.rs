//! Rule set 4, fusion: bit-identical and deterministic on random graphs;
//! never a cycle between kernels; broadcasts become index maps; a
//! reduction stays its own op between two kernels.

use proptest::prelude::*;
use triceratops_ir::testing::arb_graph;
use triceratops_ir::text::print;
use triceratops_ir::{Graph, Op};
use triceratops_passes::fusion::fuse;
use triceratops_passes::{graph_cost, optimize, PassOptions};

use crate::support::assert_same_bits;

fn fused_nodes(g: &Graph) -> usize {
    g.ids()
        .filter(|&v| matches!(g.node(v).op(), Some(Op::Fused { .. })))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fusion_is_bit_identical_and_deterministic(g in arb_graph(), seed in any::<u64>()) {
        let (a, _) = fuse(&g);
        let (b, _) = fuse(&g);
        prop_assert_eq!(print(&a), print(&b));
        triceratops_ir::verify(&a).expect("a fused graph verifies");
        assert_same_bits(&g, &a, seed);
        prop_assert!(graph_cost(&a).kernels <= graph_cost(&g).kernels);
        // Fusing again finds nothing new to fuse into a kernel.
        let (again, stats) = fuse(&a);
        prop_assert_eq!(stats.kernels, 0, "{}", print(&a));
        prop_assert_eq!(print(&again), print(&a));
    }

    #[test]
    fn all_phases_with_fusion_are_bit_identical(g in arb_graph(), seed in any::<u64>()) {
        let exact = PassOptions { numerics: false, ..PassOptions::default() };
        let (opt, report) = optimize(&g, &exact).unwrap();
        prop_assert_eq!(report.phases.last().unwrap().rule_set.as_str(), "fusion");
        assert_same_bits(&g, &opt, seed);
    }
}

/// `exp(x) / broadcast(sum(exp(x)))`: the division cannot join `exp`'s
/// kernel (the path through `reduce_sum` would be a cycle), so `exp` and
/// the division are two kernels around the reduction.
#[test]
fn a_reduction_between_two_elementwise_ops_is_not_a_cycle() {
    let mut g = Graph::new("softmax");
    let x = g.input("x", [2, 3]).unwrap();
    let e = g.exp(x).unwrap();
    let s = g.reduce_sum(e, &[1], true).unwrap();
    let b = g.broadcast_to(s, [2, 3]).unwrap();
    let d = g.div(e, b).unwrap();
    let r = g.relu(d).unwrap();
    g.add_output("out", r).unwrap();
    let (f, stats) = fuse(&g);
    assert_eq!(stats.refused, 1, "{}", print(&f));
    let text = print(&f);
    assert!(text.contains("reduce_sum"), "{text}");
    assert!(
        !text.contains("broadcast %"),
        "the broadcast is a map: {text}"
    );
    assert_eq!(fused_nodes(&f), 1, "exp alone stays an op: {text}");
    assert_same_bits(&g, &f, 3);
}

/// `p - lr * g` and `m * 0.9 + g`: one kernel, two results, reading the
/// scalar learning rate through a `[]` map.
#[test]
fn an_update_is_one_kernel_with_every_slot_as_a_result() {
    let mut g = Graph::new("update");
    let p = g.param("p", [4, 3]).unwrap();
    let grad = g.input("g", [4, 3]).unwrap();
    let m = g.param("m", [4, 3]).unwrap();
    let lr = g.input("lr", Vec::<usize>::new()).unwrap();
    let c = g
        .constant_from(
            "c",
            triceratops_ir::TensorType::f32(vec![4, 3]),
            triceratops_ir::Constant::splat(0.9),
        )
        .unwrap();
    let mm = g.mul(m, c).unwrap();
    let new_m = g.add(mm, grad).unwrap();
    let lrb = g.broadcast_to(lr, [4, 3]).unwrap();
    let step = g.mul(lrb, new_m).unwrap();
    let new_p = g.sub(p, step).unwrap();
    g.add_update(p, new_p).unwrap();
    g.add_update(m, new_m).unwrap();
    let (f, stats) = fuse(&g);
    assert_eq!(stats.kernels, 1);
    assert_eq!(fused_nodes(&f), 2, "{}", print(&f));
    let text = print(&f);
    assert!(text.contains("const 0.9"), "{text}");
    assert!(
        text.contains("],[],["),
        "lr is read through a [] map: {text}"
    );
    assert_eq!(graph_cost(&f).kernels, 1, "{text}");
    assert_same_bits(&g, &f, 5);
}
