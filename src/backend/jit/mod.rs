//! The Cranelift JIT backend: the optimized graph lowered to a kernel plan
//! (`plan/`), placed in memory (`plan/memory.rs`), each kernel emitted as
//! CLIF (`codegen/`) and compiled to native code for the host (`isa.rs`).
//! Contractions and pooling call the runtime (`runtime/`); the code runs
//! through `code.rs`, the one unsafe call site.

mod code;
pub mod codegen;
pub mod isa;
pub mod plan;
pub mod runtime;
pub mod vmath;

use std::collections::HashMap;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::{bind, check_run, Backend, Binding, Executable, RunOutput};
use crate::compile::{CompiledGraph, OutputRole, Signature};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, ValueId};
use crate::state::{StateLayout, StateStore};

use code::Code;
use codegen::Descriptors;
use plan::memory::{plan_memory, ArgPlace, Loc, MemoryPlan, Region};

/// The JIT backend and its options.
#[derive(Clone, Copy, Debug)]
pub struct Jit {
    /// Worker threads an executable may use (its own pool; 1 = the
    /// calling thread only).
    threads: usize,
    /// Whether executables time each kernel (`bench --profile`).
    profile: bool,
}

impl Default for Jit {
    fn default() -> Jit {
        Jit::new()
    }
}

impl Jit {
    /// One thread, no profiling: the reference configuration.
    pub const fn new() -> Jit {
        Jit {
            threads: 1,
            profile: false,
        }
    }

    /// Executables that run on `threads` threads (at least 1).
    pub fn with_threads(self, threads: usize) -> Jit {
        Jit {
            threads: threads.max(1),
            ..self
        }
    }

