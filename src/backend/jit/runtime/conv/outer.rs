//! The filter gradient of a conv with a small filter (conv1: 27 taps x 32
//! output channels) as a sum of outer products held in AVX-512 registers,
//! read straight from the NHWC image: no patch matrix.
//!
//! `dw[t, oc] = sum over pixels r of patch(r)[t] * dy[r, oc]` is a GEMM
//! with a tiny `[patch_len, o]` result and a huge `k` (every output pixel
//! of the batch). Generic GEMMs run that shape far below their peak, and
//! writing the patch matrix cost as much as the product (perf: im2col and
//! its short memmoves 40% of conv1's filter gradient). Here a block of up
//! to [`MAX_TAPS`] taps times 32 channels stays in 28 vector registers
//! while a row of output pixels streams by: per pixel, two loads of `dy`
//! and one broadcast image element per tap feed two FMAs each. A pixel
//! whose window lies wholly in the image reads its taps in place (kh runs
//! of `kw * c` contiguous elements); one touching the padding reads them
//! from a small zero-padded copy. Every sum runs over the chunk's pixels
//! in order, from zero, so the bits depend on the chunk alone.

use super::super::tap;
use super::ConvDesc;

/// Output channels of one register block: two 16-lane vectors.
const BLOCK_O: usize = 32;

/// Taps of one register block: `2 * MAX_TAPS` accumulators, plus the two
/// `dy` vectors and a broadcast, fill AVX-512's 32 vector registers.
const MAX_TAPS: usize = 14;

/// Patch lengths up to which the outer-product kernel runs: two tap blocks.
/// Conv2's 288 taps would stream each row of pixels 21 times; im2col + GEMM
/// runs it at 100+ GFLOP/s.
const MAX_PATCH_LEN: usize = 2 * MAX_TAPS;

impl ConvDesc {
    /// True when the filter gradient runs as [`outer_filter_grad`]: a small
    /// filter, NHWC image and output with HWIO-ordered taps (contiguous
    /// runs), a multiple of 32 output channels, and a CPU with AVX-512F.
    pub(super) fn use_outer(&self) -> bool {
        let len = self.patch_len();
        let nhwc_out = self.y_c == 1
            && self.y_w == self.o
            && self.y_h == self.ow * self.y_w
            && self.y_n == self.oh * self.y_h;
        (1..=MAX_PATCH_LEN).contains(&len)
            && self.o.is_multiple_of(BLOCK_O)
            && self.runs_contiguous()
            && self.k_h == self.kw * self.c
            && nhwc_out
            && has_avx512()
    }
}

/// Whether the CPU has AVX-512F (the intrinsics kernels here and in
/// `direct512.rs` need it).
#[cfg(target_arch = "x86_64")]
pub(super) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn has_avx512() -> bool {
    false
}

/// One tap block: its first tap, and where each of its taps sits relative
/// to a pixel's window corner, in the image and in a patch copy.
struct TapBlock {
    first: usize,
    in_image: [usize; MAX_TAPS],
    in_patch: [usize; MAX_TAPS],
    taps: usize,
}

