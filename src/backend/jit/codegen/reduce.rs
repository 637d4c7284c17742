//! Reductions, `out op= x` over a contiguous input whose output already
//! holds the identity. When the innermost axis is kept (a bias gradient:
//! sum over rows), the loop is a vector `out[j..j+4] op= x[i, j..j+4]`, in
//! the interpreter's order. When it is reduced (softmax's row sums, the
//! loss), four F32X4 accumulators take 16 elements per trip and are
//! combined at the end: a different association than the interpreter's
//! sequential sum, within f32 rounding of it (tested).

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
    let mut total = fold(b, op, &accs);
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
// 16-element trip (then the remainder vectors into the first); a max keeps
// as many I32X4 maxima and minima of the elements' order keys (below),
// which take two cheap integer ops per vector where the NaN- and
// -0-exact `fmax` takes a chain of eight (x86), so the max loop runs at
// memory speed instead of at `fmax` latency.

/// Bits of an f32 as a signed integer whose order is the total order
/// `-NaN < -inf < ... < -0 < +0 < ... < +inf < +NaN` (the key of a
/// negative float flips its magnitude bits); it is its own inverse.
fn key(b: &mut FunctionBuilder, v: Value) -> Value {
    let sign = b.ins().sshr_imm_u(v, 31);
    let magnitude = b.ins().ushr_imm_u(sign, 1);
    b.ins().bxor(v, magnitude)
}

fn to_ints(b: &mut FunctionBuilder, v: Value) -> Value {
    b.ins().bitcast(types::I32X4, lanes(), v)
}

fn to_floats(b: &mut FunctionBuilder, v: Value) -> Value {
    b.ins().bitcast(types::F32X4, lanes(), v)
}

fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// The key of -inf: below every number, above only negative NaNs.
const KEY_NEG_INF: i32 = 0x807f_ffff_u32 as i32;

/// Fresh accumulators for `op`.
pub(super) fn init(b: &mut FunctionBuilder, op: ReduceOp) -> Vec<Value> {
    match op {
        ReduceOp::Sum => {
            let zero = b.ins().f32const(0.0);
            vec![b.ins().splat(types::F32X4, zero); ACCUMULATORS]
        }
        ReduceOp::Max => {
            // Maxima then minima, all from the key of -inf: a slot that
            // sees no element folds to -inf.
            let k = b.ins().iconst(types::I32, KEY_NEG_INF as i64);
            vec![b.ins().splat(types::I32X4, k); 2 * ACCUMULATORS]
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
            let bits = to_ints(b, x);
            let k = key(b, bits);
            accs[slot] = b.ins().smax(accs[slot], k);
            let low = ACCUMULATORS + slot;
            accs[low] = b.ins().smin(accs[low], k);
        }
    }
}

/// The accumulators combined into one f32. For a max, the largest key is
/// the interpreter's maximum (-0 < +0) unless an element is NaN: a
/// positive NaN has the largest key, a negative one the smallest, so the
/// result is `fmax` of the float of each (the smallest is at most -inf
/// when it is not NaN), which is NaN exactly when some element is.
pub(super) fn fold(b: &mut FunctionBuilder, op: ReduceOp, accs: &[Value]) -> Value {
    let all = match op {
        ReduceOp::Sum => {
            let left = b.ins().fadd(accs[0], accs[1]);
            let right = b.ins().fadd(accs[2], accs[3]);
            b.ins().fadd(left, right)
        }
        ReduceOp::Max => {
            let (high, low) = accs.split_at(ACCUMULATORS);
            let h01 = b.ins().smax(high[0], high[1]);
            let h23 = b.ins().smax(high[2], high[3]);
            let h = b.ins().smax(h01, h23);
            let l01 = b.ins().smin(low[0], low[1]);
            let l23 = b.ins().smin(low[2], low[3]);
            let l = b.ins().smin(l01, l23);
            let h = key(b, h);
            let l = key(b, l);
            let h = to_floats(b, h);
            let l = to_floats(b, l);
            b.ins().fmax(h, l)
        }
    };
    let lanes: Vec<Value> = (0..4u8).map(|l| b.ins().extractlane(all, l)).collect();
    let low = combine(b, op, lanes[0], lanes[1]);
    let high = combine(b, op, lanes[2], lanes[3]);
    combine(b, op, low, high)
}
