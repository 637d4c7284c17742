//! RMSprop: steps scaled by a running mean of the squared gradient, `rho`
//! being PyTorch's `alpha`.
//!
//! - Keras (`keras/src/optimizers/rmsprop.py`): slot `velocity`,
//!   `v = ρ·v + (1-ρ)·g²`; centered adds slot `average_gradient`,
//!   `a = ρ·a + (1-ρ)·g` and uses `denom = v - a² + eps`, else `v + eps`
//!   (eps **inside** the square root); `inc = lr·g / sqrt(denom)`; with
//!   momentum `μ > 0`, slot `momentum`, `m = μ·m + inc; p -= m`, else `p -= inc`.
//! - PyTorch (`torch/optim/rmsprop.py`): slot `square_avg`,
//!   `v = α·v + (1-α)·g²`; centered adds slot `grad_avg`,
//!   `ḡ = lerp(ḡ, g, 1-α)` and `ṽ = v - ḡ²`, else `ṽ = v`;
//!   `avg = sqrt(ṽ) + eps` (eps **outside**); with momentum, slot
//!   `momentum_buffer`, `b = μ·b + g/avg; p -= lr·b`, else `p -= lr·g/avg`.

use super::apply::{one_minus, Rule, Shared, Slots};
use super::Convention;
use crate::ir::{Graph, Result, ValueId};

pub(super) struct Hyper {
    pub rho: f32,
    pub epsilon: f32,
    pub momentum: f32,
    pub centered: bool,
}

pub(super) struct RmsProp {
    convention: Convention,
    rho: ValueId,
    one_minus_rho: ValueId,
    epsilon: ValueId,
    /// `None` without momentum.
    momentum: Option<ValueId>,
    centered: bool,
}

impl RmsProp {
    pub(super) fn new(
        g: &mut Graph,
        s: &Shared,
        convention: Convention,
        h: Hyper,
    ) -> Result<RmsProp> {
        let rho = g.scalar(h.rho)?;
        let momentum = if h.momentum > 0.0 {
            Some(g.scalar(h.momentum)?)
        } else {
            None
        };
        Ok(RmsProp {
            convention,
            rho,
            one_minus_rho: one_minus(g, s, rho)?,
            epsilon: g.scalar(h.epsilon)?,
            momentum,
            centered: h.centered,
        })
    }

    fn keras(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        let v = slots.declare(g, "velocity", 0.0)?;
        let g2 = g.square(grad)?;
        let v_new = self.running_mean(g, v, g2)?;
        g.add_update(v, v_new)?;
        let denom = if self.centered {
            let a = slots.declare(g, "average_gradient", 0.0)?;
            let a_new = self.running_mean(g, a, grad)?;
            g.add_update(a, a_new)?;
            let a2 = g.square(a_new)?;
            let centered = g.sub(v_new, a2)?;
            g.add(centered, self.epsilon)?
        } else {
            g.add(v_new, self.epsilon)?
        };
        let root = g.sqrt(denom)?;
        let lr_g = g.mul(s.lr, grad)?;
        let inc = g.div(lr_g, root)?;
        let Some(mu) = self.momentum else {
            return g.sub(p, inc);
        };
        let m = slots.declare(g, "momentum", 0.0)?;
        let mu_m = g.mul(mu, m)?;
        let m_new = g.add(mu_m, inc)?;
        g.add_update(m, m_new)?;
        g.sub(p, m_new)
    }

    fn pytorch(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        let v = slots.declare(g, "square_avg", 0.0)?;
        let g2 = g.square(grad)?;
        let v_new = self.running_mean(g, v, g2)?;
        g.add_update(v, v_new)?;
        let root = if self.centered {
            let a = slots.declare(g, "grad_avg", 0.0)?;
            // `lerp_(g, 1-α)`: `ḡ + (1-α)·(g - ḡ)`.
            let diff = g.sub(grad, a)?;
            let scaled = g.mul(diff, self.one_minus_rho)?;
            let a_new = g.add(a, scaled)?;
            g.add_update(a, a_new)?;
            let a2 = g.square(a_new)?;
            let centered = g.sub(v_new, a2)?;
            g.sqrt(centered)?
        } else {
            g.sqrt(v_new)?
        };
        let avg = g.add(root, self.epsilon)?;
        let ratio = g.div(grad, avg)?;
        let direction = match self.momentum {
            Some(mu) => {
                let b = slots.declare(g, "momentum_buffer", 0.0)?;
                let mu_b = g.mul(b, mu)?;
                let b_new = g.add(mu_b, ratio)?;
                g.add_update(b, b_new)?;
                b_new
            }
            None => ratio,
        };
        let step = g.mul(direction, s.lr)?;
        g.sub(p, step)
    }

    /// `ρ·mean + (1-ρ)·x`.
    fn running_mean(&self, g: &mut Graph, mean: ValueId, x: ValueId) -> Result<ValueId> {
        let kept = g.mul(self.rho, mean)?;
        let added = g.mul(self.one_minus_rho, x)?;
        g.add(kept, added)
    }
}

impl Rule for RmsProp {
    fn update(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        match self.convention {
            Convention::Keras => self.keras(g, s, slots, p, grad),
            Convention::PyTorch => self.pytorch(g, s, slots, p, grad),
        }
    }
}
