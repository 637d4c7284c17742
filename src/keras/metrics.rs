//! Metrics as IR: each builds the batch mean of a per-sample score. The
//! trainer averages batch values weighted by batch size, which is exactly
//! Keras' running mean over an epoch.

use super::losses::Loss;
use crate::ir::{CmpOp, Graph, IrError, Result, ValueId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Keras' `"accuracy"`: resolved from the loss and output shape (below).
    Accuracy,
    /// argmax(pred) == argmax(target), one-hot targets.
    CategoricalAccuracy,
    /// argmax(pred) == label, class-index targets.
    SparseCategoricalAccuracy,
    /// (pred > 0.5) == target.
    BinaryAccuracy,
}

impl Metric {
    pub fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "accuracy" | "acc" => Metric::Accuracy,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "binary_accuracy" => Metric::BinaryAccuracy,
            _ => return None,
        })
    }

    /// The name under which the metric is logged (Keras keeps the name the
    /// user gave, so `"accuracy"` stays `accuracy`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
        }
    }

    /// What `"accuracy"` means for this loss, as Keras decides it: sparse
    /// labels -> sparse categorical; a single output unit -> binary;
    /// otherwise categorical.
    pub fn resolve(self, loss: Loss, output_units: usize) -> Metric {
        match self {
            Metric::Accuracy => match loss {
                Loss::SparseCategoricalCrossentropy { .. } => Metric::SparseCategoricalAccuracy,
                _ if output_units == 1 => Metric::BinaryAccuracy,
                _ => Metric::CategoricalAccuracy,
            },
            other => other,
        }
    }

    /// The batch mean of the metric for `pred` against `target`.
    pub fn build(self, g: &mut Graph, pred: ValueId, target: ValueId) -> Result<ValueId> {
        let (p, t) = (g.shape(pred).dims(), g.shape(target).dims());
        let fits = match self {
            Metric::SparseCategoricalAccuracy => !p.is_empty() && t == &p[..p.len() - 1],
            _ => p == t && !p.is_empty(),
        };
        if !fits {
            return Err(IrError::Type {
                op: self.name().to_string(),
                operands: vec![g.ty(pred).clone(), g.ty(target).clone()],
                reason: "the targets do not fit this metric (sparse metrics take class \
                         indices, the others targets shaped like the prediction)"
                    .into(),
            });
        }
        let correct = match self {
            Metric::Accuracy | Metric::CategoricalAccuracy => {
                let p = argmax_last(g, pred)?;
                let t = argmax_last(g, target)?;
                g.compare(CmpOp::Eq, p, t)?
            }
            Metric::SparseCategoricalAccuracy => {
                let p = argmax_last(g, pred)?;
                g.compare(CmpOp::Eq, p, target)?
            }
            Metric::BinaryAccuracy => {
                let half = g.scalar(0.5)?;
                let p = g.compare(CmpOp::Gt, pred, half)?;
                g.compare(CmpOp::Eq, p, target)?
            }
        };
        let axes: Vec<usize> = (0..g.shape(correct).rank()).collect();
        if axes.is_empty() {
            return Ok(correct);
        }
        g.mean(correct, &axes, false)
    }
}

/// The index of the first maximum along the last axis, as f32:
/// `n - max((x == max(x)) * (n - i))` picks the smallest winning `i`.
pub fn argmax_last(g: &mut Graph, x: ValueId) -> Result<ValueId> {
    let shape = g.shape(x).clone();
    let axis = shape.rank() - 1;
    let n = shape[axis];
    let max = g.reduce_max(x, &[axis], true)?;
    let is_max = g.compare(CmpOp::Eq, x, max)?;
    let countdown = g.tensor([n], (0..n).map(|i| (n - i) as f32).collect())?;
    let countdown = g.broadcast_in_dim(countdown, shape, vec![axis])?;
    let score = g.mul(is_max, countdown)?;
    let best = g.reduce_max(score, &[axis], false)?;
    let total = g.scalar(n as f32)?;
    g.sub(total, best)
}
