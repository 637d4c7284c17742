//! CLIF for every kernel of a plan, and for the guard between its phases.
//!
//! Each kernel is one function `fn(bases: *const *mut f32)`: it loads the
//! base pointers of the regions it touches (arena, state, constants, batch
//! arrays) from the run's table and adds its buffers' offsets, which the
//! memory plan fixed at compile time. Every extent is a compile-time
//! constant, so loops are rotated (do-while: Cranelift hoists invariants
//! only out of that form or exit-first headers) and scalar tails are
//! straight-line code. A large elementwise kernel is several such
//! functions, one per disjoint piece (`split.rs`), which the executable
//! runs on its threads. The executable (`code.rs`) calls the kernels in
//! order and, for a train step, the guard function between the phases.

mod body;
mod call;
mod epilogue;
mod loops;
mod map;
mod reduce;
mod rows;
mod split;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, FuncRef, InstBuilder, MemFlagsData, Signature, Value,
};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};

use crate::error::{Error, Result};
use crate::ir::{Graph, ValueId};

use super::plan::memory::{Loc, MemoryPlan};
use super::plan::{Kernel, MapKernel};

pub use call::{symbols, Descriptors};
pub use split::MIN_SPLIT;

/// The generated functions of one plan, before finalization.
pub struct Generated {
    /// Per kernel, its function, or the functions of its pieces (disjoint
    /// slices of one elementwise kernel, run in parallel).
    pub kernels: Vec<Vec<FuncId>>,
    /// `fn(bases) -> i32`: 1 when the `finite` guard allows the commit.
    pub guard: Option<FuncId>,
    /// The CLIF text of each function (kernels, then the guard), when asked.
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

/// Emits every kernel of `plan` (elementwise kernels of at least
/// [`split::MIN_SPLIT`] elements in `threads` pieces) and the guard into
/// `module`.
pub fn generate(
    module: &mut JITModule,
    graph: &Graph,
    plan: &MemoryPlan,
    descriptors: &Descriptors,
    threads: usize,
    keep_clif: bool,
) -> Result<Generated> {
    let imports = Imports::declare(module)?;
    let mut f = Functions {
        ctx: module.make_context(),
        fctx: FunctionBuilderContext::new(),
        keep_clif,
        clif: Vec::new(),
    };
    let mut kernels = Vec::new();
    for (p, kernel) in plan.kernels.iter().enumerate() {
        // The kernel's function, or one per piece of a split map.
        let parts: Vec<(String, Option<MapKernel>)> = match kernel {
            Kernel::Map(m) => split::pieces(m, threads),
            _ => None,
        }
        .map_or_else(
            || vec![(format!("k{p}_{}", kernel.kind_name()), None)],
            |pieces| {
                pieces
                    .into_iter()
                    .enumerate()
                    .map(|(i, piece)| (format!("k{p}_{}_{i}", kernel.kind_name()), Some(piece)))
                    .collect()
            },
        );
        // An epilogue is its own range function, whose address the
        // kernel passes to the runtime.
        let epi = match kernel.epilogue() {
            Some(e) => Some(f.epilogue(
                module,
                graph,
                plan,
                descriptors,
                &imports,
                &format!("k{p}_epilogue"),
                e,
            )?),
            None => None,
        };
        let mut ids = Vec::new();
        for (name, piece) in &parts {
            ids.push(f.kernel(
                module,
                graph,
                plan,
                descriptors,
                &imports,
                name,
                |m, b, e| match piece {
                    Some(piece) => map::emit_map(m, b, e, piece),
                    None => emit_kernel(m, b, e, p, kernel, epi),
                },
            )?);
        }
        kernels.push(ids);
    }
    let guard = match plan.guard {
        Some(guard) if plan.commit_at.is_some() => Some(f.guard(module, plan, guard)?),
        _ => None,
    };
    Ok(Generated {
        kernels,
        guard,
        clif: f.clif,
    })
}

/// The contexts functions are built in, and the CLIF kept of them.
struct Functions {
    ctx: Context,
    fctx: FunctionBuilderContext,
    keep_clif: bool,
    clif: Vec<(String, String)>,
}

impl Functions {
    /// Declares and defines `fn name(bases)`, its body emitted by `body`.
    #[allow(clippy::too_many_arguments)]
    fn kernel(
        &mut self,
        module: &mut JITModule,
        graph: &Graph,
        plan: &MemoryPlan,
        descriptors: &Descriptors,
        imports: &Imports,
        name: &str,
        body: impl FnOnce(&mut JITModule, &mut FunctionBuilder, &Emit),
    ) -> Result<FuncId> {
        self.define(module, name, None, |module, b, bases| {
            let emit = Emit {
                graph,
                plan,
                bases,
                descriptors,
                imports,
            };
            body(module, b, &emit);
            b.ins().return_(&[]);
        })
    }

