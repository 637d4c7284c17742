//! Native code and the one place it is called. Everything unsafe about
//! running generated code is in this file.

use cranelift_jit::JITModule;

/// A finalized JIT module and its entry function. Dropping it frees the
/// code, so the only way to run the code is through a live `Code`.
pub struct Code {
    module: Option<JITModule>,
    entry: *const u8,
}

impl Code {
    /// Takes ownership of `module`, whose definitions are finalized and
    /// which holds `entry`, an `extern "C" fn(*const *mut f32) -> i32`.
    pub fn new(module: JITModule, entry: *const u8) -> Code {
        Code {
            module: Some(module),
            entry,
        }
    }

    /// Runs the entry function over the base-pointer table `bases`
    /// (arena, state, constants, batch arrays, in [`Region::slot`] order).
    /// Returns whether the updates were committed.
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
    pub unsafe fn run(&self, bases: &[*mut f32]) -> bool {
        // SAFETY: `entry` was produced by this module for a function of
        // exactly this signature (codegen::entry_function), and the module
        // is alive (it is only freed in Drop).
        let entry: extern "C" fn(*const *mut f32) -> i32 =
            unsafe { std::mem::transmute(self.entry) };
        entry(bases.as_ptr()) == 1
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: nothing can call into the code after this: the only
            // pointer to it is `self.entry`, used only by `run(&self)`.
            unsafe { module.free_memory() };
        }
    }
}
