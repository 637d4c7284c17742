//! The optimizers' scalars, computed on the host exactly as each framework
//! computes them, then rounded once to `f32`.
//!
//! - Constants that depend only on hyper-parameters (`1 - β`, `1 - ρ`) are
//!   Python expressions on Python floats in both frameworks: evaluated in
//!   double from the user's decimal and rounded to `f32` when they meet an
//!   `f32` tensor. [`one_minus`] does that; the graph holds the result.
//! - Scalars that depend on the step are [`StepScalar`] graph inputs that
//!   the trainer feeds each step from the step counter in the state
//!   ([`Optimizer::step_values`]), so the train step stays one static graph
//!   and a resumed run feeds the same values. Keras computes them as `f32`
//!   tensor ops (`beta_1_power = ops.power(ops.cast(beta_1, float32),
//!   local_step)` is an `f32` `powf`); PyTorch as Python floats (`1 -
//!   beta1 ** step`, `lr / bias_correction1`, `math.sqrt`, `1 - lr *
//!   weight_decay`), rounded once at the kernel.
//!
//! Hyper-parameters are `f32` fields; the decimal the user wrote is the
//! shortest text that round-trips the `f32` (what a checkpoint stores), so
//! [`decimal`] recovers the Python float of every hyper-parameter written
//! with up to 7 significant digits.

use super::{Convention, Kind, Optimizer, WeightDecay};

/// A scalar graph input of the train step that the trainer computes on the
/// host before each step from the number of steps already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepScalar {
    /// `lr`: the step's learning rate `lr_t` (the base rate when `decay`
    /// is 0). Keras: `f32` arithmetic on the `f32` learning rate; PyTorch:
    /// computed in double, rounded once.
    LearningRate,
    /// `alpha`: Keras Adam's `lr_t·sqrt(1-β₂ᵗ)/(1-β₁ᵗ)` in `f32`, with
    /// `βᵗ` an `f32` `powf` of the `f32` β (`lr_t` without bias correction).
    Alpha,
    /// `step_size`: PyTorch Adam's `lr_t / (1 - β₁ᵗ)` in double, rounded
    /// once (`lr_t` without bias correction).
    StepSize,
    /// `bias_correction2_sqrt`: PyTorch Adam's `sqrt(1 - β₂ᵗ)` in double,
    /// rounded once.
    RootCorrection,
    /// `decay_factor`: PyTorch's decoupled weight decay `1 - lr_t·wd` in
    /// double, rounded once.
    DecayFactor,
}

impl StepScalar {
    /// The name of its graph input.
    pub fn name(self) -> &'static str {
        match self {
            StepScalar::LearningRate => "lr",
            StepScalar::Alpha => "alpha",
            StepScalar::StepSize => "step_size",
            StepScalar::RootCorrection => "bias_correction2_sqrt",
            StepScalar::DecayFactor => "decay_factor",
        }
    }
}

/// The decimal an `f32` hyper-parameter was written as: its shortest
/// round-trip text read as an `f64` (`0.999f32` gives `0.999`, not
/// `0.99900001287…`).
pub fn decimal(x: f32) -> f64 {
    format!("{x:?}")
        .parse()
        .expect("the Debug text of an f32 parses as an f64")
}

/// `1 - x` as Python computes it from the decimal `x`, rounded once to `f32`.
pub fn one_minus(x: f32) -> f32 {
    (1.0 - decimal(x)) as f32
}

impl Optimizer {
    /// The scalars this optimizer's update reads each step, in the order
    /// [`Optimizer::apply`] takes them and [`Optimizer::step_values`]
    /// returns them.
    pub fn step_scalars(&self) -> Vec<StepScalar> {
        use StepScalar::*;
        let decoupled = matches!(self.weight_decay, WeightDecay::Decoupled(_));
        match (self.kind, self.convention) {
            (Kind::Adam { .. }, Convention::Keras) if decoupled => vec![LearningRate, Alpha],
            (Kind::Adam { .. }, Convention::Keras) => vec![Alpha],
            (
                Kind::Adam {
                    bias_correction, ..
                },
                Convention::PyTorch,
            ) => {
                let mut scalars = vec![StepSize];
                if bias_correction {
                    scalars.push(RootCorrection);
                }
                if decoupled {
                    scalars.push(DecayFactor);
                }
                scalars
            }
            (_, Convention::PyTorch) if decoupled => vec![LearningRate, DecayFactor],
            _ => vec![LearningRate],
        }
    }

