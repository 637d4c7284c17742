//! Reductions, `out op= x` over a contiguous input whose output already
//! holds the identity. When the innermost axis is kept (a bias gradient:
//! sum over rows), the loop is a vector `out[j..j+4] op= x[i, j..j+4]`, in
//! the interpreter's order. When it is reduced (softmax's row sums, the
//! loss), four F32X4 accumulators take 16 elements per trip and are
//! combined at the end: a different association than the interpreter's
//! sequential sum, within f32 rounding of it (tested), and fixed by the
//! extents alone, so no thread count changes a bit. A max over the inner
//! axis is exact in any order (integer accumulators, below); the rows
//! kernels (`rows.rs`) share these accumulators.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use super::loops::{advance, counted, nest};
use super::map::Width;
use super::Emit;
use crate::backend::jit::plan::{contiguous_strides, ReduceKernel, ReduceOp};

pub(super) const ACCUMULATORS: usize = 4;

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

pub(super) fn combine(b: &mut FunctionBuilder, op: ReduceOp, x: Value, y: Value) -> Value {
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
    let mut carried = vec![x];
    carried.extend(init(b, op));
    let per_trip = 4 * ACCUMULATORS;
    if n >= per_trip {
        carried = counted(b, n / per_trip, &carried, |b, c| {
            let mut accs = c[1..].to_vec();
            for a in 0..ACCUMULATORS {
                let p = advance(b, c[0], 4 * a as isize);
                let v = Width::Vector.load(b, p);
                add(b, op, &mut accs, a, v);
            }
            let mut next = vec![advance(b, c[0], per_trip as isize)];
            next.extend(accs);
            next
        });
    }
    let mut p = carried[0];
    let mut accs = carried[1..].to_vec();
    for _ in 0..(n % per_trip) / 4 {
        let v = Width::Vector.load(b, p);
        add(b, op, &mut accs, 0, v);
        p = advance(b, p, 4);
    }
    let mut total = fold(b, op, &accs, n >= 4);
    for _ in 0..n % 4 {
        let v = b.ins().load(types::F32, super::map::data(), p, 0);
        total = combine(b, op, total, v);
        p = advance(b, p, 1);
    }
    let before = b.ins().load(types::F32, super::map::data(), out, 0);
    let after = combine(b, op, before, total);
    b.ins().store(super::map::data(), after, out, 0);
}

// The accumulators of one reduction over a row: a sum keeps
// `ACCUMULATORS` F32X4 partial sums, each fed every fourth vector of a
// 16-element trip (then the remainder vectors into the first). A max keeps
// as many I32X4 signed maxima, signed minima and unsigned maxima of the
// elements' bits: one integer op each per vector where the NaN- and
// -0-exact `fmax` is a chain of eight on x86, so the loop runs at memory
// speed instead of at `fmax` latency. As signed integers, non-negative
// floats (+NaN above +inf) order as floats and lie above every negative
// one, and negative floats order by magnitude (-0 lowest); as unsigned,
// -NaN lies above -inf. So the float maximum is the signed maximum if it
// is non-negative, else the signed minimum, and some element is NaN
// exactly when the signed maximum is above +inf or the unsigned maximum
// above -inf — exact, in any order, as max must be.

/// Fresh accumulators for `op`.
pub(super) fn init(b: &mut FunctionBuilder, op: ReduceOp) -> Vec<Value> {
    match op {
        ReduceOp::Sum => {
            let zero = b.ins().f32const(0.0);
            vec![b.ins().splat(types::F32X4, zero); ACCUMULATORS]
        }
        ReduceOp::Max => {
            let mut accs = Vec::new();
            for start in [i32::MIN, i32::MAX, 0] {
                let k = b.ins().iconst(types::I32, start as i64);
                accs.extend([b.ins().splat(types::I32X4, k); ACCUMULATORS]);
            }
            accs
        }
    }
}

/// Accumulates the F32X4 `x` into slot `slot` of `accs`.
pub(super) fn add(
    b: &mut FunctionBuilder,
    op: ReduceOp,
    accs: &mut [Value],
    slot: usize,
    x: Value,
) {
    match op {
        ReduceOp::Sum => accs[slot] = b.ins().fadd(accs[slot], x),
        ReduceOp::Max => {
            let bits = b.ins().bitcast(types::I32X4, lanes(), x);
            let (hi, lo, un) = (slot, ACCUMULATORS + slot, 2 * ACCUMULATORS + slot);
            accs[hi] = b.ins().smax(accs[hi], bits);
            accs[lo] = b.ins().smin(accs[lo], bits);
            accs[un] = b.ins().umax(accs[un], bits);
        }
    }
}

fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// The accumulators combined into one f32 (`identity` when `any` is
/// false: no vector was accumulated).
pub(super) fn fold(b: &mut FunctionBuilder, op: ReduceOp, accs: &[Value], any: bool) -> Value {
    if !any {
        return b.ins().f32const(op.identity());
    }
    let all = match op {
        ReduceOp::Sum => {
            let left = b.ins().fadd(accs[0], accs[1]);
            let right = b.ins().fadd(accs[2], accs[3]);
            b.ins().fadd(left, right)
        }
        ReduceOp::Max => {
            let four = |b: &mut FunctionBuilder, at: usize, cc: IntCC| {
                let f = |b: &mut FunctionBuilder, x, y| match cc {
                    IntCC::SignedGreaterThan => b.ins().smax(x, y),
                    IntCC::SignedLessThan => b.ins().smin(x, y),
                    _ => b.ins().umax(x, y),
                };
                let a = f(b, accs[at], accs[at + 1]);
                let c = f(b, accs[at + 2], accs[at + 3]);
                f(b, a, c)
            };
            let hi = four(b, 0, IntCC::SignedGreaterThan);
            let lo = four(b, ACCUMULATORS, IntCC::SignedLessThan);
            let un = four(b, 2 * ACCUMULATORS, IntCC::UnsignedGreaterThan);
            let splat = |b: &mut FunctionBuilder, bits: u32| {
                let k = b.ins().iconst(types::I32, bits as i32 as i64);
                b.ins().splat(types::I32X4, k)
            };
            let zero = splat(b, 0);
            let nonneg = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, hi, zero);
            let max = b.ins().bitselect(nonneg, hi, lo);
            let inf = splat(b, f32::INFINITY.to_bits());
            let neg_inf = splat(b, f32::NEG_INFINITY.to_bits());
            let pos_nan = b.ins().icmp(IntCC::SignedGreaterThan, hi, inf);
            let neg_nan = b.ins().icmp(IntCC::UnsignedGreaterThan, un, neg_inf);
            let nan = b.ins().bor(pos_nan, neg_nan);
            let quiet = splat(b, f32::NAN.to_bits());
            let max = b.ins().bitselect(nan, quiet, max);
            b.ins().bitcast(types::F32X4, lanes(), max)
        }
    };
    let lanes: Vec<Value> = (0..4u8).map(|l| b.ins().extractlane(all, l)).collect();
    let low = combine(b, op, lanes[0], lanes[1]);
    let high = combine(b, op, lanes[2], lanes[3]);
    combine(b, op, low, high)
}
