//! Builder conveniences on `Graph`: one method per op, each inferring the
//! result type. Elementwise methods broadcast numpy-style by inserting
//! explicit `broadcast` nodes, so the IR itself never broadcasts implicitly.

use std::sync::Arc;

use crate::error::{IrError, Result};
use crate::graph::{Graph, Role, ValueId};
use crate::op::{BinaryOp, CmpOp, ConvAttrs, FusedKernel, MatMulAttrs, Op, PoolAttrs, UnaryOp};
use crate::types::{Shape, TensorType};

impl Graph {
    pub fn input(&mut self, name: &str, shape: impl Into<Shape>) -> Result<ValueId> {
        self.arg(Role::Input, name, TensorType::f32(shape))
    }

    pub fn param(&mut self, name: &str, shape: impl Into<Shape>) -> Result<ValueId> {
        self.arg(Role::Param, name, TensorType::f32(shape))
    }

    pub fn state(&mut self, name: &str, shape: impl Into<Shape>) -> Result<ValueId> {
        self.arg(Role::State, name, TensorType::f32(shape))
    }

    /// A rank-0 literal.
    pub fn scalar(&mut self, value: f32) -> Result<ValueId> {
        self.tensor(Shape::scalar(), vec![value])
    }

    /// A literal tensor under an automatic name.
    pub fn tensor(&mut self, shape: impl Into<Shape>, data: Vec<f32>) -> Result<ValueId> {
        let name = self.fresh(format!("c{}", self.len()));
        self.constant(&name, TensorType::f32(shape), data)
    }

    pub fn unary(&mut self, op: UnaryOp, x: ValueId) -> Result<ValueId> {
        self.push_op(Op::Unary(op), &[x])
    }

