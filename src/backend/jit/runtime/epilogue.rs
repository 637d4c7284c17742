//! Per-chunk epilogues: an elementwise map the planner moved into a
//! runtime routine (`plan/epilogue.rs`), called on each range of the
//! routine's output as soon as that range is final, from the thread that
//! computed it.
//!
//! A routine's output is a run of `units` equal units (images of a conv
//! output or of a pool gradient, rows of a product). The routine calls
//! `epilogue(chunk, lo, hi)` once per finished range `lo..hi` of units,
//! `chunk` being exactly those units of the output; the ranges of one call
//! of the routine are disjoint and cover every unit. For generated code
//! the epilogue is a compiled function `fn(bases, src, lo, hi)` that
//! computes its map over units `lo..hi`, reading the producer's output
//! through `src` (the chunk) and everything else through the run's
//! base-pointer table. The `tri_*_epilogue` shims here wrap it.

use rayon::prelude::*;

use super::conv::{conv2d_input_grad_then, conv2d_then, ConvDesc};
use super::gemm::{matmul, MatMulDesc};
use super::pool::{maxpool2d_grad_argmax_then, maxpool2d_grad_then, PoolDesc};

/// A routine's epilogue: `(chunk, lo, hi)` for each finished unit range.
pub type Epilogue<'a> = Option<&'a (dyn Fn(&mut [f32], usize, usize) + Sync)>;

/// A compiled epilogue: `(bases, src, lo, hi)`, `src` pointing at unit
/// `lo` of the producer's output.
pub type EpilogueFn = unsafe extern "C" fn(*const *mut f32, *mut f32, usize, usize);

/// Elements of a product's output below which its epilogue runs on one
/// thread, as the elementwise kernels do (`codegen/split.rs` MIN_SPLIT).
const PARALLEL_MIN: usize = 1 << 18;

/// How a product's epilogue sees its output: `(units, unit)`. Its rows
/// (`batch m` units of `n`) when the epilogue runs in row blocks on
/// threads; else the whole output as one unit, so the epilogue is one loop
/// over all of it, as the separate map was (rows of one or ten elements
/// would each be a scalar tail).
pub fn matmul_units(desc: &MatMulDesc) -> (usize, usize) {
    let (rows, n) = (desc.batch * desc.m, desc.n);
    if desc.threads > 1 && rows * n >= PARALLEL_MIN {
        (rows, n)
    } else {
        (1, rows * n)
    }
}

/// `c = op(a) x op(b)`, then the epilogue over `c` in the units of
/// [`matmul_units`]: rows in blocks on the current rayon pool when there
/// are several, else all at once. (The product is computed whole first:
/// its row blocks are inside the GEMM.)
pub fn matmul_then(
    desc: &MatMulDesc,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    workspace: &mut [f32],
    epi: Epilogue,
) {
    matmul(desc, a, b, c, workspace);
    let Some(epi) = epi else {
        return;
    };
    let (units, unit) = matmul_units(desc);
    let c = &mut c[..units * unit];
    if c.is_empty() {
        return;
    }
    if units == 1 || rayon::current_thread_index().is_none() {
        return epi(c, 0, units);
    }
    let block = units.div_ceil(desc.threads);
    c.par_chunks_mut(block * unit)
        .enumerate()
        .for_each(|(i, c)| epi(c, i * block, i * block + c.len() / unit));
}

/// The compiled epilogue `f` over the run's base-pointer table `bases`,
/// as a routine's epilogue.
///
/// # Safety
///
/// `f` is a function generated for this plan's epilogue and `bases` the
/// run's table (valid while the routine runs); the routine calls the
/// result only with chunks of the producer's output it has finished.
// SAFETY: unsafe to call because the closure it returns calls `f`
// trusting `bases`; the invariant is the `# Safety` section above.
unsafe fn compiled(
    f: EpilogueFn,
    bases: *const *mut f32,
) -> impl Fn(&mut [f32], usize, usize) + Sync {
    // As an integer, so that the closure is `Sync`.
    let bases = bases as usize;
    move |chunk: &mut [f32], lo: usize, hi: usize| {
        // Why the call is sound: `f` reads the producer's output only
        // through `src`, at units `lo..hi`, which is exactly `chunk` (the
        // routine's finished range, borrowed exclusively for this call);
        // its other reads and writes, at units `lo..hi` of its map, go
        // through `bases` (valid for the run, `compiled`'s contract) to
        // buffers the memory plan keeps apart from every buffer live at the
        // producer; concurrent calls have disjoint ranges.
        // SAFETY: `f` touches only `chunk` and its own disjoint units.
        unsafe { f(bases as *const *mut f32, chunk.as_mut_ptr(), lo, hi) }
    }
}

