//! The petgraph dataflow view, live values and dead-code elimination.

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
        if live[root.index()] {
            continue;
        }
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
        let new = match (&node.kind, out.copy_leaf(graph, id)) {
            (_, Some(leaf)) => leaf,
            (NodeKind::Op { op, operands }, None) => {
                let operands: Vec<ValueId> = operands
                    .iter()
                    .map(|v| remap[v.index()].expect("operands of live values are live"))
                    .collect();
                out.push_named_op(&node.name, op.clone(), &operands)
            }
            (_, None) => unreachable!("copy_leaf copies every non-op node"),
        };
        remap[id.index()] = Some(new.expect("a copy of a valid graph is valid"));
    }
    copy_roots(graph, &mut out, &remap);
    out
}

/// Declares `graph`'s outputs and updates on its copy `out`, whose value
/// for each old value is `remap[old]` (every root must have one).
pub(super) fn copy_roots(graph: &Graph, out: &mut Graph, remap: &[Option<ValueId>]) {
    let map = |v: ValueId| remap[v.index()].expect("roots are live");
    for (name, v) in graph.outputs() {
        out.add_output(name, map(*v))
            .expect("copied output is valid");
    }
    for u in graph.updates() {
        out.add_update(map(u.target), map(u.value))
            .expect("copied update is valid");
    }
}
