//! Adagrad: the accumulated squared gradient scales each coordinate's step.
//!
//! - Keras (`keras/src/optimizers/adagrad.py`): slot `accumulator` starting
//!   at `initial_accumulator` (0.1), `acc += g²`, `p -= lr·g / sqrt(acc + eps)`
//!   (eps **inside** the square root).
//! - PyTorch (`torch/optim/adagrad.py`): slot `sum` starting at
//!   `initial_accumulator` (0), `sum += g²`, `p -= lr·g / (sqrt(sum) + eps)`
//!   (eps **outside**). PyTorch's `lr_decay` is the optimizer's `decay`.

use super::apply::{Rule, Shared, Slots};
use super::Convention;
use crate::ir::{Graph, Result, ValueId};

pub(super) struct Adagrad {
    convention: Convention,
    initial_accumulator: f32,
    epsilon: ValueId,
}

impl Adagrad {
    pub(super) fn new(
        g: &mut Graph,
        convention: Convention,
        initial_accumulator: f32,
        epsilon: f32,
    ) -> Result<Adagrad> {
        Ok(Adagrad {
            convention,
            initial_accumulator,
            epsilon: g.scalar(epsilon)?,
        })
    }
}

impl Rule for Adagrad {
    fn update(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        let slot = match self.convention {
            Convention::Keras => "accumulator",
            Convention::PyTorch => "sum",
        };
        let acc = slots.declare(g, slot, self.initial_accumulator)?;
        let g2 = g.square(grad)?;
        let acc_new = g.add(acc, g2)?;
        g.add_update(acc, acc_new)?;
        let step = match self.convention {
            // Keras: `(lr·g) / sqrt(acc + eps)`.
            Convention::Keras => {
                let shifted = g.add(acc_new, self.epsilon)?;
                let denom = g.sqrt(shifted)?;
                let lr_g = g.mul(s.lr(), grad)?;
                g.div(lr_g, denom)?
            }
            // PyTorch's `addcdiv_(g, std, value=-clr)`: `p + (-clr·g) / std`.
            Convention::PyTorch => {
                let root = g.sqrt(acc_new)?;
                let denom = g.add(root, self.epsilon)?;
                let lr_g = g.mul(s.lr(), grad)?;
                g.div(lr_g, denom)?
            }
        };
        g.sub(p, step)
    }
}
