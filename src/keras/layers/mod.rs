//! Keras layers: each knows its output shape, its parameters and how to
//! lower itself to IR. Shapes here exclude the batch axis, as in Keras.

mod conv;
mod core;
mod reshape;

pub use self::conv::{Conv2D, MaxPooling2D};
pub use self::core::{ActivationLayer, Dense, Dropout};
pub use self::reshape::Flatten;

use crate::error::{Error, Result};
use crate::ir::{Graph, IrError, ValueId};
use crate::keras::initializers::Initializer;

/// Keras' `data_format`: where the channel axis of an image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DataFormat {
    #[default]
    ChannelsLast,
    ChannelsFirst,
}

impl DataFormat {
    pub fn from_name(name: &str) -> Option<DataFormat> {
        match name {
            "channels_last" => Some(DataFormat::ChannelsLast),
            "channels_first" => Some(DataFormat::ChannelsFirst),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataFormat::ChannelsLast => "channels_last",
            DataFormat::ChannelsFirst => "channels_first",
        }
    }
}

/// A trainable tensor a layer owns (`kernel`, `bias`).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub init: Initializer,
}

impl ParamSpec {
    /// Keras' `kernel` (Glorot-uniform) and, if used, `bias` (zeros, one per
    /// output unit: the kernel's last axis).
    pub fn kernel_and_bias(kernel: Vec<usize>, use_bias: bool) -> Vec<ParamSpec> {
        let units = kernel.last().copied().unwrap_or(0);
        let mut params = vec![ParamSpec {
            name: "kernel",
            init: Initializer::glorot_uniform(&kernel),
            shape: kernel,
        }];
        if use_bias {
            params.push(ParamSpec {
                name: "bias",
                shape: vec![units],
                init: Initializer::Zeros,
            });
        }
        params
    }
}

/// Whether the graph is for training (dropout active) or inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Infer,
}

/// What a layer's lowering may use besides its input.
pub struct LowerCtx<'a> {
    pub mode: Mode,
    /// The layer's parameters, in `params()` order.
    pub params: &'a [ValueId],
    /// The layer's own name, for graph arguments it declares (dropout noise).
    pub name: &'a str,
}

/// One layer of a Sequential model.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Dense(Dense),
    Conv2D(Conv2D),
    MaxPooling2D(MaxPooling2D),
    Flatten(Flatten),
    Activation(ActivationLayer),
    Dropout(Dropout),
}

impl Layer {
    /// Keras' class name, as in `summary()` and `to_json()`.
    pub fn class_name(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "Dense",
            Layer::Conv2D(_) => "Conv2D",
            Layer::MaxPooling2D(_) => "MaxPooling2D",
            Layer::Flatten(_) => "Flatten",
            Layer::Activation(_) => "Activation",
            Layer::Dropout(_) => "Dropout",
        }
    }

    /// Keras' automatic name prefix (`dense`, `conv2d`, `max_pooling2d`, ...).
    pub fn default_name(&self) -> &'static str {
        match self {
            Layer::Dense(_) => "dense",
            Layer::Conv2D(_) => "conv2d",
            Layer::MaxPooling2D(_) => "max_pooling2d",
            Layer::Flatten(_) => "flatten",
            Layer::Activation(_) => "activation",
            Layer::Dropout(_) => "dropout",
        }
    }

    /// The output shape for an input shape (both without the batch axis),
    /// or a message saying why the input does not fit.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        match self {
            Layer::Dense(l) => l.output_shape(input),
            Layer::Conv2D(l) => l.output_shape(input),
            Layer::MaxPooling2D(l) => l.output_shape(input),
            Layer::Flatten(l) => l.output_shape(input),
            Layer::Dropout(l) if !(0.0..1.0).contains(&l.rate) => {
                Err(format!("rate must be in [0, 1), got {}", l.rate))
            }
            Layer::Activation(_) | Layer::Dropout(_) => Ok(input.to_vec()),
        }
    }

    /// The parameters this layer creates for an input shape.
    pub fn params(&self, input: &[usize]) -> Vec<ParamSpec> {
        match self {
            Layer::Dense(l) => l.params(input),
            Layer::Conv2D(l) => l.params(input),
            _ => Vec::new(),
        }
    }

    /// Appends the layer's computation on `x` (with its batch axis).
    pub fn lower(&self, g: &mut Graph, x: ValueId, ctx: &LowerCtx) -> crate::ir::Result<ValueId> {
        match self {
            Layer::Dense(l) => l.lower(g, x, ctx),
            Layer::Conv2D(l) => l.lower(g, x, ctx),
            Layer::MaxPooling2D(l) => l.lower(g, x),
            Layer::Flatten(l) => l.lower(g, x),
            Layer::Activation(l) => l.activation.apply(g, x),
            Layer::Dropout(l) => l.lower(g, x, ctx),
        }
    }

    /// The activation the layer ends with, if any (to fuse softmax with
    /// cross-entropy the way Keras does).
    pub fn activation(&self) -> Option<crate::keras::Activation> {
        match self {
            Layer::Dense(l) => Some(l.activation),
            Layer::Conv2D(l) => Some(l.activation),
            Layer::Activation(l) => Some(l.activation),
            _ => None,
        }
    }

    /// A copy of the layer without its final activation.
    pub fn without_activation(&self) -> Layer {
        let mut layer = self.clone();
        match &mut layer {
            Layer::Dense(l) => l.activation = Default::default(),
            Layer::Conv2D(l) => l.activation = Default::default(),
            Layer::Activation(l) => l.activation = Default::default(),
            _ => {}
        }
        layer
    }
}

/// A layer error naming the layer, its type and the shapes involved.
pub(crate) fn layer_error(name: &str, layer: &Layer, message: impl Into<String>) -> Error {
    Error::Layer {
        layer: name.to_string(),
        kind: layer.class_name(),
        message: message.into(),
    }
}

/// Converts an IR error raised while lowering a layer into a layer error.
pub(crate) fn in_layer<'a>(name: &'a str, layer: &'a Layer) -> impl Fn(IrError) -> Error + 'a {
    move |e| layer_error(name, layer, e.to_string())
}

/// `(a, b)` for a Keras 2-tuple argument.
pub(crate) fn pair((a, b): (usize, usize)) -> [usize; 2] {
    [a, b]
}

macro_rules! into_layer {
    ($($t:ident => $v:ident),*) => {
        $(impl From<$t> for Layer {
            fn from(l: $t) -> Layer {
                Layer::$v(l)
            }
        })*
    };
}
into_layer!(Dense => Dense, Conv2D => Conv2D, MaxPooling2D => MaxPooling2D, Flatten => Flatten, ActivationLayer => Activation, Dropout => Dropout);

fn shape_str(s: &[usize]) -> String {
    if s.is_empty() {
        // Python's repr of a one-element tuple.
        return "(None,)".into();
    }
    let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("(None, {})", dims.join(", "))
}

/// `(None, a, b)`: a shape with Keras' batch placeholder.
pub fn keras_shape(s: &[usize]) -> String {
    shape_str(s)
}
