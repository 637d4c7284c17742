//! The printer. Its output is the canonical text form of a graph.

use std::fmt::Write;

use crate::graph::{Graph, NodeKind};
use crate::op::{ConvAttrs, Op, PoolAttrs};
use crate::types::Shape;

/// The canonical text of `graph`.
pub fn print(graph: &Graph) -> String {
    let mut s = String::new();
    writeln!(s, "graph {} {{", graph.name()).unwrap();
    for node in graph.nodes() {
        match &node.kind {
            NodeKind::Arg(role) => {
                writeln!(s, "  {} %{}: {}", role.name(), node.name, node.ty).unwrap()
            }
            NodeKind::Const(data) => writeln!(
                s,
                "  const %{}: {} = {}",
                node.name,
                node.ty,
                const_literal(data)
            )
            .unwrap(),
            NodeKind::Op { op, operands } => {
                let mut items: Vec<String> = operands
                    .iter()
                    .map(|&v| format!("%{}", graph.value_name(v)))
                    .collect();
                items.extend(attributes(op));
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

fn const_literal(data: &[f32]) -> String {
    match data {
        [v] => float(*v),
        // All NaNs print alike, so they count as equal here too.
        [first, rest @ ..]
            if rest
                .iter()
                .all(|v| v.to_bits() == first.to_bits() || (v.is_nan() && first.is_nan())) =>
        {
            format!("splat({})", float(*first))
        }
        _ => format!(
            "[{}]",
            data.iter()
                .map(|&v| float(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn list(items: &[usize]) -> String {
    Shape::from(items).to_string()
}

/// `key=value` attributes of an op, in the order the parser expects them.
fn attributes(op: &Op) -> Vec<String> {
    match op {
        Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::MatMul => vec![],
        Op::Pow { exponent } => vec![format!("exponent={}", float(*exponent))],
        Op::Broadcast { shape, dims } => {
            vec![format!("shape={shape}"), format!("dims={}", list(dims))]
        }
        Op::Reshape { shape } => vec![format!("shape={shape}")],
        Op::Transpose { perm } => vec![format!("perm={}", list(perm))],
        Op::Pad { low, high } => vec![format!("low={}", list(low)), format!("high={}", list(high))],
        Op::Slice { start, end } => {
            vec![
                format!("start={}", list(start)),
                format!("end={}", list(end)),
            ]
        }
        Op::ReduceSum { axes, keepdims } | Op::ReduceMax { axes, keepdims } => {
            vec![
                format!("axes={}", list(axes)),
                format!("keepdims={keepdims}"),
            ]
        }
        Op::Conv2d(c) => conv(c),
        Op::Conv2dInputGrad {
            conv: c,
            input_shape,
        } => {
            let mut a = conv(c);
            a.push(format!("input_shape={input_shape}"));
            a
        }
        Op::Conv2dFilterGrad {
            conv: c,
            filter_shape,
        } => {
            let mut a = conv(c);
            a.push(format!("filter_shape={filter_shape}"));
            a
        }
        Op::MaxPool2d(p) | Op::MaxPool2dGrad(p) => pool(p),
    }
}

fn conv(c: &ConvAttrs) -> Vec<String> {
    vec![
        format!("strides={}", list(&c.strides)),
        format!("padding={}", c.padding.name()),
        format!("layout={}", c.layout.name()),
    ]
}

fn pool(p: &PoolAttrs) -> Vec<String> {
    vec![
        format!("window={}", list(&p.window)),
        format!("strides={}", list(&p.strides)),
        format!("padding={}", p.padding.name()),
        format!("layout={}", p.layout.name()),
    ]
}
