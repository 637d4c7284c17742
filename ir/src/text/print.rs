//! The printer. Its output is the canonical text form of a graph.

use std::fmt::Write;

use crate::graph::{Constant, Graph, NodeKind};

/// The canonical text of `graph`.
pub fn print(graph: &Graph) -> String {
    let mut s = String::new();
    writeln!(s, "graph {} {{", graph.name()).unwrap();
    for (id, node) in graph.ids().zip(graph.nodes()) {
        match &node.kind {
            NodeKind::Arg(role) => {
                writeln!(s, "  {} %{}: {}", role.name(), node.name, node.ty).unwrap()
            }
            NodeKind::Const(_) => {
                let data = graph.const_value(id).expect("a const node has data");
                writeln!(
                    s,
                    "  const %{}: {} = {}",
                    node.name,
                    node.ty,
                    const_literal(data, node.ty.numel())
                )
                .unwrap()
            }
            NodeKind::Op { op, operands } => {
                let mut items: Vec<String> = operands
                    .iter()
                    .map(|&v| format!("%{}", graph.value_name(v)))
                    .collect();
                // Attributes at their default (a false flag) are left out.
                let specs = op.kind().attrs().iter();
                items.extend(
                    specs
                        .zip(op.attrs())
                        .filter(|(a, v)| a.ty.default_value().as_ref() != Some(v))
                        .map(|(a, v)| format!("{}={v}", a.key)),
                );
                writeln!(
                    s,
                    "  %{}: {} = {} {}",
                    node.name,
                    node.ty,
                    op.name(),
                    items.join(", ")
                )
                .unwrap()
            }
        }
    }
    for (name, v) in graph.outputs() {
        writeln!(s, "  output {name} = %{}", graph.value_name(*v)).unwrap();
    }
    for u in graph.updates() {
        writeln!(
            s,
            "  update %{} <- %{}",
            graph.value_name(u.target),
            graph.value_name(u.value)
        )
        .unwrap();
    }
    s.push_str("}\n");
    s
}

/// A float in Rust's shortest round-trip form (`{:?}`: `1.0`, `1e-7`, `NaN`).
pub(crate) fn float(v: f32) -> String {
    format!("{v:?}")
}

/// A single element prints bare, a splat as `splat(v)` (without ever
/// expanding it), else a list.
fn const_literal(data: &Constant, numel: usize) -> String {
    if numel == 1 {
        return float(data.get(0));
    }
    if let (Some(v), true) = (data.as_splat(), numel > 0) {
        return format!("splat({})", float(v));
    }
    let values = data.to_vec(numel);
    // All NaNs print alike, so they count as equal here too.
    if !values.is_empty() && values.iter().all(|v| v.is_nan()) {
        return format!("splat({})", float(f32::NAN));
    }
    format!(
        "[{}]",
        values
            .iter()
            .map(|&v| float(v))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
