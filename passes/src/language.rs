//! The e-graph language: one generic op node per [`OpKind`] whose first
//! children are its attributes (as [`Node::Attr`] leaves, in the op table's
//! schema order) and whose remaining children are its operands. The op
//! table is the only per-op list: a new op needs nothing here.
//!
//! Text form (what rule patterns and tests are written in):
//! `(transpose [1,0] $0)`, `(reduce_sum [1] true ?x)`, `(pow 2.0 ?x)`,
//! `$3` for argument 3 of the graph (by position), `const[2,3]:1.0` for a
//! splat literal and `const[2]:[1.0,-0.0]` for dense data.

use std::fmt;
use std::sync::Arc;

use egg::{FromOp, Id, Language};
use triceratops_ir::{AttrType, AttrValue, Constant, F32Bits, OpKind, Shape};

/// A literal tensor: its shape and its (canonical) data.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Literal {
    pub shape: Shape,
    pub data: Constant,
}

impl Literal {
    /// A literal of `shape` holding `data` in canonical form.
    pub fn new(shape: Shape, data: Constant) -> Literal {
        Literal {
            shape,
            data: data.canonical(),
        }
    }
}

/// One e-node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    /// The graph's argument at this position (its type is in the analysis).
    Arg(u32),
    /// A literal tensor.
    Const(Literal),
    /// An attribute value; only op nodes refer to attribute classes.
    Attr(AttrValue),
    /// `kind` over `[attributes..., operands...]`.
    Op(OpKind, Box<[Id]>),
}

/// What `egg` compares first when matching nodes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Discriminant {
    Arg,
    Const,
    Attr,
    Op(OpKind),
}

impl Node {
    /// The op node `kind(children)`.
    pub fn op(kind: OpKind, children: impl Into<Box<[Id]>>) -> Node {
        Node::Op(kind, children.into())
    }

    /// The operand children of an op node (after its attributes).
    pub fn operands(&self) -> &[Id] {
        match self {
            Node::Op(kind, children) => &children[kind.attrs().len()..],
            _ => &[],
        }
    }

    /// The attribute children of an op node.
    pub fn attr_children(&self) -> &[Id] {
        match self {
            Node::Op(kind, children) => &children[..kind.attrs().len()],
            _ => &[],
        }
    }

    pub fn kind(&self) -> Option<OpKind> {
        match self {
            Node::Op(kind, _) => Some(*kind),
            _ => None,
        }
    }
}

impl Language for Node {
    type Discriminant = Discriminant;

    fn discriminant(&self) -> Discriminant {
        match self {
            Node::Arg(_) => Discriminant::Arg,
            Node::Const(_) => Discriminant::Const,
            Node::Attr(_) => Discriminant::Attr,
            Node::Op(kind, _) => Discriminant::Op(*kind),
        }
    }

    fn matches(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Op(a, x), Node::Op(b, y)) => a == b && x.len() == y.len(),
            (a, b) => a == b,
        }
    }

    fn children(&self) -> &[Id] {
        match self {
            Node::Op(_, children) => children,
            _ => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            Node::Op(_, children) => children,
            _ => &mut [],
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "const{}:", self.shape)?;
        match &self.data {
            Constant::Splat(v) => write!(f, "{v}"),
            Constant::Dense(d) => {
                f.write_str("[")?;
                for (i, v) in d.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Arg(i) => write!(f, "${i}"),
            Node::Const(lit) => write!(f, "{lit}"),
            Node::Attr(v) => write!(f, "{v}"),
            Node::Op(kind, _) => f.write_str(kind.name()),
        }
    }
}

/// Why a token is not a node.
#[derive(Debug, thiserror::Error)]
#[error("not a node: `{token}` with {children} children ({reason})")]
pub struct ParseNodeError {
    token: String,
    children: usize,
    reason: &'static str,
}

impl FromOp for Node {
    type Error = ParseNodeError;

    fn from_op(op: &str, children: Vec<Id>) -> Result<Node, ParseNodeError> {
        let fail = |reason| ParseNodeError {
            token: op.to_string(),
            children: children.len(),
            reason,
        };
        if let Some(kind) = OpKind::from_name(op) {
            if !children_fit(kind, children.len()) {
                return Err(fail("wrong number of attributes and operands"));
            }
            return Ok(Node::Op(kind, children.into()));
        }
        if !children.is_empty() {
            return Err(fail("unknown op"));
        }
        if let Some(index) = op.strip_prefix('$') {
            return index
                .parse()
                .map(Node::Arg)
                .map_err(|_| fail("bad argument index"));
        }
        if let Some(rest) = op.strip_prefix("const") {
            return parse_literal(rest)
                .map(Node::Const)
                .ok_or_else(|| fail("bad literal"));
        }
        parse_attr(op)
            .map(Node::Attr)
            .ok_or_else(|| fail("not an attribute"))
    }
}

/// `[2,3]:1.0` or `[2]:[1.0,2.0]`.
fn parse_literal(text: &str) -> Option<Literal> {
    let (shape, data) = text.split_once(':')?;
    let shape = Shape::new(parse_ints(shape)?);
    let data = match data.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(list) => {
            let values = list
                .split(',')
                .map(|v| v.parse::<f32>().ok())
                .collect::<Option<Vec<_>>>()?;
            if values.len() != shape.numel() {
                return None;
            }
            Constant::Dense(values.into_iter().map(F32Bits::new).collect::<Arc<_>>())
        }
        None => Constant::splat(data.parse().ok()?),
    };
    Some(Literal::new(shape, data))
}

fn parse_ints(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|v| v.parse().ok()).collect()
}

/// An attribute in its text-format spelling.
fn parse_attr(text: &str) -> Option<AttrValue> {
    for ty in [AttrType::Bool, AttrType::Padding, AttrType::Layout] {
        if let Some(v) = ty.from_word(text) {
            return Some(v);
        }
    }
    if text.starts_with('[') {
        return parse_ints(text).map(AttrValue::Ints);
    }
    text.parse::<f32>()
        .ok()
        .map(|v| AttrValue::Float(F32Bits::new(v)))
}

/// Whether `n` children are `kind`'s attributes followed by a valid number
/// of operands (any number for a variadic op such as `fused`).
pub fn children_fit(kind: OpKind, n: usize) -> bool {
    let attrs = kind.attrs().len();
    n >= attrs && kind.arity().accepts(n - attrs)
}
