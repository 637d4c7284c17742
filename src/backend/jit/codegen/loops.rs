//! Counted loops and loop nests over pointers. Every trip count is a
//! compile-time constant, so loops are emitted rotated (the body first, the
//! test at the bottom), the form whose invariants Cranelift's LICM hoists
//! (research/cranelift.md, pitfall 1).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// `for _ in 0..trips`, with `carried` values (pointers, accumulators)
/// passed around the loop: `body` gets their current values and returns
/// the next ones. Returns the values after the last trip. `trips` must be
/// at least 1.
pub fn counted(
    b: &mut FunctionBuilder,
    trips: usize,
    carried: &[Value],
    body: impl FnOnce(&mut FunctionBuilder, &[Value]) -> Vec<Value>,
) -> Vec<Value> {
    debug_assert!(trips >= 1);
    if trips == 1 {
        return body(b, carried);
    }
    let types: Vec<_> = carried.iter().map(|&v| b.func.dfg.value_type(v)).collect();
    let looped = b.create_block();
    let exit = b.create_block();
    b.append_block_param(looped, types::I64);
    for &t in &types {
        b.append_block_param(looped, t);
    }
    for &t in &types {
        b.append_block_param(exit, t);
    }
    let zero = b.ins().iconst(types::I64, 0);
    let args: Vec<BlockArg> = std::iter::once(zero)
        .chain(carried.iter().copied())
        .map(BlockArg::from)
        .collect();
    b.ins().jump(looped, &args);
    b.switch_to_block(looped);
    let params = b.block_params(looped).to_vec();
    let next = body(b, &params[1..]);
    let i = b.ins().iadd_imm_s(params[0], 1);
    let more = b.ins().icmp_imm_s(IntCC::SignedLessThan, i, trips as i64);
    let again: Vec<BlockArg> = std::iter::once(i)
        .chain(next.iter().copied())
        .map(BlockArg::from)
        .collect();
    let done: Vec<BlockArg> = next.iter().copied().map(BlockArg::from).collect();
    b.ins().brif(more, looped, &again, exit, &done);
    b.switch_to_block(exit);
    b.block_params(exit).to_vec()
}

/// Loops over every axis of `extents` but the last, advancing each
/// pointer of `ptrs` by its byte stride per axis (`strides[k][axis]`, in
/// elements), and calls `inner` with the pointers at the start of each
/// innermost row.
pub fn nest(
    b: &mut FunctionBuilder,
    extents: &[usize],
    strides: &[Vec<isize>],
    ptrs: &[Value],
    inner: &mut dyn FnMut(&mut FunctionBuilder, &[Value]),
) {
    nest_from(b, 0, extents, strides, ptrs, inner);
}

fn nest_from(
    b: &mut FunctionBuilder,
    axis: usize,
    extents: &[usize],
    strides: &[Vec<isize>],
    ptrs: &[Value],
    inner: &mut dyn FnMut(&mut FunctionBuilder, &[Value]),
) {
    if axis + 1 >= extents.len() {
        inner(b, ptrs);
        return;
    }
    counted(b, extents[axis], ptrs, |b, current| {
        nest_from(b, axis + 1, extents, strides, current, inner);
        current
            .iter()
            .zip(strides)
            .map(|(&p, s)| advance(b, p, s[axis]))
            .collect()
    });
}

/// `p + elements * 4`.
pub fn advance(b: &mut FunctionBuilder, p: Value, elements: isize) -> Value {
    if elements == 0 {
        p
    } else {
        b.ins().iadd_imm_s(p, (elements * 4) as i64)
    }
}
