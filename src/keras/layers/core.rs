//! Dense, Activation and Dropout.

use super::{keras_shape, LowerCtx, Mode, ParamSpec};
use crate::ir::{CmpOp, Graph, Result, ValueId};
use crate::keras::Activation;

/// `activation(x @ kernel + bias)` over the last axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
}

impl Dense {
    pub fn new(units: usize) -> Dense {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
        }
    }

    pub fn activation(mut self, activation: Activation) -> Dense {
        self.activation = activation;
        self
    }

    pub fn use_bias(mut self, use_bias: bool) -> Dense {
        self.use_bias = use_bias;
        self
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if input.is_empty() {
            return Err(format!(
                "needs an input with a feature axis, got {}",
                keras_shape(input)
            ));
        }
        if self.units == 0 {
            return Err("units must be positive".into());
        }
        let mut out = input.to_vec();
        *out.last_mut().expect("non-empty") = self.units;
        Ok(out)
    }

    pub(super) fn params(&self, input: &[usize]) -> Vec<ParamSpec> {
        let kernel = vec![*input.last().unwrap_or(&0), self.units];
        ParamSpec::kernel_and_bias(kernel, self.use_bias)
    }

    pub(super) fn lower(&self, g: &mut Graph, x: ValueId, ctx: &LowerCtx) -> Result<ValueId> {
        // Keras applies Dense to the last axis: flatten the leading axes into
        // one for a 2-D matmul and restore them afterwards.
        let shape = g.shape(x).clone();
        let features = shape[shape.rank() - 1];
        let rows = shape.numel() / features.max(1);
        let flat = if shape.rank() == 2 {
            x
        } else {
            g.reshape(x, [rows, features])?
        };
        let mut y = g.matmul(flat, ctx.params[0])?;
        if self.use_bias {
            y = g.add(y, ctx.params[1])?;
        }
        if shape.rank() != 2 {
            let mut out = shape.dims().to_vec();
            *out.last_mut().expect("rank >= 1") = self.units;
            y = g.reshape(y, out)?;
        }
        self.activation.apply(g, y)
    }
}

/// Keras `Activation(name)` as its own layer.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationLayer {
    pub activation: Activation,
}

impl ActivationLayer {
    pub fn new(activation: Activation) -> ActivationLayer {
        ActivationLayer { activation }
    }
}

/// Inverted dropout: in training each element is kept with probability
/// `1 - rate` and scaled by `1 / (1 - rate)`; at inference it is the identity.
/// The randomness is a graph input (`<layer>.noise`, uniform in [0, 1)) fed
/// by the trainer from its seeded RNG, so graphs stay deterministic.
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f32,
}

impl Dropout {
    pub fn new(rate: f32) -> Dropout {
        Dropout { rate }
    }

    pub(super) fn lower(&self, g: &mut Graph, x: ValueId, ctx: &LowerCtx) -> Result<ValueId> {
        if ctx.mode == Mode::Infer || self.rate == 0.0 {
            return Ok(x);
        }
        let shape = g.shape(x).clone();
        let noise = g.input(&format!("{}.noise", ctx.name), shape)?;
        let rate = g.scalar(self.rate)?;
        let keep = g.compare(CmpOp::Ge, noise, rate)?;
        let scale = g.scalar(1.0 / (1.0 - self.rate))?;
        let kept = g.mul(x, keep)?;
        g.mul(kept, scale)
    }
}
