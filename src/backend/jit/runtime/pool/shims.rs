//! The C-ABI entry points of the pool routines, for generated code.

use super::{maxpool2d, maxpool2d_argmax, maxpool2d_grad, maxpool2d_grad_argmax, PoolDesc};

/// The C-ABI entry point of [`maxpool2d`]: `(desc, x, y)`.
///
/// # Safety
///
/// `desc` points to a valid [`PoolDesc`]; `x` is valid for reads of
/// `image_len()` elements, `y` for writes of `output_len()` and overlaps
/// nothing else. A pointer may be null when its length is 0.
pub unsafe extern "C" fn tri_maxpool2d(desc: *const PoolDesc, x: *const f32, y: *mut f32) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, `y` disjoint from `x`.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let y = super::super::slice_mut(y, d.output_len());
        maxpool2d(d, x, y);
    }
}

/// The C-ABI entry point of [`maxpool2d_argmax`]: `(desc, x, y, argmax)`,
/// `argmax` being f32 arena space that holds the tap numbers as bytes.
///
/// # Safety
///
/// `desc` points to a valid [`PoolDesc`]; `x` is valid for reads of
/// `image_len()` elements, `y` for writes of `output_len()`, `argmax` for
/// writes of `argmax_len()` (f32 elements); `y` and `argmax` overlap
/// nothing else. A pointer may be null when its length is 0.
pub unsafe extern "C" fn tri_maxpool2d_argmax(
    desc: *const PoolDesc,
    x: *const f32,
    y: *mut f32,
    argmax: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, the outputs disjoint from
    // each other and from `x`.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let y = super::super::slice_mut(y, d.output_len());
        let argmax = bytes_mut(argmax, d.argmax_bytes());
        maxpool2d_argmax(d, x, y, argmax);
    }
}

/// The C-ABI entry point of [`maxpool2d_grad`]: `(desc, x, dy, dx)`.
///
/// # Safety
///
/// `desc` points to a valid [`PoolDesc`]; `x` and `dx` are valid for
/// `image_len()` elements (reads; `dx`: writes), `dy` for reads of
/// `output_len()`, and `dx` overlaps neither input. A pointer may be null
/// when its length is 0.
pub unsafe extern "C" fn tri_maxpool2d_grad(
    desc: *const PoolDesc,
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, `dx` disjoint from the inputs.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let dy = super::super::slice(dy, d.output_len());
        let dx = super::super::slice_mut(dx, d.image_len());
        maxpool2d_grad(d, x, dy, dx);
    }
}

/// The C-ABI entry point of [`maxpool2d_grad_argmax`]: `(desc, argmax, dy,
/// dx)`, `argmax` as [`tri_maxpool2d_argmax`] wrote it.
///
/// # Safety
///
/// `desc` points to a valid [`PoolDesc`]; `argmax` is valid for reads of
/// `argmax_len()` f32 elements, `dy` for reads of `output_len()`, `dx` for
/// writes of `image_len()` and overlaps neither input. A pointer may be
/// null when its length is 0.
pub unsafe extern "C" fn tri_maxpool2d_grad_argmax(
    desc: *const PoolDesc,
    argmax: *const f32,
    dy: *const f32,
    dx: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, `dx` disjoint from the inputs.
    unsafe {
        let d = &*desc;
        let argmax = bytes(argmax, d.argmax_bytes());
        let dy = super::super::slice(dy, d.output_len());
        let dx = super::super::slice_mut(dx, d.image_len());
        maxpool2d_grad_argmax(d, argmax, dy, dx);
    }
}

/// The first `len` bytes of f32 space at `p`; empty when `len` is 0, since
/// generated code may pass null for an empty buffer.
///
/// # Safety
///
/// When `len > 0`, `p` is valid for reads of `len.div_ceil(4)` f32
/// elements, not written through any other pointer while the slice lives.
// SAFETY: callers keep the `# Safety` invariant: `p` covers `len` bytes.
pub(in super::super) unsafe fn bytes<'a>(p: *const f32, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: `len > 0` and the caller guarantees `p` covers at least `len`
    // bytes; any bit pattern is a valid `u8`, and `u8` needs no alignment.
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

/// The first `len` bytes of f32 space at `p`, mutable; empty when `len` is
/// 0.
///
/// # Safety
///
/// When `len > 0`, `p` is valid for reads and writes of `len.div_ceil(4)`
/// f32 elements and no other pointer accesses them while the slice lives.
// SAFETY: callers keep the `# Safety` invariant: `p` covers `len` bytes,
// exclusively.
unsafe fn bytes_mut<'a>(p: *mut f32, len: usize) -> &'a mut [u8] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: `len > 0` and the caller guarantees `p` covers at least `len`
    // bytes exclusively; any bit pattern is a valid `u8` (and f32 after
    // it), and `u8` needs no alignment.
    unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) }
}