    /// Executables that time each kernel.
    pub fn with_profile(self, profile: bool) -> Jit {
        Jit { profile, ..self }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// A graph's kernel and memory plans, before code generation.
#[derive(Debug)]
pub struct Planned {
    pub graph: Graph,
    pub signature: Signature,
    pub bindings: Vec<Binding>,
    pub memory: MemoryPlan,
}

/// Lowers `compiled` to kernels for `threads` threads and places them for
/// stores of `layout`.
pub fn plan_graph(
    compiled: CompiledGraph,
    layout: &StateLayout,
    threads: usize,
) -> Result<Planned> {
    let CompiledGraph { graph, signature } = compiled;
    verify(&graph)?;
    signature.check(&graph)?;
    let bindings = bind(&signature, layout)?;
    let args: HashMap<ValueId, ArgPlace> = graph
        .arguments()
        .zip(&bindings)
        .map(|(v, b)| {
            let place = match *b {
                Binding::Batch(k) => ArgPlace::Batch(k),
                Binding::State(i) => ArgPlace::State(layout.entries()[i].range().start),
            };
            (v, place)
        })
        .collect();
    let guard = signature
        .output(OutputRole::Finite)
        .map(|i| graph.outputs()[i].1);
    let lowered = plan::lower(&graph, threads)?;
    let memory = plan_memory(&graph, lowered, &args, guard)?;
    Ok(Planned {
        graph,
        signature,
        bindings,
        memory,
    })
}

/// `--emit kernels`: the kernel plan and the memory plan.
pub fn kernels_text(planned: &Planned) -> String {
    plan::print_plan(&planned.graph, &planned.memory)
}

/// `--emit clif`: the CLIF of every generated function.
pub fn clif_text(planned: &Planned) -> Result<String> {
    let native = generate(planned, true)?;
    let mut out = String::new();
    for (name, text) in native.clif {
        out.push_str(&format!(";; {name}\n{text}\n"));
    }
    Ok(out)
}

/// Native code for a plan, the descriptors it points into (which must live
/// as long as the code), and the CLIF text if it was asked for.
struct Native {
    code: Code,
    descriptors: Descriptors,
    clif: Vec<(String, String)>,
}

fn generate(planned: &Planned, keep_clif: bool) -> Result<Native> {
    let mut module = isa::module(isa::host_isa()?, &codegen::symbols());
    let descriptors = Descriptors::new(&planned.memory.kernels);
    let generated = codegen::generate(
        &mut module,
        &planned.graph,
        &planned.memory,
        &descriptors,
        keep_clif,
    )?;
    module
        .finalize_definitions()
        .map_err(|e| Error::Jit(format!("finalizing code: {e}")))?;
    let entry = module.get_finalized_function(generated.entry);
    Ok(Native {
        code: Code::new(module, entry),
        descriptors,
        clif: generated.clif,
    })
}

/// A zeroed buffer of `len` floats, or an error naming what it was for.
fn allocate(len: usize, what: &str) -> Result<Vec<f32>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::Jit(format!(
            "cannot allocate the {what} ({} bytes): the model is too large for this machine's memory",
            len.saturating_mul(4)
        ))
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

impl Backend for Jit {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn compile(
        &self,
        compiled: CompiledGraph,
        layout: &Arc<StateLayout>,
    ) -> Result<Box<dyn Executable>> {
        let planned = plan_graph(compiled, layout, self.threads)?;
        let arena = allocate(planned.memory.arena_len, "arena")?;
        let Native {
            code, descriptors, ..
        } = generate(&planned, false)?;
        let outputs = planned
            .graph
            .outputs()
            .iter()
            .map(|&(_, v)| {
                let loc = planned.memory.locs[v.index()].expect("outputs are placed");
                (loc, planned.graph.shape(v).dims().to_vec())
            })
            .collect();
        Ok(Box::new(Compiled {
            code,
            _descriptors: descriptors,
            arena,
            consts: planned.memory.consts.clone(),
            outputs,
            signature: planned.signature,
            layout: Arc::clone(layout),
        }))
    }
}

/// A compiled graph: its code, the memory the code was compiled against,
/// and where to read each output.
struct Compiled {
    code: Code,
    /// Read by the code through addresses embedded in it.
    _descriptors: Descriptors,
    arena: Vec<f32>,
    consts: Vec<f32>,
    outputs: Vec<(Loc, Vec<usize>)>,
    signature: Signature,
    layout: Arc<StateLayout>,
}

impl Executable for Compiled {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn run(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<RunOutput> {
        check_run(&self.signature, &self.layout, batch, state)?;
        // The code reads batch arrays as contiguous row-major buffers.
        let owned: Vec<Option<Vec<f32>>> = batch
            .iter()
            .map(|a| a.as_slice().is_none().then(|| a.iter().copied().collect()))
            .collect();
        // An output in the state region is a state argument: its value as
        // of the step's start, read before the code updates the store.
        let read = |loc: &Loc, n: usize, arena: &[f32], state: &StateStore| -> Vec<f32> {
            let data = match loc.region {
                Region::Arena => &arena[loc.offset..loc.offset + n],
                Region::State => &state.as_slice()[loc.offset..loc.offset + n],
                Region::Const => &self.consts[loc.offset..loc.offset + n],
                Region::Batch(k) => match &owned[k] {
                    Some(v) => &v[..n],
                    None => batch[k].as_slice().expect("contiguous"),
                },
            };
            data.to_vec()
        };
        let numel = |dims: &[usize]| dims.iter().product::<usize>();
        let early: Vec<Option<Vec<f32>>> = self
            .outputs
            .iter()
            .map(|(loc, dims)| {
                (loc.region == Region::State).then(|| read(loc, numel(dims), &self.arena, state))
            })
            .collect();
        let mut bases: Vec<*mut f32> = vec![
            self.arena.as_mut_ptr(),
            state.as_mut_slice().as_mut_ptr(),
            self.consts.as_ptr() as *mut f32,
        ];
        for (a, copy) in batch.iter().zip(&owned) {
            let data = match copy {
                Some(v) => v.as_ptr(),
                None => a.as_ptr(),
            };
            // Batch arrays and constants are only read by the code.
            bases.push(data as *mut f32);
        }
        // SAFETY: check_run verified every batch array's shape against the
        // signature and that `state` has the layout this code was compiled
        // for; the arena and constants are this executable's own, sized
        // by the same memory plan as the code.
        let committed = unsafe { self.code.run(&bases) };
        let outputs = self
            .outputs
            .iter()
            .zip(early)
            .map(|((loc, dims), early)| {
                let data = early.unwrap_or_else(|| read(loc, numel(dims), &self.arena, state));
                ArrayD::from_shape_vec(IxDyn(dims), data).expect("planned shape")
            })
            .collect();
        Ok(RunOutput { outputs, committed })
    }
}
