//! An op as its kind plus attribute values, in the order of the kind's
//! schema in the op table. The printer writes `key=value` from [`Op::attrs`]
//! and the parser rebuilds the op with [`Op::from_attrs`], so neither keeps
//! a per-op list of its own.

use std::fmt;
use std::sync::Arc;

use super::fused::write_body;
use super::{
    AttrType, BinaryOp, CmpOp, ConvAttrs, FusedKernel, Layout, MatMulAttrs, Op, OpKind, Padding,
    PoolAttrs, ScalarInstr, UnaryOp,
};
use crate::error::{IrError, Result};
use crate::types::{write_list, F32Bits, Shape};

/// One attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttrValue {
    Float(F32Bits),
    /// Bools and flags alike.
    Bool(bool),
    Int(usize),
    /// Lists, pairs and shapes alike.
    Ints(Vec<usize>),
    IntLists(Vec<Vec<usize>>),
    Padding(Padding),
    Layout(Layout),
    Body(Vec<ScalarInstr>),
}

impl AttrType {
    /// Why `value` is not a valid attribute of this type, if it is not.
    pub fn check(self, value: &AttrValue) -> Result<(), String> {
        match (self, value) {
            (AttrType::Float, AttrValue::Float(_))
            | (AttrType::Bool | AttrType::Flag, AttrValue::Bool(_))
            | (AttrType::Int, AttrValue::Int(_))
            | (AttrType::IntLists, AttrValue::IntLists(_))
            | (AttrType::Body, AttrValue::Body(_))
            | (AttrType::Ints, AttrValue::Ints(_))
            | (AttrType::Padding, AttrValue::Padding(_))
            | (AttrType::Layout, AttrValue::Layout(_)) => Ok(()),
            (AttrType::Pair, AttrValue::Ints(v)) if v.len() == 2 => Ok(()),
            (AttrType::Pair, AttrValue::Ints(v)) => {
                Err(format!("needs 2 entries, got {}", v.len()))
            }
            (AttrType::Shape, AttrValue::Ints(v)) => {
                match Shape::from(v.as_slice()).checked_numel() {
                    Some(_) => Ok(()),
                    None => Err(format!(
                        "shape {} has too many elements",
                        Shape::from(v.as_slice())
                    )),
                }
            }
            (ty, _) => Err(format!("expects {}", ty.describe())),
        }
    }

    /// The value an omitted attribute of this type takes, if it may be
    /// omitted: a flag is `false` unless the text says otherwise.
    pub fn default_value(self) -> Option<AttrValue> {
        match self {
            AttrType::Flag => Some(AttrValue::Bool(false)),
            _ => None,
        }
    }

    /// What a value of this type looks like, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            AttrType::Float => "a number",
            AttrType::Bool | AttrType::Flag => "true or false",
            AttrType::Int => "a non-negative integer",
            AttrType::IntLists => "a list of lists like [[0,1],[]]",
            AttrType::Body => "a fused body like { %0 = in 0; %1 = exp %0 }",
            AttrType::Ints | AttrType::Shape => "a list like [1,2]",
            AttrType::Pair => "a list of 2 entries like [1,1]",
            AttrType::Padding => "`same` or `valid`",
            AttrType::Layout => "`nhwc` or `nchw`",
        }
    }

    /// The words a value of this type may be, for word-valued types.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            AttrType::Bool | AttrType::Flag => &["true", "false"],
            AttrType::Padding => &["same", "valid"],
            AttrType::Layout => &["nhwc", "nchw"],
            _ => &[],
        }
    }

    /// The value named by `word`, for word-valued types.
    pub fn from_word(self, word: &str) -> Option<AttrValue> {
        match self {
            AttrType::Bool | AttrType::Flag => match word {
                "true" => Some(AttrValue::Bool(true)),
                "false" => Some(AttrValue::Bool(false)),
                _ => None,
            },
            AttrType::Padding => Padding::from_name(word).map(AttrValue::Padding),
            AttrType::Layout => Layout::from_name(word).map(AttrValue::Layout),
            _ => None,
        }
    }
}

