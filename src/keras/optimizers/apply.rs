//! [`Optimizer::apply`]: the per-step scalars, weight decay, and the slots
//! of every parameter; the families' formulas are in their own modules.

use super::{adagrad, adam, rmsprop, sgd};
use super::{Convention, Kind, Optimizer, SlotInit, WeightDecay};
use crate::ir::{Graph, IrError, NodeKind, Result, Role, ValueId};

impl Optimizer {
    /// Appends the update of every `(param, grad)` pair to `g`.
    ///
    /// `lr` is a scalar graph value holding the base learning rate (fed each
    /// step); `step` is a scalar state holding the number of steps already
    /// taken (0 before the first step); the caller adds
    /// `update step <- step + 1`. Declares one `state` per slot, named
    /// `<param name>.<slot>`, adds `update param <- new` and
    /// `update slot <- new` for each, and returns the slots to initialize,
    /// in declaration order. Operands are checked before anything is added.
    pub fn apply(
        &self,
        g: &mut Graph,
        lr: ValueId,
        step: ValueId,
        params_and_grads: &[(ValueId, ValueId)],
    ) -> Result<Vec<SlotInit>> {
        require_scalar(g, "lr", lr)?;
        require_scalar(g, "step", step)?;
        for &(param, grad) in params_and_grads {
            require_param(g, param, grad)?;
        }
        let one = g.scalar(1.0)?;
        let t = g.add(step, one)?;
        let lr = if self.decay == 0.0 {
            lr
        } else {
            let decay = g.scalar(self.decay)?;
            let decay_step = g.mul(decay, step)?;
            let denom = g.add(one, decay_step)?;
            g.div(lr, denom)?
        };
        let shared = Shared { one, t, lr };
        let rule: Box<dyn Rule> = match self.kind {
            Kind::Sgd { momentum, nesterov } => {
                Box::new(sgd::Sgd::new(g, self.convention, momentum, nesterov)?)
            }
            Kind::Adagrad {
                initial_accumulator,
                epsilon,
            } => Box::new(adagrad::Adagrad::new(
                g,
                self.convention,
                initial_accumulator,
                epsilon,
            )?),
            Kind::RmsProp {
                rho,
                epsilon,
                momentum,
                centered,
            } => Box::new(rmsprop::RmsProp::new(
                g,
                &shared,
                self.convention,
                rmsprop::Hyper {
                    rho,
                    epsilon,
                    momentum,
                    centered,
                },
            )?),
            Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            } => Box::new(adam::Adam::new(
                g,
                &shared,
                self.convention,
                adam::Hyper {
                    beta_1,
                    beta_2,
                    epsilon,
                    amsgrad,
                    bias_correction,
                },
            )?),
        };
        let decoupled = match self.weight_decay {
            WeightDecay::Decoupled(wd) => Some(self.decoupled_factor(g, &shared, wd)?),
            _ => None,
        };
        let l2 = match self.weight_decay {
            WeightDecay::L2(wd) => Some(g.scalar(wd)?),
            _ => None,
        };
        let mut inits = Vec::new();
        for &(param, grad) in params_and_grads {
            let grad = match l2 {
                Some(wd) => {
                    let decay = g.mul(param, wd)?;
                    g.add(grad, decay)?
                }
                None => grad,
            };
            let value = match decoupled {
                Some(factor) => self.decay_param(g, param, factor)?,
                None => param,
            };
            let mut slots = Slots {
                param,
                inits: &mut inits,
            };
            let new = rule.update(g, &shared, &mut slots, value, grad)?;
            g.add_update(param, new)?;
        }
        Ok(inits)
    }

    /// The scalar decoupled weight decay multiplies with: Keras subtracts
    /// `p·(wd·lr_t)`, PyTorch multiplies by `1 - lr_t·wd`.
    fn decoupled_factor(&self, g: &mut Graph, s: &Shared, wd: f32) -> Result<ValueId> {
        let wd = g.scalar(wd)?;
        let lr_wd = g.mul(s.lr, wd)?;
        match self.convention {
            Convention::Keras => Ok(lr_wd),
            Convention::PyTorch => g.sub(s.one, lr_wd),
        }
    }

    fn decay_param(&self, g: &mut Graph, param: ValueId, factor: ValueId) -> Result<ValueId> {
        match self.convention {
            Convention::Keras => {
                let decay = g.mul(param, factor)?;
                g.sub(param, decay)
            }
            Convention::PyTorch => g.mul(param, factor),
        }
    }
}

/// The scalars every family shares within one step.
pub(super) struct Shared {
    /// The constant 1.
    pub(super) one: ValueId,
    /// The 1-based number of this step, `step + 1`.
    pub(super) t: ValueId,
    /// This step's learning rate `lr_t` (the base rate when `decay` is 0).
    pub(super) lr: ValueId,
}

/// One family's update, built once per parameter after its scalars were
/// built once per step.
pub(super) trait Rule {
    /// Declares the param's slots, adds their updates and returns the param's
    /// new value. `value` is the param (after decoupled decay), `grad` its
    /// gradient (after L2 decay).
    fn update(
        &self,
        g: &mut Graph,
        s: &Shared,
        slots: &mut Slots<'_>,
        value: ValueId,
        grad: ValueId,
    ) -> Result<ValueId>;
}

/// Declares the slots of one param, collecting them for the trainer.
pub(super) struct Slots<'a> {
    param: ValueId,
    inits: &'a mut Vec<SlotInit>,
}

impl Slots<'_> {
    /// Declares `state %<param>.<slot>` of the param's shape, starting at `value`.
    pub(super) fn declare(&mut self, g: &mut Graph, slot: &str, value: f32) -> Result<ValueId> {
        let name = format!("{}.{slot}", g.value_name(self.param));
        let shape = g.shape(self.param).clone();
        let id = g.state(&name, shape.clone())?;
        self.inits.push(SlotInit { name, shape, value });
        Ok(id)
    }
}

/// `1 - x` for a scalar `x`, computed in the graph.
pub(super) fn one_minus(g: &mut Graph, s: &Shared, x: ValueId) -> Result<ValueId> {
    g.sub(s.one, x)
}

/// `base^t` for this step's `t`, as `exp(t · ln base)` (`pow` only takes a
/// literal exponent).
pub(super) fn power_t(g: &mut Graph, s: &Shared, base: ValueId) -> Result<ValueId> {
    let ln = g.log(base)?;
    let exponent = g.mul(s.t, ln)?;
    g.exp(exponent)
}

fn require_scalar(g: &Graph, what: &str, v: ValueId) -> Result<()> {
    g.check_id(v)?;
    if g.shape(v).rank() == 0 {
        return Ok(());
    }
    Err(IrError::Type {
        op: "optimizer".into(),
        operands: vec![g.ty(v).clone()],
        reason: format!("`{what}` must be a scalar"),
    })
}

fn require_param(g: &Graph, param: ValueId, grad: ValueId) -> Result<()> {
    g.check_id(param)?;
    g.check_id(grad)?;
    if g.node(param).kind != NodeKind::Arg(Role::Param) {
        return Err(IrError::Type {
            op: "optimizer".into(),
            operands: vec![g.ty(param).clone()],
            reason: format!("%{} is not a param", g.value_name(param)),
        });
    }
    if g.ty(param) != g.ty(grad) {
        return Err(IrError::Type {
            op: "optimizer".into(),
            operands: vec![g.ty(param).clone(), g.ty(grad).clone()],
            reason: format!(
                "the gradient %{} does not have the type of %{}",
                g.value_name(grad),
                g.value_name(param)
            ),
        });
    }
    Ok(())
}
