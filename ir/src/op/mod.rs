//! The op set: a medium-level, HLO-like vocabulary. Contractions stay whole
//! (matmul, conv2d and their gradients) so a backend can hand them to a GEMM.
//!
//! [`table`] is the single description of every op (name, arity, class,
//! attribute schema, properties); [`attrs`] converts between an [`Op`] and
//! its kind plus attribute values. Adding an op means: a row in the table,
//! a variant here with its arm in [`Op::kind`] (or just a name in an
//! `op_group!`), its arms in `attrs.rs`, its shape rule, its interpreter
//! kernel and its VJP rule — the compiler points at each match that lacks
//! it; the printer and the parser need nothing.

pub mod attrs;
pub mod fused;
pub mod table;

pub use attrs::AttrValue;
pub use fused::{BodyBuilder, FusedKernel, ScalarInstr};
pub use table::{Arity, AttrSpec, AttrType, OpClass, OpInfo, OpKind, Props};

use std::sync::Arc;

use crate::types::{F32Bits, Shape};

macro_rules! count {
    () => { 0 };
    ($x:ident $($rest:ident)*) => { 1 + count!($($rest)*) };
}

/// A family of attribute-free ops sharing one `Op` variant; each name is
/// also an [`OpKind`] of the same name.
macro_rules! op_group {
    ($(#[$meta:meta])* $group:ident { $($v:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $group { $($v),* }

        impl $group {
            pub const ALL: [$group; count!($($v)*)] = [$($group::$v),*];

            pub fn kind(self) -> OpKind {
                match self { $($group::$v => OpKind::$v),* }
            }

            pub fn from_kind(kind: OpKind) -> Option<$group> {
                match kind {
                    $(OpKind::$v => Some($group::$v),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                self.kind().name()
            }
        }
    };
}

op_group! {
    /// Elementwise unary ops.
    UnaryOp { Neg, Exp, Log, Sqrt, Rsqrt, Recip, Tanh, Sigmoid, Relu, Abs, Square }
}

op_group! {
    /// Elementwise binary ops over operands of identical shape.
    BinaryOp { Add, Sub, Mul, Div, Max, Min }
}

op_group! {
    /// Comparisons; the result is a 0/1 mask of the operands' shape.
    CmpOp { Gt, Ge, Eq }
}

/// Spatial padding of conv2d and maxpool2d, with Keras/TensorFlow meaning:
/// `valid` pads nothing; `same` gives `ceil(in / stride)` outputs and puts the
/// odd padding element at the end (bottom/right).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    pub const ALL: [Padding; 2] = [Padding::Valid, Padding::Same];

    pub fn name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }

    pub fn from_name(name: &str) -> Option<Padding> {
        Padding::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Memory layout of images and filters: `nhwc` pairs NHWC images with HWIO
/// filters (Keras channels_last); `nchw` pairs NCHW images with OIHW filters
/// (PyTorch, Keras channels_first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    Nhwc,
    Nchw,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Nhwc, Layout::Nchw];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Nhwc => "nhwc",
            Layout::Nchw => "nchw",
        }
    }

    pub fn from_name(name: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// Attributes shared by conv2d and its two gradient ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConvAttrs {
    pub strides: [usize; 2],
    pub padding: Padding,
    pub layout: Layout,
}

/// Attributes shared by maxpool2d and its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolAttrs {
    pub window: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub layout: Layout,
}

/// Attributes of matmul: which operands are used transposed (their last
/// two axes swapped), as XLA's `dot_general` names contracting dimensions.
/// With both false it is the plain `[.., m, k] x [.., k, n]` product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatMulAttrs {
    /// `a` is stored `[.., k, m]` and read as its transpose.
    pub transpose_a: bool,
    /// `b` is stored `[.., n, k]` and read as its transpose.
    pub transpose_b: bool,
}

impl MatMulAttrs {
    /// The plain product: no operand transposed.
    pub const PLAIN: MatMulAttrs = MatMulAttrs {
        transpose_a: false,
        transpose_b: false,
    };

    pub fn new(transpose_a: bool, transpose_b: bool) -> MatMulAttrs {
        MatMulAttrs {
            transpose_a,
            transpose_b,
        }
    }
}

