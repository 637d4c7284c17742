//! Lineage: the identity and composition laws; `optimize_traced` produces
//! the same graph and report as `optimize` with a well-formed lineage;
//! `x * 1` folded by algebra; a three-op kernel with two results; the
//! train steps of the built-in models (fixtures printed by `triceratops
//! compile --emit grad --passes none`).

use std::collections::BTreeSet;

use proptest::prelude::*;
use triceratops_ir::testing::arb_graph;
use triceratops_ir::text::{parse, print};
use triceratops_ir::{Graph, NodeKind, Op, ValueId};
use triceratops_passes::fusion::fuse_traced;
use triceratops_passes::{optimize, optimize_traced, Lineage, PassOptions};

fn ids(v: &[usize]) -> Vec<ValueId> {
    v.iter().map(|&i| ValueId::new(i)).collect()
}

fn lineage(sets: &[&[usize]]) -> Lineage {
    Lineage {
        from: sets.iter().map(|s| ids(s)).collect(),
    }
}

/// The input values `name` of `out` stands for, by name.
fn names_of(input: &Graph, out: &Graph, l: &Lineage, name: &str) -> Vec<String> {
    let v = out.lookup(name).unwrap_or_else(|| panic!("no %{name}"));
    l.of(v)
        .iter()
        .map(|&u| input.value_name(u).to_string())
        .collect()
}

/// Sorted, deduplicated, in bounds and one set per output value.
fn assert_well_formed(input: &Graph, out: &Graph, l: &Lineage) {
    assert_eq!(l.len(), out.len());
    for set in &l.from {
        assert!(set.windows(2).all(|w| w[0] < w[1]), "{set:?}");
        assert!(set.iter().all(|v| v.index() < input.len()), "{set:?}");
    }
}

#[test]
fn identity_is_neutral_and_composition_associates() {
    let mut g = Graph::new("t");
    let x = g.input("x", [2]).unwrap();
    let e = g.exp(x).unwrap();
    g.add_output("out", e).unwrap();
    let id = Lineage::identity(&g);
    assert_eq!(id, lineage(&[&[0], &[1]]));
    // B (2 values) -> A (g), C (3 values) -> B, D (2 values) -> C.
    let ab = lineage(&[&[0, 1], &[1]]);
    let bc = lineage(&[&[1], &[], &[0, 1]]);
    let cd = lineage(&[&[2, 0], &[1]]);
    assert_eq!(id.then(&ab), ab);
    assert_eq!(
        ab.then(&Lineage {
            from: vec![ids(&[0]), ids(&[1])]
        }),
        ab
    );
    assert_eq!(ab.then(&bc), lineage(&[&[1], &[], &[0, 1]]));
    assert_eq!(ab.then(&bc).then(&cd), ab.then(&bc.then(&cd)));
    assert_eq!(ab.then(&bc).then(&cd), lineage(&[&[0, 1], &[]]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn traced_optimize_is_optimize_with_a_well_formed_lineage(g in arb_graph()) {
        let options = PassOptions::default();
        let (a, mut ra) = optimize(&g, &options).unwrap();
        let (b, mut rb, l) = optimize_traced(&g, &options).unwrap();
        prop_assert_eq!(print(&a), print(&b));
        // Reports agree but for wall-clock time.
        for p in ra.phases.iter_mut().chain(rb.phases.iter_mut()) {
            p.time = std::time::Duration::ZERO;
        }
        prop_assert_eq!(ra, rb);
        assert_well_formed(&g, &b, &l);
        // Arguments stand for themselves.
        for (a, u) in g.arguments().zip(b.arguments()) {
            prop_assert_eq!(l.of(u), &[a][..]);
        }
    }
}

/// `neg(exp(x) * 1)`: algebra puts the mul in `exp`'s class, so the one
/// `exp` left stands for both; the `1.0` and its broadcast are gone.
#[test]
fn algebra_folding_times_one_keeps_both_in_the_lineage() {
    let g = parse(
        "graph t {
  input %x: f32[2,3]
  %e: f32[2,3] = exp %x
  const %one: f32[] = 1.0
  %b: f32[2,3] = broadcast %one, shape=[2,3], dims=[]
  %m: f32[2,3] = mul %e, %b
  %n: f32[2,3] = neg %m
  output out = %n
}",
    )
    .unwrap();
    let options = PassOptions {
        fusion: false,
        ..PassOptions::default()
    };
    let (out, _, l) = optimize_traced(&g, &options).unwrap();
    // `x`, `exp`, `neg`: the mul and its `1.0` are gone.
    assert_eq!(out.len(), 3, "{}", print(&out));
    assert_well_formed(&g, &out, &l);
    assert_eq!(names_of(&g, &out, &l, "x"), ["x"]);
    assert_eq!(names_of(&g, &out, &l, "e"), ["e", "m"]);
    assert_eq!(names_of(&g, &out, &l, "n"), ["n"]);
}

/// The naive log-softmax: numerics builds `x - logsumexp(x)`, whose
/// intermediates are classes with no input value, so they stand for
/// nothing; the result stands for the `log` it replaced.
#[test]
fn values_a_rule_made_stand_for_nothing() {
    let g = parse(
        "graph t {
  input %x: f32[2,3]
  %e: f32[2,3] = exp %x
  %s: f32[2,1] = reduce_sum %e, axes=[1], keepdims=true
  %b: f32[2,3] = broadcast %s, shape=[2,3], dims=[0,1]
  %d: f32[2,3] = div %e, %b
  %l: f32[2,3] = log %d
  output out = %l
}",
    )
    .unwrap();
    let options = PassOptions {
        fusion: false,
        ..PassOptions::default()
    };
    let (out, report, l) = optimize_traced(&g, &options).unwrap();
    assert!(!report.phases[1].fired.is_empty(), "{report}");
    assert_well_formed(&g, &out, &l);
    assert_eq!(names_of(&g, &out, &l, "l"), ["l"], "{}", print(&out));
    let empty = out.ids().filter(|&v| l.of(v).is_empty()).count();
    assert!(empty > 0, "{}\n{l:?}", print(&out));
}