/// `partial[t * o + oc]` = the sum over the pixels of images `0..images`
/// (of `x` and `dy`, which start at the chunk's first image) of tap `t` of
/// the pixel's window times `dy[pixel, oc]`, overwriting `partial`'s first
/// `patch_len * o` elements. Only called when [`ConvDesc::use_outer`]
/// holds.
pub(super) fn outer_filter_grad(
    d: &ConvDesc,
    x: &[f32],
    dy: &[f32],
    images: usize,
    partial: &mut [f32],
) {
    let (len, o) = (d.patch_len(), d.o);
    let partial = &mut partial[..len * o];
    partial.fill(0.0);
    let run = d.kw * d.c;
    let block = |first: usize| {
        let taps = len.saturating_sub(first).min(MAX_TAPS);
        let mut block = TapBlock {
            first,
            in_image: [0; MAX_TAPS],
            in_patch: [0; MAX_TAPS],
            taps,
        };
        for k in 0..taps {
            let t = first + k;
            block.in_image[k] = (t / run) * d.x_h + t % run;
            block.in_patch[k] = t;
        }
        block
    };
    // At most two blocks (`MAX_PATCH_LEN`); an array, so nothing is
    // allocated per call.
    let pair = [block(0), block(MAX_TAPS)];
    let blocks = &pair[..len.div_ceil(MAX_TAPS)];
    let mut patch = [0.0f32; MAX_PATCH_LEN];
    let step = d.stride_w * d.x_w;
    for b in 0..images {
        for i in 0..d.oh {
            let top = i * d.stride_h;
            let rows_inside = d.rows_inside(i);
            let mut j = 0;
            while j < d.ow {
                let pixel_dy = b * d.y_n + i * d.y_h + j * d.y_w;
                if rows_inside && d.cols_inside(j) {
                    // A run of pixels whose windows are all inside.
                    let mut end = j + 1;
                    while end < d.ow && d.cols_inside(end) {
                        end += 1;
                    }
                    let corner = b * d.x_n
                        + (top - d.pad_top) * d.x_h
                        + (j * d.stride_w - d.pad_left) * d.x_w;
                    for block in blocks {
                        let src = Source {
                            x: &x[corner..],
                            step,
                            offsets: &block.in_image,
                        };
                        accumulate(src, &dy[pixel_dy..], end - j, block, o, partial);
                    }
                    j = end;
                    continue;
                }
                d.window_copy(x, b, i, j, &mut patch[..len]);
                for block in blocks {
                    let src = Source {
                        x: &patch[..len],
                        step: 0,
                        offsets: &block.in_patch,
                    };
                    accumulate(src, &dy[pixel_dy..], 1, block, o, partial);
                }
                j += 1;
            }
        }
    }
}

impl ConvDesc {
    /// The window of output pixel `(b, i, j)` as a patch row (HWIO tap
    /// order, zeros for the padding).
    fn window_copy(&self, x: &[f32], b: usize, i: usize, j: usize, patch: &mut [f32]) {
        let c = self.c;
        for p in 0..self.kh {
            for q in 0..self.kw {
                let at = (p * self.kw + q) * c;
                let row = tap(i, self.stride_h, p, self.pad_top, self.h);
                let col = tap(j, self.stride_w, q, self.pad_left, self.w);
                match row.zip(col) {
                    Some((y, z)) => {
                        let from = b * self.x_n + y * self.x_h + z * self.x_w;
                        patch[at..at + c].copy_from_slice(&x[from..from + c]);
                    }
                    None => patch[at..at + c].fill(0.0),
                }
            }
        }
    }
}

/// Where the taps of consecutive pixels are: pixel `p`'s tap `k` of a block
/// at `x[p * step + offsets[k]]`.
struct Source<'a> {
    x: &'a [f32],
    step: usize,
    offsets: &'a [usize; MAX_TAPS],
}

