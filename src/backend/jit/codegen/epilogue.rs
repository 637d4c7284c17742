//! An epilogue map (`plan/epilogue.rs`) as a range function
//! `fn(bases, src, lo, hi)`: the map's iterations of units `lo..hi` (outer
//! indices of its `[units, ...]` iteration space), which the runtime calls
//! on each finished chunk of the producer's output (`runtime/epilogue.rs`).
//! The producer's output is read through `src`, which points at unit `lo`
//! of it; every other access starts at its buffer's element for unit
//! `lo`. Each unit is emitted by the same code as a whole map over
//! `shape[1..]` (`map::emit_map_at`), so the scalar body, and every bit
//! it computes, is the separate kernel's.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, BlockArg, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;

use super::loops::advance;
use super::map::emit_map_at;
use super::Emit;
use crate::backend::jit::plan::Epilogue;

/// Emits the body of the range function; `params` are its `bases`, `src`,
/// `lo` and `hi`.
pub fn emit_epilogue(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    epi: &Epilogue,
    params: &[Value],
) {
    let (src, lo, hi) = (params[1], params[2], params[3]);
    let m = &epi.map;
    let inputs = m.inputs.len();
    let start: Vec<Value> = m
        .inputs
        .iter()
        .chain(&m.outputs)
        .enumerate()
        .map(|(k, a)| {
            if k < inputs && epi.from_producer.contains(&k) {
                return src;
            }
            let base = emit.address(b, emit.loc(a.value), a.at.offset);
            let skip = b.ins().imul_imm_s(lo, a.at.strides[0] as i64 * 4);
            b.ins().iadd(base, skip)
        })
        .collect();
    let outer: Vec<isize> = m
        .inputs
        .iter()
        .chain(&m.outputs)
        .map(|a| a.at.strides[0])
        .collect();
    let mut unit = m.clone();
    unit.shape.remove(0);
    for a in unit.inputs.iter_mut().chain(unit.outputs.iter_mut()) {
        a.at.strides.remove(0);
    }
    // for u in lo..hi, the pointers carried round the loop.
    let looped = b.create_block();
    let exit = b.create_block();
    b.append_block_param(looped, types::I64);
    for _ in &start {
        b.append_block_param(looped, types::I64);
    }
    let args: Vec<BlockArg> = std::iter::once(lo)
        .chain(start.iter().copied())
        .map(BlockArg::from)
        .collect();
    let any = b.ins().icmp(IntCC::UnsignedLessThan, lo, hi);
    b.ins().brif(any, looped, &args, exit, &[]);
    b.switch_to_block(looped);
    let params = b.block_params(looped).to_vec();
    let (u, ptrs) = (params[0], &params[1..]);
    emit_map_at(module, b, emit, &unit, ptrs);
    let next: Vec<Value> = ptrs
        .iter()
        .zip(&outer)
        .map(|(&p, &s)| advance(b, p, s))
        .collect();
    let u = b.ins().iadd_imm_s(u, 1);
    let more = b.ins().icmp(IntCC::UnsignedLessThan, u, hi);
    let again: Vec<BlockArg> = std::iter::once(u).chain(next).map(BlockArg::from).collect();
    b.ins().brif(more, looped, &again, exit, &[]);
    b.switch_to_block(exit);
}
