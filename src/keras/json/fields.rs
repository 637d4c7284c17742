//! Reading Keras config dictionaries: typed getters whose errors name the
//! object (`layer `conv2d` (Conv2D)`) and the option, and a final check that
//! no option was left unread, so nothing in a file is silently ignored.

use std::fmt::Display;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest extent, size or count read from a file. With it and
/// [`MAX_ELEMENTS`], no shape or parameter arithmetic can overflow.
const MAX_DIM: u64 = 1 << 31;

/// The most elements a shape or a layer's parameters may have (2^40).
pub(super) const MAX_ELEMENTS: usize = 1 << 40;

/// An import error: always [`Error::Config`], prefixed so it reads as one.
pub(super) fn error(message: impl Display) -> Error {
    Error::Config(format!("Keras JSON: {message}"))
}

/// A JSON value for a message, cut short when long.
pub(super) fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 80 {
        return s;
    }
    let head: String = s.chars().take(77).collect();
    format!("{head}...")
}

/// A serialized Keras object as `Class({config})`, any other value as JSON.
pub(super) fn describe(v: &Value) -> String {
    match (v.get("class_name").and_then(Value::as_str), v.get("config")) {
        (Some(class), Some(config)) => format!("{class}({})", show(config)),
        (Some(class), None) => class.to_string(),
        _ => show(v),
    }
}

/// `(None, 32, 32, 3)`, as Keras prints a batch shape.
pub(super) fn batch_str(shape: &[usize]) -> String {
    crate::keras::layers::keras_shape(shape)
}

/// The number of elements of a shape, if it is at most [`MAX_ELEMENTS`].
pub(super) fn elements(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
}

/// The options of one JSON object, read by key.
pub(super) struct Fields<'a> {
    ctx: String,
    map: &'a Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// `v` as an object; `what` names it in the error when it is not one.
    pub fn new(ctx: impl Into<String>, what: &str, v: &'a Value) -> Result<Fields<'a>> {
        let ctx = ctx.into();
        match v {
            Value::Object(map) => Ok(Fields {
                ctx,
                map,
                read: Vec::new(),
            }),
            other => Err(error(format!(
                "{ctx}: {what} must be an object, got {}",
                show(other)
            ))),
        }
    }

    pub fn ctx(&self) -> &str {
        &self.ctx
    }

    /// Renames the object in later messages (once its name is known).
    pub fn set_ctx(&mut self, ctx: String) {
        self.ctx = ctx;
    }

    pub fn err(&self, message: impl Display) -> Error {
        error(format!("{}: {message}", self.ctx))
    }

    /// The value of `key` (`None` when absent), marked as read.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key)
    }

    /// The value of `key`, absent and `null` alike being `None`.
    pub fn opt(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key).filter(|v| !v.is_null())
    }

    pub fn require(&mut self, key: &'static str) -> Result<&'a Value> {
        self.opt(key)
            .ok_or_else(|| self.err(format!("missing `{key}`")))
    }

    pub fn string(&mut self, key: &'static str) -> Result<Option<&'a str>> {
        match self.opt(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(format!("`{key}` must be a string, got {}", show(v)))),
        }
    }

    pub fn boolean(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.opt(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(format!("`{key}` must be true or false, got {}", show(v)))),
        }
    }

    /// A boolean option this importer supports only at `supported`.
    pub fn boolean_is(&mut self, key: &'static str, supported: bool, why: &str) -> Result<()> {
        if self.boolean(key, supported)? != supported {
            return Err(self.err(format!("`{key}: {}` is not supported{why}", !supported)));
        }
        Ok(())
    }

    /// A positive integer; `default` when absent or null, else an error.
    pub fn positive(&mut self, key: &'static str, default: Option<usize>) -> Result<usize> {
        match (self.opt(key), default) {
            (None, Some(d)) => Ok(d),
            (None, None) => Err(self.err(format!("missing `{key}`"))),
            (Some(v), _) => self.positive_value(key, v),
        }
    }

    pub fn positive_value(&self, key: &str, v: &Value) -> Result<usize> {
        v.as_u64()
            .filter(|n| (1..=MAX_DIM).contains(n))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                self.err(format!(
                    "`{key}` must be a positive integer (at most {MAX_DIM}), got {}",
                    show(v)
                ))
            })
    }

    /// A Keras 2-tuple: `[a, b]` or one integer for both.
    pub fn pair(&mut self, key: &'static str, default: Option<[usize; 2]>) -> Result<[usize; 2]> {
        match (self.opt(key), default) {
            (None, Some(d)) => Ok(d),
            (None, None) => Err(self.err(format!("missing `{key}`"))),
            (Some(v), _) => self.pair_value(key, v),
        }
    }

    fn pair_value(&self, key: &str, v: &Value) -> Result<[usize; 2]> {
        match v {
            Value::Array(items) if items.len() == 2 => Ok([
                self.positive_value(key, &items[0])?,
                self.positive_value(key, &items[1])?,
            ]),
            Value::Number(_) => {
                let n = self.positive_value(key, v)?;
                Ok([n, n])
            }
            other => Err(self.err(format!(
                "`{key}` must be two positive integers, got {}",
                show(other)
            ))),
        }
    }

    /// An option this importer supports only when absent or null.
    pub fn null(&mut self, key: &'static str) -> Result<()> {
        match self.opt(key) {
            None => Ok(()),
            Some(v) => Err(self.err(format!(
                "`{key}` = {} is not supported (only null)",
                describe(v)
            ))),
        }
    }

    /// Fails on the first option that no getter read.
    pub fn finish(self) -> Result<()> {
        let unread: Vec<String> = self
            .map
            .iter()
            .filter(|(k, _)| !self.read.contains(&k.as_str()))
            .map(|(k, v)| format!("`{k}` = {}", show(v)))
            .collect();
        match unread.len() {
            0 => Ok(()),
            1 => Err(self.err(format!("unsupported option {}", unread[0]))),
            _ => Err(self.err(format!("unsupported options {}", unread.join(", ")))),
        }
    }
}

