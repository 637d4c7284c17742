//! [`Optimizer::apply`]: the step scalars, weight decay, and the slots of
//! every parameter; the families' formulas are in their own modules.

use super::scalars::{self, StepScalar};
use super::{adagrad, adam, rmsprop, sgd};
use super::{Convention, Kind, Optimizer, SlotInit, WeightDecay};
use crate::ir::{Graph, IrError, NodeKind, Result, Role, ValueId};

impl Optimizer {
    /// Declares one scalar `input` per [`Optimizer::step_scalars`], named
    /// after it, and returns them in that order (for [`Optimizer::apply`]).
    pub fn declare_step_inputs(&self, g: &mut Graph) -> Result<Vec<ValueId>> {
        self.step_scalars()
            .into_iter()
            .map(|s| g.input(s.name(), []))
            .collect()
    }

    /// Appends the update of every `(param, grad)` pair to `g`.
    ///
    /// `scalars` are the scalar graph values the trainer feeds each step,
    /// one per [`Optimizer::step_scalars`] in that order (see
    /// [`Optimizer::declare_step_inputs`] and [`Optimizer::step_values`]);
    /// the update itself does not read the step counter. Declares one
    /// `state` per slot, named `<param name>.<slot>`, adds
    /// `update param <- new` and `update slot <- new` for each, and returns
    /// the slots to initialize, in declaration order. Operands are checked
    /// before anything is added.
    pub fn apply(
        &self,
        g: &mut Graph,
        scalars: &[ValueId],
        params_and_grads: &[(ValueId, ValueId)],
    ) -> Result<Vec<SlotInit>> {
        let wanted = self.step_scalars();
        if scalars.len() != wanted.len() {
            return Err(IrError::Type {
                op: "optimizer".into(),
                operands: scalars.iter().map(|&v| g.ty(v).clone()).collect(),
                reason: format!(
                    "{} takes the step scalars {:?}, got {} values",
                    self.name(),
                    wanted.iter().map(|s| s.name()).collect::<Vec<_>>(),
                    scalars.len()
                ),
            });
        }
        for (&s, &v) in wanted.iter().zip(scalars) {
            require_scalar(g, s.name(), v)?;
        }
        for &(param, grad) in params_and_grads {
            require_param(g, param, grad)?;
        }
        let shared = Shared {
            scalars: wanted.into_iter().zip(scalars.iter().copied()).collect(),
        };
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
            WeightDecay::Decoupled(wd) => Some(match self.convention {
                Convention::Keras => g.scalar(wd)?,
                Convention::PyTorch => shared.get(StepScalar::DecayFactor),
            }),
            _ => None,
        };
        let l2 = match self.weight_decay {
            WeightDecay::L2(wd) => Some(g.scalar(wd)?),
            _ => None,
        };
        let mut inits = Vec::new();
        for &(param, grad) in params_and_grads {
            // PyTorch's `grad.add(param, alpha=wd)`: `g + wd·p`.
            let grad = match l2 {
                Some(wd) => {
                    let decay = g.mul(param, wd)?;
                    g.add(grad, decay)?
                }
                None => grad,
            };
            let value = match decoupled {
                Some(factor) => self.decay_param(g, &shared, param, factor)?,
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

    /// Decoupled weight decay before the update. Keras:
    /// `variable - variable * wd * lr` (`factor` is `wd`); PyTorch:
    /// `param.mul_(1 - lr * weight_decay)` (`factor` is that scalar, fed).
    fn decay_param(
        &self,
        g: &mut Graph,
        s: &Shared,
        param: ValueId,
        factor: ValueId,
    ) -> Result<ValueId> {
        match self.convention {
            Convention::Keras => {
                let p_wd = g.mul(param, factor)?;
                let decay = g.mul(p_wd, s.get(StepScalar::LearningRate))?;
                g.sub(param, decay)
            }
            Convention::PyTorch => g.mul(param, factor),
        }
    }
}

/// The step scalars of one step, by kind.
pub(super) struct Shared {
    scalars: Vec<(StepScalar, ValueId)>,
}

impl Shared {
    /// The graph value of `s`.
    ///
    /// # Panics
    /// If the optimizer does not take `s` ([`Optimizer::step_scalars`]
    /// and the families' rules disagree, a bug).
    pub(super) fn get(&self, s: StepScalar) -> ValueId {
        self.scalars
            .iter()
            .find(|(k, _)| *k == s)
            .map(|&(_, v)| v)
            .unwrap_or_else(|| panic!("internal: the optimizer has no step scalar {s:?}"))
    }

    /// The step's learning rate `lr_t`.
    pub(super) fn lr(&self) -> ValueId {
        self.get(StepScalar::LearningRate)
    }
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

/// The graph constant `1 - x`, computed in double from the decimal `x` and
/// rounded once (see [`scalars::one_minus`]).
pub(super) fn one_minus(g: &mut Graph, x: f32) -> Result<ValueId> {
    g.scalar(scalars::one_minus(x))
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

/// PyTorch's `start.lerp_(end, weight)` with a scalar `weight` (the CPU
/// kernel, `f32` throughout): `start + w·(end - start)` when `|w| < 0.5`,
/// else `end - (end - start)·(1 - w)`.
pub(super) struct Lerp {
    small: bool,
    /// `w`, or `1 - w` (computed in `f32`) when `w` is not small.
    coefficient: ValueId,
}

impl Lerp {
    pub(super) fn new(g: &mut Graph, weight: f32) -> Result<Lerp> {
        let small = weight.abs() < 0.5;
        let coefficient = g.scalar(if small { weight } else { 1.0 - weight })?;
        Ok(Lerp { small, coefficient })
    }

    pub(super) fn build(&self, g: &mut Graph, start: ValueId, end: ValueId) -> Result<ValueId> {
        let diff = g.sub(end, start)?;
        if self.small {
            let scaled = g.mul(self.coefficient, diff)?;
            g.add(start, scaled)
        } else {
            let scaled = g.mul(diff, self.coefficient)?;
            g.sub(end, scaled)
        }
    }
}
