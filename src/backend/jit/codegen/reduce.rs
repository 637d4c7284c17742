//! Reductions, `out op= x` over a contiguous input whose output already
//! holds the identity. When the innermost axis is kept (a bias gradient:
//! sum over rows), the loop is a vector `out[j..j+4] op= x[i, j..j+4]`, in
//! the interpreter's order. When it is reduced (softmax's row sums, the
//! loss), four F32X4 accumulators take 16 elements per trip and are
//! combined at the end: a different association than the interpreter's
//! sequential sum, within f32 rounding of it (tested).

use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::loops::{advance, counted, nest};
use super::map::Width;
use super::Emit;
use crate::backend::jit::plan::{contiguous_strides, ReduceKernel, ReduceOp};

const ACCUMULATORS: usize = 4;

pub fn emit_reduce(b: &mut FunctionBuilder, emit: &Emit, r: &ReduceKernel) {
    let input = emit.address(b, emit.loc(r.input), 0);
    let out = emit.address(b, emit.loc(r.out), 0);
    let in_strides = contiguous_strides(&r.extents);
    let kept: Vec<usize> = r
        .extents
        .iter()
        .zip(&r.reduced)
        .filter(|(_, &red)| !red)
        .map(|(&e, _)| e)
        .collect();
    let kept_strides = contiguous_strides(&kept);
    let mut k = 0;
    let out_strides: Vec<isize> = r
        .reduced
        .iter()
        .map(|&red| {
            if red {
                0
            } else {
                k += 1;
                kept_strides[k - 1]
            }
        })
        .collect();
    let n = *r.extents.last().expect("a reduction has an axis");
    let inner_reduced = *r.reduced.last().expect("as many flags as extents");
    let op = r.op;
    nest(
        b,
        &r.extents,
        &[in_strides, out_strides],
        &[input, out],
        &mut |b, row| {
            if inner_reduced {
                reduce_row(b, op, n, row[0], row[1]);
            } else {
                accumulate_row(b, op, n, row[0], row[1]);
            }
        },
    );
}

fn combine(b: &mut FunctionBuilder, op: ReduceOp, x: Value, y: Value) -> Value {
    match op {
        ReduceOp::Sum => b.ins().fadd(x, y),
        ReduceOp::Max => b.ins().fmax(x, y),
    }
}

/// `out[j] op= x[j]` for `j < n`.
fn accumulate_row(b: &mut FunctionBuilder, op: ReduceOp, n: usize, x: Value, out: Value) {
    let mut ptrs = vec![x, out];
    let step = |b: &mut FunctionBuilder, ptrs: &[Value], width: Width, elements: isize| {
        let acc = width.load(b, ptrs[1]);
        let v = width.load(b, ptrs[0]);
        let next = combine(b, op, acc, v);
        width.store(b, next, ptrs[1]);
        ptrs.iter()
            .map(|&p| advance(b, p, elements))
            .collect::<Vec<_>>()
    };
    if n >= 4 {
        ptrs = counted(b, n / 4, &ptrs, |b, p| step(b, p, Width::Vector, 4));
    }
    for _ in 0..n % 4 {
        ptrs = step(b, &ptrs, Width::Scalar, 1);
    }
}

/// `out[0] op= x[0] op ... op x[n-1]` with several vector accumulators.
fn reduce_row(b: &mut FunctionBuilder, op: ReduceOp, n: usize, x: Value, out: Value) {
    let identity = b.ins().f32const(op.identity());
    let splat = b.ins().splat(types::F32X4, identity);
    let mut carried = vec![x];
    carried.extend([splat; ACCUMULATORS]);
    let per_trip = 4 * ACCUMULATORS;
    if n >= per_trip {
        carried = counted(b, n / per_trip, &carried, |b, c| {
            let mut next = vec![advance(b, c[0], per_trip as isize)];
            for a in 0..ACCUMULATORS {
                let p = advance(b, c[0], 4 * a as isize);
                let v = Width::Vector.load(b, p);
                next.push(combine(b, op, c[1 + a], v));
            }
            next
        });
    }
    let mut p = carried[0];
    let mut accs = carried[1..].to_vec();
    for _ in 0..(n % per_trip) / 4 {
        let v = Width::Vector.load(b, p);
        accs[0] = combine(b, op, accs[0], v);
        p = advance(b, p, 4);
    }
    let left = combine(b, op, accs[0], accs[1]);
    let right = combine(b, op, accs[2], accs[3]);
    let all = combine(b, op, left, right);
    let lanes: Vec<Value> = (0..4u8).map(|l| b.ins().extractlane(all, l)).collect();
    let low = combine(b, op, lanes[0], lanes[1]);
    let high = combine(b, op, lanes[2], lanes[3]);
    let mut total = combine(b, op, low, high);
    for _ in 0..n % 4 {
        let v = b.ins().load(types::F32, super::map::data(), p, 0);
        total = combine(b, op, total, v);
        p = advance(b, p, 1);
    }
    let before = b.ins().load(types::F32, super::map::data(), out, 0);
    let after = combine(b, op, before, total);
    b.ins().store(super::map::data(), after, out, 0);
}
