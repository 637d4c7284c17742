//! Losses as graph builders. Each takes the prediction and the target and
//! returns a scalar loss value, reduced as Keras does by default
//! (`sum_over_batch_size`: the per-sample losses averaged over the batch).

use crate::ir::{CmpOp, Graph, IrError, Result, ValueId};
use crate::keras::EPSILON;

/// A loss function, selectable by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Keras `mean_squared_error`: mean over the last axis, then over the batch.
    MeanSquaredError,
    /// The lecture's `E = 1/2 * sum (y - t)^2` over every element.
    HalfSumSquaredError,
    /// Keras `categorical_crossentropy` on one-hot (or soft) targets.
    CategoricalCrossentropy { from_logits: bool },
    /// Keras `sparse_categorical_crossentropy` on class indices (as f32).
    SparseCategoricalCrossentropy { from_logits: bool },
}

impl Loss {
    /// Keras' names, plus `half_sse` for the lecture's loss.
    pub fn from_name(name: &str) -> Option<Loss> {
        Some(match name {
            "mse" | "mean_squared_error" => Loss::MeanSquaredError,
            "half_sse" => Loss::HalfSumSquaredError,
            "categorical_crossentropy" => Loss::CategoricalCrossentropy { from_logits: false },
            "sparse_categorical_crossentropy" => {
                Loss::SparseCategoricalCrossentropy { from_logits: false }
            }
            _ => return None,
        })
    }

    /// Builds the scalar loss of `pred` against `target`.
    pub fn build(self, g: &mut Graph, pred: ValueId, target: ValueId) -> Result<ValueId> {
        match self {
            Loss::MeanSquaredError => mean_squared_error(g, pred, target),
            Loss::HalfSumSquaredError => half_sum_squared_error(g, pred, target),
            Loss::CategoricalCrossentropy { from_logits } => {
                categorical_crossentropy(g, pred, target, from_logits)
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                sparse_categorical_crossentropy(g, pred, target, from_logits)
            }
        }
    }
}

fn require_same_shape(g: &Graph, loss: &str, pred: ValueId, target: ValueId) -> Result<()> {
    if g.shape(pred) == g.shape(target) {
        return Ok(());
    }
    Err(IrError::Type {
        op: loss.to_string(),
        operands: vec![g.ty(pred).clone(), g.ty(target).clone()],
        reason: "prediction and target shapes differ".into(),
    })
}

/// Averages per-sample losses over every remaining axis (a scalar stays).
fn mean_over_batch(g: &mut Graph, per_sample: ValueId) -> Result<ValueId> {
    let axes: Vec<usize> = (0..g.shape(per_sample).rank()).collect();
    if axes.is_empty() {
        return Ok(per_sample);
    }
    g.mean(per_sample, &axes, false)
}

fn last_axis(g: &Graph, loss: &str, v: ValueId) -> Result<usize> {
    match g.shape(v).rank() {
        0 => Err(IrError::Type {
            op: loss.to_string(),
            operands: vec![g.ty(v).clone()],
            reason: "the prediction needs at least one axis".into(),
        }),
        r => Ok(r - 1),
    }
}

/// Keras: `mean(square(pred - target), axis=-1)`, then the batch mean.
pub fn mean_squared_error(g: &mut Graph, pred: ValueId, target: ValueId) -> Result<ValueId> {
    require_same_shape(g, "mean_squared_error", pred, target)?;
    let axis = last_axis(g, "mean_squared_error", pred)?;
    let diff = g.sub(pred, target)?;
    let sq = g.square(diff)?;
    let per_sample = g.mean(sq, &[axis], false)?;
    mean_over_batch(g, per_sample)
}

/// The lecture's `E = 1/2 * sum (y - t)^2`, summed over every element.
pub fn half_sum_squared_error(g: &mut Graph, pred: ValueId, target: ValueId) -> Result<ValueId> {
    require_same_shape(g, "half_sum_squared_error", pred, target)?;
    let diff = g.sub(pred, target)?;
    let sq = g.square(diff)?;
    let axes: Vec<usize> = (0..g.shape(sq).rank()).collect();
    let sum = g.reduce_sum(sq, &axes, false)?;
    let half = g.scalar(0.5)?;
    g.mul(sum, half)
}

/// Keras `categorical_crossentropy` over the last axis, then the batch mean.
/// On probabilities it renormalizes `pred / sum(pred)` and clips to
/// `[1e-7, 1 - 1e-7]` before `-sum(t * log p)`, so probabilities of exactly
/// 0 and 1 stay finite; `from_logits` uses the stable
/// `log_softmax(x) = x - max - log(sum(exp(x - max)))`.
pub fn categorical_crossentropy(
    g: &mut Graph,
    pred: ValueId,
    target: ValueId,
    from_logits: bool,
) -> Result<ValueId> {
    require_same_shape(g, "categorical_crossentropy", pred, target)?;
    let axis = last_axis(g, "categorical_crossentropy", pred)?;
    let log_p = if from_logits {
        log_softmax(g, pred, axis)?
    } else {
        let total = g.reduce_sum(pred, &[axis], true)?;
        let p = g.div(pred, total)?;
        let lo = g.scalar(EPSILON)?;
        let hi = g.scalar(1.0 - EPSILON)?;
        let p = g.maximum(p, lo)?;
        let p = g.minimum(p, hi)?;
        g.log(p)?
    };
    let t_log_p = g.mul(target, log_p)?;
    let sum = g.reduce_sum(t_log_p, &[axis], false)?;
    let per_sample = g.neg(sum)?;
    mean_over_batch(g, per_sample)
}

/// `x - max(x) - log(sum(exp(x - max(x))))` along `axis`.
pub fn log_softmax(g: &mut Graph, x: ValueId, axis: usize) -> Result<ValueId> {
    let max = g.reduce_max(x, &[axis], true)?;
    let shifted = g.sub(x, max)?;
    let e = g.exp(shifted)?;
    let sum = g.reduce_sum(e, &[axis], true)?;
    let log_sum = g.log(sum)?;
    g.sub(shifted, log_sum)
}

/// Keras `sparse_categorical_crossentropy`: `labels` holds class indices
/// (as f32, shape = the prediction's without its last axis); they are
/// one-hot encoded in the graph by comparison with `[0, 1, .., classes-1]`.
pub fn sparse_categorical_crossentropy(
    g: &mut Graph,
    pred: ValueId,
    labels: ValueId,
    from_logits: bool,
) -> Result<ValueId> {
    let axis = last_axis(g, "sparse_categorical_crossentropy", pred)?;
    let shape = g.shape(pred).clone();
    if g.shape(labels).dims() != &shape[..axis] {
        return Err(IrError::Type {
            op: "sparse_categorical_crossentropy".into(),
            operands: vec![g.ty(pred).clone(), g.ty(labels).clone()],
            reason: "labels must have the prediction's shape without its last axis".into(),
        });
    }
    let classes = shape[axis];
    let iota = g.tensor([classes], (0..classes).map(|c| c as f32).collect())?;
    let labels = g.broadcast_in_dim(labels, shape.clone(), (0..axis).collect())?;
    let iota = g.broadcast_in_dim(iota, shape, vec![axis])?;
    let one_hot = g.compare(CmpOp::Eq, labels, iota)?;
    categorical_crossentropy(g, pred, one_hot, from_logits)
}
