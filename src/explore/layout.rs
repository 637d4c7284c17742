//! TEMPORARY placeholder until the layered layout lands.
use super::report::{Dataflow, FlowEdge, FlowNode, Origin};
pub struct LayoutInput {
    pub name: String,
    pub label: String,
    pub origin: Origin,
    pub operands: Vec<usize>,
}
pub fn lay_out(nodes: &[LayoutInput]) -> Dataflow {
    let pos = |i: usize| {
        (
            (i % 10) as f64 * 100.0 + 50.0,
            (i / 10) as f64 * 40.0 + 20.0,
        )
    };
    Dataflow {
        width: 1000.0,
        height: (nodes.len() / 10 + 1) as f64 * 40.0,
        nodes: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| FlowNode {
                name: n.name.clone(),
                label: n.label.clone(),
                x: pos(i).0,
                y: pos(i).1,
                width: 90.0,
                height: 22.0,
                origin: n.origin,
            })
            .collect(),
        edges: nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| {
                n.operands.iter().map(move |&o| FlowEdge {
                    from: String::new(),
                    to: String::new(),
                    points: vec![pos(o), pos(i)],
                })
            })
            .collect(),
    }
}