/// Adds the outer products of `pixels` pixels (taps from `src`, `dy` rows
/// `o` apart from the slice's start) into `block`'s rows of `partial`,
/// every output channel, pixel after pixel.
fn accumulate(
    src: Source<'_>,
    dy: &[f32],
    pixels: usize,
    block: &TapBlock,
    o: usize,
    partial: &mut [f32],
) {
    let last_tap = src.offsets[..block.taps].iter().max().copied().unwrap_or(0);
    assert!(
        pixels > 0
            && (pixels - 1) * src.step + last_tap < src.x.len()
            && (pixels - 1) * o + o <= dy.len()
            && (block.first + block.taps) * o <= partial.len()
            && o.is_multiple_of(BLOCK_O)
            && block.taps <= MAX_TAPS,
        "outer filter gradient: {pixels} pixels overrun their slices"
    );
    #[cfg(target_arch = "x86_64")]
    {
        assert!(has_avx512(), "outer filter gradient without AVX-512F");
        for c0 in (0..o).step_by(BLOCK_O) {
            // SAFETY: the CPU has AVX-512F and every tap, `dy` row and
            // `partial` row the block touches is inside its slice (both
            // asserted above, with `c0 + 32 <= o`).
            unsafe { dispatch(&src, dy, pixels, block, o, c0, partial) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("use_outer is false off x86_64");
}

/// [`block`] instantiated for the block's tap count (1 to 14), each count
/// fully unrolled so the accumulators live in registers.
///
/// # Safety
///
/// As for [`block`].
// SAFETY: callers keep `block`'s `# Safety` invariant, which this only
// forwards.
#[cfg(target_arch = "x86_64")]
unsafe fn dispatch(
    src: &Source<'_>,
    dy: &[f32],
    pixels: usize,
    b: &TapBlock,
    o: usize,
    c0: usize,
    partial: &mut [f32],
) {
    macro_rules! go {
        ($($n:literal)*) => {
            match b.taps {
                // SAFETY: forwarded from the caller.
                $($n => unsafe { block::<$n>(src, dy, pixels, b.first, o, c0, partial) },)*
                _ => unreachable!("a tap block holds 1 to {MAX_TAPS} taps"),
            }
        };
    }
    go!(1 2 3 4 5 6 7 8 9 10 11 12 13 14)
}

/// Taps `first..first + T` times channels `c0..c0 + 32`: loads those rows
/// of `partial`, adds the pixels' outer products, stores them back.
///
/// # Safety
///
/// The CPU supports AVX-512F; for every pixel `p < pixels` and tap `k < T`,
/// `p * src.step + src.offsets[k] < src.x.len()`; `(pixels - 1) * o + c0 +
/// 32 <= dy.len()`; `(first + T) * o <= partial.len()`; `c0 + 32 <= o`.
// SAFETY: callers keep the `# Safety` invariant (the CPU feature and the
// extents); every access below is within those extents.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block<const T: usize>(
    src: &Source<'_>,
    dy: &[f32],
    pixels: usize,
    first: usize,
    o: usize,
    c0: usize,
    partial: &mut [f32],
) {
    use std::arch::x86_64::*;
    let offsets: [usize; T] = std::array::from_fn(|k| src.offsets[k]);
    let out = partial.as_mut_ptr();
    let (x, dy) = (src.x.as_ptr(), dy.as_ptr());
    // SAFETY (all blocks below): every offset is inside its slice by the
    // caller's contract, restated at each access.
    let mut acc: [[__m512; 2]; T] = std::array::from_fn(|k| {
        // SAFETY: row `first + k < first + T`, channels `c0..c0 + 32 <= o`.
        unsafe {
            let row = out.add((first + k) * o + c0);
            [_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16))]
        }
    });
    for p in 0..pixels {
        // SAFETY: pixel `p < pixels`: its `dy` row's channels `c0..c0 + 32`
        // and its taps `p * step + offsets[k]` are inside their slices.
        unsafe {
            let d = dy.add(p * o + c0);
            let (d0, d1) = (_mm512_loadu_ps(d), _mm512_loadu_ps(d.add(16)));
            let at = x.add(p * src.step);
            for (acc, &off) in acc.iter_mut().zip(&offsets) {
                let xt = _mm512_set1_ps(*at.add(off));
                acc[0] = _mm512_fmadd_ps(xt, d0, acc[0]);
                acc[1] = _mm512_fmadd_ps(xt, d1, acc[1]);
            }
        }
    }
    for (k, acc) in acc.iter().enumerate() {
        // SAFETY: as for the loads: row `first + k`, channels `c0..c0 + 32`.
        unsafe {
            let row = out.add((first + k) * o + c0);
            _mm512_storeu_ps(row, acc[0]);
            _mm512_storeu_ps(row.add(16), acc[1]);
        }
    }
}