    pub fn neg(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Neg, x)
    }
    pub fn exp(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Exp, x)
    }
    pub fn log(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Log, x)
    }
    pub fn sqrt(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Sqrt, x)
    }
    pub fn rsqrt(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Rsqrt, x)
    }
    pub fn recip(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Recip, x)
    }
    pub fn tanh(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Tanh, x)
    }
    pub fn sigmoid(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Sigmoid, x)
    }
    pub fn relu(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Relu, x)
    }
    pub fn abs(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Abs, x)
    }
    pub fn square(&mut self, x: ValueId) -> Result<ValueId> {
        self.unary(UnaryOp::Square, x)
    }

    pub fn pow(&mut self, x: ValueId, exponent: f32) -> Result<ValueId> {
        self.push_op(Op::pow(exponent), &[x])
    }

    /// `lhs op rhs` with numpy broadcasting.
    pub fn binary(&mut self, op: BinaryOp, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        let [lhs, rhs] = self.broadcast_together(Op::Binary(op), [lhs, rhs])?;
        self.push_op(Op::Binary(op), &[lhs, rhs])
    }

    pub fn add(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Add, lhs, rhs)
    }
    pub fn sub(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Sub, lhs, rhs)
    }
    pub fn mul(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Mul, lhs, rhs)
    }
    pub fn div(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Div, lhs, rhs)
    }
    pub fn maximum(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Max, lhs, rhs)
    }
    pub fn minimum(&mut self, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        self.binary(BinaryOp::Min, lhs, rhs)
    }

    /// `lhs cmp rhs` as a 0/1 mask, with numpy broadcasting.
    pub fn compare(&mut self, op: CmpOp, lhs: ValueId, rhs: ValueId) -> Result<ValueId> {
        let [lhs, rhs] = self.broadcast_together(Op::Compare(op), [lhs, rhs])?;
        self.push_op(Op::Compare(op), &[lhs, rhs])
    }

    /// `mask != 0 ? on_true : on_false`, with numpy broadcasting of all three.
    pub fn select(
        &mut self,
        mask: ValueId,
        on_true: ValueId,
        on_false: ValueId,
    ) -> Result<ValueId> {
        let operands = self.broadcast_together(Op::Select, [mask, on_true, on_false])?;
        self.push_op(Op::Select, &operands)
    }

    /// Numpy-style broadcast of `x` to `shape` (axes aligned at the end).
    /// Returns `x` itself when the shape already matches.
    pub fn broadcast_to(&mut self, x: ValueId, shape: impl Into<Shape>) -> Result<ValueId> {
        let shape = shape.into();
        if *self.shape(x) == shape {
            return Ok(x);
        }
        let rank = self.shape(x).rank();
        if rank > shape.rank() {
            return Err(IrError::Type {
                op: "broadcast".into(),
                operands: vec![self.ty(x).clone()],
                reason: format!("cannot broadcast to lower-rank shape {shape}"),
            });
        }
        let dims = (shape.rank() - rank..shape.rank()).collect();
        self.broadcast_in_dim(x, shape, dims)
    }

    /// XLA-style broadcast: operand axis `i` becomes result axis `dims[i]`.
    pub fn broadcast_in_dim(
        &mut self,
        x: ValueId,
        shape: impl Into<Shape>,
        dims: Vec<usize>,
    ) -> Result<ValueId> {
        let shape = shape.into();
        self.push_op(Op::Broadcast { shape, dims }, &[x])
    }

    pub fn reshape(&mut self, x: ValueId, shape: impl Into<Shape>) -> Result<ValueId> {
        self.push_op(
            Op::Reshape {
                shape: shape.into(),
            },
            &[x],
        )
    }

    pub fn transpose(&mut self, x: ValueId, perm: &[usize]) -> Result<ValueId> {
        self.push_op(
            Op::Transpose {
                perm: perm.to_vec(),
            },
            &[x],
        )
    }

    pub fn pad(&mut self, x: ValueId, low: &[usize], high: &[usize]) -> Result<ValueId> {
        let (low, high) = (low.to_vec(), high.to_vec());
        self.push_op(Op::Pad { low, high }, &[x])
    }

    pub fn slice(&mut self, x: ValueId, start: &[usize], end: &[usize]) -> Result<ValueId> {
        let (start, end) = (start.to_vec(), end.to_vec());
        self.push_op(Op::Slice { start, end }, &[x])
    }

    /// Sum over `axes` (any order; duplicates ignored).
    pub fn reduce_sum(&mut self, x: ValueId, axes: &[usize], keepdims: bool) -> Result<ValueId> {
        let axes = sorted(axes);
        self.push_op(Op::ReduceSum { axes, keepdims }, &[x])
    }

    /// Max over `axes` (any order; duplicates ignored).
    pub fn reduce_max(&mut self, x: ValueId, axes: &[usize], keepdims: bool) -> Result<ValueId> {
        let axes = sorted(axes);
        self.push_op(Op::ReduceMax { axes, keepdims }, &[x])
    }

    /// Mean over `axes`: a sum times the constant `1 / count`.
    pub fn mean(&mut self, x: ValueId, axes: &[usize], keepdims: bool) -> Result<ValueId> {
        let sum = self.reduce_sum(x, axes, keepdims)?;
        let count: usize = sorted(axes).iter().map(|&a| self.shape(x)[a]).product();
        let scale = self.scalar(1.0 / count as f32)?;
        self.mul(sum, scale)
    }

    /// `a x b`: `[.., m, k] x [.., k, n] -> [.., m, n]`.
    pub fn matmul(&mut self, a: ValueId, b: ValueId) -> Result<ValueId> {
        self.push_op(Op::MATMUL, &[a, b])
    }

    /// `op(a) x op(b)`, where `op` swaps the last two axes of the operands
    /// `attrs` marks transposed: `matmul_with(x, w, MatMulAttrs::new(false,
    /// true))` is `x x w^T` without a transposed copy of `w`.
    pub fn matmul_with(&mut self, a: ValueId, b: ValueId, attrs: MatMulAttrs) -> Result<ValueId> {
        self.push_op(Op::MatMul(attrs), &[a, b])
    }

    /// A fused kernel over `operands` (operand `k` read through
    /// `kernel.maps[k]`): one sibling `fused` node per entry of
    /// `kernel.results`, appended in result order, which share the kernel.
    /// Errors (a malformed body, a map that does not fit) leave the graph
    /// unchanged.
    pub fn fused(&mut self, kernel: FusedKernel, operands: &[ValueId]) -> Result<Vec<ValueId>> {
        let kernel = Arc::new(kernel);
        let first = self.fused_result(kernel.clone(), operands, 0)?;
        let mut out = vec![first];
        for result in 1..kernel.results.len() {
            // Same kernel and operands as the first, so this cannot fail.
            out.push(self.fused_result(kernel.clone(), operands, result)?);
        }
        Ok(out)
    }

    /// The one sibling of a fused kernel that yields `kernel.results[result]`.
    pub fn fused_result(
        &mut self,
        kernel: Arc<FusedKernel>,
        operands: &[ValueId],
        result: usize,
    ) -> Result<ValueId> {
        self.push_op(Op::Fused { kernel, result }, operands)
    }

    pub fn conv2d(&mut self, image: ValueId, filter: ValueId, attrs: ConvAttrs) -> Result<ValueId> {
        self.push_op(Op::Conv2d(attrs), &[image, filter])
    }

    pub fn conv2d_input_grad(
        &mut self,
        dy: ValueId,
        filter: ValueId,
        attrs: ConvAttrs,
        input_shape: impl Into<Shape>,
    ) -> Result<ValueId> {
        let input_shape = input_shape.into();
        let op = Op::Conv2dInputGrad {
            conv: attrs,
            input_shape,
        };
        self.push_op(op, &[dy, filter])
    }

    pub fn conv2d_filter_grad(
        &mut self,
        image: ValueId,
        dy: ValueId,
        attrs: ConvAttrs,
        filter_shape: impl Into<Shape>,
    ) -> Result<ValueId> {
        let filter_shape = filter_shape.into();
        let op = Op::Conv2dFilterGrad {
            conv: attrs,
            filter_shape,
        };
        self.push_op(op, &[image, dy])
    }

    pub fn maxpool2d(&mut self, image: ValueId, attrs: PoolAttrs) -> Result<ValueId> {
        self.push_op(Op::MaxPool2d(attrs), &[image])
    }

    pub fn maxpool2d_grad(
        &mut self,
        image: ValueId,
        dy: ValueId,
        attrs: PoolAttrs,
    ) -> Result<ValueId> {
        self.push_op(Op::MaxPool2dGrad(attrs), &[image, dy])
    }

    /// Broadcasts every operand to their common numpy shape.
    fn broadcast_together<const N: usize>(
        &mut self,
        op: Op,
        operands: [ValueId; N],
    ) -> Result<[ValueId; N]> {
        for &v in &operands {
            self.check_id(v)?;
        }
        let shapes: Vec<&Shape> = operands.iter().map(|&v| self.shape(v)).collect();
        let Some(common) = broadcast_shape(&shapes) else {
            return Err(IrError::Type {
                op: op.name().to_string(),
                operands: operands.iter().map(|&v| self.ty(v).clone()).collect(),
                reason: "shapes do not broadcast".into(),
            });
        };
        let mut out = operands;
        for v in &mut out {
            *v = self.broadcast_to(*v, common.clone())?;
        }
        Ok(out)
    }
}

/// The numpy broadcast of several shapes, or `None` if they are incompatible.
pub fn broadcast_shape(shapes: &[&Shape]) -> Option<Shape> {
    let rank = shapes.iter().map(|s| s.rank()).max().unwrap_or(0);
    let mut out = vec![1; rank];
    for s in shapes {
        let offset = rank - s.rank();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return None;
            }
        }
    }
    Some(Shape::new(out))
}

fn sorted(axes: &[usize]) -> Vec<usize> {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    axes.dedup();
    axes
}
