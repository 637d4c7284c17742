//! Adam and AMSGrad (AdamW is Adam with decoupled weight decay, applied by
//! [`Optimizer::apply`](super::Optimizer::apply) before this update).
//!
//! - Keras (`keras/src/optimizers/adam.py`): slots `momentum` and `velocity`,
//!   `m += (g - m)·(1-β₁)`, `v += (g² - v)·(1-β₂)`,
//!   `α = lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ)`, `p -= α·m / (sqrt(v) + eps)`: the
//!   "epsilon hat" of the paper's section 2, added to the *uncorrected*
//!   `sqrt(v)`. AMSGrad adds slot `velocity_hat`, `v̂ = max(v̂, v)`, used
//!   in place of `v`.
//! - PyTorch (`torch/optim/adam.py`): slots `exp_avg` and `exp_avg_sq`,
//!   `m = lerp(m, g, 1-β₁)`, `v = β₂·v + (1-β₂)·g²`, and
//!   `p -= lr/(1-β₁ᵗ) · m / (sqrt(v)/sqrt(1-β₂ᵗ) + eps)`, i.e.
//!   `lr·m̂/(sqrt(v̂) + eps)` with eps added to the *bias-corrected* root.
//!   AMSGrad adds slot `max_exp_avg_sq` holding the running max of the
//!   **uncorrected** `v` (what `torch.maximum(max_exp_avg_sqs[i],
//!   exp_avg_sq)` does; the docs' pseudo-code takes the max of `v̂`), which
//!   is then divided by `sqrt(1-β₂ᵗ)` like `v`.
//!
//! Without bias correction, Keras uses `α = lr` and PyTorch `m̂ = m, v̂ = v`.
//! `β^t` is built as `exp(t·ln β)`, `t` being the 1-based step.

use super::apply::{one_minus, power_t, Rule, Shared, Slots};
use super::Convention;
use crate::ir::{Graph, Result, ValueId};

pub(super) struct Hyper {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub amsgrad: bool,
    pub bias_correction: bool,
}

pub(super) struct Adam {
    convention: Convention,
    beta_2: ValueId,
    one_minus_beta_1: ValueId,
    one_minus_beta_2: ValueId,
    epsilon: ValueId,
    amsgrad: bool,
    /// Multiplies `m / denom`: Keras' `α`, PyTorch's `lr / (1-β₁ᵗ)`.
    step_size: ValueId,
    /// PyTorch only: `sqrt(1-β₂ᵗ)`, dividing `sqrt(v)`; `None` without bias
    /// correction.
    root_correction: Option<ValueId>,
}

impl Adam {
    pub(super) fn new(g: &mut Graph, s: &Shared, convention: Convention, h: Hyper) -> Result<Adam> {
        let beta_1 = g.scalar(h.beta_1)?;
        let beta_2 = g.scalar(h.beta_2)?;
        let one_minus_beta_1 = one_minus(g, s, beta_1)?;
        let one_minus_beta_2 = one_minus(g, s, beta_2)?;
        let (step_size, root_correction) = if h.bias_correction {
            let b1_t = power_t(g, s, beta_1)?;
            let correction_1 = one_minus(g, s, b1_t)?;
            let b2_t = power_t(g, s, beta_2)?;
            let correction_2 = one_minus(g, s, b2_t)?;
            let root_2 = g.sqrt(correction_2)?;
            match convention {
                Convention::Keras => {
                    let scaled = g.mul(s.lr, root_2)?;
                    (g.div(scaled, correction_1)?, None)
                }
                Convention::PyTorch => (g.div(s.lr, correction_1)?, Some(root_2)),
            }
        } else {
            (s.lr, None)
        };
        Ok(Adam {
            convention,
            beta_2,
            one_minus_beta_1,
            one_minus_beta_2,
            epsilon: g.scalar(h.epsilon)?,
            amsgrad: h.amsgrad,
            step_size,
            root_correction,
        })
    }
}

impl Rule for Adam {
    fn update(
        &self,
        g: &mut Graph,
        _: &Shared,
        slots: &mut Slots<'_>,
        p: ValueId,
        grad: ValueId,
    ) -> Result<ValueId> {
        let [m_name, v_name, max_name] = match self.convention {
            Convention::Keras => ["momentum", "velocity", "velocity_hat"],
            Convention::PyTorch => ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        };
        // Both: `m + (g - m)·(1-β₁)` (Keras' assign_add, PyTorch's lerp).
        let m = slots.declare(g, m_name, 0.0)?;
        let diff = g.sub(grad, m)?;
        let scaled = g.mul(diff, self.one_minus_beta_1)?;
        let m_new = g.add(m, scaled)?;
        g.add_update(m, m_new)?;

        let v = slots.declare(g, v_name, 0.0)?;
        let g2 = g.square(grad)?;
        let v_new = match self.convention {
            Convention::Keras => {
                let diff = g.sub(g2, v)?;
                let scaled = g.mul(diff, self.one_minus_beta_2)?;
                g.add(v, scaled)?
            }
            Convention::PyTorch => {
                let kept = g.mul(v, self.beta_2)?;
                let added = g.mul(g2, self.one_minus_beta_2)?;
                g.add(kept, added)?
            }
        };
        g.add_update(v, v_new)?;

        let v_used = if self.amsgrad {
            let v_max = slots.declare(g, max_name, 0.0)?;
            let v_max_new = g.maximum(v_max, v_new)?;
            g.add_update(v_max, v_max_new)?;
            v_max_new
        } else {
            v_new
        };
        let root = g.sqrt(v_used)?;
        let root = match self.root_correction {
            Some(correction) => g.div(root, correction)?,
            None => root,
        };
        let denom = g.add(root, self.epsilon)?;
        let step = match self.convention {
            // Keras: `(m·α) / denom`.
            Convention::Keras => {
                let scaled = g.mul(m_new, self.step_size)?;
                g.div(scaled, denom)?
            }
            // PyTorch's `addcdiv`: `step_size · (m / denom)`.
            Convention::PyTorch => {
                let ratio = g.div(m_new, denom)?;
                g.mul(ratio, self.step_size)?
            }
        };
        g.sub(p, step)
    }
}
