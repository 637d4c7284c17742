//! CLIF for every kernel of a plan, and the entry function that runs them.
//!
//! Each kernel is one function `fn(bases: *const *mut f32)`: it loads the
//! base pointers of the regions it touches (arena, state, constants, batch
//! arrays) from the run's table and adds its buffers' offsets, which the
//! memory plan fixed at compile time. Every extent is a compile-time
//! constant, so loops are rotated (do-while: Cranelift hoists invariants
//! only out of that form or exit-first headers) and scalar tails are
//! straight-line code. The entry function calls the kernels in order and,
//! for a train step, reads the `finite` guard between the two phases.

mod body;
mod call;
mod loops;
mod map;
mod reduce;

use cranelift_codegen::ir::{
    types, AbiParam, FuncRef, InstBuilder, MemFlagsData, Signature, Value,
};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use crate::error::{Error, Result};
use crate::ir::Graph;

use super::plan::memory::{Loc, MemoryPlan};
use super::plan::Kernel;

pub use call::{symbols, Descriptors};

/// The generated functions of one plan, before finalization.
pub struct Generated {
    pub entry: FuncId,
    /// The CLIF text of each function (kernels, then the entry), when asked.
    pub clif: Vec<(String, String)>,
}

/// Imported runtime functions a kernel may call, declared once per module.
pub(crate) struct Imports {
    ids: Vec<(&'static str, FuncId)>,
}

impl Imports {
    fn declare(module: &mut JITModule) -> Result<Imports> {
        let mut ids = Vec::new();
        for (name, params, returns) in call::import_signatures() {
            let mut sig = module.make_signature();
            sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            sig.returns
                .extend(returns.iter().map(|&t| AbiParam::new(t)));
            let id = module
                .declare_function(name, Linkage::Import, &sig)
                .map_err(jit_error)?;
            ids.push((name, id));
        }
        Ok(Imports { ids })
    }

    pub(crate) fn func_ref(
        &self,
        module: &mut JITModule,
        b: &mut FunctionBuilder,
        name: &str,
    ) -> FuncRef {
        let id = self
            .ids
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, id)| id)
            .expect("every runtime function is declared");
        module.declare_func_in_func(id, b.func)
    }
}

pub(crate) fn jit_error(e: impl std::fmt::Display) -> Error {
    Error::Jit(e.to_string())
}

/// What a kernel body needs while it is being emitted.
pub(crate) struct Emit<'a> {
    pub graph: &'a Graph,
    pub plan: &'a MemoryPlan,
    pub bases: Value,
    pub descriptors: &'a Descriptors,
    pub imports: &'a Imports,
}

impl Emit<'_> {
    /// The address of element `offset` (may be negative only within a
    /// buffer) of the buffer at `loc`.
    pub fn address(&self, b: &mut FunctionBuilder, loc: Loc, offset: isize) -> Value {
        let base = b.ins().load(
            types::I64,
            MemFlagsData::trusted().with_readonly().with_can_move(),
            self.bases,
            (loc.region.slot() * 8) as i32,
        );
        let bytes = (loc.offset as isize + offset) * 4;
        if bytes == 0 {
            base
        } else {
            b.ins().iadd_imm_s(base, bytes as i64)
        }
    }

    /// The location of a copy's buffer.
    pub fn buf_loc(&self, buf: super::plan::Buf) -> Loc {
        match buf {
            super::plan::Buf::Value(v) => self.loc(v),
            super::plan::Buf::Stage(s) => Loc {
                region: super::plan::memory::Region::Arena,
                offset: self.plan.stage_at[s],
            },
        }
    }

    /// The location of `v`'s buffer.
    pub fn loc(&self, v: crate::ir::ValueId) -> Loc {
        self.plan.locs[v.index()].expect("the memory plan places every value a kernel uses")
    }
}

