//! Graphviz export.

use super::dataflow;
use crate::graph::{Graph, NodeKind};

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
            id.index(),
            node.name,
            what,
            node.ty
        );
    }
    let flow = dataflow(graph);
    for e in flow.raw_edges() {
        s += &format!("  n{} -> n{};\n", e.source().index(), e.target().index());
    }
    for (i, (name, v)) in graph.outputs().iter().enumerate() {
        s += &format!(
            "  out{i} [label=\"output {name}\", shape=ellipse];\n  n{} -> out{i};\n",
            v.index()
        );
    }
    for (i, u) in graph.updates().iter().enumerate() {
        s += &format!(
            "  upd{i} [label=\"update %{}\", shape=ellipse];\n  n{} -> upd{i};\n",
            graph.value_name(u.target),
            u.value.index()
        );
    }
    s + "}\n"
}
