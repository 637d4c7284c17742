//! Adam and AMSGrad (AdamW is Adam with decoupled weight decay, applied by
//! [`Optimizer::apply`](super::Optimizer::apply) before this update).
//!
//! - Keras (`keras/src/optimizers/adam.py`): slots `momentum` and `velocity`,
//!   `m += (g - m)·(1-β₁)`, `v += (g² - v)·(1-β₂)`,
//!   `p -= (m·α) / (sqrt(v) + eps)` with the fed `α = lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ)`:
//!   the "epsilon hat" of the paper's section 2, added to the *uncorrected*
//!   `sqrt(v)`. AMSGrad adds slot `velocity_hat`, `v̂ = max(v̂, v)`, used
//!   in place of `v`.
//! - PyTorch (`torch/optim/adam.py`, single-tensor path): slots `exp_avg`
//!   and `exp_avg_sq`, `m = lerp(m, g, 1-β₁)`, `v = v·β₂ + ((1-β₂)·g)·g`,
//!   `denom = sqrt(v) / bias_correction2_sqrt + eps` and
//!   `p -= (step_size·m) / denom` (`addcdiv_(exp_avg, denom,
//!   value=-step_size)`), i.e. `lr·m̂/(sqrt(v̂) + eps)` with eps added to the
//!   *bias-corrected* root. AMSGrad adds slot `max_exp_avg_sq` holding the
//!   running max of the **uncorrected** `v` (what `torch.maximum(
//!   max_exp_avg_sqs[i], exp_avg_sq)` does; the docs' pseudo-code takes the
//!   max of `v̂`), which is then divided by `bias_correction2_sqrt` like `v`.
//!
//! The step-dependent scalars (`α`; `step_size` and
//! `bias_correction2_sqrt`) are graph inputs the trainer computes on the
//! host in each framework's arithmetic (see `scalars.rs`); `1-β` is a
//! constant computed in double from the decimal β. Without bias correction,
//! Keras feeds `α = lr` and PyTorch `step_size = lr` with no root correction.

use super::apply::{one_minus, Lerp, Rule, Shared, Slots};
use super::scalars::{self, StepScalar};
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
    /// Keras' `1 - beta_1`.
    one_minus_beta_1: ValueId,
    /// PyTorch's `lerp_(grad, 1 - beta1)`.
    lerp: Option<Lerp>,
    one_minus_beta_2: ValueId,
    epsilon: ValueId,
    amsgrad: bool,
    /// Multiplies `m`: Keras' `α`, PyTorch's `step_size`.
    step_size: ValueId,
    /// PyTorch only: `bias_correction2_sqrt`, dividing `sqrt(v)`; `None`
    /// without bias correction.
    root_correction: Option<ValueId>,
}

impl Adam {
    pub(super) fn new(g: &mut Graph, s: &Shared, convention: Convention, h: Hyper) -> Result<Adam> {
        let (step_size, root_correction) = match convention {
            Convention::Keras => (s.get(StepScalar::Alpha), None),
            Convention::PyTorch => (
                s.get(StepScalar::StepSize),
                h.bias_correction.then(|| s.get(StepScalar::RootCorrection)),
            ),
        };
        Ok(Adam {
            convention,
            beta_2: g.scalar(h.beta_2)?,
            one_minus_beta_1: one_minus(g, h.beta_1)?,
            lerp: match convention {
                Convention::Keras => None,
                Convention::PyTorch => Some(Lerp::new(g, scalars::one_minus(h.beta_1))?),
            },
            one_minus_beta_2: one_minus(g, h.beta_2)?,
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
        let m = slots.declare(g, m_name, 0.0)?;
        let m_new = match self.convention {
            // `assign_add(m, (g - m)·(1-β₁))`.
            Convention::Keras => {
                let diff = g.sub(grad, m)?;
                let scaled = g.mul(diff, self.one_minus_beta_1)?;
                g.add(m, scaled)?
            }
            Convention::PyTorch => {
                let lerp = self.lerp.as_ref().expect("built for PyTorch");
                lerp.build(g, m, grad)?
            }
        };
        g.add_update(m, m_new)?;

        let v = slots.declare(g, v_name, 0.0)?;
        let v_new = match self.convention {
            // `assign_add(v, (g² - v)·(1-β₂))`.
            Convention::Keras => {
                let g2 = g.square(grad)?;
                let diff = g.sub(g2, v)?;
                let scaled = g.mul(diff, self.one_minus_beta_2)?;
                g.add(v, scaled)?
            }
            // `mul_(β₂).addcmul_(grad, grad, value=1-β₂)`.
            Convention::PyTorch => {
                let kept = g.mul(v, self.beta_2)?;
                let scaled = g.mul(self.one_minus_beta_2, grad)?;
                let added = g.mul(scaled, grad)?;
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
        // Keras: `(m·α) / denom`; PyTorch's `addcdiv_(m, denom,
        // value=-step_size)`: `p + (-step_size·m) / denom`.
        let scaled = g.mul(m_new, self.step_size)?;
        let step = g.div(scaled, denom)?;
        g.sub(p, step)
    }
}