    /// Declares and defines the range function `fn name(bases, src, lo,
    /// hi)` of an epilogue (`epilogue.rs`).
    #[allow(clippy::too_many_arguments)]
    fn epilogue(
        &mut self,
        module: &mut JITModule,
        graph: &Graph,
        plan: &MemoryPlan,
        descriptors: &Descriptors,
        imports: &Imports,
        name: &str,
        epi: &super::plan::Epilogue,
    ) -> Result<FuncId> {
        self.define_with(module, name, 4, None, |module, b, params| {
            let emit = Emit {
                graph,
                plan,
                bases: params[0],
                descriptors,
                imports,
            };
            epilogue::emit_epilogue(module, b, &emit, epi, params);
            b.ins().return_(&[]);
        })
    }

    /// `fn guard(bases) -> i32`: 1 when the guard output is exactly 1.
    fn guard(
        &mut self,
        module: &mut JITModule,
        plan: &MemoryPlan,
        guard: ValueId,
    ) -> Result<FuncId> {
        self.define(module, "guard", Some(types::I32), |_, b, bases| {
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
            let ok = b.ins().fcmp(FloatCC::Equal, value, one);
            let ok = b.ins().uextend(types::I32, ok);
            b.ins().return_(&[ok]);
        })
    }

    /// Declares and defines a local `fn name(bases: i64) [-> returns]`
    /// whose body (ending in its return) `body` emits from the entry block.
    fn define(
        &mut self,
        module: &mut JITModule,
        name: &str,
        returns: Option<types::Type>,
        body: impl FnOnce(&mut JITModule, &mut FunctionBuilder, Value),
    ) -> Result<FuncId> {
        self.define_with(module, name, 1, returns, |module, b, params| {
            body(module, b, params[0])
        })
    }

    /// [`Functions::define`] with `params` i64 parameters, all passed to
    /// `body`.
    fn define_with(
        &mut self,
        module: &mut JITModule,
        name: &str,
        params: usize,
        returns: Option<types::Type>,
        body: impl FnOnce(&mut JITModule, &mut FunctionBuilder, &[Value]),
    ) -> Result<FuncId> {
        let mut sig: Signature = module.make_signature();
        sig.params
            .extend((0..params).map(|_| AbiParam::new(types::I64)));
        sig.returns.extend(returns.map(AbiParam::new));
        let id = module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(jit_error)?;
        self.ctx.func.signature = sig;
        {
            let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
            let start = b.create_block();
            b.append_block_params_for_function_params(start);
            b.switch_to_block(start);
            let values = b.block_params(start).to_vec();
            body(module, &mut b, &values);
            b.seal_all_blocks();
            b.finalize(module.target_config());
        }
        self.finish(module, id, name)?;
        Ok(id)
    }

    /// Defines the function built in `ctx` (keeping its text if asked).
    fn finish(&mut self, module: &mut JITModule, id: FuncId, name: &str) -> Result<()> {
        if self.keep_clif {
            self.clif
                .push((name.to_string(), self.ctx.func.display().to_string()));
        }
        module
            .define_function(id, &mut self.ctx)
            .map_err(|e| Error::Jit(format!("function {name}: {e:?}")))?;
        module.clear_context(&mut self.ctx);
        Ok(())
    }
}

fn emit_kernel(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    p: usize,
    kernel: &Kernel,
    epilogue: Option<FuncId>,
) {
    match kernel {
        Kernel::Map(m) => map::emit_map(module, b, emit, m),
        Kernel::Fill { out, value } => map::emit_fill(module, b, emit, *out, *value),
        Kernel::Copy { from, to, len } => map::emit_copy(b, emit, *from, *to, *len),
        Kernel::Reduce(r) => reduce::emit_reduce(b, emit, r),
        Kernel::Rows(r) => rows::emit_rows(module, b, emit, p, r),
        other => call::emit_call(module, b, emit, p, other, epilogue),
    }
}
