//! The op set: a medium-level, HLO-like vocabulary. Contractions stay whole
//! (matmul, conv2d and their gradients) so a backend can hand them to a GEMM.

use crate::types::Shape;

/// Elementwise unary ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Recip,
    Tanh,
    Sigmoid,
    Relu,
    Abs,
    Square,
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 11] = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Abs,
        UnaryOp::Square,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Abs => "abs",
            UnaryOp::Square => "square",
        }
    }
}

/// Elementwise binary ops over operands of identical shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 6] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Max,
        BinaryOp::Min,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
        }
    }
}

/// Comparisons; the result is a 0/1 mask of the operands' shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Gt,
    Ge,
    Eq,
}

impl CmpOp {
    pub const ALL: [CmpOp; 3] = [CmpOp::Gt, CmpOp::Ge, CmpOp::Eq];

    pub fn name(self) -> &'static str {
        match self {
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Eq => "eq",
        }
    }
}

/// Spatial padding of conv2d and maxpool2d, with Keras/TensorFlow meaning:
/// `valid` pads nothing; `same` gives `ceil(in / stride)` outputs and puts the
/// odd padding element at the end (bottom/right).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    pub fn name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }

    pub fn from_name(name: &str) -> Option<Padding> {
        match name {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            _ => None,
        }
    }
}

/// Memory layout of images and filters: `nhwc` pairs NHWC images with HWIO
/// filters (Keras channels_last); `nchw` pairs NCHW images with OIHW filters
/// (PyTorch, Keras channels_first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    Nhwc,
    Nchw,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nhwc => "nhwc",
            Layout::Nchw => "nchw",
        }
    }

    pub fn from_name(name: &str) -> Option<Layout> {
        match name {
            "nhwc" => Some(Layout::Nhwc),
            "nchw" => Some(Layout::Nchw),
            _ => None,
        }
    }
}

/// Attributes shared by conv2d and its two gradient ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvAttrs {
    pub strides: [usize; 2],
    pub padding: Padding,
    pub layout: Layout,
}

/// Attributes shared by maxpool2d and its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolAttrs {
    pub window: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub layout: Layout,
}

/// One operation. Operand order is part of each op's contract (noted per variant).
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Unary(UnaryOp),
    /// `lhs op rhs`; operands have identical shapes.
    Binary(BinaryOp),
    /// `x ^ exponent` with a scalar exponent attribute.
    Pow {
        exponent: f32,
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
    /// `[.., m, k] x [.., k, n] -> [.., m, n]`, batch axes identical.
    MatMul,
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
}

impl Op {
    /// The op's name in the text format.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Pow { .. } => "pow",
            Op::Compare(c) => c.name(),
            Op::Select => "select",
            Op::Broadcast { .. } => "broadcast",
            Op::Reshape { .. } => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Pad { .. } => "pad",
            Op::Slice { .. } => "slice",
            Op::ReduceSum { .. } => "reduce_sum",
            Op::ReduceMax { .. } => "reduce_max",
            Op::MatMul => "matmul",
            Op::Conv2d(_) => "conv2d",
            Op::Conv2dInputGrad { .. } => "conv2d_input_grad",
            Op::Conv2dFilterGrad { .. } => "conv2d_filter_grad",
            Op::MaxPool2d(_) => "maxpool2d",
            Op::MaxPool2dGrad(_) => "maxpool2d_grad",
        }
    }

    /// Number of operands the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Unary(_)
            | Op::Pow { .. }
            | Op::Broadcast { .. }
            | Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Pad { .. }
            | Op::Slice { .. }
            | Op::ReduceSum { .. }
            | Op::ReduceMax { .. }
            | Op::MaxPool2d(_) => 1,
            Op::Binary(_)
            | Op::Compare(_)
            | Op::MatMul
            | Op::Conv2d(_)
            | Op::Conv2dInputGrad { .. }
            | Op::Conv2dFilterGrad { .. }
            | Op::MaxPool2dGrad(_) => 2,
            Op::Select => 3,
        }
    }

    /// True for ops that map each output element from the same-index input
    /// elements (the candidates for elementwise fusion).
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::Binary(_) | Op::Pow { .. } | Op::Compare(_) | Op::Select
        )
    }
}
