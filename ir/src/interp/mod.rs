//! The reference interpreter: every op on ndarray, one array per value, in
//! node order. No cleverness — it is the oracle that passes and compiled
//! code are checked against. Generic over f32 and f64 (f64 makes
//! finite-difference gradient checks sharp).

mod conv;
mod elementwise;
mod linalg;
mod pool;
mod shape_ops;

use std::collections::HashMap;
use std::fmt::{Debug, Display};

use ndarray::{ArrayD, IxDyn, ScalarOperand};

use crate::error::{IrError, Result};
use crate::graph::{Graph, NodeKind, ValueId};
use crate::op::Op;

/// The element types the interpreter computes in.
pub trait Scalar:
    num_traits::Float
    + ndarray::LinalgScalar
    + ScalarOperand
    + std::iter::Sum
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    fn from_f32(v: f32) -> Self;
    fn from_usize(v: usize) -> Self;
}

impl Scalar for f32 {
    fn from_f32(v: f32) -> f32 {
        v
    }
    fn from_usize(v: usize) -> f32 {
        v as f32
    }
}

impl Scalar for f64 {
    fn from_f32(v: f32) -> f64 {
        v as f64
    }
    fn from_usize(v: usize) -> f64 {
        v as f64
    }
}

/// Arrays for a graph's arguments, keyed by argument name.
pub type Inputs<T> = HashMap<String, ArrayD<T>>;

/// Every value a run computed, with lookups by output and update.
#[derive(Debug)]
pub struct Evaluation<'g, T> {
    graph: &'g Graph,
    values: Vec<ArrayD<T>>,
}

impl<'g, T: Scalar> Evaluation<'g, T> {
    pub fn value(&self, id: ValueId) -> &ArrayD<T> {
        &self.values[id.index()]
    }

    /// The array of the named output, if the graph has that output.
    pub fn output(&self, name: &str) -> Option<&ArrayD<T>> {
        self.graph.output(name).map(|v| self.value(v))
    }

    /// The new value of each update target, as `(target name, array)`.
    pub fn updates(&self) -> impl Iterator<Item = (&'g str, &ArrayD<T>)> + '_ {
        self.graph
            .updates()
            .iter()
            .map(|u| (self.graph.value_name(u.target), self.value(u.value)))
    }

    /// All values, indexed by `ValueId`.
    pub fn into_values(self) -> Vec<ArrayD<T>> {
        self.values
    }
}

/// Runs `graph` on `inputs`. Every argument must be given with exactly its
/// declared shape; names that are not arguments are rejected as typos.
pub fn evaluate<'g, T: Scalar>(graph: &'g Graph, inputs: &Inputs<T>) -> Result<Evaluation<'g, T>> {
    for name in inputs.keys() {
        let is_arg = graph
            .lookup(name)
            .is_some_and(|v| matches!(graph.node(v).kind, NodeKind::Arg(_)));
        if !is_arg {
            return Err(IrError::Interp(format!(
                "`{name}` is not an argument of graph {}",
                graph.name()
            )));
        }
    }
    let mut values: Vec<ArrayD<T>> = Vec::with_capacity(graph.len());
    for node in graph.nodes() {
        let value = match &node.kind {
            NodeKind::Arg(role) => {
                let Some(array) = inputs.get(&node.name) else {
                    return Err(IrError::Interp(format!(
                        "missing {} %{}: {}",
                        role.name(),
                        node.name,
                        node.ty
                    )));
                };
                if array.shape() != node.ty.shape.dims() {
                    return Err(IrError::Interp(format!(
                        "{} %{} has shape {:?}, expected {}",
                        role.name(),
                        node.name,
                        array.shape(),
                        node.ty
                    )));
                }
                array.clone()
            }
            NodeKind::Const(data) => ArrayD::from_shape_vec(
                IxDyn(node.ty.shape.dims()),
                data.iter().map(|&v| T::from_f32(v)).collect(),
            )
            .map_err(|e| IrError::Interp(format!("const %{}: {e}", node.name)))?,
            NodeKind::Op { op, operands } => {
                let args: Vec<&ArrayD<T>> = operands.iter().map(|v| &values[v.index()]).collect();
                let out = apply(op, &args);
                debug_assert_eq!(out.shape(), node.ty.shape.dims(), "%{}", node.name);
                out
            }
        };
        values.push(value);
    }
    Ok(Evaluation { graph, values })
}

/// One op on arrays whose shapes already passed shape inference.
fn apply<T: Scalar>(op: &Op, args: &[&ArrayD<T>]) -> ArrayD<T> {
    match op {
        Op::Unary(u) => elementwise::unary(*u, args[0]),
        Op::Binary(b) => elementwise::binary(*b, args[0], args[1]),
        Op::Pow { exponent } => elementwise::pow(args[0], *exponent),
        Op::Compare(c) => elementwise::compare(*c, args[0], args[1]),
        Op::Select => elementwise::select(args[0], args[1], args[2]),
        Op::Broadcast { shape, dims } => shape_ops::broadcast(args[0], shape, dims),
        Op::Reshape { shape } => shape_ops::reshape(args[0], shape),
        Op::Transpose { perm } => shape_ops::transpose(args[0], perm),
        Op::Pad { low, high } => shape_ops::pad(args[0], low, high),
        Op::Slice { start, end } => shape_ops::slice(args[0], start, end),
        Op::ReduceSum { axes, keepdims } => shape_ops::reduce_sum(args[0], axes, *keepdims),
        Op::ReduceMax { axes, keepdims } => shape_ops::reduce_max(args[0], axes, *keepdims),
        Op::MatMul => linalg::matmul(args[0], args[1]),
        Op::Conv2d(attrs) => conv::conv2d(args[0], args[1], attrs),
        Op::Conv2dInputGrad { conv, input_shape } => {
            conv::conv2d_input_grad(args[0], args[1], conv, input_shape)
        }
        Op::Conv2dFilterGrad { conv, filter_shape } => {
            conv::conv2d_filter_grad(args[0], args[1], conv, filter_shape)
        }
        Op::MaxPool2d(attrs) => pool::maxpool2d(args[0], attrs),
        Op::MaxPool2dGrad(attrs) => pool::maxpool2d_grad(args[0], args[1], attrs),
    }
}
