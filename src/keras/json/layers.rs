//! One serialized layer to a [`Layer`]: each class reads exactly the options
//! it supports, with Keras' defaults for absent ones, and refuses the rest.

use serde_json::Value;

use super::fields::{batch_shape, keras_object, show, Fields};
use crate::error::Result;
use crate::ir::Padding;
use crate::keras::{
    Activation, ActivationLayer, Conv2D, DataFormat, Dense, Dropout, Flatten, Layer, MaxPooling2D,
};

const SUPPORTED: &str = "InputLayer, Dense, Conv2D, MaxPooling2D, Flatten, Activation, Dropout";

/// What a serialized layer stands for.
pub(super) enum Item {
    /// An `InputLayer`, with its sample shape.
    Input(Vec<usize>),
    Layer(Layer),
}

pub(super) struct Parsed {
    /// `config.name`; `None` lets the model pick Keras' automatic name.
    pub name: Option<String>,
    /// `layer `conv2d` (Conv2D)`, for messages.
    pub ctx: String,
    pub item: Item,
    /// A Keras 2 `batch_input_shape` in the config (first layer only).
    pub batch_input_shape: Option<Vec<usize>>,
    /// `build_config.input_shape`: the input Keras built the layer for.
    pub built_for: Option<Vec<usize>>,
}

/// Parses `layers[index]`. `first` says whether the layer takes the model's
/// input (only then may it carry a Keras 2 `batch_input_shape`).
pub(super) fn parse(v: &Value, index: usize, first: bool) -> Result<Parsed> {
    let ctx = match v.pointer("/config/name").and_then(Value::as_str) {
        Some(name) => format!("layer `{name}`"),
        None => format!("layer #{index}"),
    };
    let (class, mut wrapper) = keras_object(ctx, v)?;
    let config = wrapper
        .get("config")
        .ok_or_else(|| wrapper.err(format!("{class}: missing `config`")))?;
    let build = wrapper.get("build_config");
    wrapper.finish()?;

    let mut f = Fields::new(format!("layer #{index} ({class})"), "`config`", config)?;
    let name = f.string("name")?.map(str::to_string);
    if let Some(name) = &name {
        f.set_ctx(format!("layer `{name}` ({class})"));
    }
    let item = match class {
        "InputLayer" => Item::Input(input_layer(&mut f)?),
        "Dense" => Item::Layer(common(&mut f).and_then(|_| dense(&mut f))?),
        "Conv2D" => Item::Layer(common(&mut f).and_then(|_| conv2d(&mut f))?),
        "MaxPooling2D" => Item::Layer(common(&mut f).and_then(|_| max_pooling2d(&mut f))?),
        "Flatten" => Item::Layer(common(&mut f).and_then(|_| flatten(&mut f))?),
        "Activation" => Item::Layer(common(&mut f).and_then(|_| activation_layer(&mut f))?),
        "Dropout" => Item::Layer(common(&mut f).and_then(|_| dropout(&mut f))?),
        other => {
            return Err(f.err(format!(
                "layer class `{other}` is not supported (supported: {SUPPORTED})"
            )))
        }
    };
    let batch_input_shape = match (&item, first) {
        (Item::Layer(_), true) => match f.opt("batch_input_shape") {
            Some(v) => Some(batch_shape(&f, "batch_input_shape", v)?),
            None => None,
        },
        _ => None,
    };
    let built_for = match build {
        Some(b) if !b.is_null() => {
            let mut bf = Fields::new(format!("{} build_config", f.ctx()), "`build_config`", b)?;
            let shape = match bf.opt("input_shape") {
                Some(s) => Some(batch_shape(&bf, "input_shape", s)?),
                None => None,
            };
            bf.finish()?;
            shape
        }
        _ => None,
    };
    let ctx = f.ctx().to_string();
    f.finish()?;
    Ok(Parsed {
        name,
        ctx,
        item,
        batch_input_shape,
        built_for,
    })
}

