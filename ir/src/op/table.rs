//! The op table: one row per op kind with its text name, arity, class,
//! attribute schema and algebraic properties. The printer, the parser, the
//! verifier and (later) the egg language and rewrite rules all read this
//! table instead of keeping their own per-op lists.

use std::fmt;

/// What an op does to memory: what a kernel planner and rewrite rules need
/// to know without looking at the op itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpClass {
    /// Each result element from the same-index operand elements (`fused`:
    /// from the elements its broadcast index maps select).
    Elementwise,
    /// A new shape over the same row-major data: free, no element moves.
    View,
    /// Elements copied to new positions (broadcast, transpose, pad, slice).
    Movement,
    /// Elements combined along axes.
    Reduce,
    /// Multiply-accumulate over contracted axes (what a GEMM does).
    Contraction,
    /// Sliding-window max pooling and its gradient.
    Pool,
}

impl OpClass {
    /// View and movement ops compute no new values: they place, repeat or
    /// drop elements — except `pad`, which also inserts zeros. So an
    /// elementwise op commutes with any of them given matching movements of
    /// every operand, and with `pad` only if it is [`Props::ZERO_PRESERVING`].
    pub fn is_data_movement(self) -> bool {
        matches!(self, OpClass::View | OpClass::Movement)
    }
}

/// Algebraic properties rewrite rules may rely on, as a small bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Props(u8);

impl Props {
    pub const NONE: Props = Props(0);
    /// `op(a, b) == op(b, a)`, bit for bit (up to which payload a NaN
    /// result carries).
    pub const COMMUTATIVE: Props = Props(1);
    /// `op(op(a, b), c) == op(a, op(b, c))` in exact arithmetic; in floating
    /// point only for max/min, so add/mul reassociation is fast-math only.
    pub const ASSOCIATIVE: Props = Props(1 << 1);
    /// Binary: `op(a, a) == a`; unary: `op(op(a)) == op(a)`.
    pub const IDEMPOTENT: Props = Props(1 << 2);
    /// `op(op(a)) == a`.
    pub const INVOLUTION: Props = Props(1 << 3);
    /// The result is a 0/1 mask.
    pub const MASK: Props = Props(1 << 4);
    /// No gradient flows through it: autodiff refuses it on a gradient path.
    pub const NOT_DIFFERENTIABLE: Props = Props(1 << 5);
    /// +0 in, +0 out, bit for bit: `op(+0) == +0`, `op(+0, +0) == +0` (so
    /// it commutes with `pad`, whose new elements are +0).
    pub const ZERO_PRESERVING: Props = Props(1 << 6);

    pub const fn union(self, other: Props) -> Props {
        Props(self.0 | other.0)
    }

    pub const fn contains(self, other: Props) -> bool {
        self.0 & other.0 == other.0
    }
}

/// How many operands an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    /// Exactly this many.
    Fixed(usize),
    /// Any number, fixed per instance by its attributes (`fused`: one
    /// operand per index map); [`Op::arity`](super::Op::arity) gives it.
    Variadic,
}

impl Arity {
    /// True if an op of this arity can take `n` operands.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Fixed(k) => k == n,
            Arity::Variadic => true,
        }
    }

    /// The fixed operand count, if there is one.
    pub fn fixed(self) -> Option<usize> {
        match self {
            Arity::Fixed(k) => Some(k),
            Arity::Variadic => None,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arity::Fixed(k) => write!(f, "{k}"),
            Arity::Variadic => f.write_str("variadic"),
        }
    }
}

/// The type of an attribute value, which fixes its text syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// A float (`exponent=2.0`).
    Float,
    /// `true` or `false`.
    Bool,
    /// A bool that defaults to `false`: printed only when `true`
    /// (`transpose_b=true`), and `false` when the text omits it, so adding
    /// a flag to an op changes no existing text.
    Flag,
    /// One non-negative integer (`result=0`).
    Int,
    /// A list of integer lists (`maps=[[0,1],[]]`).
    IntLists,
    /// A `fused` kernel's scalar body (`body={ %0 = in 0; %1 = exp %0 }`),
    /// see [`ScalarInstr`](super::ScalarInstr).
    Body,
    /// A list of axis numbers or extents (`[0,2]`).
    Ints,
    /// A list of exactly two entries (`strides=[1,1]`).
    Pair,
    /// A shape (`[2,3]`) whose element count must fit a `usize`.
    Shape,
    /// `valid` or `same`.
    Padding,
    /// `nhwc` or `nchw`.
    Layout,
}

/// One entry of an op's attribute schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrSpec {
    pub key: &'static str,
    pub ty: AttrType,
}

/// One row of the op table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpInfo {
    pub name: &'static str,
    pub arity: Arity,
    pub class: OpClass,
    /// The attributes, in the order they print and the order
    /// [`Op::attrs`](super::Op::attrs) returns them.
    pub attrs: &'static [AttrSpec],
    pub props: Props,
}

macro_rules! arity {
    (*) => {
        Arity::Variadic
    };
    ($n:literal) => {
        Arity::Fixed($n)
    };
}

