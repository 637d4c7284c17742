//! The analytic cost model: bytes moved, kernels launched and contraction
//! FLOPs, folded into one integer by fixed weights. Integer costs make
//! extraction exact and deterministic (no float ties or rounding).
//!
//! Per op: a view (`reshape`) is free; every other op is one kernel that
//! reads each operand and writes its result (a splat constant operand
//! reads one element); contractions and pools add their arithmetic.
//! Literals and arguments cost nothing by themselves: their consumers pay
//! for reading them. A `fused` kernel is one kernel however many sibling
//! results it has.

use std::collections::HashSet;
use std::fmt;
use std::ops::{Add, AddAssign};
use std::sync::Arc;

use triceratops_ir::analysis::live_values;
use triceratops_ir::geometry::filter_dims;
use triceratops_ir::op::FusedKernel;
use triceratops_ir::{Graph, Layout, NodeKind, Op, OpClass, TensorType, ValueId};

/// A kernel launch, in bytes-equivalent.
pub const KERNEL_WEIGHT: u128 = 4096;
/// FLOPs per byte-equivalent.
pub const FLOPS_PER_BYTE: u128 = 8;

/// The layout conv/pool kernels run natively in: the interpreter (and the
/// JIT, which lowers through the same kernels) compute NHWC/HWIO and
/// transpose any other layout in and out.
pub const PREFERRED_LAYOUT: Layout = Layout::Nhwc;

/// The cost of an op or a graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    pub bytes: u128,
    pub kernels: u64,
    pub flops: u128,
}

impl Cost {
    /// The weighted total extraction minimizes.
    pub fn total(&self) -> u128 {
        self.bytes
            .saturating_add(KERNEL_WEIGHT.saturating_mul(self.kernels as u128))
            .saturating_add(self.flops / FLOPS_PER_BYTE)
    }
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            bytes: self.bytes.saturating_add(o.bytes),
            kernels: self.kernels.saturating_add(o.kernels),
            flops: self.flops.saturating_add(o.flops),
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, o: Cost) {
        *self = *self + o;
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} kernels, {} B, {} flop)",
            self.total(),
            self.kernels,
            self.bytes,
            self.flops
        )
    }
}

/// One operand as the cost model sees it.
pub struct Operand<'a> {
    pub ty: &'a TensorType,
    /// A splat constant: read as one element.
    pub splat: bool,
}

/// The cost of `op` over `operands`, producing `out`.
pub fn op_cost(op: &Op, operands: &[Operand], out: &TensorType) -> Cost {
    if op.class() == OpClass::View {
        return Cost::default();
    }
    let reads: u128 = operands
        .iter()
        .map(|o| if o.splat { 1 } else { o.ty.numel() as u128 })
        .sum();
    let bytes = 4 * (reads + out.numel() as u128);
    let flops = match op {
        Op::MatMul(m) => {
            // The contracted extent: a's last axis, or its second-to-last
            // when a is used transposed.
            let a = operands[0].ty.shape.dims();
            let k = if m.transpose_a {
                a[a.len() - 2]
            } else {
                a[a.len() - 1]
            } as u128;
            2 * out.numel() as u128 * k
        }
        Op::Conv2d(c)
        | Op::Conv2dInputGrad { conv: c, .. }
        | Op::Conv2dFilterGrad { conv: c, .. } => {
            // Every conv-family op does the forward conv's multiply-adds.
            let filter = match op {
                Op::Conv2d(_) | Op::Conv2dInputGrad { .. } => operands[1].ty.shape.dims(),
                _ => out.shape.dims(),
            };
            let [kh, kw, ci, _] = filter_dims(filter, c.layout);
            let dy = match op {
                Op::Conv2d(_) => out.numel(),
                Op::Conv2dInputGrad { .. } => operands[0].ty.numel(),
                _ => operands[1].ty.numel(),
            } as u128;
            2 * dy * (kh * kw * ci) as u128
        }
        Op::MaxPool2d(p) | Op::MaxPool2dGrad(p) => {
            (out.numel() * p.window[0] * p.window[1]) as u128
        }
        _ => 0,
    };
    Cost {
        bytes,
        kernels: 1,
        flops,
    } + layout_penalty(op, operands, out)
}

/// What a conv/pool op outside [`PREFERRED_LAYOUT`] costs on top of its
/// arithmetic: the backend transposes every operand in and the result out,
/// one kernel and the bytes moved each, exactly as an explicit `transpose`
/// would cost.
pub fn layout_penalty(op: &Op, operands: &[Operand], out: &TensorType) -> Cost {
    let layout = match op {
        Op::Conv2d(c)
        | Op::Conv2dInputGrad { conv: c, .. }
        | Op::Conv2dFilterGrad { conv: c, .. } => c.layout,
        Op::MaxPool2d(p) | Op::MaxPool2dGrad(p) => p.layout,
        _ => return Cost::default(),
    };
    if layout == PREFERRED_LAYOUT {
        return Cost::default();
    }
    let moved = |n: usize| Cost {
        bytes: 8 * n as u128,
        kernels: 1,
        flops: 0,
    };
    operands
        .iter()
        .fold(moved(out.numel()), |c, o| c + moved(o.ty.numel()))
}

/// The cost of every live op of `graph`, each counted once. The sibling
/// nodes of one multi-result `fused` kernel (same kernel, same operands)
/// are one kernel that reads its operands once and writes every result.
pub fn graph_cost(graph: &Graph) -> Cost {
    let live = live_values(graph);
    let mut total = Cost::default();
    let mut kernels: HashSet<(*const FusedKernel, &[ValueId])> = HashSet::new();
    for id in graph.ids().filter(|id| live[id.index()]) {
        let node = graph.node(id);
        if let NodeKind::Op { op, operands } = &node.kind {
            if let Op::Fused { kernel, .. } = op {
                if !kernels.insert((Arc::as_ptr(kernel), operands.as_slice())) {
                    total.bytes = total.bytes.saturating_add(4 * node.ty.numel() as u128);
                    continue;
                }
            }
            let ops: Vec<Operand> = operands
                .iter()
                .map(|&v| Operand {
                    ty: graph.ty(v),
                    splat: graph.const_value(v).is_some_and(|c| c.as_splat().is_some()),
                })
                .collect();
            total += op_cost(op, &ops, &node.ty);
        }
    }
    total
}
