//! Stochastic gradient descent, optionally with (Nesterov) momentum `μ`.
//!
//! - Keras (`keras/src/optimizers/sgd.py`): slot `momentum`, the velocity
//!   `v = μ·v - lr·g`, then `p += v`, or with Nesterov `p += μ·v - lr·g`
//!   (with the already updated `v`). Without momentum, `p -= lr·g` and no slot.
//! - PyTorch (`torch/optim/sgd.py`, dampening 0): slot `momentum_buffer`,
//!   `b = μ·b + g` (starting at 0, which gives PyTorch's `b₁ = g`), then
//!   `g' = g + μ·b` with Nesterov, else `g' = b`, and `p -= lr·g'`.
//!
//! Nesterov without momentum is plain SGD in both (PyTorch would refuse it).

use super::apply::{Rule, Shared, Slots};
use super::Convention;
use crate::ir::{Graph, Result, ValueId};

pub(super) struct Sgd {
    convention: Convention,
    /// `None` without momentum.
    momentum: Option<ValueId>,
    nesterov: bool,
}

impl Sgd {
    pub(super) fn new(
        g: &mut Graph,
        convention: Convention,
        momentum: f32,
        nesterov: bool,
    ) -> Result<Sgd> {
        let momentum = if momentum == 0.0 {
            None
        } else {
            Some(g.scalar(momentum)?)
        };
        Ok(Sgd {
            convention,
            momentum,
            nesterov,
        })
    }
}

impl Rule for Sgd {
    fn update(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        let Some(mu) = self.momentum else {
            let step = g.mul(grad, s.lr())?;
            return g.sub(p, step);
        };
        match self.convention {
            Convention::Keras => {
                let v = slots.declare(g, "momentum", 0.0)?;
                let lr_g = g.mul(grad, s.lr())?;
                let mu_v = g.mul(v, mu)?;
                let v_new = g.sub(mu_v, lr_g)?;
                g.add_update(v, v_new)?;
                let delta = if self.nesterov {
                    let mu_v = g.mul(v_new, mu)?;
                    g.sub(mu_v, lr_g)?
                } else {
                    v_new
                };
                g.add(p, delta)
            }
            Convention::PyTorch => {
                let b = slots.declare(g, "momentum_buffer", 0.0)?;
                let mu_b = g.mul(b, mu)?;
                let b_new = g.add(mu_b, grad)?;
                g.add_update(b, b_new)?;
                let direction = if self.nesterov {
                    let mu_b = g.mul(b_new, mu)?;
                    g.add(grad, mu_b)?
                } else {
                    b_new
                };
                let step = g.mul(direction, s.lr())?;
                g.sub(p, step)
            }
        }
    }
}