/// [`super::tri_matmul`] then the compiled epilogue `f` over `bases`.
///
/// # Safety
///
/// As for `tri_matmul`, and `f`, `bases` as for [`compiled`].
pub unsafe extern "C" fn tri_matmul_epilogue(
    desc: *const MatMulDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    workspace: *mut f32,
    f: EpilogueFn,
    bases: *const *mut f32,
) {
    // SAFETY: the caller keeps `tri_matmul`'s contract for the descriptor,
    // the three buffers and the workspace, and `compiled`'s for `f` and
    // `bases`.
    unsafe {
        let d = &*desc;
        let a = super::slice(a, d.a_len());
        let b = super::slice(b, d.b_len());
        let c = super::slice_mut(c, d.c_len());
        let workspace = super::slice_mut(workspace, d.workspace_len());
        matmul_then(d, a, b, c, workspace, Some(&compiled(f, bases)));
    }
}

/// [`super::tri_conv2d`] then the compiled epilogue per chunk.
///
/// # Safety
///
/// As for `tri_conv2d`, and `f`, `bases` as for [`compiled`].
pub unsafe extern "C" fn tri_conv2d_epilogue(
    desc: *const ConvDesc,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    scratch: *mut f32,
    f: EpilogueFn,
    bases: *const *mut f32,
) {
    // SAFETY: as for `tri_conv2d`, and `compiled`'s contract for `f`.
    unsafe {
        let d = &*desc;
        let x = super::slice(x, d.image_len());
        let w = super::slice(w, d.filter_len());
        let y = super::slice_mut(y, d.output_len());
        let scratch = super::slice_mut(scratch, d.scratch_len());
        conv2d_then(d, x, w, y, scratch, Some(&compiled(f, bases)));
    }
}

/// [`super::tri_conv2d_input_grad`] then the compiled epilogue per chunk.
///
/// # Safety
///
/// As for `tri_conv2d_input_grad`, and `f`, `bases` as for [`compiled`].
pub unsafe extern "C" fn tri_conv2d_input_grad_epilogue(
    desc: *const ConvDesc,
    dy: *const f32,
    w: *const f32,
    dx: *mut f32,
    scratch: *mut f32,
    f: EpilogueFn,
    bases: *const *mut f32,
) {
    // SAFETY: as for `tri_conv2d_input_grad`, and `compiled`'s contract.
    unsafe {
        let d = &*desc;
        let dy = super::slice(dy, d.output_len());
        let w = super::slice(w, d.filter_len());
        let dx = super::slice_mut(dx, d.image_len());
        let scratch = super::slice_mut(scratch, d.scratch_len());
        conv2d_input_grad_then(d, dy, w, dx, scratch, Some(&compiled(f, bases)));
    }
}

/// [`super::tri_maxpool2d_grad`] then the compiled epilogue per image.
///
/// # Safety
///
/// As for `tri_maxpool2d_grad`, and `f`, `bases` as for [`compiled`].
pub unsafe extern "C" fn tri_maxpool2d_grad_epilogue(
    desc: *const PoolDesc,
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
    f: EpilogueFn,
    bases: *const *mut f32,
) {
    // SAFETY: as for `tri_maxpool2d_grad`, and `compiled`'s contract.
    unsafe {
        let d = &*desc;
        let x = super::slice(x, d.image_len());
        let dy = super::slice(dy, d.output_len());
        let dx = super::slice_mut(dx, d.image_len());
        maxpool2d_grad_then(d, x, dy, dx, Some(&compiled(f, bases)));
    }
}

/// [`super::tri_maxpool2d_grad_argmax`] then the compiled epilogue per
/// image.
///
/// # Safety
///
/// As for `tri_maxpool2d_grad_argmax`, and `f`, `bases` as for
/// [`compiled`].
pub unsafe extern "C" fn tri_maxpool2d_grad_argmax_epilogue(
    desc: *const PoolDesc,
    argmax: *const f32,
    dy: *const f32,
    dx: *mut f32,
    f: EpilogueFn,
    bases: *const *mut f32,
) {
    // SAFETY: as for `tri_maxpool2d_grad_argmax`, and `compiled`'s
    // contract.
    unsafe {
        let d = &*desc;
        let argmax = super::pool::bytes(argmax, d.argmax_bytes());
        let dy = super::slice(dy, d.output_len());
        let dx = super::slice_mut(dx, d.image_len());
        maxpool2d_grad_argmax_then(d, argmax, dy, dx, Some(&compiled(f, bases)));
    }
}