/// One operation. Operand order is part of each op's contract (noted per
/// variant). Ops are `Eq + Ord + Hash` (floats by bit pattern), so
/// `(op, operands)` can key a hash-consing table or an e-graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Unary(UnaryOp),
    /// `lhs op rhs`; operands have identical shapes.
    Binary(BinaryOp),
    /// `x ^ exponent` with a scalar exponent attribute.
    Pow {
        exponent: F32Bits,
    },
    /// `lhs cmp rhs` as a 0/1 mask.
    Compare(CmpOp),
    /// `select(mask, on_true, on_false)`: picks `on_true` where mask != 0.
    Select,
    /// Operand axis `i` becomes result axis `dims[i]`; an operand extent is
    /// either the result extent or 1 (which is repeated).
    Broadcast {
        shape: Shape,
        dims: Vec<usize>,
    },
    Reshape {
        shape: Shape,
    },
    /// Result axis `i` is operand axis `perm[i]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// Zero padding: `low[i]` elements before and `high[i]` after axis `i`.
    Pad {
        low: Vec<usize>,
        high: Vec<usize>,
    },
    /// The half-open box `start[i]..end[i]` on every axis.
    Slice {
        start: Vec<usize>,
        end: Vec<usize>,
    },
    ReduceSum {
        axes: Vec<usize>,
        keepdims: bool,
    },
    ReduceMax {
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// `op(a) x op(b)`: `[.., m, k] x [.., k, n] -> [.., m, n]`, batch axes
    /// identical, where `op` transposes the last two axes of the operands
    /// the attributes name.
    MatMul(MatMulAttrs),
    /// `conv2d(image, filter)`: cross-correlation, as in every DL framework.
    Conv2d(ConvAttrs),
    /// `conv2d_input_grad(dy, filter)`: gradient of conv2d w.r.t. its image,
    /// whose shape is `input_shape`.
    Conv2dInputGrad {
        conv: ConvAttrs,
        input_shape: Shape,
    },
    /// `conv2d_filter_grad(image, dy)`: gradient of conv2d w.r.t. its filter,
    /// whose shape is `filter_shape`.
    Conv2dFilterGrad {
        conv: ConvAttrs,
        filter_shape: Shape,
    },
    /// `maxpool2d(image)`; padded positions never win the max.
    MaxPool2d(PoolAttrs),
    /// `maxpool2d_grad(image, dy)`: routes each `dy` element to the first
    /// maximum of its window (row-major scan order), like TensorFlow.
    MaxPool2dGrad(PoolAttrs),
    /// Result `result` of a fused elementwise kernel over `kernel.shape`;
    /// operand `k` is read through `kernel.maps[k]` (see [`fused`]). The
    /// kernel is shared (`Arc`) by its sibling nodes, one per result.
    Fused {
        kernel: Arc<FusedKernel>,
        result: usize,
    },
}

impl Op {
    /// `x ^ exponent`.
    pub fn pow(exponent: f32) -> Op {
        Op::Pow {
            exponent: F32Bits::new(exponent),
        }
    }

    /// The plain matmul (no operand transposed).
    pub const MATMUL: Op = Op::MatMul(MatMulAttrs::PLAIN);

    /// The op's row in the op table.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Unary(u) => u.kind(),
            Op::Binary(b) => b.kind(),
            Op::Compare(c) => c.kind(),
            Op::Pow { .. } => OpKind::Pow,
            Op::Select => OpKind::Select,
            Op::Broadcast { .. } => OpKind::Broadcast,
            Op::Reshape { .. } => OpKind::Reshape,
            Op::Transpose { .. } => OpKind::Transpose,
            Op::Pad { .. } => OpKind::Pad,
            Op::Slice { .. } => OpKind::Slice,
            Op::ReduceSum { .. } => OpKind::ReduceSum,
            Op::ReduceMax { .. } => OpKind::ReduceMax,
            Op::MatMul(_) => OpKind::MatMul,
            Op::Conv2d(_) => OpKind::Conv2d,
            Op::Conv2dInputGrad { .. } => OpKind::Conv2dInputGrad,
            Op::Conv2dFilterGrad { .. } => OpKind::Conv2dFilterGrad,
            Op::MaxPool2d(_) => OpKind::MaxPool2d,
            Op::MaxPool2dGrad(_) => OpKind::MaxPool2dGrad,
            Op::Fused { .. } => OpKind::Fused,
        }
    }

    /// The op's name in the text format.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Number of operands the op takes (a `fused` op: one per map).
    pub fn arity(&self) -> usize {
        match self {
            Op::Fused { kernel, .. } => kernel.maps.len(),
            // Every other kind has a fixed arity in the table.
            other => other.kind().arity().fixed().unwrap_or(0),
        }
    }

    pub fn class(&self) -> OpClass {
        self.kind().class()
    }

    /// True for ops that map each output element from the same-index input
    /// elements (the candidates for elementwise fusion).
    pub fn is_elementwise(&self) -> bool {
        self.class() == OpClass::Elementwise
    }
}
