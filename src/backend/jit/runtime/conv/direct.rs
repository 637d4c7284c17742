//! The direct forward conv for few input channels: no patch matrix, the
//! output channels accumulated in registers (chosen by measurement, see
//! `DIRECT_MAX_CHANNELS`).

use super::super::tap;
use super::direct512::direct_forward_avx512;
use super::ConvDesc;

/// Output channels the direct forward conv accumulates at once, in
/// registers (blocks of twice that where `o` allows: 4 vector chains per
/// pixel, 8 for a pixel pair).
///
/// The direct forward conv (no patch matrix) is for few input channels
/// (conv1: 3), where im2col costs as much as the product and a generic
/// GEMM with `k = 27` runs well below its peak: for each output pixel, the
/// `o` output channels accumulate in registers over the window's taps, one
/// broadcast image element times a contiguous filter row at a time (FMA,
/// vectorized over the output channels). NHWC images with HWIO filters
/// only, `o` a multiple of this, and only where the CPU has AVX2 and FMA
/// (checked at run time).
const DIRECT_BLOCK: usize = 16;

/// Input channels up to which [`ConvDesc::new`] picks the direct forward
/// conv. Measured on one thread at batch 128: conv1 (c = 3) 70-75 GFLOP/s
/// direct against 41-43 by im2col + GEMM; conv2 (c = 32) 55-57 direct
/// against 63-73. (A direct filter gradient for conv1 with `c x 16` sums
/// in registers per tap while `dy` streams ran no faster than im2col +
/// GEMM, 37.4 against 38.3; one with every tap's sums in registers while
/// the pixels stream, `outer.rs`, runs at 100.)
pub(super) const DIRECT_MAX_CHANNELS: usize = 4;

impl ConvDesc {
    /// True when the forward conv runs as [`direct_forward`]: asked for,
    /// and possible for this layout and CPU.
    pub(super) fn use_direct(&self) -> bool {
        self.direct
            && self.runs_contiguous()
            && self.y_c == 1
            && self.f_o == 1
            && self.f_w == self.c * self.f_i
            && self.o > 0
            && self.o.is_multiple_of(DIRECT_BLOCK)
            && has_fma()
    }
}

#[cfg(target_arch = "x86_64")]
fn has_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_fma() -> bool {
    false
}

/// `y` (one chunk's `images` images, NHWC) from `x` (the same images) by
/// the direct loop. Only called when [`ConvDesc::direct`] holds.
pub(super) fn direct_forward(d: &ConvDesc, x: &[f32], w: &[f32], y: &mut [f32], images: usize) {
    if d.use_direct512() {
        return direct_forward_avx512(d, x, w, y, images);
    }
    #[cfg(target_arch = "x86_64")]
    {
        assert!(has_fma(), "direct conv without FMA");
        // SAFETY: the CPU has AVX2 and FMA (asserted just now), all that
        // `direct_forward_fma`'s `target_feature` requires; it is safe code
        // otherwise (every access is bounds checked).
        unsafe { direct_forward_fma(d, x, w, y, images) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    direct_forward_body::<DIRECT_BLOCK>(d, x, w, y, images)
}

/// [`direct_forward_body`] compiled for AVX2 + FMA, so `mul_add` is one
/// `vfmadd` and the channel loop runs on 8-lane vectors.
///
/// # Safety
///
/// The CPU supports AVX2 and FMA.
// SAFETY: callers keep the `# Safety` invariant (the CPU has the features);
// the body is safe code.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn direct_forward_fma(d: &ConvDesc, x: &[f32], w: &[f32], y: &mut [f32], images: usize) {
    if d.o.is_multiple_of(2 * DIRECT_BLOCK) {
        direct_forward_body::<{ 2 * DIRECT_BLOCK }>(d, x, w, y, images)
    } else {
        direct_forward_body::<DIRECT_BLOCK>(d, x, w, y, images)
    }
}

/// Two horizontally adjacent output pixels at a time where both windows
/// lie wholly inside the image (each filter row loaded once for both, and
/// twice the independent FMA chains), one pixel elsewhere.
#[inline(always)]
fn direct_forward_body<const B: usize>(
    d: &ConvDesc,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    images: usize,
) {
    let (c, o, kw) = (d.c, d.o, d.kw);
    let inside = |j: usize| {
        let left = j * d.stride_w;
        left >= d.pad_left && left + kw <= d.w + d.pad_left
    };
    for b in 0..images {
        for i in 0..d.oh {
            let mut j = 0;
            while j < d.ow {
                let out = b * d.y_n + i * d.y_h + j * d.y_w;
                let left = j * d.stride_w;
                if j + 1 < d.ow && inside(j) && inside(j + 1) {
                    let next = d.stride_w * d.x_w;
                    for ob in (0..o).step_by(B) {
                        let mut acc0 = [0.0f32; B];
                        let mut acc1 = [0.0f32; B];
                        for p in 0..d.kh {
                            let Some(row) = tap(i, d.stride_h, p, d.pad_top, d.h) else {
                                continue;
                            };
                            let from = b * d.x_n + row * d.x_h + (left - d.pad_left) * d.x_w;
                            let run0 = &x[from..from + kw * c];
                            let run1 = &x[from + next..from + next + kw * c];
                            let taps = p * d.f_h + ob;
                            for (t, (&x0, &x1)) in run0.iter().zip(run1).enumerate() {
                                let at = taps + t * o;
                                let wv: &[f32; B] = w[at..at + B].try_into().expect("a block");
                                for ((a0, a1), &wk) in acc0.iter_mut().zip(&mut acc1).zip(wv) {
                                    *a0 = x0.mul_add(wk, *a0);
                                    *a1 = x1.mul_add(wk, *a1);
                                }
                            }
                        }
                        y[out + ob..out + ob + B].copy_from_slice(&acc0);
                        let out1 = out + d.y_w + ob;
                        y[out1..out1 + B].copy_from_slice(&acc1);
                    }
                    j += 2;
                    continue;
                }
                let q_lo = d.pad_left.saturating_sub(left).min(kw);
                let q_hi = (d.w + d.pad_left).saturating_sub(left).clamp(q_lo, kw);
                for ob in (0..o).step_by(B) {
                    let mut acc = [0.0f32; B];
                    for p in 0..d.kh {
                        let Some(row) = tap(i, d.stride_h, p, d.pad_top, d.h) else {
                            continue;
                        };
                        // Taps `q_lo..q_hi` of filter row `p` are one run of
                        // `(q_hi - q_lo) * c` elements in the image and of
                        // as many `o`-long rows in the filter.
                        let from = b * d.x_n + row * d.x_h + (left + q_lo - d.pad_left) * d.x_w;
                        let run = &x[from..from + (q_hi - q_lo) * c];
                        let taps = p * d.f_h + q_lo * d.f_w + ob;
                        for (t, &xv) in run.iter().enumerate() {
                            let at = taps + t * o;
                            let wv: &[f32; B] = w[at..at + B].try_into().expect("a block");
                            for (a, &wk) in acc.iter_mut().zip(wv) {
                                *a = xv.mul_add(wk, *a);
                            }
                        }
                    }
                    y[out + ob..out + ob + B].copy_from_slice(&acc);
                }
                j += 1;
            }
        }
    }
}
