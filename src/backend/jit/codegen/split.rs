//! Pieces of a large elementwise kernel for the executable's threads.
//!
//! An elementwise kernel computes every element independently, so slicing
//! its iteration space along the outermost axis and running the slices on
//! different threads gives bit-identical results for any thread count.
//! Each piece is the kernel itself with a shorter outer extent and every
//! access moved to the slice's first element, so it is emitted by the same
//! code as a whole kernel and keeps compile-time extents.

use crate::backend::jit::plan::MapKernel;

/// Elements below which a kernel stays whole. Measured on mnist-mlp's step
/// (2 vCPU EPYC): split at 32K elements, its fused Adam update (100K
/// params, 50 µs on one thread) took 80 µs on two, and a 16 µs map 46 µs,
/// because the pool's idle worker has gone to sleep between parallel
/// kernels and waking it costs tens of microseconds. The seed CNN's 3.7M
/// element maps (3 ms) split well.
pub const MIN_SPLIT: usize = 1 << 18;

/// A one-axis slice is cut at multiples of this many elements, so every
/// piece but the last runs whole vectors of an unrolled loop.
const ALIGN: usize = 64;

/// `threads` pieces of `m` (fewer if its outer axis is short), or `None`
/// when it should run whole.
pub fn pieces(m: &MapKernel, threads: usize) -> Option<Vec<MapKernel>> {
    let numel: usize = m.shape.iter().product();
    let outer = m.shape[0];
    let align = if m.shape.len() == 1 { ALIGN } else { 1 };
    let units = outer / align;
    let count = threads.min(units);
    if threads < 2 || numel < MIN_SPLIT || count < 2 {
        return None;
    }
    let bounds: Vec<usize> = (0..=count)
        .map(|i| {
            if i == count {
                outer
            } else {
                units * i / count * align
            }
        })
        .collect();
    Some(bounds.windows(2).map(|w| slice(m, w[0], w[1])).collect())
}

/// The part of `m` over outer indices `lo..hi`.
fn slice(m: &MapKernel, lo: usize, hi: usize) -> MapKernel {
    let mut piece = m.clone();
    piece.shape[0] = hi - lo;
    for a in piece.inputs.iter_mut().chain(piece.outputs.iter_mut()) {
        a.at.offset += lo as isize * a.at.strides[0];
    }
    piece
}
