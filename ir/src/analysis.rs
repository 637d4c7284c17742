//! Graph algorithms through petgraph: the dataflow view, dead-code
//! elimination and Graphviz export.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};

use crate::graph::{Graph, NodeKind, ValueId};

/// The dataflow graph: one petgraph node per value (same index), an edge
/// from each operand to its user labelled with the operand position.
pub fn dataflow(graph: &Graph) -> DiGraph<ValueId, usize> {
    let mut g = DiGraph::with_capacity(graph.len(), graph.len() * 2);
    for id in graph.ids() {
        g.add_node(id);
    }
    for id in graph.ids() {
        for (pos, operand) in graph.node(id).operands().iter().enumerate() {
            g.add_edge(
                NodeIndex::new(operand.index()),
                NodeIndex::new(id.index()),
                pos,
            );
        }
    }
    g
}

/// Which values outputs and updates depend on (including the update targets).
pub fn live_values(graph: &Graph) -> Vec<bool> {
    let flow = dataflow(graph);
    let reversed = Reversed(&flow);
    let mut live = vec![false; graph.len()];
    let roots = graph
        .outputs()
        .iter()
        .map(|&(_, v)| v)
        .chain(graph.updates().iter().flat_map(|u| [u.target, u.value]));
    for root in roots {
        let mut dfs = Dfs::new(reversed, NodeIndex::new(root.index()));
        while let Some(n) = dfs.next(reversed) {
            live[n.index()] = true;
        }
    }
    live
}

/// A copy of `graph` without op and const nodes that no output or update
/// needs. Arguments always stay: they are the graph's calling convention.
pub fn eliminate_dead_code(graph: &Graph) -> Graph {
    let live = live_values(graph);
    let mut out = Graph::new(graph.name());
    let mut remap: Vec<Option<ValueId>> = vec![None; graph.len()];
    for id in graph.ids() {
        let node = graph.node(id);
        let keep = live[id.index()] || matches!(node.kind, NodeKind::Arg(_));
        if !keep {
            continue;
        }
        let new = match &node.kind {
            NodeKind::Arg(role) => out.arg(*role, &node.name, node.ty.clone()),
            NodeKind::Const(data) => out.constant(&node.name, node.ty.clone(), data.clone()),
            NodeKind::Op { op, operands } => {
                let operands: Vec<ValueId> = operands
                    .iter()
                    .map(|v| remap[v.index()].expect("operands of live values are live"))
                    .collect();
                out.push_named_op(&node.name, op.clone(), &operands)
            }
        };
        remap[id.index()] = Some(new.expect("a copy of a valid graph is valid"));
    }
    let map = |v: ValueId| remap[v.index()].expect("roots are live");
    for (name, v) in graph.outputs() {
        out.add_output(name, map(*v))
            .expect("copied output is valid");
    }
    for u in graph.updates() {
        out.add_update(map(u.target), map(u.value))
            .expect("copied update is valid");
    }
    out
}

/// Graphviz source: values as boxes labelled `%name = op : type`, edges
/// from operands to users, outputs and updates as extra labelled nodes.
pub fn to_dot(graph: &Graph) -> String {
    let mut s = format!(
        "digraph \"{}\" {{\n  node [shape=box, fontname=monospace];\n",
        graph.name()
    );
    for id in graph.ids() {
        let node = graph.node(id);
        let what = match &node.kind {
            NodeKind::Arg(role) => role.name().to_string(),
            NodeKind::Const(_) => "const".to_string(),
            NodeKind::Op { op, .. } => op.name().to_string(),
        };
        s += &format!(
            "  n{} [label=\"%{} = {} : {}\"];\n",
            id.0, node.name, what, node.ty
        );
    }
    let flow = dataflow(graph);
    for e in flow.raw_edges() {
        s += &format!("  n{} -> n{};\n", e.source().index(), e.target().index());
    }
    for (i, (name, v)) in graph.outputs().iter().enumerate() {
        s += &format!(
            "  out{i} [label=\"output {name}\", shape=ellipse];\n  n{} -> out{i};\n",
            v.0
        );
    }
    for (i, u) in graph.updates().iter().enumerate() {
        s += &format!(
            "  upd{i} [label=\"update %{}\", shape=ellipse];\n  n{} -> upd{i};\n",
            graph.value_name(u.target),
            u.value.0
        );
    }
    s + "}\n"
}
