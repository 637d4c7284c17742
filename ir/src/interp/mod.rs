//! The reference interpreter: every op on ndarray, one array per value, in
//! node order. No cleverness — it is the oracle that passes and compiled
//! code are checked against. Generic over f32 and f64 (f64 makes
//! finite-difference gradient checks sharp).

mod conv;
mod elementwise;
mod fused;
mod linalg;
mod pool;
mod shape_ops;

use std::collections::HashMap;
use std::fmt::{Debug, Display};

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn, ScalarOperand};

use crate::error::{IrError, Result};
use crate::graph::{Graph, NodeKind, ValueId};
use crate::op::{FusedKernel, Op};

pub use fused::fused_element;

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

/// Every value a run computed (arguments borrowed, not copied), with
/// lookups by output and update.
#[derive(Debug)]
pub struct Evaluation<'g, 'a, T> {
    graph: &'g Graph,
    values: Vec<CowArray<'a, T, IxDyn>>,
}

impl<'g, 'a, T: Scalar> Evaluation<'g, 'a, T> {
    pub fn value(&self, id: ValueId) -> ArrayViewD<'_, T> {
        self.values[id.index()].view()
    }

    /// The array of the named output, if the graph has that output.
    pub fn output(&self, name: &str) -> Option<ArrayViewD<'_, T>> {
        self.graph.output(name).map(|v| self.value(v))
    }

    /// The new value of each update target, as `(target name, array)`.
    pub fn updates<'s>(
        &'s self,
    ) -> impl Iterator<Item = (&'g str, ArrayViewD<'s, T>)> + use<'s, 'g, 'a, T> {
        self.graph
            .updates()
            .iter()
            .map(|u| (self.graph.value_name(u.target), self.value(u.value)))
    }

    /// All values, indexed by `ValueId` (arguments still borrowed).
    pub fn into_values(self) -> Vec<CowArray<'a, T, IxDyn>> {
        self.values
    }
}

/// Runs `graph` on `inputs`, by argument name. Every argument must be given
/// with exactly its declared shape; names that are not arguments are
/// rejected as typos. The arrays are borrowed, not copied.
pub fn evaluate<'g, 'a, T: Scalar>(
    graph: &'g Graph,
    inputs: &'a Inputs<T>,
) -> Result<Evaluation<'g, 'a, T>> {
    for name in inputs.keys() {
        let is_arg = graph
            .lookup(name)
            .is_some_and(|v| matches!(graph.node(v).kind, NodeKind::Arg(_)));
        if !is_arg {
            return Err(IrError::NotAnArgument {
                name: name.clone(),
                graph: graph.name().to_string(),
            });
        }
    }
    let mut args = Vec::new();
    for id in graph.arguments() {
        let node = graph.node(id);
        let Some(array) = inputs.get(&node.name) else {
            return Err(IrError::MissingArgument {
                name: node.name.clone(),
                role: node.role().expect("an argument"),
                ty: node.ty.clone(),
            });
        };
        args.push(array.view());
    }
    evaluate_args(graph, args)
}

/// Runs `graph` on `args`, one per argument in declaration order (the
/// graph's calling convention), each with exactly its declared shape.
pub fn evaluate_args<'g, 'a, T: Scalar>(
    graph: &'g Graph,
    args: Vec<ArrayViewD<'a, T>>,
) -> Result<Evaluation<'g, 'a, T>> {
    evaluate_args_timed(graph, args, None)
}

