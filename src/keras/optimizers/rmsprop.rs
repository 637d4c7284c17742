//! RMSprop: steps scaled by a running mean of the squared gradient, `rho`
//! being PyTorch's `alpha`.
//!
//! - Keras (`keras/src/optimizers/rmsprop.py`): slot `velocity`,
//!   `v = ρ·v + (1-ρ)·g²`; centered adds slot `average_gradient`,
//!   `a = ρ·a + (1-ρ)·g` and uses `denom = v - a² + eps`, else `v + eps`
//!   (eps **inside** the square root); `inc = lr·g / sqrt(denom)`; with
//!   momentum `μ > 0`, slot `momentum`, `m = μ·m + inc; p -= m`, else `p -= inc`.
//! - PyTorch (`torch/optim/rmsprop.py`): slot `square_avg`,
//!   `v = v·α + ((1-α)·g)·g` (`mul_(alpha).addcmul_(grad, grad, value=1 -
//!   alpha)`); centered adds slot `grad_avg`, `ḡ = lerp(ḡ, g, 1-α)` and
//!   `ṽ = v - ḡ²`, else `ṽ = v`; `avg = sqrt(ṽ) + eps` (eps **outside**);
//!   with momentum, slot `momentum_buffer`, `b = b·μ + g/avg; p -= lr·b`,
//!   else `p -= (lr·g)/avg` (`addcdiv_(grad, avg, value=-lr)`).
//!
//! `1-ρ` is computed in double from the decimal `ρ` and rounded once, as
//! both frameworks do with the Python expression `1 - rho`.

use super::apply::{one_minus, Lerp, Rule, Shared, Slots};
use super::scalars;
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
    /// PyTorch's `lerp_(grad, 1-α)` of the centered `grad_avg`.
    lerp: Option<Lerp>,
    epsilon: ValueId,
    /// `None` without momentum.
    momentum: Option<ValueId>,
    centered: bool,
}

impl RmsProp {
    pub(super) fn new(g: &mut Graph, convention: Convention, h: Hyper) -> Result<RmsProp> {
        let rho = g.scalar(h.rho)?;
        let momentum = if h.momentum > 0.0 {
            Some(g.scalar(h.momentum)?)
        } else {
            None
        };
        Ok(RmsProp {
            convention,
            rho,
            one_minus_rho: one_minus(g, h.rho)?,
            lerp: match convention {
                Convention::PyTorch if h.centered => Some(Lerp::new(g, scalars::one_minus(h.rho))?),
                _ => None,
            },
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
        let kept = g.mul(self.rho, v)?;
        let added = g.mul(self.one_minus_rho, g2)?;
        let v_new = g.add(kept, added)?;
        g.add_update(v, v_new)?;
        let denom = if self.centered {
            let a = slots.declare(g, "average_gradient", 0.0)?;
            let kept = g.mul(self.rho, a)?;
            let added = g.mul(self.one_minus_rho, grad)?;
            let a_new = g.add(kept, added)?;
            g.add_update(a, a_new)?;
            let a2 = g.square(a_new)?;
            let centered = g.sub(v_new, a2)?;
            g.add(centered, self.epsilon)?
        } else {
            g.add(v_new, self.epsilon)?
        };
        let root = g.sqrt(denom)?;
        let lr_g = g.mul(s.lr(), grad)?;
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
        // `v·α + ((1-α)·g)·g`.
        let kept = g.mul(v, self.rho)?;
        let scaled = g.mul(self.one_minus_rho, grad)?;
        let added = g.mul(scaled, grad)?;
        let v_new = g.add(kept, added)?;
        g.add_update(v, v_new)?;
        let root = if self.centered {
            let a = slots.declare(g, "grad_avg", 0.0)?;
            let lerp = self
                .lerp
                .as_ref()
                .expect("built for PyTorch's centered RMSprop");
            let a_new = lerp.build(g, a, grad)?;
            g.add_update(a, a_new)?;
            let a2 = g.square(a_new)?;
            let centered = g.sub(v_new, a2)?;
            g.sqrt(centered)?
        } else {
            g.sqrt(v_new)?
        };
        let avg = g.add(root, self.epsilon)?;
        let step = match self.momentum {
            // `buf.mul_(μ).addcdiv_(grad, avg)`, `param.add_(buf, alpha=-lr)`.
            Some(mu) => {
                let b = slots.declare(g, "momentum_buffer", 0.0)?;
                let mu_b = g.mul(b, mu)?;
                let ratio = g.div(grad, avg)?;
                let b_new = g.add(mu_b, ratio)?;
                g.add_update(b, b_new)?;
                g.mul(b_new, s.lr())?
            }
            // `param.addcdiv_(grad, avg, value=-lr)`: `p + (-lr·g)/avg`.
            None => {
                let lr_g = g.mul(s.lr(), grad)?;
                g.div(lr_g, avg)?
            }
        };
        g.sub(p, step)
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
