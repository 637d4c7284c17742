//! Provenance of the train step's values: which stage of the pipeline
//! (a layer's forward computation, the loss, a metric, autodiff, the
//! finite guard, the optimizer) appended each node, for which layer and for
//! which parameter's update. Recorded while the graph is built, from the
//! node ranges each builder appends, and keyed by value name, which
//! canonicalization and the passes keep for every value they keep.

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use crate::ir::analysis::canonicalize_traced;
use crate::ir::{Graph, NodeKind, ValueId};
use crate::keras::sequential::Forward;

/// The stage of the pipeline a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An argument: batch, step scalar or state.
    Input,
    /// A layer's forward computation.
    Forward,
    /// The loss on the model's output.
    Loss,
    /// A metric.
    Metric,
    /// The gradient of a forward computation (autodiff).
    Backward,
    /// The all-finite guard over the loss and gradients.
    Guard,
    /// An optimizer update (a parameter's, its slots', or the step count's).
    Optimizer,
}

/// Where one value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueOrigin {
    pub origin: Origin,
    /// The layers it belongs to: the layer that appended it, the layer of
    /// the forward node whose gradient it is, or the layers of the
    /// parameters whose update it is part of.
    pub layers: Vec<String>,
    /// The parameters whose update it is part of (optimizer values and
    /// slots).
    pub params: Vec<String>,
}

/// The train step's provenance.
#[derive(Clone, Debug)]
pub struct TrainTrace {
    /// The graph after the forward pass, loss and metrics, before autodiff
    /// appended the backward pass: the train step's first nodes.
    pub forward: Graph,
    /// Every value of the train-step graph as built (before
    /// canonicalization), by name.
    pub origins: HashMap<String, ValueOrigin>,
    /// The name each value as built has after canonicalization (the node it
    /// was merged into); dead values are absent.
    pub canonical: HashMap<String, String>,
}

/// Node indices recorded while the train step was built.
pub(super) struct Marks<'a> {
    pub forward: &'a Forward,
    pub loss: ValueId,
    /// The metric values, in output order (each metric's nodes end at its
    /// value).
    pub metrics: Vec<ValueId>,
    /// First node autodiff appended, and what created each of its nodes.
    pub grad_start: usize,
    pub created_by: Vec<ValueId>,
    /// The guard's nodes; the optimizer's start at `guard.end`.
    pub guard: Range<usize>,
}

pub(super) fn trace(g: &Graph, forward: Graph, marks: &Marks) -> TrainTrace {
    let mut by_index: Vec<ValueOrigin> = (0..g.len())
        .map(|_| ValueOrigin {
            origin: Origin::Input,
            layers: vec![],
            params: vec![],
        })
        .collect();
    // Arguments a stage declares (parameters, slots, noise) stay inputs.
    let mark = |by_index: &mut [ValueOrigin], range: Range<usize>, origin: Origin| {
        for (i, o) in range.clone().zip(&mut by_index[range]) {
            o.origin = match g.node(ValueId::new(i)).kind {
                NodeKind::Arg(_) => Origin::Input,
                _ => origin,
            };
        }
    };
    let mut layers_end = 0;
    for (layer, range) in &marks.forward.layer_nodes {
        mark(&mut by_index, range.clone(), Origin::Forward);
        for o in &mut by_index[range.clone()] {
            o.layers = vec![layer.clone()];
        }
        layers_end = range.end;
    }
    // The loss's nodes end at the loss, each metric's at its value.
    let mut start = layers_end;
    let ends = std::iter::once((marks.loss.index() + 1, Origin::Loss)).chain(
        marks
            .metrics
            .iter()
            .map(|m| (m.index() + 1, Origin::Metric)),
    );
    for (end, origin) in ends {
        mark(&mut by_index, start..end.max(start), origin);
        start = start.max(end);
    }
    for (k, by) in marks.created_by.iter().enumerate() {
        let layers = by_index[by.index()].layers.clone();
        let o = &mut by_index[marks.grad_start + k];
        o.origin = Origin::Backward;
        o.layers = layers;
    }
    mark(&mut by_index, marks.guard.clone(), Origin::Guard);
    mark(&mut by_index, marks.guard.end..g.len(), Origin::Optimizer);
    attribute_updates(g, marks, &mut by_index);
    let origins = g
        .ids()
        .zip(by_index)
        .map(|(v, o)| (g.value_name(v).to_string(), o))
        .collect();
    let (canonical_graph, remap) = canonicalize_traced(g);
    let canonical = g
        .ids()
        .zip(remap)
        .filter_map(|(v, c)| {
            let c = c?;
            Some((
                g.value_name(v).to_string(),
                canonical_graph.value_name(c).to_string(),
            ))
        })
        .collect();
    TrainTrace {
        forward,
        origins,
        canonical,
    }
}

/// Marks every optimizer value with the parameters whose update (of the
/// parameter itself or of one of its slots, named `<param>.<slot>`) it
/// feeds, and with their layers.
fn attribute_updates(g: &Graph, marks: &Marks, by_index: &mut [ValueOrigin]) {
    let params: Vec<(String, Vec<String>)> = marks
        .forward
        .params
        .iter()
        .map(|&p| {
            (
                g.value_name(p).to_string(),
                by_index[p.index()].layers.clone(),
            )
        })
        .collect();
    let opt_start = marks.guard.end;
    for update in g.updates() {
        let target = g.value_name(update.target);
        let Some((param, layers)) = params
            .iter()
            .filter(|(p, _)| target == p || target.starts_with(&format!("{p}.")))
            .max_by_key(|(p, _)| p.len())
        else {
            continue;
        };
        let mut stack = vec![update.value, update.target];
        let mut seen = vec![false; g.len()];
        while let Some(v) = stack.pop() {
            let i = v.index();
            if seen[i] || (i < opt_start && v != update.target) {
                continue;
            }
            seen[i] = true;
            let o = &mut by_index[i];
            if !o.params.contains(param) {
                o.params.push(param.clone());
            }
            for l in layers {
                if !o.layers.contains(l) {
                    o.layers.push(l.clone());
                }
            }
            stack.extend(g.node(v).operands());
        }
    }
}
