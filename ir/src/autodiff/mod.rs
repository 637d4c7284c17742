//! Symbolic reverse-mode differentiation. `grad` appends the backward
//! computation to the graph as ordinary nodes — printable, optimizable and
//! compilable like the forward pass — using one VJP rule per op (`vjp.rs`).

mod vjp;

use crate::error::{IrError, Result};
use crate::graph::{Graph, NodeKind, ValueId};

/// Appends `d loss / d wrt[i]` for every `wrt[i]` to `graph` and returns the
/// gradient values, in order. `loss` must be a scalar. A `wrt` value the loss
/// does not depend on gets a zero gradient. The gradient values are named
/// `grad.<name of wrt>` when that name is free, so printed graphs read well.
/// On error the graph is left unchanged.
pub fn grad(graph: &mut Graph, loss: ValueId, wrt: &[ValueId]) -> Result<Vec<ValueId>> {
    Ok(grad_traced(graph, loss, wrt)?.0)
}

/// [`grad`], also returning, for every node it appended (in order), the
/// value whose rule created it: the forward node whose VJP (or adjoint
/// accumulation) it belongs to, `loss` for the seed, or the `wrt` value for
/// a zero gradient. This is the provenance `explore` shows.
pub fn grad_traced(
    graph: &mut Graph,
    loss: ValueId,
    wrt: &[ValueId],
) -> Result<(Vec<ValueId>, Vec<ValueId>)> {
    let mut work = graph.clone();
    let mut created_by = Vec::new();
    let grads = build_grad(&mut work, loss, wrt, &mut created_by)?;
    *graph = work;
    Ok((grads, created_by))
}

fn build_grad(
    graph: &mut Graph,
    loss: ValueId,
    wrt: &[ValueId],
    created_by: &mut Vec<ValueId>,
) -> Result<Vec<ValueId>> {
    let forward_len = graph.len();
    for &v in wrt.iter().chain([&loss]) {
        if v.index() >= graph.len() {
            return Err(IrError::Grad(format!("value {} does not exist", v.index())));
        }
    }
    if graph.shape(loss).rank() != 0 {
        return Err(IrError::Grad(format!(
            "the loss %{} must be a scalar, not {}",
            graph.value_name(loss),
            graph.ty(loss)
        )));
    }
    let on_path = on_path(graph, loss, wrt);
    let mut adjoint: Vec<Option<ValueId>> = vec![None; graph.len()];
    adjoint[loss.index()] = Some(graph.scalar(1.0)?);
    let mut credit = |graph: &Graph, by: ValueId| {
        created_by.resize(graph.len() - forward_len, by);
    };
    credit(graph, loss);

    // Reverse topological order: every user of a value is visited before it,
    // so its adjoint is complete when its own rule runs.
    for index in (0..=loss.index()).rev() {
        let (Some(dy), true) = (adjoint[index], on_path[index]) else {
            continue;
        };
        let node = graph.node(ValueId::new(index));
        let NodeKind::Op { op, operands } = &node.kind else {
            continue;
        };
        let (op, operands) = (op.clone(), operands.clone());
        let needs: Vec<bool> = operands.iter().map(|v| on_path[v.index()]).collect();
        if !needs.iter().any(|&n| n) {
            continue;
        }
        let y = ValueId::new(index);
        let grads = vjp::vjp(graph, &op, &operands, y, dy, &needs)?;
        for ((operand, g), need) in operands.iter().zip(grads).zip(&needs) {
            let Some(g) = g.filter(|_| *need) else {
                continue;
            };
            let slot = &mut adjoint[operand.index()];
            *slot = Some(match *slot {
                None => g,
                Some(acc) => graph.add(acc, g)?,
            });
        }
        credit(graph, y);
    }

    let mut grads = Vec::with_capacity(wrt.len());
    for &w in wrt {
        let g = match adjoint[w.index()] {
            Some(g) => g,
            None => {
                let zero = graph.scalar(0.0)?;
                let shape = graph.shape(w).clone();
                let g = graph.broadcast_to(zero, shape)?;
                credit(graph, w);
                g
            }
        };
        let name = format!("grad.{}", graph.value_name(w));
        // Only values the backward pass created are renamed: a gradient may be
        // a forward value itself (d exp(w)/dw = exp(w)), which keeps its name.
        let created = g.index() >= forward_len;
        if created
            && graph.lookup(&name).is_none()
            && !grads.contains(&g)
            && !is_named_arg(graph, g)
        {
            graph.rename(g, &name)?;
        }
        grads.push(g);
    }
    Ok(grads)
}

/// Arguments and constants keep their names; only computed values are renamed.
fn is_named_arg(graph: &Graph, v: ValueId) -> bool {
    !matches!(graph.node(v).kind, NodeKind::Op { .. })
}

/// Values that lie on some dataflow path from a `wrt` value to `loss`: only
/// these need adjoints.
fn on_path(graph: &Graph, loss: ValueId, wrt: &[ValueId]) -> Vec<bool> {
    let n = loss.index() + 1;
    let mut from_wrt = vec![false; n];
    for &w in wrt {
        if w.index() < n {
            from_wrt[w.index()] = true;
        }
    }
    for i in 0..n {
        if graph
            .node(ValueId::new(i))
            .operands()
            .iter()
            .any(|v| from_wrt[v.index()])
        {
            from_wrt[i] = true;
        }
    }
    let mut to_loss = vec![false; n];
    to_loss[loss.index()] = true;
    for i in (0..n).rev() {
        if to_loss[i] {
            for v in graph.node(ValueId::new(i)).operands() {
                to_loss[v.index()] = true;
            }
        }
    }
    (0..graph.len())
        .map(|i| i < n && from_wrt[i] && to_loss[i])
        .collect()
}
