//! Routines that generated code calls for the ops it does not emit inline:
//! contractions through a tuned GEMM ([`gemm`], [`conv`]) and max pooling
//! ([`pool`]).
//!
//! Each routine comes twice: a safe Rust function on slices, which checks
//! every extent its descriptor implies, and a `tri_*` `extern "C"` shim on
//! raw pointers that generated code calls, which rebuilds the slices from
//! the descriptor and calls the safe function. A descriptor is `#[repr(C)]`
//! so the planner can place it in the code's constant data and pass its
//! address. A panic inside a shim (a descriptor that does not fit its
//! buffers) aborts the process: it cannot unwind through generated code.

pub mod conv;
pub mod epilogue;
pub mod gemm;
pub mod pool;

pub use conv::{
    conv2d, conv2d_filter_and_bias_grad, conv2d_filter_grad, conv2d_input_grad,
    conv2d_input_grad_then, conv2d_then, tri_conv2d, tri_conv2d_filter_bias_grad,
    tri_conv2d_filter_grad, tri_conv2d_input_grad, ConvDesc,
};
pub use epilogue::{
    matmul_then, matmul_units, tri_conv2d_epilogue, tri_conv2d_input_grad_epilogue,
    tri_matmul_epilogue, tri_maxpool2d_grad_argmax_epilogue, tri_maxpool2d_grad_epilogue, Epilogue,
    EpilogueFn,
};
pub use gemm::{matmul, tri_matmul, MatMulDesc};
pub use pool::{
    maxpool2d, maxpool2d_argmax, maxpool2d_grad, maxpool2d_grad_argmax, maxpool2d_grad_argmax_then,
    maxpool2d_grad_then, tri_maxpool2d, tri_maxpool2d_argmax, tri_maxpool2d_grad,
    tri_maxpool2d_grad_argmax, PoolDesc,
};

/// Every shim by the name generated code imports it under, for
/// `JITBuilder::symbol`.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![
        ("tri_matmul", tri_matmul as *const u8),
        ("tri_conv2d", tri_conv2d as *const u8),
        ("tri_conv2d_input_grad", tri_conv2d_input_grad as *const u8),
        (
            "tri_conv2d_filter_grad",
            tri_conv2d_filter_grad as *const u8,
        ),
        (
            "tri_conv2d_filter_bias_grad",
            tri_conv2d_filter_bias_grad as *const u8,
        ),
        ("tri_maxpool2d", tri_maxpool2d as *const u8),
        ("tri_maxpool2d_grad", tri_maxpool2d_grad as *const u8),
        ("tri_maxpool2d_argmax", tri_maxpool2d_argmax as *const u8),
        (
            "tri_maxpool2d_grad_argmax",
            tri_maxpool2d_grad_argmax as *const u8,
        ),
        ("tri_matmul_epilogue", tri_matmul_epilogue as *const u8),
        ("tri_conv2d_epilogue", tri_conv2d_epilogue as *const u8),
        (
            "tri_conv2d_input_grad_epilogue",
            tri_conv2d_input_grad_epilogue as *const u8,
        ),
        (
            "tri_maxpool2d_grad_epilogue",
            tri_maxpool2d_grad_epilogue as *const u8,
        ),
        (
            "tri_maxpool2d_grad_argmax_epilogue",
            tri_maxpool2d_grad_argmax_epilogue as *const u8,
        ),
    ]
}

/// The image coordinate of window tap `p` of output position `i` on an axis
/// of `extent` elements with `pad` implicit positions before it, or `None`
/// in the padding.
fn tap(i: usize, stride: usize, p: usize, pad: usize, extent: usize) -> Option<usize> {
    (i * stride + p).checked_sub(pad).filter(|&y| y < extent)
}

/// Row-major element strides of the rank-4 `shape`, entry `i` being the
/// stride of axis `perm[i]` (a `geometry` permutation to NHWC or HWIO), so
/// kernels index every layout in NHWC/HWIO terms.
fn permuted_strides(shape: &[usize], perm: [usize; 4]) -> [usize; 4] {
    let mut strides = [1; 4];
    for a in (0..3).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    perm.map(|a| strides[a])
}

/// Elements spanned by a strided box of `(extent, stride)` axes: one past
/// its last offset, or 0 when it is empty.
fn span(axes: [(usize, usize); 4]) -> usize {
    if axes.iter().any(|&(n, _)| n == 0) {
        return 0;
    }
    1 + axes.iter().map(|&(n, s)| (n - 1) * s).sum::<usize>()
}

/// The slice of `len` elements at `p`; an empty slice whatever `p` is when
/// `len` is 0, since generated code may pass null for an empty buffer.
///
/// # Safety
///
/// When `len > 0`, `p` is valid for reads of `len` elements, not written
/// through any other pointer while the slice lives.
// SAFETY: callers keep the `# Safety` invariant: `p` covers `len` elements.
unsafe fn slice<'a>(p: *const f32, len: usize) -> &'a [f32] {
    if len == 0 {
        return &[];
    }
    // SAFETY: `len > 0`, and the caller guarantees `p` covers `len` elements.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// The mutable slice of `len` elements at `p`, empty when `len` is 0.
///
/// # Safety
///
/// When `len > 0`, `p` is valid for reads and writes of `len` elements and
/// no other pointer accesses them while the slice lives.
// SAFETY: callers keep the `# Safety` invariant: `p` covers `len` elements,
// exclusively.
unsafe fn slice_mut<'a>(p: *mut f32, len: usize) -> &'a mut [f32] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: `len > 0`, and the caller guarantees `p` covers `len`
    // elements exclusively.
    unsafe { std::slice::from_raw_parts_mut(p, len) }
}
