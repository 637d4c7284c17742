//! The verifier: re-checks every invariant a well-formed graph must hold, for
//! graphs that were built by hand, parsed, or rewritten by a pass.

use std::collections::HashSet;

use crate::error::{IrError, Result};
use crate::graph::{is_name_char, Graph, NodeKind, Role};
use crate::infer::infer_type;

/// Checks names, topological order, every op's type, constants, outputs and
/// updates; returns the first problem found.
pub fn verify(graph: &Graph) -> Result<()> {
    let mut names = HashSet::new();
    for (index, node) in graph.nodes().iter().enumerate() {
        let at = |msg: String| IrError::Graph(format!("%{}: {msg}", node.name));
        if node.name.is_empty() || !node.name.chars().all(is_name_char) {
            return Err(at("invalid name".into()));
        }
        if !names.insert(node.name.as_str()) {
            return Err(at("duplicate value name".into()));
        }
        if graph.lookup(&node.name).map(|v| v.index()) != Some(index) {
            return Err(at("name index is out of date".into()));
        }
        match &node.kind {
            NodeKind::Arg(_) => {}
            NodeKind::Const(data) => {
                if data.len() != node.ty.numel() {
                    return Err(at(format!(
                        "const of type {} holds {} values",
                        node.ty,
                        data.len()
                    )));
                }
            }
            NodeKind::Op { op, operands } => {
                if let Some(v) = operands.iter().find(|v| v.index() >= index) {
                    return Err(at(format!("operand {} is not defined before its use", v.0)));
                }
                let types: Vec<_> = operands.iter().map(|&v| graph.ty(v)).collect();
                let ty = infer_type(op, &types)?;
                if ty != node.ty {
                    return Err(at(format!(
                        "declared type {} but {} produces {ty}",
                        node.ty,
                        op.name()
                    )));
                }
            }
        }
    }
    let mut outputs = HashSet::new();
    for (name, v) in graph.outputs() {
        if v.index() >= graph.len() || !outputs.insert(name.as_str()) {
            return Err(IrError::Graph(format!(
                "output `{name}` is invalid or repeated"
            )));
        }
    }
    let mut targets = HashSet::new();
    for u in graph.updates() {
        if u.target.index() >= graph.len() || u.value.index() >= graph.len() {
            return Err(IrError::Graph("update refers to a missing value".into()));
        }
        let t = graph.node(u.target);
        if !matches!(t.kind, NodeKind::Arg(Role::Param | Role::State)) {
            return Err(IrError::Graph(format!(
                "update target %{} is not a param or state",
                t.name
            )));
        }
        if t.ty != *graph.ty(u.value) || !targets.insert(u.target) {
            return Err(IrError::Graph(format!(
                "update of %{} has the wrong type or is repeated",
                t.name
            )));
        }
    }
    Ok(())
}
