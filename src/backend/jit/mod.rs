//! The Cranelift JIT backend: the optimized graph lowered to a kernel plan
//! (`plan/`), placed in memory (`plan/memory.rs`), each kernel emitted as
//! CLIF (`codegen/`) and compiled to native code for the host (`isa.rs`).
//! Contractions and pooling call the runtime (`runtime/`); the code runs
//! through `code.rs`, the one unsafe call site.

mod code;
pub mod codegen;
pub mod isa;
pub mod plan;
pub mod profile;
pub mod runtime;
pub mod vmath;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::{bind, check_run, Backend, Binding, Executable};
use crate::compile::{CompiledGraph, OutputRole, Signature};
use crate::error::{Error, Result};
use crate::ir::{verify, Graph, ValueId};
use crate::state::{StateLayout, StateStore};

use code::{Code, Entries};
use codegen::Descriptors;
use plan::memory::{plan_memory, ArgPlace, Loc, MemoryPlan, Region};
pub use profile::{KernelTime, Profile};

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

/// Seconds of single-thread work in a step's parallel kernels below which
/// the step runs on one thread: handing a step to the pool and waking its
/// workers measured 0.15-0.2 ms per step (mnist-mlp at batch 128, whose
/// two split products do 0.6 ms of work and saved 0.18 ms on two threads,
/// ran no faster than on one).
const MIN_PARALLEL_WORK: f64 = 1.0e-3;

/// Whether the step's parallel kernels do enough work to pay for the pool,
/// by rough single-thread rates of this machine kind (contractions ~80
/// GFLOP/s, memory-bound kernels ~15 GB/s).
fn worth_threads(planned: &Planned) -> bool {
    use plan::Kernel;
    let seconds: f64 = planned
        .memory
        .kernels
        .iter()
        .map(|k| {
            let (flops, bytes) = profile::work(&planned.graph, k);
            let parallel = match k {
                Kernel::Map(m) => m.shape.iter().product::<usize>() >= codegen::MIN_SPLIT,
                Kernel::MatMul { desc, .. } => desc.parallel(),
                Kernel::Conv { desc, .. } => desc.threads > 1 && desc.chunks() > 1,
                Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => {
                    desc.threads > 1 && desc.n > 1
                }
                _ => false,
            };
            match parallel {
                false => 0.0,
                true if flops > 0.0 => flops / 80e9,
                true => bytes / 15e9,
            }
        })
        .sum();
    seconds >= MIN_PARALLEL_WORK
}

/// Whether any kernel runs on more than one thread: a split elementwise
/// kernel, or a runtime call whose descriptor splits. Only then does a run
/// enter the executable's pool, since entering hands the step to a pool
/// thread and back (measured 5-20 µs; linreg's whole step is 1 µs).
fn uses_threads(kernels: &[plan::Kernel], pieces: &[usize]) -> bool {
    use plan::Kernel;
    kernels.iter().zip(pieces).any(|(k, &p)| {
        p > 1
            || match k {
                Kernel::MatMul { desc, .. } => desc.parallel(),
                Kernel::Conv { desc, .. } => desc.threads > 1,
                Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => desc.threads > 1,
                _ => false,
            }
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
        let mut threads = self.threads;
        let mut planned = plan_graph(compiled.clone(), layout, threads)?;
        if threads > 1 && !worth_threads(&planned) {
            threads = 1;
            planned = plan_graph(compiled, layout, threads)?;
        }
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
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(self.threads)
                .thread_name(|i| format!("triceratops-jit-{i}"))
                .build()
                .map_err(|e| Error::Jit(format!("starting {} threads: {e}", self.threads)))?;
            Some(pool)
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

/// A compiled graph: its code, the memory the code was compiled against,
/// and where to read each output.
struct Compiled {
    code: Code,
    /// Read by the code through addresses embedded in it.
    _descriptors: Descriptors,
    /// The executable's own threads (`threads > 1`), alive as long as it.
    pool: Option<rayon::ThreadPool>,
    arena: Vec<f32>,
    consts: Vec<f32>,
    /// Where each output is, and its array (rewritten by every run).
    output_locs: Vec<Loc>,
    outputs: Vec<ArrayD<f32>>,
    signature: Signature,
    layout: Arc<StateLayout>,
    /// The base-pointer table, refilled each run (its capacity is kept).
    bases: Vec<*mut f32>,
    /// Contiguous copies of batch arrays that arrive strided.
    copies: Vec<Vec<f32>>,
    /// Per-kernel times, when compiled with profiling.
    profile: Option<Profile>,
    /// Scratch for one run's kernel times.
    timers: Vec<Duration>,
    /// How long each compile phase took.
    phases: Vec<(&'static str, Duration)>,
}

impl Compiled {
    /// Copies the outputs that live in the state region (`early`, before
    /// the code runs) or elsewhere (after it) into their arrays.
    fn read_outputs(&mut self, batch: &[ArrayViewD<f32>], state: &StateStore, early: bool) {
        for (out, loc) in self.outputs.iter_mut().zip(&self.output_locs) {
            if (loc.region == Region::State) != early {
                continue;
            }
            let n = out.len();
            let data = match loc.region {
                Region::Arena => &self.arena[loc.offset..loc.offset + n],
                Region::State => &state.as_slice()[loc.offset..loc.offset + n],
                Region::Const => &self.consts[loc.offset..loc.offset + n],
                Region::Batch(k) => match batch[k].as_slice() {
                    Some(s) => &s[..n],
                    None => &self.copies[k][..n],
                },
            };
            out.as_slice_mut()
                .expect("outputs are standard-layout")
                .copy_from_slice(data);
        }
    }
}

impl Executable for Compiled {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn outputs(&self) -> &[ArrayD<f32>] {
        &self.outputs
    }

    fn run_in_place(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<bool> {
        check_run(&self.signature, &self.layout, batch, state)?;
        // The code reads batch arrays as contiguous row-major buffers.
        for (a, copy) in batch.iter().zip(&mut self.copies) {
            copy.clear();
            if a.as_slice().is_none() {
                copy.extend(a.iter().copied());
            }
        }
        // An output in the state region is a state argument: its value as
        // of the step's start, read before the code updates the store.
        self.read_outputs(batch, state, true);
        self.bases.clear();
        self.bases.extend([
            self.arena.as_mut_ptr(),
            state.as_mut_slice().as_mut_ptr(),
            self.consts.as_ptr() as *mut f32,
        ]);
        for (a, copy) in batch.iter().zip(&self.copies) {
            let data = match a.as_slice() {
                Some(s) => s.as_ptr(),
                None => copy.as_ptr(),
            };
            // Batch arrays and constants are only read by the code.
            self.bases.push(data as *mut f32);
        }
        let timers = self.profile.is_some().then_some(&mut self.timers[..]);
        // SAFETY: check_run verified every batch array's shape against the
        // signature and that `state` has the layout this code was compiled
        // for; the arena and constants are this executable's own, sized
        // by the same memory plan as the code; all of them stay borrowed
        // until `run` returns.
        let committed = unsafe { self.code.run(self.pool.as_ref(), &self.bases, timers) };
        if let Some(profile) = &mut self.profile {
            for (k, t) in profile.kernels.iter_mut().zip(&mut self.timers) {
                k.samples.push(std::mem::take(t));
            }
        }
        self.read_outputs(batch, state, false);
        Ok(committed)
    }

    fn profile(&self) -> Option<Profile> {
        self.profile.clone()
    }

    fn compile_phases(&self) -> Vec<(&'static str, Duration)> {
        self.phases.clone()
    }
}