/// Emits every kernel of `plan` and the entry function into `module`.
pub fn generate(
    module: &mut JITModule,
    graph: &Graph,
    plan: &MemoryPlan,
    descriptors: &Descriptors,
    keep_clif: bool,
) -> Result<Generated> {
    let imports = Imports::declare(module)?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut clif = Vec::new();
    let mut kernel_ids = Vec::new();
    for (p, kernel) in plan.kernels.iter().enumerate() {
        let name = format!("k{p}_{}", kernel.kind_name());
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(types::I64));
        let id = module
            .declare_function(&name, Linkage::Local, &sig)
            .map_err(jit_error)?;
        ctx.func.signature = sig;
        {
            let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let start = b.create_block();
            b.append_block_params_for_function_params(start);
            b.switch_to_block(start);
            let emit = Emit {
                graph,
                plan,
                bases: b.block_params(start)[0],
                descriptors,
                imports: &imports,
            };
            emit_kernel(module, &mut b, &emit, p, kernel);
            b.ins().return_(&[]);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        finish(module, &mut ctx, id, &name, keep_clif, &mut clif)?;
        kernel_ids.push(id);
    }
    let entry = entry_function(
        module,
        &mut ctx,
        &mut fctx,
        graph,
        plan,
        &kernel_ids,
        keep_clif,
        &mut clif,
    )?;
    Ok(Generated { entry, clif })
}

fn emit_kernel(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    p: usize,
    kernel: &Kernel,
) {
    match kernel {
        Kernel::Map(m) => map::emit_map(module, b, emit, m),
        Kernel::Fill { out, value } => map::emit_fill(module, b, emit, *out, *value),
        Kernel::Copy { from, to, len } => map::emit_copy(b, emit, *from, *to, *len),
        Kernel::Reduce(r) => reduce::emit_reduce(b, emit, r),
        other => call::emit_call(module, b, emit, p, other),
    }
}

/// Defines the function built in `ctx` (keeping its text if asked).
fn finish(
    module: &mut JITModule,
    ctx: &mut Context,
    id: FuncId,
    name: &str,
    keep_clif: bool,
    clif: &mut Vec<(String, String)>,
) -> Result<()> {
    if keep_clif {
        clif.push((name.to_string(), ctx.func.display().to_string()));
    }
    module
        .define_function(id, ctx)
        .map_err(|e| Error::Jit(format!("function {name}: {e:?}")))?;
    module.clear_context(ctx);
    Ok(())
}

/// `fn entry(bases) -> i32`: phase 1, the guard, phase 2; returns 1 when
/// the updates were written (always, for graphs without a guard).
#[allow(clippy::too_many_arguments)]
fn entry_function(
    module: &mut JITModule,
    ctx: &mut Context,
    fctx: &mut FunctionBuilderContext,
    graph: &Graph,
    plan: &MemoryPlan,
    kernels: &[FuncId],
    keep_clif: bool,
    clif: &mut Vec<(String, String)>,
) -> Result<FuncId> {
    let name = if graph.updates().is_empty() {
        "forward"
    } else {
        "train_step"
    };
    let mut sig: Signature = module.make_signature();
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I32));
    let id = module
        .declare_function(name, Linkage::Export, &sig)
        .map_err(jit_error)?;
    ctx.func.signature = sig;
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let start = b.create_block();
        b.append_block_params_for_function_params(start);
        b.switch_to_block(start);
        let bases = b.block_params(start)[0];
        let refs: Vec<FuncRef> = kernels
            .iter()
            .map(|&k| module.declare_func_in_func(k, b.func))
            .collect();
        for (p, &f) in refs.iter().enumerate() {
            if plan.commit_at == Some(p) {
                guard_check(&mut b, plan, bases);
            }
            b.ins().call(f, &[bases]);
        }
        if plan.commit_at == Some(refs.len()) {
            guard_check(&mut b, plan, bases);
        }
        let one = b.ins().iconst(types::I32, 1);
        b.ins().return_(&[one]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    finish(module, ctx, id, name, keep_clif, clif)?;
    Ok(id)
}

/// Returns 0 unless the guard output is exactly 1.
fn guard_check(b: &mut FunctionBuilder, plan: &MemoryPlan, bases: Value) {
    let guard = plan.guard.expect("a commit point implies a guard");
    let loc = plan.locs[guard.index()].expect("the guard is placed");
    let base = b.ins().load(
        types::I64,
        MemFlagsData::trusted(),
        bases,
        (loc.region.slot() * 8) as i32,
    );
    let at = b.ins().iadd_imm_s(base, (loc.offset * 4) as i64);
    let value = b.ins().load(types::F32, MemFlagsData::trusted(), at, 0);
    let one = b.ins().f32const(1.0);
    let ok = b
        .ins()
        .fcmp(cranelift_codegen::ir::condcodes::FloatCC::Equal, value, one);
    let commit = b.create_block();
    let stop = b.create_block();
    b.ins().brif(ok, commit, &[], stop, &[]);
    b.switch_to_block(stop);
    let zero = b.ins().iconst(types::I32, 0);
    b.ins().return_(&[zero]);
    b.switch_to_block(commit);
}
