//! The verifier: re-checks every invariant a well-formed graph must hold.
//! [`Graph::from_parts`](crate::Graph::from_parts) runs it, so a pass that
//! rebuilds a graph cannot hand an ill-formed one to a backend.

use std::collections::HashSet;

use crate::error::{IrError, Result, UpdateProblem};
use crate::graph::{check_name, check_update, is_name_char, Graph, NodeKind};
use crate::infer::infer_type;

/// Checks the graph's name, every value's name, topological order, every
/// op's type, constants, outputs and updates; returns the first problem.
pub fn verify(graph: &Graph) -> Result<()> {
    if !graph.name().chars().all(is_name_char) {
        return Err(IrError::InvalidName {
            name: graph.name().to_string(),
        });
    }
    let mut names = HashSet::new();
    for (index, node) in graph.nodes().iter().enumerate() {
        let at = |reason: String| IrError::Malformed {
            value: node.name.clone(),
            reason,
        };
        check_name(&node.name)?;
        if !names.insert(node.name.as_str()) {
            return Err(IrError::DuplicateName {
                name: node.name.clone(),
            });
        }
        let Some(numel) = node.ty.shape.checked_numel() else {
            return Err(IrError::TooLarge {
                name: node.name.clone(),
                shape: node.ty.shape.clone(),
            });
        };
        match &node.kind {
            NodeKind::Arg(_) => {}
            NodeKind::Const(c) => {
                let Some(data) = graph.constant_data(*c) else {
                    return Err(at(format!("constant #{} is not in the pool", c.index())));
                };
                if !data.fits(numel) {
                    return Err(IrError::BadConstant {
                        name: node.name.clone(),
                        ty: node.ty.clone(),
                        len: data.stored_len(),
                    });
                }
            }
            NodeKind::Op { op, operands } => {
                if let Some(v) = operands.iter().find(|v| v.index() >= index) {
                    return Err(at(format!(
                        "operand {} is not defined before its use",
                        v.index()
                    )));
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
        check_name(name)?;
        graph.check_id(*v)?;
        if !outputs.insert(name.as_str()) {
            return Err(IrError::DuplicateOutput { name: name.clone() });
        }
    }
    for (i, u) in graph.updates().iter().enumerate() {
        if u.target.index() >= graph.len() || u.value.index() >= graph.len() {
            let target = if u.target.index() < graph.len() {
                graph.value_name(u.target).to_string()
            } else {
                format!("#{}", u.target.index())
            };
            return Err(IrError::bad_update(&target, UpdateProblem::MissingValue));
        }
        check_update(graph, u.target, u.value, &graph.updates()[..i])?;
    }
    Ok(())
}
