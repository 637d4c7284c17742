//! The train step's NaN/inf guard, computed inside the graph: a scalar that
//! is 1 when the loss and every gradient are finite and 0 otherwise. A
//! backend applies the step's updates only when it is 1, so a diverging
//! step leaves the state as it was without keeping old and new weights
//! side by side.

use crate::ir::{CmpOp, Graph, Result, ValueId};

/// `inf > max(|loss|, max|g| for every gradient g)`: `max` and
/// `reduce_max` propagate NaN and `inf > inf` is false, so any NaN or
/// infinity makes it 0. (Only exact rewrites may touch it: `x * 0 = 0`
/// style fast-math would hide the infinities it looks for.)
pub fn all_finite(g: &mut Graph, loss: ValueId, grads: &[ValueId]) -> Result<ValueId> {
    let mut largest = g.abs(loss)?;
    for &grad in grads {
        if g.shape(grad).numel() == 0 {
            continue;
        }
        let magnitude = g.abs(grad)?;
        let axes: Vec<usize> = (0..g.shape(grad).rank()).collect();
        let max = g.reduce_max(magnitude, &axes, false)?;
        largest = g.maximum(largest, max)?;
    }
    let inf = g.scalar(f32::INFINITY)?;
    g.compare(CmpOp::Gt, inf, largest)
}
