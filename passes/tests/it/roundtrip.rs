//! Graph -> e-graph -> graph: the calling convention survives and every
//! value is bit-identical (exact rule sets) on random graphs; the numerics
//! rules bring f32 results closer to the f64 interpreter.

use proptest::prelude::*;
use triceratops_ir::interp::evaluate;
use triceratops_ir::testing::{arb_graph, random_inputs};
use triceratops_ir::{Graph, Role};
use triceratops_passes::{graph_cost, optimize, PassOptions};

use crate::support::assert_same_bits;

fn exact() -> PassOptions {
    PassOptions {
        numerics: false,
        ..PassOptions::default()
    }
}

/// Arguments (name, role, type), outputs and update targets.
type Convention = (
    Vec<(String, Option<Role>, String)>,
    Vec<String>,
    Vec<String>,
);

/// Arguments (order, names, roles, types), outputs and update targets.
fn convention(g: &Graph) -> Convention {
    let args = g
        .arguments()
        .map(|v| {
            let n = g.node(v);
            (n.name.clone(), n.role(), n.ty.to_string())
        })
        .collect();
    let outs = g
        .outputs()
        .iter()
        .map(|(n, v)| format!("{n}: {}", g.ty(*v)))
        .collect();
    let ups = g
        .updates()
        .iter()
        .map(|u| g.value_name(u.target).to_string())
        .collect();
    (args, outs, ups)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_graphs_keep_every_bit(g in arb_graph(), seed in any::<u64>()) {
        let (opt, report) = optimize(&g, &exact()).unwrap();
        prop_assert_eq!(convention(&g), convention(&opt));
        prop_assert!(graph_cost(&opt).total() <= graph_cost(&g).total(), "{}", report);
        for p in &report.phases {
            prop_assert_eq!(p.conflicts, 0);
        }
        assert_same_bits(&g, &opt, seed);
    }

    #[test]
    fn passes_are_deterministic(g in arb_graph()) {
        let (a, _) = optimize(&g, &PassOptions::default()).unwrap();
        let (b, _) = optimize(&g, &PassOptions::default()).unwrap();
        prop_assert_eq!(triceratops_ir::text::print(&a), triceratops_ir::text::print(&b));
    }
}

#[test]
fn names_and_convention_survive() {
    let mut g = Graph::new("step");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [2, 3]).unwrap();
    let m = g.state("m", [2, 3]).unwrap();
    let one = g.scalar(1.0).unwrap();
    let xw = g.mul(x, w).unwrap();
    let pre = g.mul(xw, one).unwrap();
    let loss = g.reduce_sum(pre, &[0, 1], false).unwrap();
    g.rename(loss, "loss").unwrap();
    let gw = g.neg(x).unwrap();
    g.rename(gw, "grad.w").unwrap();
    let nn = g.neg(gw).unwrap();
    let m_new = g.sub(m, nn).unwrap();
    g.rename(m_new, "m.new").unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("twice", loss).unwrap();
    g.add_update(m, m_new).unwrap();
    g.add_update(w, gw).unwrap();
    let (opt, report) = optimize(&g, &exact()).unwrap();
    let text = triceratops_ir::text::print(&opt);
    assert_eq!(convention(&g), convention(&opt), "{text}");
    assert!(text.contains("%loss: f32[] = reduce_sum"), "{text}");
    assert!(text.contains("%grad.w: f32[2,3] = neg %x"), "{text}");
    assert!(text.contains("%m.new: f32[2,3] = sub %m, %x"), "{text}");
    assert_eq!(text.matches(" = mul ").count(), 1, "x*1 is gone: {text}");
    assert!(report.phases[0].fired["mul-one"] >= 1, "{report}");
    assert!(report.phases[0].fired["neg-neg"] >= 1, "{report}");
    assert_same_bits(&g, &opt, 7);
}

#[test]
fn log_softmax_is_stable_after_numerics() {
    let mut g = Graph::new("lsm");
    let x = g.input("x", [2, 4]).unwrap();
    let e = g.exp(x).unwrap();
    let s = g.reduce_sum(e, &[1], true).unwrap();
    let p = g.div(e, s).unwrap();
    let l = g.log(p).unwrap();
    g.add_output("logp", l).unwrap();
    let (opt, report) = optimize(&g, &PassOptions::default()).unwrap();
    assert_eq!(
        report.phases[1].fired.get("log-softmax"),
        Some(&1),
        "{report}"
    );
    let mut inputs = random_inputs::<f32>(&g, 3);
    inputs.get_mut("x").unwrap()[[0, 0]] = 200.0; // exp overflows f32
    let inputs64 = inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.mapv(f64::from)))
        .collect();
    let naive = evaluate(&g, &inputs).unwrap();
    let stable = evaluate(&opt, &inputs).unwrap();
    let exact = evaluate::<f64>(&g, &inputs64).unwrap();
    let (naive, stable, exact) = (
        naive.output("logp").unwrap().to_owned(),
        stable.output("logp").unwrap().to_owned(),
        exact.output("logp").unwrap().to_owned(),
    );
    assert!(
        naive.iter().any(|v| !v.is_finite()),
        "the naive form overflows"
    );
    for (s, e) in stable.iter().zip(exact.iter()) {
        assert!(
            (*s as f64 - e).abs() <= 1e-5 * e.abs().max(1.0),
            "{s} vs {e}"
        );
    }
}

#[test]
fn a_limit_is_reported_and_the_best_graph_kept() {
    let mut g = Graph::new("deep");
    let x = g.input("x", [3]).unwrap();
    let mut v = x;
    for _ in 0..6 {
        v = g.neg(v).unwrap();
    }
    g.add_output("out", v).unwrap();
    let tight = PassOptions {
        limits: triceratops_passes::Limits {
            iterations: 1,
            nodes: 50_000,
        },
        ..exact()
    };
    let (opt, report) = optimize(&g, &tight).unwrap();
    assert!(report.hit_limit(), "{report}");
    assert_eq!(report.phases[0].stop, "iteration limit (1)", "{report}");
    assert!(
        graph_cost(&opt).total() < graph_cost(&g).total(),
        "{report}"
    );
    assert_same_bits(&g, &opt, 1);
    let (full, report) = optimize(&g, &exact()).unwrap();
    assert!(!report.hit_limit(), "{report}");
    assert_eq!(full.len(), 1, "six negations cancel: {report}");
}

#[test]
fn report_prints_as_a_table() {
    let mut g = Graph::new("t");
    let x = g.input("x", [2]).unwrap();
    let one = g.scalar(1.0).unwrap();
    let y = g.mul(x, one).unwrap();
    g.add_output("y", y).unwrap();
    let (_, report) = optimize(&g, &PassOptions::default()).unwrap();
    let text = report.to_string();
    assert!(text.starts_with("rule set"), "{text}");
    assert!(text.contains("algebra"), "{text}");
    assert!(text.contains("fired: const-fold x1, mul-one x1"), "{text}");
    assert!(text.contains("numerics"), "{text}");
    assert!(text.contains("kernels"), "{text}");
}
