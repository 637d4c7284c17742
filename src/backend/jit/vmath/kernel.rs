//! [`MapKernel`]: one [`MathFn`] applied to a slice, compiled on its own.
//! It exists to test and measure the emitted code in the loop form the JIT
//! uses (rotated F32X4 main loop, scalar tail).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlagsData, UserFuncName, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};

use super::{emit, MathFn};
use crate::backend::jit::isa;
use crate::error::{Error, Result};

/// The compiled `extern "C" fn(src: *const f32, dst: *mut f32, n: i64)`.
type MapFn = unsafe extern "C" fn(*const f32, *mut f32, i64);

/// A JIT-compiled `dst[i] = f(src[i])` loop. Owns its code memory and frees
/// it on drop.
pub struct MapKernel {
    /// Always `Some` until `drop` takes it to free its memory.
    module: Option<JITModule>,
    code: MapFn,
    f: MathFn,
}

impl std::fmt::Debug for MapKernel {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("MapKernel").field("f", &self.f).finish()
    }
}

/// Target of the `fmaf` libcall that a vector `fma` becomes on a host
/// without FMA; the JIT cannot always resolve it by itself (research notes,
/// pitfall 7).
extern "C" fn fmaf_shim(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

impl MapKernel {
    /// Compiles the loop for `f` with Cranelift's verifier on.
    pub fn compile(f: MathFn) -> Result<MapKernel> {
        let jit = |what: &str, e: &dyn std::fmt::Display| {
            Error::Jit(format!("map kernel for {}: {what}: {e}", f.name()))
        };
        let target = isa::host_isa_checked()?;
        let mut module = isa::module(target, &[("fmaf", fmaf_shim as *const u8)]);
        let pointer = module.target_config().pointer_type();
        if pointer != types::I64 {
            return Err(Error::Jit(format!(
                "map kernels need 64-bit pointers, the host has {pointer}"
            )));
        }

        let mut sig = module.make_signature();
        for _ in 0..3 {
            sig.params.push(AbiParam::new(types::I64));
        }
        let name = format!("map_{}", f.name());
        let id = module
            .declare_function(&name, Linkage::Export, &sig)
            .map_err(|e| jit("declare", &e))?;
        let mut ctx = module.make_context();
        ctx.func.signature = sig;
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        build_loop(&mut b, f);
        b.finalize(module.target_config());
        module
            .define_function(id, &mut ctx)
            .map_err(|e| jit("compile", &e))?;
        module.clear_context(&mut ctx);
        module
            .finalize_definitions()
            .map_err(|e| jit("finalize", &e))?;
        let address = module.get_finalized_function(id);
        // SAFETY: `address` is the function just defined with the signature
        // `MapFn` describes (three I64 parameters, no result, SystemV).
        let code = unsafe { std::mem::transmute::<*const u8, MapFn>(address) };
        Ok(MapKernel {
            module: Some(module),
            code,
            f,
        })
    }

    /// `dst[i] = f(src[i])` for every i.
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn apply(&self, src: &[f32], dst: &mut [f32]) {
        assert_eq!(src.len(), dst.len(), "map kernel: src and dst lengths");
        let n = i64::try_from(src.len()).expect("a slice length fits in i64");
        // SAFETY: the code reads `n` floats from `src` and writes `n` to
        // `dst`, both valid for that many; the module is alive (owned).
        unsafe { (self.code)(src.as_ptr(), dst.as_mut_ptr(), n) }
    }
}

impl Drop for MapKernel {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: `code` is the only pointer into this module's memory
            // and it dies with `self`; no call can be running, since `apply`
            // borrows `self`.
            unsafe { module.free_memory() }
        }
    }
}

/// The body of `fn(src, dst, n)`: a rotated F32X4 loop over `n & !3`
/// elements (rotated so that the constant splats are hoisted, research
/// notes pitfall 1), then a scalar tail that splats each element, applies
/// the vector code and keeps lane 0.
fn build_loop(b: &mut FunctionBuilder, f: MathFn) {
    let entry = b.create_block();
    let vector = b.create_block();
    let tail = b.create_block();
    let tail_body = b.create_block();
    let exit = b.create_block();
    let i = b.append_block_param(vector, types::I64);
    let j = b.append_block_param(tail, types::I64);

    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let &[src, dst, n] = b.block_params(entry) else {
        unreachable!("the signature has three parameters")
    };
    let n4 = b.ins().band_imm_s(n, -4);
    let zero = b.ins().iconst(types::I64, 0);
    let empty = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, zero, n4);
    b.ins()
        .brif(empty, tail, &[zero.into()], vector, &[zero.into()]);

    b.switch_to_block(vector);
    let (from, to) = addresses(b, src, dst, i);
    let x = b.ins().load(types::F32X4, flags(), from, 0);
    let y = emit(b, f, x);
    b.ins().store(flags(), y, to, 0);
    let next = b.ins().iadd_imm_s(i, 4);
    let more = b.ins().icmp(IntCC::SignedLessThan, next, n4);
    b.ins()
        .brif(more, vector, &[next.into()], tail, &[next.into()]);

    // Exit-first header for the same reason.
    b.switch_to_block(tail);
    let done = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, j, n);
    b.ins().brif(done, exit, &[], tail_body, &[]);

    b.switch_to_block(tail_body);
    let (from, to) = addresses(b, src, dst, j);
    let s = b.ins().load(types::F32, flags(), from, 0);
    let x = b.ins().splat(types::F32X4, s);
    let y = emit(b, f, x);
    let r = b.ins().extractlane(y, 0);
    b.ins().store(flags(), r, to, 0);
    let next = b.ins().iadd_imm_s(j, 1);
    b.ins().jump(tail, &[next.into()]);

    b.switch_to_block(exit);
    b.ins().return_(&[]);
    b.seal_all_blocks();
}

/// `&src[i]` and `&dst[i]` for f32 elements.
fn addresses(b: &mut FunctionBuilder, src: Value, dst: Value, i: Value) -> (Value, Value) {
    let offset = b.ins().ishl_imm_u(i, 2);
    let from = b.ins().iadd(src, offset);
    let to = b.ins().iadd(dst, offset);
    (from, to)
}

/// Plain accesses: in bounds by `apply`'s contract, no alignment claimed.
fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}
