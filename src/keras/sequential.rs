//! The Sequential model: an input shape and a stack of layers, each checked
//! against its input as it is added (as Keras does once the input shape is
//! known), and lowered to one forward graph.

use std::ops::Range;

use super::layers::{in_layer, keras_shape, layer_error, Layer, LowerCtx, Mode, ParamSpec};
use crate::error::{Error, Result};
use crate::ir::{Graph, Role, ValueId};

/// A layer in a model, with its resolved name and shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Placed {
    pub name: String,
    pub layer: Layer,
    pub input_shape: Vec<usize>,
    pub output_shape: Vec<usize>,
}

impl Placed {
    pub fn params(&self) -> Vec<ParamSpec> {
        self.layer.params(&self.input_shape)
    }

    /// `<layer>.<param>`, the graph and checkpoint name of a parameter.
    pub fn param_name(&self, spec: &ParamSpec) -> String {
        format!("{}.{}", self.name, spec.name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sequential {
    pub name: String,
    pub input_shape: Vec<usize>,
    layers: Vec<Placed>,
}

/// The forward pass lowered into a graph.
pub struct Forward {
    /// The model's output (after the last activation).
    pub output: ValueId,
    /// The last layer's pre-softmax logits when it ends in softmax.
    pub logits: Option<ValueId>,
    /// Every parameter argument, in model order.
    pub params: Vec<ValueId>,
    /// The inputs the layers declared for their randomness (dropout noise,
    /// uniform in [0, 1)), in model order; empty in inference mode.
    pub noise: Vec<ValueId>,
    /// Each layer's name and the node indices it appended (its parameters
    /// included), in model order: the provenance `explore` shows.
    pub layer_nodes: Vec<(String, Range<usize>)>,
}

impl Sequential {
    /// A model taking samples of `input_shape` (without the batch axis).
    pub fn new(name: &str, input_shape: &[usize]) -> Sequential {
        Sequential {
            name: name.to_string(),
            input_shape: input_shape.to_vec(),
            layers: Vec::new(),
        }
    }

    pub fn layers(&self) -> &[Placed] {
        &self.layers
    }

    pub fn output_shape(&self) -> &[usize] {
        self.layers
            .last()
            .map_or(&self.input_shape, |l| &l.output_shape)
    }

    /// Adds a layer under Keras' automatic name (`dense`, `dense_1`, ...).
    pub fn add(&mut self, layer: impl Into<Layer>) -> Result<&mut Sequential> {
        let layer = layer.into();
        let prefix = layer.default_name();
        let taken = |n: &str| self.layers.iter().any(|l| l.name == n);
        let name = (0..)
            .map(|i| {
                if i == 0 {
                    prefix.to_string()
                } else {
                    format!("{prefix}_{i}")
                }
            })
            .find(|n| !taken(n))
            .expect("a free name exists");
        self.add_named(&name, layer)
    }

    /// Adds a layer under a chosen name.
    pub fn add_named(&mut self, name: &str, layer: impl Into<Layer>) -> Result<&mut Sequential> {
        let layer = layer.into();
        if self.layers.iter().any(|l| l.name == name) {
            let message = format!("model `{}` already has a layer named `{name}`", self.name);
            return Err(layer_error(name, &layer, message));
        }
        if name.is_empty() || !name.chars().all(crate::ir::graph::is_name_char) {
            return Err(Error::Config(format!(
                "layer name `{name}`: use letters, digits, `_`, `.` and `-`"
            )));
        }
        let input_shape = self.output_shape().to_vec();
        let output_shape = layer.output_shape(&input_shape).map_err(|m| {
            layer_error(
                name,
                &layer,
                format!("input {}: {m}", keras_shape(&input_shape)),
            )
        })?;
        self.layers.push(Placed {
            name: name.to_string(),
            layer,
            input_shape,
            output_shape,
        });
        Ok(self)
    }

    /// Trainable parameters (saturating at `usize::MAX` for absurd shapes).
    pub fn count_params(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| l.params())
            .map(|p| p.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d)))
            .fold(0usize, usize::saturating_add)
    }

    /// Refuses a model without layers (an input shape alone computes
    /// nothing): an [`Error::Config`] naming the model. [`Sequential::lower`]
    /// (so compiling) and [`Sequential::try_summary`] check it.
    pub fn check_layers(&self) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::Config(format!(
                "model `{}` has no layers: add at least one layer (an input shape \
                 alone is not a model) before compiling or summarizing it",
                self.name
            )));
        }
        Ok(())
    }

    /// Declares the parameters and appends the forward pass on `x`
    /// (`[batch, input_shape...]`). Errors name the failing layer; a model
    /// without layers is refused ([`Sequential::check_layers`]).
    pub fn lower(&self, g: &mut Graph, x: ValueId, mode: Mode) -> Result<Forward> {
        self.check_layers()?;
        let mut params = Vec::new();
        let mut noise = Vec::new();
        let mut h = x;
        let mut logits = None;
        let mut layer_nodes = Vec::new();
        for (i, placed) in self.layers.iter().enumerate() {
            let before = g.len();
            let at = in_layer(&placed.name, &placed.layer);
            let mut own = Vec::new();
            for spec in placed.params() {
                let mut shape = spec.shape.clone();
                shape.shrink_to_fit();
                own.push(g.param(&placed.param_name(&spec), shape).map_err(&at)?);
            }
            params.extend(&own);
            let ctx = LowerCtx {
                mode,
                params: &own,
                name: &placed.name,
            };
            let last = i + 1 == self.layers.len();
            if last && placed.layer.activation() == Some(super::Activation::Softmax) {
                let z = placed
                    .layer
                    .without_activation()
                    .lower(g, h, &ctx)
                    .map_err(&at)?;
                logits = Some(z);
                h = super::Activation::Softmax.apply(g, z).map_err(&at)?;
            } else {
                h = placed.layer.lower(g, h, &ctx).map_err(&at)?;
            }
            // Inputs a layer declares itself can only be its noise.
            noise.extend(g.args(Role::Input).filter(|v| v.index() >= before));
            layer_nodes.push((placed.name.clone(), before..g.len()));
        }
        Ok(Forward {
            output: h,
            logits,
            params,
            noise,
            layer_nodes,
        })
    }

    /// A Keras-style summary table: layer (type), output shape, parameters.
    /// A model without layers gives the empty table Keras prints for one;
    /// [`Sequential::try_summary`] refuses it instead.
    pub fn summary(&self) -> String {
        super::summary::render(self)
    }

    /// [`Sequential::summary`] of a model that has layers; a model without
    /// layers is an [`Error::Config`] ([`Sequential::check_layers`]).
    pub fn try_summary(&self) -> Result<String> {
        self.check_layers()?;
        Ok(self.summary())
    }
}
