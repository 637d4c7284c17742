//! Native code and the one place it is called. Everything unsafe about
//! running generated code is in this file.

use std::time::{Duration, Instant};

use cranelift_jit::JITModule;
use rayon::prelude::*;

/// A kernel: `extern "C" fn(bases)`.
type KernelFn = unsafe extern "C" fn(*const *mut f32);
/// The guard: `extern "C" fn(bases) -> i32`, 1 when the step may commit.
type GuardFn = unsafe extern "C" fn(*const *mut f32) -> i32;

/// The entry points of a finalized module, in plan order.
pub struct Entries {
    /// Per kernel, its function, or its pieces (disjoint, any order).
    pub kernels: Vec<Vec<*const u8>>,
    pub guard: Option<*const u8>,
    /// Where phase 2 (the updates) starts, when there is a guard.
    pub commit_at: Option<usize>,
}

/// A finalized JIT module and its entry points. Dropping it frees the
/// code, so the only way to run the code is through a live `Code`.
pub struct Code {
    module: Option<JITModule>,
    program: Program,
}

/// The entry points as typed function pointers: plain data, shared with
/// the pool's threads, only reachable through a borrow of its `Code`.
struct Program {
    kernels: Vec<Vec<KernelFn>>,
    guard: Option<GuardFn>,
    commit_at: Option<usize>,
}

/// The base-pointer table, shared with the pool's threads while one run
/// lasts.
#[derive(Clone, Copy)]
struct Bases(*const *mut f32);

// SAFETY: the table and the regions it points to outlive the run (the
// caller of `Code::run` keeps them borrowed), and the pieces of one kernel
// that run concurrently write disjoint elements (codegen/split.rs).
unsafe impl Send for Bases {}
// SAFETY: as for Send; the table itself is only read.
unsafe impl Sync for Bases {}

impl Bases {
    /// The table (a method, so closures capture the `Send` wrapper and not
    /// its raw pointer field).
    fn get(self) -> *const *mut f32 {
        self.0
    }
}

impl Code {
    /// Takes ownership of `module`, whose definitions are finalized and
    /// which holds every function in `entries` (kernels of signature
    /// `fn(*const *mut f32)`, the guard `fn(*const *mut f32) -> i32`).
    pub fn new(module: JITModule, entries: Entries) -> Code {
        // SAFETY: each pointer was produced by this module for a function
        // of exactly the transmuted signature (codegen::generate), and the
        // module lives as long as `Code` (it is only freed in Drop).
        let kernel = |p: *const u8| unsafe { std::mem::transmute::<*const u8, KernelFn>(p) };
        let program = Program {
            kernels: entries
                .kernels
                .iter()
                .map(|pieces| pieces.iter().map(|&p| kernel(p)).collect())
                .collect(),
            // SAFETY: as above, for the guard's signature.
            guard: entries
                .guard
                .map(|p| unsafe { std::mem::transmute::<*const u8, GuardFn>(p) }),
            commit_at: entries.commit_at,
        };
        Code {
            module: Some(module),
            program,
        }
    }

    /// Runs the kernels in order over the base-pointer table `bases`
    /// (arena, state, constants, batch arrays, in [`Region::slot`] order),
    /// checking the guard where phase 2 starts, on `pool` if given (the
    /// pieces of a kernel and the runtime's parallel loops use its
    /// threads), else on this thread. Returns whether the updates were
    /// committed. With `timers`, adds each kernel's wall time to its entry.
    ///
    /// # Safety
    /// Every pointer in `bases` must be valid for reads and writes of the
    /// region the memory plan compiled into this code: the arena and
    /// constants of the executable that owns this `Code`, the state store
    /// of the layout it was compiled for, and batch arrays of exactly the
    /// signature's shapes, contiguous. `Executable::run` checks the shapes
    /// and the layout before calling.
    ///
    /// [`Region::slot`]: super::plan::memory::Region::slot
    // SAFETY: unsafe to call because the code trusts `bases` blindly; the
    // invariant callers must keep is the `# Safety` section above.
    pub unsafe fn run(
        &self,
        pool: Option<&rayon::ThreadPool>,
        bases: &[*mut f32],
        timers: Option<&mut [Duration]>,
    ) -> bool {
        let table = Bases(bases.as_ptr());
        let program = &self.program;
        match pool {
            // SAFETY: the caller keeps `bases` valid (# Safety) until
            // `install` returns, which is after every kernel finished.
            Some(pool) => pool.install(move || unsafe { program.run(table, timers) }),
            // SAFETY: as above.
            None => unsafe { program.run(table, timers) },
        }
    }
}

impl Program {
    /// [`Code::run`] on the current thread (and the current rayon pool).
    ///
    /// # Safety
    /// As for [`Code::run`].
    // SAFETY: unsafe because the kernels trust `table` blindly.
    unsafe fn run(&self, table: Bases, mut timers: Option<&mut [Duration]>) -> bool {
        for (k, pieces) in self.kernels.iter().enumerate() {
            // SAFETY: the caller keeps `bases` valid (# Safety).
            if self.commit_at == Some(k) && !unsafe { self.may_commit(table) } {
                return false;
            }
            let start = timers.is_some().then(Instant::now);
            match pieces.as_slice() {
                // SAFETY: `bases` is valid for every region the kernel
                // touches (# Safety); the kernel has this signature (new).
                [whole] => unsafe { whole(table.get()) },
                // Rayon's par_iter runs the pieces on this thread and the
                // pool's other threads, and returns when all are done.
                // SAFETY: as above; the pieces write disjoint elements.
                pieces => pieces
                    .par_iter()
                    .for_each(|piece| unsafe { piece(table.get()) }),
            }
            if let (Some(t), Some(start)) = (timers.as_deref_mut(), start) {
                t[k] += start.elapsed();
            }
        }
        // SAFETY: the caller keeps `bases` valid (# Safety).
        self.commit_at != Some(self.kernels.len()) || unsafe { self.may_commit(table) }
    }

    /// Whether the guard output allows phase 2.
    ///
    /// # Safety
    /// `table` must be valid as for [`Code::run`].
    // SAFETY: unsafe because the guard reads through `table` unchecked.
    unsafe fn may_commit(&self, table: Bases) -> bool {
        let guard = self.guard.expect("a commit point implies a guard");
        // SAFETY: the caller keeps `table` valid; the guard only reads the
        // `finite` output's element.
        unsafe { guard(table.get()) == 1 }
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: nothing can call into the code after this: the only
            // pointers to it are in `self`, used only by `run(&self)`.
            unsafe { module.free_memory() };
        }
    }
}