/// The text form: `1.0`, `true`, `3`, `[1,2]`, `[[0],[]]`, `same`, `nhwc`,
/// `{ %0 = in 0; %1 = exp %0 }`.
impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Float(v) => write!(f, "{v}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(v) => write!(f, "{v}"),
            AttrValue::Ints(v) => write_list(f, v),
            AttrValue::IntLists(lists) => {
                f.write_str("[")?;
                for (i, l) in lists.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_list(f, l)?;
                }
                f.write_str("]")
            }
            AttrValue::Body(body) => write_body(f, body),
            AttrValue::Padding(p) => f.write_str(p.name()),
            AttrValue::Layout(l) => f.write_str(l.name()),
        }
    }
}

fn ints(v: &[usize]) -> AttrValue {
    AttrValue::Ints(v.to_vec())
}

fn conv_values(c: &ConvAttrs) -> [AttrValue; 3] {
    [
        ints(&c.strides),
        AttrValue::Padding(c.padding),
        AttrValue::Layout(c.layout),
    ]
}

fn pool_values(p: &PoolAttrs) -> [AttrValue; 4] {
    [
        ints(&p.window),
        ints(&p.strides),
        AttrValue::Padding(p.padding),
        AttrValue::Layout(p.layout),
    ]
}

impl Op {
    /// The attribute values, in the order of `self.kind().attrs()`.
    pub fn attrs(&self) -> Vec<AttrValue> {
        match self {
            Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select => vec![],
            Op::MatMul(m) => vec![
                AttrValue::Bool(m.transpose_a),
                AttrValue::Bool(m.transpose_b),
            ],
            Op::Pow { exponent } => vec![AttrValue::Float(*exponent)],
            Op::Broadcast { shape, dims } => vec![ints(shape), ints(dims)],
            Op::Reshape { shape } => vec![ints(shape)],
            Op::Transpose { perm } => vec![ints(perm)],
            Op::Pad { low, high } => vec![ints(low), ints(high)],
            Op::Slice { start, end } => vec![ints(start), ints(end)],
            Op::ReduceSum { axes, keepdims } | Op::ReduceMax { axes, keepdims } => {
                vec![ints(axes), AttrValue::Bool(*keepdims)]
            }
            Op::Conv2d(c) => conv_values(c).to_vec(),
            Op::Conv2dInputGrad { conv, input_shape } => {
                let mut v = conv_values(conv).to_vec();
                v.push(ints(input_shape));
                v
            }
            Op::Conv2dFilterGrad { conv, filter_shape } => {
                let mut v = conv_values(conv).to_vec();
                v.push(ints(filter_shape));
                v
            }
            Op::MaxPool2d(p) | Op::MaxPool2dGrad(p) => pool_values(p).to_vec(),
            Op::Fused { kernel, result } => vec![
                ints(&kernel.shape),
                AttrValue::IntLists(kernel.maps.clone()),
                AttrValue::Body(kernel.body.clone()),
                ints(
                    &kernel
                        .results
                        .iter()
                        .map(|&r| r as usize)
                        .collect::<Vec<_>>(),
                ),
                AttrValue::Int(*result),
            ],
        }
    }