/// `InputLayer`: its batch shape (Keras 3 `batch_shape`, Keras 2
/// `batch_input_shape`), float32, dense, required.
fn input_layer(f: &mut Fields) -> Result<Vec<usize>> {
    let mut shapes = Vec::new();
    for key in ["batch_shape", "batch_input_shape"] {
        if let Some(v) = f.opt(key) {
            shapes.push(batch_shape(f, key, v)?);
        }
    }
    let shape = match shapes.as_slice() {
        [] => return Err(f.err("missing `batch_shape`: the input shape is unknown")),
        [a, b] if a != b => {
            return Err(f.err("`batch_shape` and `batch_input_shape` disagree"));
        }
        [a, ..] => a.clone(),
    };
    dtype(f)?;
    f.boolean_is("sparse", false, " (inputs are dense)")?;
    f.boolean_is("ragged", false, " (inputs are dense)")?;
    f.boolean_is("optional", false, " (the input is required)")?;
    Ok(shape)
}

/// Options every layer has: trainable, dtype policy, activity regularizer.
pub(super) fn common(f: &mut Fields) -> Result<()> {
    f.boolean_is("trainable", true, " (every layer is trained)")?;
    dtype(f)?;
    f.null("activity_regularizer")
}

/// The dtype or dtype policy: float32 only.
fn dtype(f: &mut Fields) -> Result<()> {
    let name = match f.opt("dtype") {
        None => return Ok(()),
        Some(Value::String(s)) => s.as_str(),
        Some(v @ Value::Object(_)) => {
            let (class, mut p) = keras_object(format!("{} dtype", f.ctx()), v)?;
            if !matches!(class, "DTypePolicy" | "FloatDTypePolicy") {
                return Err(f.err(format!(
                    "dtype policy `{class}` is not supported (only float32)"
                )));
            }
            let mut c = Fields::new(p.ctx().to_string(), "`config`", p.require("config")?)?;
            let name = c.string("name")?.unwrap_or("float32");
            c.finish()?;
            p.finish()?;
            name
        }
        Some(v) => return Err(f.err(format!("`dtype` must be a string, got {}", show(v)))),
    };
    if name != "float32" {
        return Err(f.err(format!("dtype `{name}` is not supported (only float32)")));
    }
    Ok(())
}

/// A built-in activation by name; Keras 2.13-2.15 wrote them as function
/// objects (`{"class_name": "function", "config": "relu", ...}`).
fn activation(f: &mut Fields, key: &'static str, required: bool) -> Result<Activation> {
    let name = match f.get(key) {
        None if required => return Err(f.err(format!("missing `{key}`"))),
        None | Some(Value::Null) => return Ok(Activation::Linear),
        Some(Value::String(s)) => s.as_str(),
        Some(v @ Value::Object(_)) => {
            let mut o = Fields::new(format!("{} {key}", f.ctx()), "activation", v)?;
            let class = o.string("class_name")?;
            let module = o.string("module")?.unwrap_or("keras");
            let name = o.string("config")?;
            let registered = o.string("registered_name")?;
            match (class, name) {
                (Some("function"), Some(name))
                    if module.starts_with("keras") && registered.is_none_or(|r| r == name) =>
                {
                    o.finish()?;
                    name
                }
                _ => {
                    return Err(f.err(format!(
                        "`{key}` {} is not supported: only the built-in activations \
                         linear, relu, softmax, sigmoid and tanh",
                        show(v)
                    )))
                }
            }
        }
        Some(v) => return Err(f.err(format!("`{key}` must be a string, got {}", show(v)))),
    };
    Activation::from_name(name).ok_or_else(|| {
        f.err(format!(
            "activation `{name}` is not supported (supported: linear, relu, softmax, sigmoid, tanh)"
        ))
    })
}

/// An initializer this importer supports only as Keras' default (`want`,
/// unseeded): the front end draws every kernel GlorotUniform and every bias
/// zero, so anything else would change the model.
fn initializer(f: &mut Fields, key: &'static str, want: &str) -> Result<()> {
    let Some(v) = f.opt(key) else {
        return Ok(());
    };
    let class = match v {
        Value::String(s) => match s.as_str() {
            "glorot_uniform" => "GlorotUniform",
            "zeros" => "Zeros",
            other => other,
        },
        Value::Object(_) => {
            let (class, mut o) = keras_object(format!("{} {key}", f.ctx()), v)?;
            if class == want {
                if let Some(config) = o.get("config") {
                    let mut c = Fields::new(o.ctx().to_string(), "`config`", config)?;
                    for option in ["seed", "input_axes", "output_axes"] {
                        c.null(option)?;
                    }
                    c.finish()?;
                }
                o.finish()?;
            }
            class
        }
        other => {
            return Err(f.err(format!(
                "`{key}` must be an initializer, got {}",
                show(other)
            )))
        }
    };
    if class != want {
        return Err(f.err(format!(
            "`{key}` {class} is not supported (only {want}, Keras' default)"
        )));
    }
    Ok(())
}

