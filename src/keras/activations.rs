//! Activation functions, by their Keras names.

use crate::ir::{Graph, Result, ValueId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    #[default]
    Linear,
    Relu,
    Softmax,
    Sigmoid,
    Tanh,
}

impl Activation {
    pub fn from_name(name: &str) -> Option<Activation> {
        Some(match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "softmax" => Activation::Softmax,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Softmax => "softmax",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    /// Applies the activation; softmax runs over the last axis, shifted by
    /// its max so large logits cannot overflow.
    pub fn apply(self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        match self {
            Activation::Linear => Ok(x),
            Activation::Relu => g.relu(x),
            Activation::Sigmoid => g.sigmoid(x),
            Activation::Tanh => g.tanh(x),
            Activation::Softmax => {
                let axis = g.shape(x).rank().saturating_sub(1);
                let max = g.reduce_max(x, &[axis], true)?;
                let shifted = g.sub(x, max)?;
                let e = g.exp(shifted)?;
                let sum = g.reduce_sum(e, &[axis], true)?;
                g.div(e, sum)
            }
        }
    }
}