/// [`evaluate_args`], adding each node's wall time to `times[node]` when
/// given (`explore`'s per-kernel profile; a multi-result `fused` kernel
/// counts at the first of its nodes, where its body runs).
pub fn evaluate_args_timed<'g, 'a, T: Scalar>(
    graph: &'g Graph,
    args: Vec<ArrayViewD<'a, T>>,
    mut times: Option<&mut [std::time::Duration]>,
) -> Result<Evaluation<'g, 'a, T>> {
    if let Some(t) = &times {
        assert_eq!(t.len(), graph.len(), "one time per node");
    }
    let expected = graph.arguments().count();
    if args.len() != expected {
        return Err(IrError::ArgumentCount {
            graph: graph.name().to_string(),
            expected,
            found: args.len(),
        });
    }
    let mut args = args.into_iter();
    let mut values: Vec<CowArray<'a, T, IxDyn>> = Vec::with_capacity(graph.len());
    // The results of multi-result kernels computed for a sibling node and
    // not yet taken by their own node: the body runs once per kernel.
    let mut siblings: HashMap<SiblingKey, Vec<Option<ArrayD<T>>>> = HashMap::new();
    for (id, node) in graph.ids().zip(graph.nodes()) {
        let start = times.is_some().then(std::time::Instant::now);
        let value = match &node.kind {
            NodeKind::Arg(role) => {
                let array = args.next().expect("counted above");
                if array.shape() != node.ty.shape.dims() {
                    return Err(IrError::ArgumentMismatch {
                        name: node.name.clone(),
                        role: *role,
                        expected: node.ty.clone(),
                        found: array.shape().to_vec(),
                    });
                }
                // Kernels read row-major data; most callers pass it already.
                if array.is_standard_layout() {
                    CowArray::from(array)
                } else {
                    CowArray::from(array.as_standard_layout().into_owned())
                }
            }
            NodeKind::Const(_) => {
                let data = graph.const_value(id).expect("a const node has data");
                let numel = node.ty.numel();
                let elements = (0..numel).map(|i| T::from_f32(data.get(i))).collect();
                CowArray::from(
                    ArrayD::from_shape_vec(IxDyn(node.ty.shape.dims()), elements)
                        .expect("verified: constants fill their type"),
                )
            }
            NodeKind::Op { op, operands } => {
                let inputs: Vec<ArrayViewD<T>> =
                    operands.iter().map(|v| values[v.index()].view()).collect();
                let out = match op {
                    Op::Fused { kernel, result } if kernel.results.len() > 1 => siblings
                        .entry((kernel.as_ref(), operands.as_slice()))
                        .or_insert_with(|| {
                            fused::fused_all(kernel, &inputs)
                                .into_iter()
                                .map(Some)
                                .collect()
                        })[*result]
                        .take()
                        // A second node for the same result (not canonical).
                        .unwrap_or_else(|| fused::fused(kernel, *result, &inputs)),
                    _ => apply(op, &inputs),
                };
                debug_assert_eq!(out.shape(), node.ty.shape.dims(), "%{}", node.name);
                CowArray::from(out)
            }
        };
        values.push(value);
        if let (Some(t), Some(start)) = (times.as_deref_mut(), start) {
            t[id.index()] += start.elapsed();
        }
    }
    Ok(Evaluation { graph, values })
}

/// A multi-result kernel applied to its operands: what its sibling nodes share.
type SiblingKey<'g> = (&'g FusedKernel, &'g [ValueId]);

/// One op on arrays whose shapes already passed shape inference.
fn apply<T: Scalar>(op: &Op, args: &[ArrayViewD<T>]) -> ArrayD<T> {
    match op {
        Op::Unary(u) => elementwise::unary(*u, &args[0]),
        Op::Binary(b) => elementwise::binary(*b, &args[0], &args[1]),
        Op::Pow { exponent } => elementwise::pow(&args[0], exponent.get()),
        Op::Compare(c) => elementwise::compare(*c, &args[0], &args[1]),
        Op::Select => elementwise::select(&args[0], &args[1], &args[2]),
        Op::Broadcast { shape, dims } => shape_ops::broadcast(&args[0], shape, dims),
        Op::Reshape { shape } => shape_ops::reshape(&args[0], shape),
        Op::Transpose { perm } => shape_ops::transpose(&args[0], perm),
        Op::Pad { low, high } => shape_ops::pad(&args[0], low, high),
        Op::Slice { start, end } => shape_ops::slice(&args[0], start, end),
        Op::ReduceSum { axes, keepdims } => shape_ops::reduce_sum(&args[0], axes, *keepdims),
        Op::ReduceMax { axes, keepdims } => shape_ops::reduce_max(&args[0], axes, *keepdims),
        Op::MatMul(attrs) => linalg::matmul(&args[0], &args[1], attrs),
        Op::Conv2d(attrs) => conv::conv2d(&args[0], &args[1], attrs),
        Op::Conv2dInputGrad { conv, input_shape } => {
            conv::conv2d_input_grad(&args[0], &args[1], conv, input_shape)
        }
        Op::Conv2dFilterGrad { conv, filter_shape } => {
            conv::conv2d_filter_grad(&args[0], &args[1], conv, filter_shape)
        }
        Op::MaxPool2d(attrs) => pool::maxpool2d(&args[0], attrs),
        Op::MaxPool2dGrad(attrs) => pool::maxpool2d_grad(&args[0], &args[1], attrs),
        Op::Fused { kernel, result } => fused::fused(kernel, *result, args),
    }
}
