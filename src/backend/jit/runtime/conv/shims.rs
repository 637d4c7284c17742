//! The C-ABI entry points generated code calls for the conv routines.

use super::{conv2d, conv2d_filter_and_bias_grad, conv2d_filter_grad, conv2d_input_grad, ConvDesc};

/// The C-ABI entry point of [`conv2d`]: `(desc, x, w, y, scratch)`.
///
/// # Safety
///
/// `desc` points to a valid [`ConvDesc`] (one [`ConvDesc::new`] built);
/// `x`, `w` are valid for reads of `image_len()` and `filter_len()`
/// elements, `y` for writes of `output_len()`, `scratch` for reads and
/// writes of `scratch_len()`; the two written buffers overlap nothing else.
/// A pointer may be null when its length is 0.
pub unsafe extern "C" fn tri_conv2d(
    desc: *const ConvDesc,
    x: *const f32,
    w: *const f32,
    y: *mut f32,
    scratch: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, with disjoint outputs.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let w = super::super::slice(w, d.filter_len());
        let y = super::super::slice_mut(y, d.output_len());
        let scratch = super::super::slice_mut(scratch, d.scratch_len());
        conv2d(d, x, w, y, scratch);
    }
}

/// The C-ABI entry point of [`conv2d_input_grad`]: `(desc, dy, w, dx,
/// scratch)`.
///
/// # Safety
///
/// `desc` points to a valid [`ConvDesc`]; `dy`, `w` are valid for reads of
/// `output_len()` and `filter_len()` elements, `dx` for writes of
/// `image_len()`, `scratch` for reads and writes of `scratch_len()`; the two
/// written buffers overlap nothing else. A pointer may be null when its
/// length is 0.
pub unsafe extern "C" fn tri_conv2d_input_grad(
    desc: *const ConvDesc,
    dy: *const f32,
    w: *const f32,
    dx: *mut f32,
    scratch: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, with disjoint outputs.
    unsafe {
        let d = &*desc;
        let dy = super::super::slice(dy, d.output_len());
        let w = super::super::slice(w, d.filter_len());
        let dx = super::super::slice_mut(dx, d.image_len());
        let scratch = super::super::slice_mut(scratch, d.scratch_len());
        conv2d_input_grad(d, dy, w, dx, scratch);
    }
}

/// The C-ABI entry point of [`conv2d_filter_grad`]: `(desc, x, dy, dw,
/// scratch)`.
///
/// # Safety
///
/// `desc` points to a valid [`ConvDesc`]; `x`, `dy` are valid for reads of
/// `image_len()` and `output_len()` elements, `dw` for writes of
/// `filter_len()`, `scratch` for reads and writes of `scratch_len()`; the
/// two written buffers overlap nothing else. A pointer may be null when its
/// length is 0.
pub unsafe extern "C" fn tri_conv2d_filter_grad(
    desc: *const ConvDesc,
    x: *const f32,
    dy: *const f32,
    dw: *mut f32,
    scratch: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, with disjoint outputs.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let dy = super::super::slice(dy, d.output_len());
        let dw = super::super::slice_mut(dw, d.filter_len());
        let scratch = super::super::slice_mut(scratch, d.scratch_len());
        conv2d_filter_grad(d, x, dy, dw, scratch);
    }
}

/// The C-ABI entry point of [`conv2d_filter_and_bias_grad`] with a bias
/// gradient.
///
/// # Safety
///
/// As for [`tri_conv2d_filter_grad`], and `db` is valid for writes of `o`
/// elements, disjoint from every other buffer.
pub unsafe extern "C" fn tri_conv2d_filter_bias_grad(
    desc: *const ConvDesc,
    x: *const f32,
    dy: *const f32,
    dw: *mut f32,
    db: *mut f32,
    scratch: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and each pointer covers
    // the length its descriptor method gives, with disjoint outputs.
    unsafe {
        let d = &*desc;
        let x = super::super::slice(x, d.image_len());
        let dy = super::super::slice(dy, d.output_len());
        let dw = super::super::slice_mut(dw, d.filter_len());
        let db = super::super::slice_mut(db, d.o);
        let scratch = super::super::slice_mut(scratch, d.scratch_len());
        conv2d_filter_and_bias_grad(d, x, dy, dw, Some(db), scratch);
    }
}
