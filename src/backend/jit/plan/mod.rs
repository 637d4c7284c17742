//! The kernel plan: the optimized graph as a short list of loops and
//! library calls over whole tensors. Every tensor value is a contiguous
//! row-major buffer; a kernel reads (and, for `pad`, writes) through
//! [`Strided`] accesses, so broadcasts, transposes and slices are loops, and
//! reshapes are free views of their operand's buffer.
//!
//! Lowering is per node, in graph order: elementwise ops and `fused`
//! kernels (all sibling results of one kernel together) become [`MapKernel`]
//! loops, with splat constants folded into the loop body; reductions become
//! an identity fill plus an accumulating loop; contractions and pooling
//! become calls into the runtime (`runtime/`), whose descriptors are
//! computed here, at compile time. A last pass (`rows.rs`) fuses runs of
//! row-wise maps and reductions (a loss, a metric, a norm) into one
//! [`RowsKernel`] each.

mod epilogue;
mod lower;
pub mod memory;
mod print;
mod rows;

pub use epilogue::fuse_epilogues;
pub use lower::lower;
pub use print::print_plan;
pub use rows::{Phase, RowStep, RowsKernel};

use crate::ir::op::ScalarInstr;
use crate::ir::ValueId;

use super::runtime::{ConvDesc, MatMulDesc, PoolDesc};

/// An access to a value's buffer over a kernel's iteration space: element
/// `offset + sum(index[i] * strides[i])` of the buffer (in f32 elements;
/// stride 0 repeats a broadcast axis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strided {
    pub offset: isize,
    pub strides: Vec<isize>,
}

/// One tensor a kernel reads or writes, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub value: ValueId,
    pub at: Strided,
}

/// An elementwise loop over `shape`: inputs read through their accesses,
/// the scalar `body` computed per element, and `outputs[k]` written with
/// body instruction `results[k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapKernel {
    pub shape: Vec<usize>,
    pub inputs: Vec<Access>,
    pub body: Vec<ScalarInstr>,
    pub outputs: Vec<Access>,
    pub results: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
}

impl ReduceOp {
    /// The value the accumulation starts from (the interpreter's fold
    /// initial value: `0 + x` turns a lone `-0` into `+0`, as there).
    pub fn identity(self) -> f32 {
        match self {
            ReduceOp::Sum => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
        }
    }
}

/// `out op= input` over a contiguous input of `extents` (adjacent axes of
/// equal kind merged, extent-1 axes dropped) where `reduced[i]` says whether
/// axis `i` is summed away; `out` is contiguous over the kept axes and
/// already holds the identity.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceKernel {
    pub op: ReduceOp,
    pub input: ValueId,
    pub extents: Vec<usize>,
    pub reduced: Vec<bool>,
    pub out: ValueId,
}

/// An elementwise map that runs inside the kernel producing one of its
/// inputs (a conv, a matmul, a pool gradient), on each range of the
/// producer's output as soon as the producer has finished it, while it is
/// in cache (`plan/epilogue.rs` decides when that is legal). The map's
/// iteration space is `[units, ...]`: outer index `u` covers unit `u` of
/// the producer's output (an image; a matmul row), which is `shape[1..]`
/// elements of it, contiguous.
#[derive(Clone, Debug, PartialEq)]
pub struct Epilogue {
    pub map: MapKernel,
    /// The inputs of `map` that are the producer's output, read at the
    /// iteration index itself.
    pub from_producer: Vec<usize>,
}

/// Which conv2d routine a call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKind {
    Forward,
    InputGrad,
    FilterGrad,
}

/// One step of the plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    Map(MapKernel),
    /// Every element of `out` set to `value`.
    Fill {
        out: ValueId,
        value: f32,
    },
    Reduce(ReduceKernel),
    /// Maps and reductions over the rows of one `[rows, cols]` space, run
    /// row by row in one loop (`rows.rs`).
    Rows(RowsKernel),
    /// `out = a x b`, then the epilogue (if any) over `out`'s rows.
    MatMul {
        desc: MatMulDesc,
        a: ValueId,
        b: ValueId,
        out: ValueId,
        epilogue: Option<Box<Epilogue>>,
    },
    /// A conv2d routine over operands `a`, `b` (image/dy/filter in the op's
    /// operand order) with `scratch` f32 elements of im2col workspace. A
    /// filter gradient with `bias` also writes the bias gradient (`dy`
    /// summed over all but its channel axis) from the same chunks. A
    /// forward or input gradient with an epilogue runs it on each chunk's
    /// images of `out` once the chunk is done.
    Conv {
        kind: ConvKind,
        desc: ConvDesc,
        a: ValueId,
        b: ValueId,
        out: ValueId,
        scratch: usize,
        bias: Option<ValueId>,
        epilogue: Option<Box<Epilogue>>,
    },
    /// `out = maxpool2d(x)`; with `argmax`, also each output's winning tap
    /// into that auxiliary buffer, for a gradient of the same pool.
    MaxPool {
        desc: PoolDesc,
        x: ValueId,
        out: ValueId,
        argmax: Option<usize>,
    },
    /// `out = maxpool2d_grad(x, dy)`; with `argmax`, the winners are read
    /// from the auxiliary buffer the paired forward wrote and `x` is not
    /// read at all. The epilogue, if any, runs on each image of `out` once
    /// it is scattered.
    MaxPoolGrad {
        desc: PoolDesc,
        x: ValueId,
        dy: ValueId,
        out: ValueId,
        argmax: Option<usize>,
        epilogue: Option<Box<Epilogue>>,
    },
    /// `len` elements from one buffer to another: an update that could not
    /// be computed in place, or the staging of an old state entry that a
    /// later copy reads after its entry was overwritten (`a <- b, b <- a`).
    Copy {
        from: Buf,
        to: Buf,
        len: usize,
    },
}

