//! Dead-code elimination, liveness and Graphviz output of built graphs.

use ndarray::{ArrayD, IxDyn};
use triceratops_ir::analysis::{dataflow, eliminate_dead_code, live_values, to_dot};
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{verify, Graph, IrError, Role, ValueId};

use crate::graph_api::{every_op_graph, t};

// --------------------------------------------------------- DCE and liveness

fn array(shape: &[usize], data: Vec<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

/// x, w, unused input u, state s; y = x*w used; dead chain; update s <- s+1.
fn dce_graph() -> Graph {
    let mut g = Graph::new("dce");
    let x = g.input("x", [2]).unwrap(); // 0
    let w = g.param("w", [2]).unwrap(); // 1
    let _u = g.input("u", [3]).unwrap(); // 2, unused
    let s = g.state("s", [0usize; 0]).unwrap(); // 3
    let dead_c = g.constant("dead_c", t(&[2]), vec![5.0, 6.0]).unwrap(); // 4
    let y = g.mul(x, w).unwrap(); // 5
    let dead1 = g.add(y, dead_c).unwrap(); // 6
    let _dead2 = g.exp(dead1).unwrap(); // 7
    let one = g.scalar(1.0).unwrap(); // 8
    let ns = g.add(s, one).unwrap(); // 9
    let z = g.neg(y).unwrap(); // 10
    g.rename(z, "z").unwrap();
    g.add_output("y", y).unwrap();
    g.add_output("z", z).unwrap();
    g.add_update(s, ns).unwrap();
    g
}

#[test]
fn live_values_marks_what_outputs_and_updates_need() {
    let g = dce_graph();
    let live = live_values(&g);
    assert_eq!(live.len(), g.len());
    //                  x     w     u      s     dead_c y     dead1  dead2  one   ns    z
    let want = vec![
        true, true, false, true, false, true, false, false, true, true, true,
    ];
    assert_eq!(live, want);
    // No outputs or updates: nothing is live.
    let mut h = Graph::new("h");
    let a = h.input("a", [1]).unwrap();
    h.neg(a).unwrap();
    assert_eq!(live_values(&h), [false, false]);
    // An update target is live even if its value does not use it.
    let mut k = Graph::new("k");
    let p = k.param("p", [1]).unwrap();
    let c = k.constant("c", t(&[1]), vec![0.0]).unwrap();
    k.add_update(p, c).unwrap();
    assert_eq!(live_values(&k), [true, true]);
}

#[test]
fn dataflow_edges_carry_operand_positions() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    let y = g.input("y", [2]).unwrap();
    let d = g.sub(y, x).unwrap();
    let s = g.select(d, x, x).unwrap();
    let flow = dataflow(&g);
    assert_eq!(flow.node_count(), 4);
    let mut edges: Vec<(usize, usize, usize)> = flow
        .raw_edges()
        .iter()
        .map(|e| (e.source().index(), e.target().index(), e.weight))
        .collect();
    edges.sort_unstable();
    assert_eq!(
        edges,
        [
            (0, d.index(), 1),
            (0, s.index(), 1),
            (0, s.index(), 2),
            (1, d.index(), 0),
            (d.index(), s.index(), 0),
        ]
    );
    for id in g.ids() {
        assert_eq!(flow[petgraph_index(id)], id);
    }
}

fn petgraph_index(id: ValueId) -> petgraph::graph::NodeIndex {
    petgraph::graph::NodeIndex::new(id.index())
}

#[test]
fn dead_code_elimination() {
    let g = dce_graph();
    let d = eliminate_dead_code(&g);
    verify(&d).unwrap();
    let names: Vec<&str> = d.nodes().iter().map(|n| n.name.as_str()).collect();
    // Dead ops and the dead const are gone; every argument stays, in order.
    assert_eq!(names, ["x", "w", "u", "s", "5", "c8", "9", "z"]);
    assert_eq!(d.name(), "dce");
    assert_eq!(d.args(Role::Input).count(), 2);
    assert_eq!(d.args(Role::Param).count(), 1);
    assert_eq!(d.args(Role::State).count(), 1);
    // Outputs and updates are kept, remapped to the new ids.
    let outs: Vec<(&str, &str)> = d
        .outputs()
        .iter()
        .map(|(n, v)| (n.as_str(), d.value_name(*v)))
        .collect();
    assert_eq!(outs, [("y", "5"), ("z", "z")]);
    assert_eq!(d.updates().len(), 1);
    assert_eq!(d.value_name(d.updates()[0].target), "s");
    assert_eq!(d.value_name(d.updates()[0].value), "9");
    // Types are preserved.
    for node in d.nodes() {
        let old = g.lookup(&node.name).unwrap();
        assert_eq!(node.ty, *g.ty(old), "%{}", node.name);
        assert_eq!(node.op(), g.node(old).op(), "%{}", node.name);
    }
    // Interpreter results are unchanged.
    let inputs: Inputs<f64> = [
        ("x".to_string(), array(&[2], vec![1.5, -2.0])),
        ("w".to_string(), array(&[2], vec![2.0, 3.0])),
        ("u".to_string(), array(&[3], vec![0.0; 3])),
        ("s".to_string(), array(&[], vec![7.0])),
    ]
    .into_iter()
    .collect();
    let before = evaluate::<f64>(&g, &inputs).unwrap();
    let after = evaluate::<f64>(&d, &inputs).unwrap();
    for name in ["y", "z"] {
        assert_eq!(before.output(name), after.output(name), "{name}");
    }
    assert_eq!(after.output("y").unwrap().as_slice().unwrap(), &[3.0, -6.0]);
    assert_eq!(after.output("z").unwrap().as_slice().unwrap(), &[-3.0, 6.0]);
    let ub: Vec<_> = before.updates().map(|(n, a)| (n, a.clone())).collect();
    let ua: Vec<_> = after.updates().map(|(n, a)| (n, a.clone())).collect();
    assert_eq!(ub, ua);
    assert_eq!(ua[0].1.iter().copied().collect::<Vec<_>>(), [8.0]);
    // DCE is idempotent.
    assert_eq!(eliminate_dead_code(&d), d);
}