macro_rules! op_table {
    ($( $kind:ident = $name:literal, $arity:tt, $class:ident,
        [$($key:literal: $ty:ident),*], $props:expr; )*) => {
        /// Every op as a fieldless kind: what the table is indexed by.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind { $($kind),* }

        impl OpKind {
            /// Every kind, in table order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$kind),*];

            /// The kind's row of the op table.
            pub fn info(self) -> &'static OpInfo {
                match self {
                    $(OpKind::$kind => {
                        const INFO: OpInfo = OpInfo {
                            name: $name,
                            arity: arity!($arity),
                            class: OpClass::$class,
                            attrs: &[$(AttrSpec { key: $key, ty: AttrType::$ty }),*],
                            props: $props,
                        };
                        &INFO
                    })*
                }
            }
        }
    };
}

const NONE: Props = Props::NONE;
const ZERO: Props = Props::ZERO_PRESERVING;
const COMM_ASSOC: Props = Props::COMMUTATIVE.union(Props::ASSOCIATIVE);
const MIN_MAX: Props = COMM_ASSOC.union(Props::IDEMPOTENT).union(ZERO);
const CMP: Props = Props::MASK.union(Props::NOT_DIFFERENTIABLE);

op_table! {
    Neg = "neg", 1, Elementwise, [], Props::INVOLUTION; // neg(+0) is -0
    Exp = "exp", 1, Elementwise, [], NONE;
    Log = "log", 1, Elementwise, [], NONE;
    Sqrt = "sqrt", 1, Elementwise, [], ZERO;
    Rsqrt = "rsqrt", 1, Elementwise, [], NONE;
    Recip = "recip", 1, Elementwise, [], NONE;
    Tanh = "tanh", 1, Elementwise, [], ZERO;
    Sigmoid = "sigmoid", 1, Elementwise, [], NONE;
    Relu = "relu", 1, Elementwise, [], Props::IDEMPOTENT.union(ZERO);
    Abs = "abs", 1, Elementwise, [], Props::IDEMPOTENT.union(ZERO);
    Square = "square", 1, Elementwise, [], ZERO;
    Add = "add", 2, Elementwise, [], COMM_ASSOC.union(ZERO);
    Sub = "sub", 2, Elementwise, [], ZERO;
    Mul = "mul", 2, Elementwise, [], COMM_ASSOC.union(ZERO);
    Div = "div", 2, Elementwise, [], NONE;
    Max = "max", 2, Elementwise, [], MIN_MAX;
    Min = "min", 2, Elementwise, [], MIN_MAX;
    Pow = "pow", 1, Elementwise, ["exponent": Float], NONE;
    Gt = "gt", 2, Elementwise, [], CMP.union(ZERO);
    Ge = "ge", 2, Elementwise, [], CMP;
    Eq = "eq", 2, Elementwise, [], CMP.union(Props::COMMUTATIVE);
    Select = "select", 3, Elementwise, [], ZERO;
    Broadcast = "broadcast", 1, Movement, ["shape": Shape, "dims": Ints], NONE;
    Reshape = "reshape", 1, View, ["shape": Shape], NONE;
    Transpose = "transpose", 1, Movement, ["perm": Ints], NONE;
    Pad = "pad", 1, Movement, ["low": Ints, "high": Ints], NONE;
    Slice = "slice", 1, Movement, ["start": Ints, "end": Ints], NONE;
    ReduceSum = "reduce_sum", 1, Reduce, ["axes": Ints, "keepdims": Bool], NONE;
    ReduceMax = "reduce_max", 1, Reduce, ["axes": Ints, "keepdims": Bool], NONE;
    MatMul = "matmul", 2, Contraction, ["transpose_a": Flag, "transpose_b": Flag], NONE;
    Conv2d = "conv2d", 2, Contraction,
        ["strides": Pair, "padding": Padding, "layout": Layout], NONE;
    Conv2dInputGrad = "conv2d_input_grad", 2, Contraction,
        ["strides": Pair, "padding": Padding, "layout": Layout, "input_shape": Shape], NONE;
    Conv2dFilterGrad = "conv2d_filter_grad", 2, Contraction,
        ["strides": Pair, "padding": Padding, "layout": Layout, "filter_shape": Shape], NONE;
    MaxPool2d = "maxpool2d", 1, Pool,
        ["window": Pair, "strides": Pair, "padding": Padding, "layout": Layout], NONE;
    MaxPool2dGrad = "maxpool2d_grad", 2, Pool,
        ["window": Pair, "strides": Pair, "padding": Padding, "layout": Layout],
        Props::NOT_DIFFERENTIABLE;
    Fused = "fused", *, Elementwise,
        ["shape": Shape, "maps": IntLists, "body": Body, "results": Ints, "result": Int],
        Props::NOT_DIFFERENTIABLE;
}

impl OpKind {
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn arity(self) -> Arity {
        self.info().arity
    }

    pub fn class(self) -> OpClass {
        self.info().class
    }

    pub fn attrs(self) -> &'static [AttrSpec] {
        self.info().attrs
    }

    pub fn props(self) -> Props {
        self.info().props
    }

    pub fn has(self, props: Props) -> bool {
        self.info().props.contains(props)
    }

    /// The kind printed as `name`.
    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
