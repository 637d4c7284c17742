//! `canonicalize`: the graph every backend and pass starts from. Dead code
//! is dropped and identical computations are shared (hash-consing), so a
//! backend never sees a dead node, a duplicate `(op, operands)` or two
//! copies of one constant.

use std::collections::HashMap;

use super::dataflow::copy_roots;
use super::live_values;
use crate::graph::{Constant, Graph, NodeKind, ValueId};
use crate::op::Op;
use crate::types::TensorType;

/// A copy of `graph` without dead ops and constants, with one node per
/// distinct constant (type and the bits of every element: a dense constant
/// whose elements are all equal is the splat of that value) and per
/// distinct `(op, operands)`.
///
/// Arguments, their order, output names and update targets are kept: they
/// are the graph's calling convention. A merged node keeps the first
/// node's name, unless that name was automatic (`17`, `c17`) and a later
/// duplicate had a readable one (`loss`, `grad.w`), which it then takes.
pub fn canonicalize(graph: &Graph) -> Graph {
    canonicalize_traced(graph).0
}

/// [`canonicalize`], also returning where each value of `graph` went: its
/// copy, the node it was merged into, or `None` when it was dead.
pub fn canonicalize_traced(graph: &Graph) -> (Graph, Vec<Option<ValueId>>) {
    let live = live_values(graph);
    let mut out = Graph::new(graph.name());
    let mut remap: Vec<Option<ValueId>> = vec![None; graph.len()];
    let mut ops: HashMap<(Op, Vec<ValueId>), ValueId> = HashMap::new();
    let mut consts: HashMap<(TensorType, Constant), ValueId> = HashMap::new();
    for id in graph.ids() {
        let node = graph.node(id);
        let is_arg = matches!(node.kind, NodeKind::Arg(_));
        if !live[id.index()] && !is_arg {
            continue;
        }
        let (existing, new) = match &node.kind {
            NodeKind::Arg(role) => (None, out.arg(*role, &node.name, node.ty.clone())),
            NodeKind::Const(_) => {
                let data = graph.const_value(id).expect("a const node has data");
                let key = (node.ty.clone(), data.clone().canonical());
                match consts.get(&key) {
                    Some(&v) => (Some(v), Ok(v)),
                    None => {
                        let v = out.constant_from(&node.name, node.ty.clone(), data.clone());
                        if let Ok(v) = v {
                            consts.insert(key, v);
                        }
                        (None, v)
                    }
                }
            }
            NodeKind::Op { op, operands } => {
                let operands: Vec<ValueId> = operands
                    .iter()
                    .map(|v| remap[v.index()].expect("operands of live values are live"))
                    .collect();
                let key = (op.clone(), operands);
                match ops.get(&key) {
                    Some(&v) => (Some(v), Ok(v)),
                    None => {
                        let v = out.push_named_op(&node.name, op.clone(), &key.1);
                        if let Ok(v) = v {
                            ops.insert(key, v);
                        }
                        (None, v)
                    }
                }
            }
        };
        let new = new.expect("a copy of a valid graph is valid");
        if existing.is_some() && is_automatic(out.value_name(new)) && !is_automatic(&node.name) {
            out.rename(new, &node.name)
                .expect("the merged node's name is free in the copy");
        }
        remap[id.index()] = Some(new);
    }
    copy_roots(graph, &mut out, &remap);
    (out, remap)
}

/// Names the builder makes up: a node index (`17`, `17_2`) or a constant's
/// (`c17`, `c17_2`).
fn is_automatic(name: &str) -> bool {
    let base = name.split_once('_').map_or(name, |(b, suffix)| {
        if !suffix.is_empty() && suffix.bytes().all(|c| c.is_ascii_digit()) {
            b
        } else {
            name
        }
    });
    let digits = base.strip_prefix('c').unwrap_or(base);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_automatic;

    #[test]
    fn automatic_names_are_recognized() {
        for name in ["0", "17", "17_2", "c3", "c3_1"] {
            assert!(is_automatic(name), "{name}");
        }
        for name in ["loss", "c", "grad.w", "x_1", "c3_", "17_a", "cx"] {
            assert!(!is_automatic(name), "{name}");
        }
    }
}