#[test]
fn dead_code_elimination_keeps_results_of_a_large_graph() {
    let g = every_op_graph();
    let d = eliminate_dead_code(&g);
    verify(&d).unwrap();
    assert!(d.len() <= g.len());
    let inputs: Inputs<f64> = [
        (
            "x".to_string(),
            array(
                &[1, 4, 4, 2],
                (0..32).map(|i| (i as f64 * 0.37).sin()).collect(),
            ),
        ),
        (
            "w".to_string(),
            array(
                &[2, 2, 2, 3],
                (0..24).map(|i| (i as f64 * 0.91).cos()).collect(),
            ),
        ),
        ("m".to_string(), array(&[2, 2, 2, 3], vec![0.5; 24])),
    ]
    .into_iter()
    .collect();
    let before = evaluate::<f64>(&g, &inputs).unwrap();
    let after = evaluate::<f64>(&d, &inputs).unwrap();
    assert_eq!(before.output("out"), after.output("out"));
    let ub: Vec<_> = before.updates().map(|(n, a)| (n, a.clone())).collect();
    let ua: Vec<_> = after.updates().map(|(n, a)| (n, a.clone())).collect();
    assert_eq!(ub, ua);
    // The same graph with one output dropped loses that output's cone.
    let mut h = Graph::new("h");
    let x = h.input("x", [2]).unwrap();
    let a = h.exp(x).unwrap();
    let b = h.log(x).unwrap();
    h.add_output("a", a).unwrap();
    let _ = b;
    let dh = eliminate_dead_code(&h);
    assert_eq!(dh.len(), 2);
    assert!(dh.lookup(h.value_name(b)).is_none());
}

// -------------------------------------------------------------------- dot

#[test]
fn graphviz_export() {
    let mut g = Graph::new("net");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [3, 2]).unwrap();
    let y = g.matmul(x, w).unwrap();
    let k = g.constant("k", t(&[3, 2]), vec![0.0; 6]).unwrap();
    let nw = g.add(w, k).unwrap();
    g.add_output("y", y).unwrap();
    g.add_update(w, nw).unwrap();
    let dot = to_dot(&g);
    assert!(dot.starts_with("digraph \"net\" {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for needle in [
        "n0 [label=\"%x = input : f32[2,3]\"];",
        "n1 [label=\"%w = param : f32[3,2]\"];",
        "n2 [label=\"%2 = matmul : f32[2,2]\"];",
        "n3 [label=\"%k = const : f32[3,2]\"];",
        "n4 [label=\"%4 = add : f32[3,2]\"];",
        "n0 -> n2;",
        "n1 -> n2;",
        "n1 -> n4;",
        "n3 -> n4;",
        "out0 [label=\"output y\", shape=ellipse];",
        "n2 -> out0;",
        "upd0 [label=\"update %w\", shape=ellipse];",
        "n4 -> upd0;",
    ] {
        assert!(dot.contains(needle), "missing `{needle}` in\n{dot}");
    }
    let _ = (x, y);
    // Exactly the four dataflow edges plus one output and one update edge.
    assert_eq!(dot.matches("->").count(), 6, "{dot}");
}

#[test]
fn shapes_whose_element_count_overflows_are_errors_not_panics() {
    let mut g = Graph::new("huge");
    // The argument itself is refused: its element count does not fit usize.
    assert!(g.input("x", [1 << 40, 1 << 40]).is_err());
    let x = g.input("x", [1 << 20, 1 << 20]).unwrap();
    // A reshape target that overflows, and padding that overflows an extent.
    assert!(matches!(
        g.reshape(x, [1 << 40, 1 << 40, 4]),
        Err(IrError::Type { .. })
    ));
    let v = g.input("v", [3]).unwrap();
    assert!(matches!(
        g.pad(v, &[usize::MAX], &[1]),
        Err(IrError::Type { .. })
    ));
    // A broadcast to a shape that overflows.
    assert!(g.broadcast_to(v, [1 << 40, 1 << 40, 3]).is_err());
    // A constant whose type overflows.
    assert!(g.tensor([1 << 33, 1 << 33], vec![]).is_err());
}
