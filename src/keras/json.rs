//! Keras `model.to_json()` import for Sequential models.
//!
//! Reads Keras 3's serialization schema (`{"module", "class_name", "config",
//! "registered_name", "build_config"}` objects) and the older Keras 2 form
//! (no `module`, `batch_input_shape` in the first layer's config, dtypes as
//! strings, activations as `{"class_name": "function", ...}` objects).
//!
//! - The input shape comes from a first `InputLayer`'s `batch_shape`, the
//!   first layer's `batch_input_shape` or `build_config.input_shape`, or the
//!   model's `build_input_shape` / `build_config.input_shape`; all that are
//!   present must agree, and the batch axis must be null.
//! - Layers: InputLayer, Dense, Conv2D, MaxPooling2D, Flatten, Activation and
//!   Dropout, named by `config.name`; absent options take Keras' defaults.
//! - Every option is read or refused: an unknown layer class, an unknown
//!   option, or a supported one at a value the front end cannot honour
//!   (dilation, groups, regularizers, constraints, non-default or seeded
//!   initializers, `trainable: false`, non-float32 dtypes, a Dropout seed,
//!   custom objects) is an [`Error::Config`] naming the layer, its class and
//!   the option. Each layer's `build_config.input_shape` is checked against
//!   the shape the import computes.
//! - A model with no layers (none, or only an `InputLayer`) is refused.
//! - Files over [`MAX_JSON_BYTES`] (4 MiB) are refused before they are read:
//!   `model.to_json()` of a Sequential model is a few KB, and parsing JSON
//!   takes up to ~20 times its size in memory.
//! - Not imported, by design: `compile_config` (optimizer, loss and metrics
//!   are given to `compile` here) and Keras 2's `keras_version`/`backend`.
//!   Weights are not part of `to_json()`.

mod fields;
mod layers;

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use self::fields::{batch_shape, batch_str, elements, error, keras_object, show, Fields};
use self::layers::Item;
use crate::error::{Error, Result};
use crate::keras::sequential::Placed;
use crate::keras::{Layer, Sequential};

/// The largest Keras JSON [`load`] and [`from_json`] accept: 4 MiB.
pub const MAX_JSON_BYTES: u64 = 4 << 20;

fn too_large(size: impl std::fmt::Display) -> String {
    format!(
        "Keras JSON of {size} bytes is over the limit of {MAX_JSON_BYTES} bytes (4 MiB); \
         model.to_json() gives a few KB: is this the right file?"
    )
}