/// `relu(x + b)` and `exp(x + b)`: one kernel, two results; each stands
/// for its own op, the shared add and the broadcast folded into its map.
#[test]
fn a_kernel_result_stands_for_its_ancestors_in_the_group() {
    let g = parse(
        "graph t {
  input %x: f32[2,3]
  input %b: f32[3]
  %bb: f32[2,3] = broadcast %b, shape=[2,3], dims=[1]
  %a: f32[2,3] = add %x, %bb
  %r: f32[2,3] = relu %a
  %e: f32[2,3] = exp %a
  output r = %r
  output e = %e
}",
    )
    .unwrap();
    let (out, stats, l) = fuse_traced(&g);
    assert_eq!((stats.kernels, stats.ops), (1, 3), "{}", print(&out));
    assert_well_formed(&g, &out, &l);
    for v in out.ids() {
        if let NodeKind::Op { op, .. } = &out.node(v).kind {
            assert!(matches!(op, Op::Fused { .. }), "{}", print(&out));
        }
    }
    assert_eq!(names_of(&g, &out, &l, "x"), ["x"]);
    assert_eq!(names_of(&g, &out, &l, "b"), ["b"]);
    assert_eq!(names_of(&g, &out, &l, "r"), ["bb", "a", "r"]);
    assert_eq!(names_of(&g, &out, &l, "e"), ["bb", "a", "e"]);
}

/// The train steps the CLI compiles, through every phase.
#[test]
fn built_in_train_steps_trace_back_to_their_ir() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for model in [
        "linreg",
        "mnist-mlp",
        "mnist-mlp_rmsprop",
        "seed-cnn",
        "seed-cnn_adam",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{model}_train_step.ir")).unwrap();
        let g = parse(&text).unwrap();
        let (out, _, l) = optimize_traced(&g, &PassOptions::default()).unwrap();
        assert_well_formed(&g, &out, &l);
        let mut empty = Vec::new();
        for v in out.ids() {
            let node = out.node(v);
            if matches!(node.kind, NodeKind::Arg(_)) {
                continue;
            }
            if l.of(v).is_empty() {
                empty.push(format!(
                    "%{} ({:?})",
                    node.name,
                    node.op().map(|o| o.kind())
                ));
            }
            if let Some(u) = g.lookup(&node.name) {
                assert!(l.of(v).contains(&u), "{model}: %{} lost itself", node.name);
            }
            if matches!(node.op(), Some(Op::Fused { .. })) {
                assert!(
                    !l.of(v).is_empty(),
                    "{model}: fused %{} from nothing",
                    node.name
                );
            }
        }
        let covered: BTreeSet<ValueId> = l.from.iter().flatten().copied().collect();
        let live = triceratops_ir::analysis::live_values(&g);
        let uncovered: Vec<String> = g
            .ids()
            .filter(|&u| live[u.index()] && g.node(u).op().is_some() && !covered.contains(&u))
            .map(|u| {
                format!(
                    "%{} = {:?}",
                    g.value_name(u),
                    g.node(u).op().unwrap().kind()
                )
            })
            .collect();
        let ops = g
            .ids()
            .filter(|&u| live[u.index()] && g.node(u).op().is_some())
            .count();
        eprintln!(
            "{model}: {} -> {} values; {} empty lineages {:?}; {} of {} live input ops uncovered {:?}",
            g.len(),
            out.len(),
            empty.len(),
            empty,
            uncovered.len(),
            ops,
            uncovered
        );
    }
}