    /// The op of `kind` with `values` for its attributes (schema order),
    /// checking their number and types against the op table.
    pub fn from_attrs(kind: OpKind, values: Vec<AttrValue>) -> Result<Op> {
        let fail = |reason: String| IrError::Attribute {
            op: kind.name(),
            reason,
        };
        let schema = kind.attrs();
        if values.len() != schema.len() {
            return Err(fail(format!(
                "takes {} attribute(s), got {}",
                schema.len(),
                values.len()
            )));
        }
        for (spec, value) in schema.iter().zip(&values) {
            spec.ty
                .check(value)
                .map_err(|why| fail(format!("attribute `{}` {why}", spec.key)))?;
        }
        let mut it = values.into_iter();
        let mut next = || it.next().expect("count checked against the schema");
        // Exhaustive on purpose: a new kind without an arm does not compile.
        Ok(match kind {
            OpKind::Neg
            | OpKind::Exp
            | OpKind::Log
            | OpKind::Sqrt
            | OpKind::Rsqrt
            | OpKind::Recip
            | OpKind::Tanh
            | OpKind::Sigmoid
            | OpKind::Relu
            | OpKind::Abs
            | OpKind::Square => Op::Unary(UnaryOp::from_kind(kind).expect("a unary kind")),
            OpKind::Add | OpKind::Sub | OpKind::Mul | OpKind::Div | OpKind::Max | OpKind::Min => {
                Op::Binary(BinaryOp::from_kind(kind).expect("a binary kind"))
            }
            OpKind::Gt | OpKind::Ge | OpKind::Eq => {
                Op::Compare(CmpOp::from_kind(kind).expect("a comparison kind"))
            }
            OpKind::Pow => Op::Pow {
                exponent: float(next()),
            },
            OpKind::Select => Op::Select,
            OpKind::Broadcast => Op::Broadcast {
                shape: Shape::new(list(next())),
                dims: list(next()),
            },
            OpKind::Reshape => Op::Reshape {
                shape: Shape::new(list(next())),
            },
            OpKind::Transpose => Op::Transpose { perm: list(next()) },
            OpKind::Pad => Op::Pad {
                low: list(next()),
                high: list(next()),
            },
            OpKind::Slice => Op::Slice {
                start: list(next()),
                end: list(next()),
            },
            OpKind::ReduceSum => Op::ReduceSum {
                axes: list(next()),
                keepdims: boolean(next()),
            },
            OpKind::ReduceMax => Op::ReduceMax {
                axes: list(next()),
                keepdims: boolean(next()),
            },
            OpKind::MatMul => Op::MatMul(MatMulAttrs {
                transpose_a: boolean(next()),
                transpose_b: boolean(next()),
            }),
            OpKind::Conv2d => Op::Conv2d(conv(&mut next)),
            OpKind::Conv2dInputGrad => Op::Conv2dInputGrad {
                conv: conv(&mut next),
                input_shape: Shape::new(list(next())),
            },
            OpKind::Conv2dFilterGrad => Op::Conv2dFilterGrad {
                conv: conv(&mut next),
                filter_shape: Shape::new(list(next())),
            },
            OpKind::MaxPool2d => Op::MaxPool2d(pool(&mut next)),
            OpKind::MaxPool2dGrad => Op::MaxPool2dGrad(pool(&mut next)),
            OpKind::Fused => {
                let shape = Shape::new(list(next()));
                let maps = match next() {
                    AttrValue::IntLists(m) => m,
                    _ => unreachable!("checked: lists"),
                };
                let body = match next() {
                    AttrValue::Body(b) => b,
                    _ => unreachable!("checked: a body"),
                };
                let results = list(next())
                    .into_iter()
                    .map(|r| {
                        u32::try_from(r).map_err(|_| fail(format!("result %{r} is too large")))
                    })
                    .collect::<Result<Vec<u32>>>()?;
                let result = match next() {
                    AttrValue::Int(r) => r,
                    _ => unreachable!("checked: an integer"),
                };
                Op::Fused {
                    kernel: Arc::new(FusedKernel {
                        shape,
                        maps,
                        body,
                        results,
                    }),
                    result,
                }
            }
        })
    }
}

// Accessors for values already checked against the schema.

fn float(v: AttrValue) -> F32Bits {
    match v {
        AttrValue::Float(f) => f,
        _ => unreachable!("checked: a float"),
    }
}

fn boolean(v: AttrValue) -> bool {
    match v {
        AttrValue::Bool(b) => b,
        _ => unreachable!("checked: a bool"),
    }
}

fn list(v: AttrValue) -> Vec<usize> {
    match v {
        AttrValue::Ints(l) => l,
        _ => unreachable!("checked: a list"),
    }
}

fn pair(v: AttrValue) -> [usize; 2] {
    let l = list(v);
    [l[0], l[1]]
}

