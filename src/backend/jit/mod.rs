//! The Cranelift JIT backend: the optimized graph lowered to a kernel plan
//! (`plan/`), placed in memory (`plan/memory.rs`), each kernel emitted as
//! CLIF (`codegen/`) and compiled to native code for the host (`isa.rs`).
//! Contractions and pooling call the runtime (`runtime/`). The executable
//! (`executable.rs`) owns the code, its memory and its thread pool
//! (`threads.rs` decides when a step uses it); the code runs through
//! `code.rs`, the one unsafe call site.

mod code;
pub mod codegen;
mod executable;
pub mod isa;
pub mod plan;
pub mod profile;
pub mod runtime;
mod threads;
pub mod vmath;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn};

use super::{bind, Backend, Binding, Executable};
use crate::compile::{CompiledGraph, OutputRole, Signature};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, ValueId};
use crate::state::StateLayout;

use code::{Code, Entries};
use codegen::Descriptors;
use executable::Compiled;
use plan::memory::{plan_memory, ArgPlace, MemoryPlan};
pub use profile::{KernelTime, Profile};
use threads::{start_pool, uses_threads, worth_threads};

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

/// The CLIF of each kernel's functions (its pieces and epilogue range
/// function included), by kernel, as `--emit clif` prints them.
pub fn clif_by_kernel(planned: &Planned) -> Result<Vec<String>> {
    let native = generate(planned, 1, true)?;
    let mut by_kernel = vec![String::new(); planned.memory.kernels.len()];
    for (name, text) in native.clif {
        // Kernel functions are named `k<index>_<kind>[_<piece>]` or
        // `k<index>_epilogue`; the guard has no kernel.
        let kernel = name
            .strip_prefix('k')
            .and_then(|r| r.split('_').next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(text_of) = kernel.and_then(|k| by_kernel.get_mut(k)) {
            text_of.push_str(&format!(";; {name}\n{text}\n"));
        }
    }
    Ok(by_kernel)
}

/// `--emit clif`: the CLIF of every generated function.
pub fn clif_text(planned: &Planned) -> Result<String> {
    let native = generate(planned, 1, true)?;
    let mut out = String::new();
    for (name, text) in native.clif {
        out.push_str(&format!(";; {name}\n{text}\n"));
    }
    Ok(out)
}

/// Native code for a plan, the descriptors it points into (which must live
/// as long as the code), the CLIF text if it was asked for, and how long
/// code generation and linking took.
struct Native {
    code: Code,
    descriptors: Descriptors,
    clif: Vec<(String, String)>,
    /// How many pieces each kernel was compiled as.
    pieces: Vec<usize>,
    codegen: Duration,
    link: Duration,
}

fn generate(planned: &Planned, threads: usize, keep_clif: bool) -> Result<Native> {
    let start = Instant::now();
    let mut module = isa::module(isa::host_isa()?, &codegen::symbols());
    let descriptors = Descriptors::new(&planned.memory.kernels);
    let generated = codegen::generate(
        &mut module,
        &planned.graph,
        &planned.memory,
        &descriptors,
        threads,
        keep_clif,
    )?;
    let codegen = start.elapsed();
    let start = Instant::now();
    module
        .finalize_definitions()
        .map_err(|e| Error::Jit(format!("finalizing code: {e}")))?;
    let entries = Entries {
        kernels: generated
            .kernels
            .iter()
            .map(|pieces| {
                pieces
                    .iter()
                    .map(|&id| module.get_finalized_function(id))
                    .collect()
            })
            .collect(),
        guard: generated.guard.map(|id| module.get_finalized_function(id)),
        commit_at: planned.memory.commit_at,
    };
    let link = start.elapsed();
    Ok(Native {
        pieces: generated.kernels.iter().map(Vec::len).collect(),
        code: Code::new(module, entries),
        descriptors,
        clif: generated.clif,
        codegen,
        link,
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
        let start = Instant::now();
        // A step with too little parallel work is planned again for one
        // thread (the graph is cloned only when there is a choice).
        let (threads, planned) = match self.threads {
            1 => (1, plan_graph(compiled, layout, 1)?),
            n => {
                let planned = plan_graph(compiled.clone(), layout, n)?;
                if worth_threads(&planned) {
                    (n, planned)
                } else {
                    (1, plan_graph(compiled, layout, 1)?)
                }
            }
        };
        let plan = start.elapsed();
        let arena = allocate(planned.memory.arena_len, "arena")?;
        let Native {
            code,
            descriptors,
            codegen,
            link,
            pieces,
            ..
        } = generate(&planned, threads, false)?;
        let pool = if threads > 1 && uses_threads(&planned.memory.kernels, &pieces) {
            Some(start_pool(self.threads, &planned.memory.kernels)?)
        } else {
            None
        };
        let (output_locs, outputs) = planned
            .graph
            .outputs()
            .iter()
            .map(|&(_, v)| {
                let loc = planned.memory.locs[v.index()].expect("outputs are placed");
                (loc, ArrayD::zeros(IxDyn(planned.graph.shape(v).dims())))
            })
            .unzip();
        let profile = self.profile.then(|| Profile {
            kernels: profile::describe(&planned.graph, &planned.memory.kernels),
        });
        let batch_args = planned
            .bindings
            .iter()
            .filter(|b| matches!(b, Binding::Batch(_)))
            .count();
        Ok(Box::new(Compiled {
            code,
            _descriptors: descriptors,
            pool,
            arena,
            consts: planned.memory.consts.clone(),
            output_locs,
            outputs,
            signature: planned.signature,
            layout: Arc::clone(layout),
            bases: Vec::with_capacity(3 + batch_args),
            copies: vec![Vec::new(); batch_args],
            profile,
            timers: vec![Duration::ZERO; planned.memory.kernels.len()],
            phases: vec![("plan", plan), ("codegen", codegen), ("link", link)],
        }))
    }
}
