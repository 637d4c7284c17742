//! Op attributes in the text format: which keys each op takes, their
//! values, and building the `Op` once all are read.

use super::lex::Pos;
use crate::error::Result;
use crate::op::{BinaryOp, CmpOp, ConvAttrs, Layout, Op, Padding, PoolAttrs, UnaryOp};
use crate::types::Shape;

/// Rejects shapes whose element count does not fit a `usize`.
pub(super) fn check_numel(shape: &Shape, pos: Pos) -> Result<()> {
    match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(_) => Ok(()),
        None => Err(pos.error(format!("shape {shape} has too many elements"))),
    }
}

/// The elementwise ops named by their `name()`.
fn elementwise_op(name: &str) -> Option<Op> {
    let unary = UnaryOp::ALL.iter().find(|u| u.name() == name);
    let binary = BinaryOp::ALL.iter().find(|b| b.name() == name);
    let cmp = CmpOp::ALL.iter().find(|c| c.name() == name);
    unary
        .map(|&u| Op::Unary(u))
        .or(binary.map(|&b| Op::Binary(b)))
        .or(cmp.map(|&c| Op::Compare(c)))
}

/// The attribute keys an op requires (in print order), `None` for an unknown op.
pub(super) fn attribute_keys(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "select" | "matmul" => &[],
        "pow" => &["exponent"],
        "broadcast" => &["shape", "dims"],
        "reshape" => &["shape"],
        "transpose" => &["perm"],
        "pad" => &["low", "high"],
        "slice" => &["start", "end"],
        "reduce_sum" | "reduce_max" => &["axes", "keepdims"],
        "conv2d" => &["strides", "padding", "layout"],
        "conv2d_input_grad" => &["strides", "padding", "layout", "input_shape"],
        "conv2d_filter_grad" => &["strides", "padding", "layout", "filter_shape"],
        "maxpool2d" | "maxpool2d_grad" => &["window", "strides", "padding", "layout"],
        _ => {
            elementwise_op(op)?;
            &[]
        }
    })
}

pub(super) enum Attr {
    List(Vec<usize>),
    Float(f32),
    Bool(bool),
    Padding(Padding),
    Layout(Layout),
}

/// The attributes given to one op, with the position of each value.
pub(super) struct Attrs<'a> {
    pub op: &'a str,
    pub pos: Pos,
    pub items: Vec<(&'a str, Pos, Attr)>,
}

impl Attrs<'_> {
    fn get(&self, key: &str) -> Result<(&Attr, Pos)> {
        match self.items.iter().find(|(k, _, _)| *k == key) {
            Some((_, pos, attr)) => Ok((attr, *pos)),
            None => Err(self
                .pos
                .error(format!("missing attribute `{key}` for `{}`", self.op))),
        }
    }

    fn list(&self, key: &str) -> Result<Vec<usize>> {
        match self.get(key)? {
            (Attr::List(l), _) => Ok(l.clone()),
            (_, pos) => Err(pos.error(format!("attribute `{key}` expects a list like [1,2]"))),
        }
    }

    fn shape(&self, key: &str) -> Result<Shape> {
        let shape = Shape::new(self.list(key)?);
        check_numel(&shape, self.get(key)?.1)?;
        Ok(shape)
    }

    fn pair(&self, key: &str) -> Result<[usize; 2]> {
        let list = self.list(key)?;
        <[usize; 2]>::try_from(list.as_slice()).map_err(|_| {
            let pos = self.get(key).map_or(self.pos, |(_, p)| p);
            pos.error(format!(
                "attribute `{key}` needs 2 entries, got {}",
                list.len()
            ))
        })
    }

    fn float(&self, key: &str) -> Result<f32> {
        match self.get(key)? {
            (Attr::Float(v), _) => Ok(*v),
            (_, pos) => Err(pos.error(format!("attribute `{key}` expects a number"))),
        }
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.get(key)? {
            (Attr::Bool(b), _) => Ok(*b),
            (_, pos) => Err(pos.error(format!("attribute `{key}` expects true or false"))),
        }
    }

    fn conv(&self) -> Result<ConvAttrs> {
        Ok(ConvAttrs {
            strides: self.pair("strides")?,
            padding: self.padding()?,
            layout: self.layout()?,
        })
    }

    fn pool(&self) -> Result<PoolAttrs> {
        Ok(PoolAttrs {
            window: self.pair("window")?,
            strides: self.pair("strides")?,
            padding: self.padding()?,
            layout: self.layout()?,
        })
    }

    fn padding(&self) -> Result<Padding> {
        match self.get("padding")? {
            (Attr::Padding(p), _) => Ok(*p),
            (_, pos) => Err(pos.error("attribute `padding` expects `same` or `valid`")),
        }
    }

    fn layout(&self) -> Result<Layout> {
        match self.get("layout")? {
            (Attr::Layout(l), _) => Ok(*l),
            (_, pos) => Err(pos.error("attribute `layout` expects `nhwc` or `nchw`")),
        }
    }

    /// The op, once every attribute it needs is known.
    pub fn build(&self) -> Result<Op> {
        if let Some(op) = elementwise_op(self.op) {
            return Ok(op);
        }
        Ok(match self.op {
            "select" => Op::Select,
            "matmul" => Op::MatMul,
            "pow" => Op::Pow {
                exponent: self.float("exponent")?,
            },
            "broadcast" => Op::Broadcast {
                shape: self.shape("shape")?,
                dims: self.list("dims")?,
            },
            "reshape" => Op::Reshape {
                shape: self.shape("shape")?,
            },
            "transpose" => Op::Transpose {
                perm: self.list("perm")?,
            },
            "pad" => Op::Pad {
                low: self.list("low")?,
                high: self.list("high")?,
            },
            "slice" => Op::Slice {
                start: self.list("start")?,
                end: self.list("end")?,
            },
            "reduce_sum" => Op::ReduceSum {
                axes: self.list("axes")?,
                keepdims: self.bool("keepdims")?,
            },
            "reduce_max" => Op::ReduceMax {
                axes: self.list("axes")?,
                keepdims: self.bool("keepdims")?,
            },
            "conv2d" => Op::Conv2d(self.conv()?),
            "conv2d_input_grad" => Op::Conv2dInputGrad {
                conv: self.conv()?,
                input_shape: self.shape("input_shape")?,
            },
            "conv2d_filter_grad" => Op::Conv2dFilterGrad {
                conv: self.conv()?,
                filter_shape: self.shape("filter_shape")?,
            },
            "maxpool2d" => Op::MaxPool2d(self.pool()?),
            "maxpool2d_grad" => Op::MaxPool2dGrad(self.pool()?),
            op => return Err(self.pos.error(format!("unknown op `{op}`"))),
        })
    }
}