/// A buffer a copy reads or writes: a value's, or staging space in the
/// arena (numbered per plan).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    Value(ValueId),
    Stage(usize),
}

impl Kernel {
    /// The values the kernel reads (its epilogue's inputs included).
    pub fn reads(&self) -> Vec<ValueId> {
        let mut reads = self.own_reads();
        if let Some(e) = self.epilogue() {
            reads.extend(e.map.inputs.iter().map(|a| a.value));
        }
        reads
    }

    /// The values the kernel writes (its epilogue's outputs included).
    pub fn writes(&self) -> Vec<ValueId> {
        let mut writes = self.own_writes();
        if let Some(e) = self.epilogue() {
            writes.extend(e.map.outputs.iter().map(|a| a.value));
        }
        writes
    }

    /// The map fused into this kernel, if any.
    pub fn epilogue(&self) -> Option<&Epilogue> {
        match self {
            Kernel::MatMul { epilogue, .. }
            | Kernel::Conv { epilogue, .. }
            | Kernel::MaxPoolGrad { epilogue, .. } => epilogue.as_deref(),
            _ => None,
        }
    }

    fn own_reads(&self) -> Vec<ValueId> {
        match self {
            Kernel::Map(m) => m.inputs.iter().map(|a| a.value).collect(),
            Kernel::Fill { .. } => vec![],
            Kernel::Reduce(r) => vec![r.input, r.out],
            Kernel::Rows(r) => r.reads(),
            Kernel::MatMul { a, b, .. } | Kernel::Conv { a, b, .. } => vec![*a, *b],
            Kernel::MaxPool { x, .. } => vec![*x],
            Kernel::MaxPoolGrad {
                dy,
                argmax: Some(_),
                ..
            } => vec![*dy],
            Kernel::MaxPoolGrad { x, dy, .. } => vec![*x, *dy],
            Kernel::Copy { from, .. } => match from {
                Buf::Value(v) => vec![*v],
                Buf::Stage(_) => vec![],
            },
        }
    }

    fn own_writes(&self) -> Vec<ValueId> {
        match self {
            Kernel::Map(m) => m.outputs.iter().map(|a| a.value).collect(),
            Kernel::Conv {
                out,
                bias: Some(bias),
                ..
            } => vec![*out, *bias],
            Kernel::Fill { out, .. }
            | Kernel::MatMul { out, .. }
            | Kernel::Conv { out, .. }
            | Kernel::MaxPool { out, .. }
            | Kernel::MaxPoolGrad { out, .. } => vec![*out],
            Kernel::Reduce(r) => vec![r.out],
            Kernel::Rows(r) => r.writes(),
            Kernel::Copy { to, .. } => match to {
                Buf::Value(v) => vec![*v],
                Buf::Stage(_) => vec![],
            },
        }
    }

    /// f32 elements of workspace the kernel needs while it runs.
    pub fn scratch(&self) -> usize {
        match self {
            Kernel::Conv { scratch, .. } => *scratch,
            Kernel::Rows(r) => r.stashed.len() * r.cols,
            // GEMM packing space, so a product allocates nothing.
            Kernel::MatMul { desc, .. } => desc.workspace_len(),
            _ => 0,
        }
    }

    /// The auxiliary buffer (recorded pool winners) the kernel uses, its
    /// length in f32 elements, and whether the kernel writes it.
    pub fn aux(&self) -> Option<(usize, usize, bool)> {
        match *self {
            Kernel::MaxPool {
                desc,
                argmax: Some(a),
                ..
            } => Some((a, desc.argmax_len(), true)),
            Kernel::MaxPoolGrad {
                desc,
                argmax: Some(a),
                ..
            } => Some((a, desc.argmax_len(), false)),
            _ => None,
        }
    }

    /// A short name for listings and symbol names.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Kernel::Map(_) => "map",
            Kernel::Fill { .. } => "fill",
            Kernel::Reduce(r) => match r.op {
                ReduceOp::Sum => "reduce_sum",
                ReduceOp::Max => "reduce_max",
            },
            Kernel::Rows(_) => "rows",
            Kernel::MatMul { .. } => "matmul",
            Kernel::Conv { kind, .. } => match kind {
                ConvKind::Forward => "conv2d",
                ConvKind::InputGrad => "conv2d_input_grad",
                ConvKind::FilterGrad => "conv2d_filter_grad",
            },
            Kernel::MaxPool { .. } => "maxpool2d",
            Kernel::MaxPoolGrad { .. } => "maxpool2d_grad",
            Kernel::Copy { .. } => "copy",
        }
    }
}

/// Row-major element strides of `dims`.
pub fn contiguous_strides(dims: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; dims.len()];
    let mut step = 1isize;
    for (s, &d) in strides.iter_mut().zip(dims).rev() {
        *s = step;
        step *= d as isize;
    }
    strides
}