    /// The values of [`Optimizer::step_scalars`] for the step after `step`
    /// steps were taken (the 1-based `t` is `step + 1`), with this
    /// optimizer's current learning rate.
    pub fn step_values(&self, step: u64) -> Vec<f32> {
        let keras = KerasStep::new(self, step);
        let torch = TorchStep::new(self, step);
        self.step_scalars()
            .into_iter()
            .map(|s| match self.convention {
                Convention::Keras => keras.value(s),
                Convention::PyTorch => torch.value(s),
            })
            .collect()
    }
}

/// Keras' per-step scalars: `f32` tensor arithmetic.
struct KerasStep {
    lr: f32,
    alpha: f32,
}

impl KerasStep {
    fn new(o: &Optimizer, step: u64) -> KerasStep {
        // Keras 2's `_decayed_lr`: `lr / (1 + decay·iterations)` on `f32`
        // tensors; Keras 3 has no `decay` and uses `lr` as is.
        let lr = if o.decay == 0.0 {
            o.learning_rate
        } else {
            o.learning_rate / (1.0 + o.decay * step as f32)
        };
        let alpha = match o.kind {
            Kind::Adam {
                beta_1,
                beta_2,
                bias_correction: true,
                ..
            } => {
                // `local_step = cast(iterations + 1, float32)`, then
                // `alpha = lr * sqrt(1 - beta_2_power) / (1 - beta_1_power)`.
                let t = (step + 1) as f32;
                let (p1, p2) = (beta_1.powf(t), beta_2.powf(t));
                lr * (1.0 - p2).sqrt() / (1.0 - p1)
            }
            _ => lr,
        };
        KerasStep { lr, alpha }
    }

    fn value(&self, s: StepScalar) -> f32 {
        match s {
            StepScalar::LearningRate => self.lr,
            StepScalar::Alpha => self.alpha,
            _ => unreachable!("Keras has no {s:?}"),
        }
    }
}

/// PyTorch's per-step scalars: Python floats (double), each rounded once.
struct TorchStep {
    lr: f64,
    step_size: f64,
    root_correction: f64,
    decay_factor: f64,
}

impl TorchStep {
    fn new(o: &Optimizer, step: u64) -> TorchStep {
        // Adagrad's `clr = lr / (1 + (step - 1) * lr_decay)`, `step` being
        // the 1-based float step; the other families take `lr` as is.
        let lr = if o.decay == 0.0 {
            decimal(o.learning_rate)
        } else {
            decimal(o.learning_rate) / (1.0 + step as f64 * decimal(o.decay))
        };
        let (step_size, root_correction) = match o.kind {
            Kind::Adam {
                beta_1,
                beta_2,
                bias_correction: true,
                ..
            } => {
                // `bias_correction1 = 1 - beta1 ** step` with the float
                // step, `step_size = lr / bias_correction1`,
                // `bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)`.
                let t = (step + 1) as f64;
                let c1 = 1.0 - decimal(beta_1).powf(t);
                let c2 = 1.0 - decimal(beta_2).powf(t);
                (lr / c1, c2.sqrt())
            }
            _ => (lr, 1.0),
        };
        let decay_factor = match o.weight_decay {
            WeightDecay::Decoupled(wd) => 1.0 - lr * decimal(wd),
            _ => 1.0,
        };
        TorchStep {
            lr,
            step_size,
            root_correction,
            decay_factor,
        }
    }

    fn value(&self, s: StepScalar) -> f32 {
        (match s {
            StepScalar::LearningRate => self.lr,
            StepScalar::StepSize => self.step_size,
            StepScalar::RootCorrection => self.root_correction,
            StepScalar::DecayFactor => self.decay_factor,
            StepScalar::Alpha => unreachable!("PyTorch has no {s:?}"),
        }) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_the_written_values() {
        assert_eq!(decimal(0.999), 0.999);
        assert_eq!(decimal(0.9999), 0.9999);
        assert_eq!(decimal(1e-7), 1e-7);
        assert_ne!(0.999f32 as f64, 0.999, "the f32 itself is not 0.999");
    }

    #[test]
    fn one_minus_rounds_once_from_the_decimal() {
        // 1 - 0.999 in double is 0.0010000000000000009; its f32 is not the
        // f32 subtraction of the rounded beta.
        assert_eq!(one_minus(0.999), 0.001f32);
        assert_ne!(one_minus(0.999), 1.0 - 0.999f32);
        assert_eq!(one_minus(0.9999), (1.0f64 - 0.9999) as f32);
        assert_ne!(one_minus(0.9999), 1.0 - 0.9999f32);
        assert_eq!(one_minus(0.0), 1.0);
    }
}
