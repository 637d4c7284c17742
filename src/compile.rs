//! The driver: a model, an optimizer, a loss and metrics become static
//! graphs — the train step (forward, loss, backward, update), the eval step
//! and the predict step — for one batch size.
//!
//! Graph interface (names are the calling convention of every backend):
//! `input %x` `[batch, input...]`, `input %y` (targets), `input %lr` (scalar
//! learning rate), `state %step` (steps taken), one `param` per layer
//! parameter (`<layer>.kernel`), one `state` per optimizer slot
//! (`<param>.<slot>`), `input %<layer>.noise` per active dropout layer;
//! outputs `loss`, one per metric, and `y_pred` for prediction.

use crate::error::{Error, Result};
use crate::ir::{grad, Graph, Role, ValueId};
use crate::keras::layers::Mode;
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Optimizer, SlotInit};
use crate::keras::sequential::Forward;
use crate::keras::Sequential;

/// What a model was compiled with.
#[derive(Clone, Debug)]
pub struct CompileSpec {
    pub optimizer: Optimizer,
    pub loss: Loss,
    /// Metrics as the user named them, each resolved for this loss (so
    /// `accuracy` may compute categorical accuracy but is logged as `accuracy`).
    pub metrics: Vec<(&'static str, Metric)>,
}

/// The shape of the targets `y` for a batch: the model's output shape, or
/// without its class axis for sparse labels.
pub fn target_shape(model: &Sequential, loss: Loss, batch: usize) -> Vec<usize> {
    let out = model.output_shape();
    let mut shape = vec![batch];
    match loss {
        Loss::SparseCategoricalCrossentropy { .. } => {
            shape.extend(&out[..out.len().saturating_sub(1)])
        }
        _ => shape.extend(out),
    }
    shape
}

fn input_shape(model: &Sequential, batch: usize) -> Vec<usize> {
    let mut shape = vec![batch];
    shape.extend(&model.input_shape);
    shape
}

/// Forward, loss and metrics on `x`, `y`; returns the forward pass and the loss.
fn forward_loss(
    g: &mut Graph,
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
    mode: Mode,
) -> Result<(Forward, ValueId)> {
    let x = g.input("x", input_shape(model, batch))?;
    let y = g.input("y", target_shape(model, spec.loss, batch))?;
    let fwd = model.lower(g, x, mode)?;
    // Keras computes cross-entropy after a softmax from the logits (the
    // stable log-softmax form), not from the clipped probabilities.
    let loss = match (spec.loss, fwd.logits) {
        (Loss::CategoricalCrossentropy { from_logits: false }, Some(z)) => {
            Loss::CategoricalCrossentropy { from_logits: true }.build(g, z, y)
        }
        (Loss::SparseCategoricalCrossentropy { from_logits: false }, Some(z)) => {
            Loss::SparseCategoricalCrossentropy { from_logits: true }.build(g, z, y)
        }
        (loss, _) => loss.build(g, fwd.output, y),
    }
    .map_err(|e| Error::Config(format!("loss {:?}: {e}", spec.loss)))?;
    g.rename(loss, "loss")?;
    g.add_output("loss", loss)?;
    for (name, metric) in &spec.metrics {
        let m = metric.build(g, fwd.output, y)?;
        g.add_output(name, m)?;
    }
    Ok((fwd, loss))
}

/// The train step for `batch` samples, and the optimizer's slot initial values.
pub fn train_step_graph(
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
) -> Result<(Graph, Vec<SlotInit>)> {
    let mut g = Graph::new(&format!("{}.train_step", model.name));
    let (fwd, loss) = forward_loss(&mut g, model, spec, batch, Mode::Train)?;
    let lr = g.input("lr", [])?;
    let step = g.state("step", [])?;
    let grads = grad(&mut g, loss, &fwd.params)?;
    let pairs: Vec<(ValueId, ValueId)> = fwd.params.iter().copied().zip(grads).collect();
    let slots = spec.optimizer.apply(&mut g, lr, step, &pairs)?;
    let one = g.scalar(1.0)?;
    let next = g.add(step, one)?;
    g.add_update(step, next)?;
    Ok((g, slots))
}

/// Forward, loss and metrics without updates.
pub fn eval_graph(model: &Sequential, spec: &CompileSpec, batch: usize) -> Result<Graph> {
    let mut g = Graph::new(&format!("{}.eval", model.name));
    forward_loss(&mut g, model, spec, batch, Mode::Infer)?;
    Ok(g)
}

/// The forward pass alone: `x` to `y_pred`.
pub fn predict_graph(model: &Sequential, batch: usize) -> Result<Graph> {
    let mut g = Graph::new(&format!("{}.predict", model.name));
    let x = g.input("x", input_shape(model, batch))?;
    let fwd = model.lower(&mut g, x, Mode::Infer)?;
    g.add_output("y_pred", fwd.output)?;
    Ok(g)
}

/// The dropout noise inputs a graph expects, with their shapes.
pub fn noise_inputs(g: &Graph) -> Vec<(String, Vec<usize>)> {
    g.args(Role::Input)
        .filter(|&v| g.value_name(v).ends_with(".noise"))
        .map(|v| (g.value_name(v).to_string(), g.shape(v).dims().to_vec()))
        .collect()
}