/// The weight options of Dense and Conv2D: default initializers, no
/// regularizers, constraints, LoRA or quantization.
fn weights(f: &mut Fields) -> Result<()> {
    initializer(f, "kernel_initializer", "GlorotUniform")?;
    initializer(f, "bias_initializer", "Zeros")?;
    for key in [
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "quantization_config",
    ] {
        f.null(key)?;
    }
    if let Some(rank) = f.opt("lora_rank") {
        if rank.as_u64() != Some(0) {
            return Err(f.err(format!(
                "`lora_rank` = {} is not supported (LoRA)",
                show(rank)
            )));
        }
    }
    // Only meaningful with a LoRA rank, refused above.
    f.get("lora_alpha");
    Ok(())
}

fn padding(f: &mut Fields) -> Result<Padding> {
    match f.string("padding")? {
        None => Ok(Padding::Valid),
        Some(p) => Padding::from_name(p).ok_or_else(|| {
            f.err(format!(
                "padding `{p}` is not supported (only valid and same)"
            ))
        }),
    }
}

/// `data_format`; null is Keras' default image data format, channels_last.
fn data_format(f: &mut Fields) -> Result<DataFormat> {
    match f.string("data_format")? {
        None => Ok(DataFormat::ChannelsLast),
        Some(d) => DataFormat::from_name(d).ok_or_else(|| {
            f.err(format!(
                "data_format `{d}` is not supported (channels_last or channels_first)"
            ))
        }),
    }
}

fn dense(f: &mut Fields) -> Result<Layer> {
    let units = f.positive("units", None)?;
    let activation = activation(f, "activation", false)?;
    let use_bias = f.boolean("use_bias", true)?;
    weights(f)?;
    Ok(Dense::new(units)
        .activation(activation)
        .use_bias(use_bias)
        .into())
}

fn conv2d(f: &mut Fields) -> Result<Layer> {
    let filters = f.positive("filters", None)?;
    let [kh, kw] = f.pair("kernel_size", None)?;
    let [sh, sw] = f.pair("strides", Some([1, 1]))?;
    let padding = padding(f)?;
    let format = data_format(f)?;
    let dilation = f.pair("dilation_rate", Some([1, 1]))?;
    if dilation != [1, 1] {
        return Err(f.err(format!(
            "`dilation_rate` {dilation:?} is not supported (only [1, 1])"
        )));
    }
    let groups = f.positive("groups", Some(1))?;
    if groups != 1 {
        return Err(f.err(format!("`groups` = {groups} is not supported (only 1)")));
    }
    let activation = activation(f, "activation", false)?;
    let use_bias = f.boolean("use_bias", true)?;
    weights(f)?;
    Ok(Conv2D::new(filters, (kh, kw))
        .strides((sh, sw))
        .padding(padding)
        .data_format(format)
        .activation(activation)
        .use_bias(use_bias)
        .into())
}

fn max_pooling2d(f: &mut Fields) -> Result<Layer> {
    let [ph, pw] = f.pair("pool_size", Some([2, 2]))?;
    // Keras: strides null means strides = pool_size.
    let [sh, sw] = f.pair("strides", Some([ph, pw]))?;
    let padding = padding(f)?;
    let format = data_format(f)?;
    Ok(MaxPooling2D::new((ph, pw))
        .strides((sh, sw))
        .padding(padding)
        .data_format(format)
        .into())
}

fn flatten(f: &mut Fields) -> Result<Layer> {
    Ok(Flatten::new().data_format(data_format(f)?).into())
}

fn activation_layer(f: &mut Fields) -> Result<Layer> {
    Ok(ActivationLayer::new(activation(f, "activation", true)?).into())
}

fn dropout(f: &mut Fields) -> Result<Layer> {
    let v = f.require("rate")?;
    let rate = v
        .as_f64()
        .filter(|r| (0.0..1.0).contains(r))
        .ok_or_else(|| {
            f.err(format!(
                "`rate` must be a number in [0, 1), got {}",
                show(v)
            ))
        })?;
    f.null("seed")?;
    f.null("noise_shape")?;
    Ok(Dropout::new(rate as f32).into())
}
