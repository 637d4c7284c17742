//! Elementwise loops: F32X4 over the innermost axis with a straight-line
//! scalar tail when every access steps by 0 or 1 element there, one
//! element at a time otherwise (transposes); outer axes are plain loops.

use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;

use super::body;
use super::loops::{advance, counted, nest};
use super::Emit;
use crate::backend::jit::plan::{contiguous_strides, Access, Buf, MapKernel, Strided};
use crate::ir::op::ScalarInstr;
use crate::ir::{F32Bits, ValueId};

/// Data loads and stores: no alignment claim (buffers start on cache
/// lines, but strided accesses and tails do not), never trapping (shapes
/// and lengths are checked before any generated code runs).
pub(super) fn data() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

pub fn emit_map(module: &mut JITModule, b: &mut FunctionBuilder, emit: &Emit, m: &MapKernel) {
    let ptrs: Vec<Value> = m
        .inputs
        .iter()
        .chain(&m.outputs)
        .map(|a| emit.address(b, emit.loc(a.value), a.at.offset))
        .collect();
    emit_map_at(module, b, emit, m, &ptrs);
}

/// [`emit_map`] with each access (inputs, then outputs) starting at the
/// given address instead of its buffer's (the accesses' offsets are not
/// applied again).
pub fn emit_map_at(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    m: &MapKernel,
    ptrs: &[Value],
) {
    let live = body::live(&m.body, &m.results);
    let needs_powf = m.body.iter().zip(&live).any(|(i, &l)| {
        l && matches!(i, ScalarInstr::Pow { exponent, .. } if exponent.get() != 1.0)
    });
    let powf = needs_powf.then(|| emit.imports.func_ref(module, b, "tri_powf"));
    let hoisted = body::hoist(b, &m.body, &live);
    let accesses: Vec<&Access> = m.inputs.iter().chain(&m.outputs).collect();
    let strides: Vec<Vec<isize>> = accesses.iter().map(|a| a.at.strides.clone()).collect();
    let n = *m.shape.last().expect("a map has at least one axis");
    let inner_strides: Vec<isize> = strides
        .iter()
        .map(|s| *s.last().expect("one per axis"))
        .collect();
    let vectorized = inner_strides.iter().all(|&s| s == 0 || s == 1);
    let inputs = m.inputs.len();
    let step = |b: &mut FunctionBuilder, vectors: &[Value], outs: &[Value], width: Width| {
        let values = body::emit(b, &m.body, &live, &hoisted, vectors, powf);
        for (&p, &r) in outs.iter().zip(&m.results) {
            let v = values[r as usize].expect("results are live");
            width.store(b, v, p);
        }
    };
    nest(b, &m.shape, &strides, ptrs, &mut |b, row| {
        if vectorized {
            // Stride-0 inputs are one element per row: load and splat once.
            let fixed: Vec<Option<Value>> = (0..inputs)
                .map(|k| (inner_strides[k] == 0).then(|| Width::Scalar.load(b, row[k])))
                .collect();
            let load_all = |b: &mut FunctionBuilder, ptrs: &[Value], width: Width| -> Vec<Value> {
                (0..inputs)
                    .map(|k| fixed[k].unwrap_or_else(|| width.load(b, ptrs[k])))
                    .collect()
            };
            let mut current = row.to_vec();
            if n >= 4 {
                current = counted(b, n / 4, &current, |b, ptrs| {
                    let vectors = load_all(b, ptrs, Width::Vector);
                    step(b, &vectors, &ptrs[inputs..], Width::Vector);
                    ptrs.iter()
                        .zip(&inner_strides)
                        .map(|(&p, &s)| advance(b, p, 4 * s))
                        .collect()
                });
            }
            for _ in 0..n % 4 {
                let vectors = load_all(b, &current, Width::Scalar);
                step(b, &vectors, &current[inputs..], Width::Scalar);
                current = current
                    .iter()
                    .zip(&inner_strides)
                    .map(|(&p, &s)| advance(b, p, s))
                    .collect();
            }
        } else {
            counted(b, n, row, |b, ptrs| {
                let vectors: Vec<Value> = (0..inputs)
                    .map(|k| Width::Scalar.load(b, ptrs[k]))
                    .collect();
                step(b, &vectors, &ptrs[inputs..], Width::Scalar);
                ptrs.iter()
                    .zip(&inner_strides)
                    .map(|(&p, &s)| advance(b, p, s))
                    .collect()
            });
        }
    });
}

/// Every element of `out` set to `value`.
pub fn emit_fill(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    out: ValueId,
    value: f32,
) {
    let n = emit.graph.ty(out).numel();
    if n == 0 {
        return;
    }
    let map = MapKernel {
        shape: vec![n],
        inputs: vec![],
        body: vec![ScalarInstr::Const(F32Bits::new(value))],
        outputs: vec![flat(out, 0)],
        results: vec![0],
    };
    emit_map(module, b, emit, &map);
}

/// `len` elements from one buffer to another.
pub fn emit_copy(b: &mut FunctionBuilder, emit: &Emit, from: Buf, to: Buf, len: usize) {
    let from = emit.address(b, emit.buf_loc(from), 0);
    let to = emit.address(b, emit.buf_loc(to), 0);
    let mut ptrs = vec![from, to];
    let step = |b: &mut FunctionBuilder, ptrs: &[Value], width: Width, elements: isize| {
        let v = width.load(b, ptrs[0]);
        width.store(b, v, ptrs[1]);
        ptrs.iter()
            .map(|&p| advance(b, p, elements))
            .collect::<Vec<_>>()
    };
    if len >= 4 {
        ptrs = counted(b, len / 4, &ptrs, |b, p| step(b, p, Width::Vector, 4));
    }
    for _ in 0..len % 4 {
        ptrs = step(b, &ptrs, Width::Scalar, 1);
    }
}

fn flat(v: ValueId, offset: isize) -> Access {
    Access {
        value: v,
        at: Strided {
            offset,
            strides: contiguous_strides(&[1]),
        },
    }
}

/// How many elements one load or store moves. A scalar is computed as a
/// splat vector (one body emitter for both), and lane 0 is stored.
#[derive(Clone, Copy)]
pub enum Width {
    Vector,
    Scalar,
}

impl Width {
    pub fn load(self, b: &mut FunctionBuilder, p: Value) -> Value {
        match self {
            Width::Vector => b.ins().load(types::F32X4, data(), p, 0),
            Width::Scalar => {
                let s = b.ins().load(types::F32, data(), p, 0);
                b.ins().splat(types::F32X4, s)
            }
        }
    }

    pub fn store(self, b: &mut FunctionBuilder, v: Value, p: Value) {
        match self {
            Width::Vector => {
                b.ins().store(data(), v, p, 0);
            }
            Width::Scalar => {
                let s = b.ins().extractlane(v, 0);
                b.ins().store(data(), s, p, 0);
            }
        }
    }
}