/// Opens a serialized Keras object (`{"module", "class_name", "config",
/// "registered_name", ...}`): its class name and its remaining fields.
/// Objects from outside Keras (custom layers, registered names) are refused.
pub(super) fn keras_object<'a>(ctx: String, v: &'a Value) -> Result<(&'a str, Fields<'a>)> {
    let mut f = Fields::new(ctx, "a serialized Keras object", v)?;
    let class = f
        .string("class_name")?
        .ok_or_else(|| f.err("missing `class_name`"))?;
    if let Some(module) = f.string("module")? {
        if !(module.starts_with("keras") || module.starts_with("tf_keras")) {
            return Err(f.err(format!(
                "class `{class}` from module `{module}` is not a built-in Keras class"
            )));
        }
    }
    if let Some(registered) = f.string("registered_name")? {
        if registered != class {
            return Err(f.err(format!(
                "class `{class}` is registered as `{registered}`: custom objects are not supported"
            )));
        }
    }
    Ok((class, f))
}

/// A batch shape `[null, d1, d2, ...]` as the sample shape `[d1, d2, ...]`.
pub(super) fn batch_shape(f: &Fields, key: &str, v: &Value) -> Result<Vec<usize>> {
    let Value::Array(items) = v else {
        return Err(f.err(format!(
            "`{key}` must be a list like [null, 28, 28, 1], got {}",
            show(v)
        )));
    };
    let Some((batch, dims)) = items.split_first() else {
        return Err(f.err(format!("`{key}` is empty: it needs a batch axis")));
    };
    if !batch.is_null() {
        return Err(f.err(format!(
            "`{key}` {}: a fixed batch size ({}) is not supported; the batch axis must be null",
            show(v),
            show(batch)
        )));
    }
    let mut shape = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        if d.is_null() {
            return Err(f.err(format!(
                "`{key}` {}: axis {} has no fixed size (null); only fixed sizes are supported",
                show(v),
                i + 1
            )));
        }
        shape.push(f.positive_value(key, d)?);
    }
    if elements(&shape).is_none() {
        return Err(f.err(format!(
            "`{key}` {}: more than 2^40 elements per sample",
            show(v)
        )));
    }
    Ok(shape)
}