fn padding(v: AttrValue) -> Padding {
    match v {
        AttrValue::Padding(p) => p,
        _ => unreachable!("checked: a padding"),
    }
}

fn layout(v: AttrValue) -> Layout {
    match v {
        AttrValue::Layout(l) => l,
        _ => unreachable!("checked: a layout"),
    }
}

fn conv(next: &mut impl FnMut() -> AttrValue) -> ConvAttrs {
    ConvAttrs {
        strides: pair(next()),
        padding: padding(next()),
        layout: layout(next()),
    }
}

fn pool(next: &mut impl FnMut() -> AttrValue) -> PoolAttrs {
    PoolAttrs {
        window: pair(next()),
        strides: pair(next()),
        padding: padding(next()),
        layout: layout(next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema-conforming value of each type.
    fn sample(ty: AttrType) -> AttrValue {
        match ty {
            AttrType::Float => AttrValue::Float(F32Bits::new(2.5)),
            AttrType::Bool | AttrType::Flag => AttrValue::Bool(true),
            AttrType::Int => AttrValue::Int(0),
            AttrType::IntLists => AttrValue::IntLists(vec![vec![0], vec![]]),
            AttrType::Body => AttrValue::Body(vec![ScalarInstr::Input(0)]),
            AttrType::Ints => AttrValue::Ints(vec![0, 1]),
            AttrType::Pair => AttrValue::Ints(vec![2, 3]),
            AttrType::Shape => AttrValue::Ints(vec![4, 5]),
            AttrType::Padding => AttrValue::Padding(Padding::Same),
            AttrType::Layout => AttrValue::Layout(Layout::Nchw),
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_schema() {
        for &kind in OpKind::ALL {
            let values: Vec<AttrValue> = kind.attrs().iter().map(|a| sample(a.ty)).collect();
            let op = Op::from_attrs(kind, values.clone()).unwrap();
            assert_eq!(op.kind(), kind);
            assert_eq!(op.attrs(), values, "{kind}");
            assert_eq!(OpKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn wrong_attribute_count_and_types_are_refused() {
        let err = Op::from_attrs(OpKind::Pow, vec![]).unwrap_err();
        assert!(
            err.to_string().contains("takes 1 attribute(s), got 0"),
            "{err}"
        );
        let err = Op::from_attrs(OpKind::Pow, vec![AttrValue::Bool(true)]).unwrap_err();
        assert!(
            err.to_string().contains("`exponent` expects a number"),
            "{err}"
        );
        let bad_pair = vec![
            AttrValue::Ints(vec![1, 1, 1]),
            AttrValue::Padding(Padding::Valid),
            AttrValue::Layout(Layout::Nhwc),
        ];
        let err = Op::from_attrs(OpKind::Conv2d, bad_pair).unwrap_err();
        assert!(
            err.to_string().contains("`strides` needs 2 entries"),
            "{err}"
        );
        let huge = vec![AttrValue::Ints(vec![usize::MAX, 2])];
        let err = Op::from_attrs(OpKind::Reshape, huge).unwrap_err();
        assert!(err.to_string().contains("too many elements"), "{err}");
    }

    #[test]
    fn table_rows_agree_with_the_ops() {
        for &kind in OpKind::ALL {
            let grouped: Option<usize> = UnaryOp::from_kind(kind)
                .map(|_| 1)
                .or(BinaryOp::from_kind(kind).map(|_| 2))
                .or(CmpOp::from_kind(kind).map(|_| 2));
            if let Some(arity) = grouped {
                assert_eq!(kind.arity(), super::super::Arity::Fixed(arity), "{kind}");
                assert!(kind.attrs().is_empty(), "{kind}");
            }
        }
        assert!(OpKind::Add.has(super::super::Props::COMMUTATIVE));
        assert!(!OpKind::Sub.has(super::super::Props::COMMUTATIVE));
        assert!(OpKind::Transpose.class().is_data_movement());
        assert!(!OpKind::MatMul.class().is_data_movement());
    }
}