/// Reads a Keras `model.to_json()` file. An unreadable file, or one over
/// [`MAX_JSON_BYTES`] (refused from its size before it is read), is an
/// [`Error::Data`]; a model that cannot be imported, an [`Error::Config`]
/// (prefixed with the path) or an [`Error::Layer`].
pub fn load(path: &Path) -> Result<Sequential> {
    let fail = |message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    let cannot = |e: std::io::Error| {
        fail(format!(
            "cannot read Keras JSON: {}",
            crate::output::describe(&e)
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    if size > MAX_JSON_BYTES {
        return Err(fail(too_large(size)));
    }
    // The size can lie (a pipe, /proc): never read past the limit.
    let mut text = String::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_JSON_BYTES {
        return Err(fail(too_large(format!("more than {MAX_JSON_BYTES}"))));
    }
    from_json(&text).map_err(|e| match e {
        Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// A layer waiting to be added: name, context for messages, the input
/// shape Keras built it for, the layer.
type Pending = (Option<String>, String, Option<Vec<usize>>, Layer);

/// Parses a Keras `model.to_json()` string into a Sequential model. A text
/// over [`MAX_JSON_BYTES`] is an [`Error::Config`].
pub fn from_json(text: &str) -> Result<Sequential> {
    if text.len() as u64 > MAX_JSON_BYTES {
        return Err(error(too_large(text.len())));
    }
    let root: Value =
        serde_json::from_str(text).map_err(|e| error(format!("not valid JSON: {e}")))?;
    let ctx = match root.pointer("/config/name").and_then(Value::as_str) {
        Some(name) => format!("model `{name}`"),
        None => "model".to_string(),
    };
    let (class, mut top) = keras_object(ctx, &root)?;
    if class != "Sequential" {
        return Err(top.err(format!(
            "`{class}` models are not supported: only Sequential models can be imported"
        )));
    }
    let config = top.require("config")?;
    let build = top.opt("build_config");
    // Training configuration and Keras 2 metadata, not the architecture.
    for key in ["compile_config", "keras_version", "backend"] {
        top.get(key);
    }
    top.finish()?;

    let mut f = Fields::new("model (Sequential)", "`config`", config)?;
    let name = f.string("name")?.unwrap_or("sequential").to_string();
    f.set_ctx(format!("model `{name}` (Sequential)"));
    layers::common(&mut f)?;
    // Where the input shape may be given, each with where it came from.
    let mut sources: Vec<(String, Vec<usize>)> = Vec::new();
    if let Some(v) = f.opt("build_input_shape") {
        let shape = batch_shape(&f, "build_input_shape", v)?;
        sources.push((format!("{} build_input_shape", f.ctx()), shape));
    }
    let list = match f.require("layers")? {
        Value::Array(list) => list,
        v => {
            return Err(f.err(format!("`layers` must be a list, got {}", show(v))));
        }
    };
    let ctx = f.ctx().to_string();
    f.finish()?;
    if let Some(b) = build {
        let mut bf = Fields::new(format!("{ctx} build_config"), "`build_config`", b)?;
        if let Some(v) = bf.opt("input_shape") {
            let shape = batch_shape(&bf, "input_shape", v)?;
            sources.push((format!("{ctx} build_config.input_shape"), shape));
        }
        bf.finish()?;
    }

    let mut pending: Vec<Pending> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = layers::parse(v, i, pending.is_empty())?;
        match p.item {
            Item::Input(shape) if i == 0 => {
                sources.insert(0, (format!("{} batch_shape", p.ctx), shape));
            }
            Item::Input(_) => {
                return Err(error(format!(
                    "{}: an InputLayer is supported only as the first layer (found at #{i})",
                    p.ctx
                )));
            }
            Item::Layer(layer) => {
                if pending.is_empty() {
                    if let Some(s) = p.batch_input_shape {
                        sources.push((format!("{} batch_input_shape", p.ctx), s));
                    }
                    if let Some(s) = &p.built_for {
                        sources.push((format!("{} build_config.input_shape", p.ctx), s.clone()));
                    }
                }
                pending.push((p.name, p.ctx, p.built_for, layer));
            }
        }
    }

    if pending.is_empty() {
        let what = if list.is_empty() {
            "no layers"
        } else {
            "no layers besides its InputLayer"
        };
        return Err(error(format!(
            "{ctx}: the model has {what}; a Sequential model needs at least one layer \
             to compile or train"
        )));
    }
    let Some((first, input)) = sources.first() else {
        return Err(error(format!(
            "{ctx}: missing input shape: no InputLayer, `batch_input_shape` or \
             `build_input_shape` (start the model with keras.Input(shape) or build it)"
        )));
    };
    for (source, shape) in &sources[1..] {
        if shape != input {
            return Err(error(format!(
                "{ctx}: input shapes disagree: {first} is {} but {source} is {}",
                batch_str(input),
                batch_str(shape)
            )));
        }
    }

    let mut model = Sequential::new(&name, input);
    for (name, ctx, built_for, layer) in pending {
        if let Some(built) = built_for {
            if built != model.output_shape() {
                return Err(error(format!(
                    "{ctx}: Keras built this layer for input {} but the layers before it give {}",
                    batch_str(&built),
                    batch_str(model.output_shape())
                )));
            }
        }
        match &name {
            Some(name) => model.add_named(name, layer)?,
            None => model.add(layer)?,
        };
        if let Some(placed) = model.layers().last() {
            check_size(&ctx, placed)?;
        }
    }
    Ok(model)
}

/// Refuses outputs and parameters past 2^40 elements, so that the shape
/// arithmetic after this layer cannot overflow.
fn check_size(ctx: &str, placed: &Placed) -> Result<()> {
    if elements(&placed.output_shape).is_none() {
        return Err(error(format!(
            "{ctx}: output {} has more than 2^40 elements per sample",
            batch_str(&placed.output_shape)
        )));
    }
    if let Some(p) = placed
        .params()
        .iter()
        .find(|p| elements(&p.shape).is_none())
    {
        return Err(error(format!(
            "{ctx}: parameter `{}` {:?} has more than 2^40 elements",
            p.name, p.shape
        )));
    }
    Ok(())
}
