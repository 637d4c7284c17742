//! The direct forward conv ([`super::direct`]) with AVX-512 intrinsics:
//! 32 output channels of up to [`PIXELS`] horizontally adjacent pixels in
//! 16 vector registers, each tap's filter row loaded once for all of them.
//!
//! LLVM keeps the portable loop of `direct.rs` on 256-bit vectors even with
//! AVX-512 enabled (73 GFLOP/s either way on conv1), so this kernel spells
//! the 16-lane FMAs out: 104 GFLOP/s. Every output sums its window's taps
//! in tap order from zero, skipping taps in the padding, with one fused
//! multiply-add per tap: the same arithmetic, so the same bits, as the
//! portable loop.

use super::super::tap;
use super::outer::has_avx512;
use super::ConvDesc;

/// Output channels of one register block: two 16-lane vectors.
const BLOCK_O: usize = 32;

/// Pixels whose sums are held at once: `2 * PIXELS` accumulators. On
/// conv1 (one thread) 12 pixels spilled registers, 55 GFLOP/s; 6 ran at 92,
/// 8 at 104.
const PIXELS: usize = 8;

/// The longest window (taps times input channels) the kernel takes: its
/// tap tables live on the stack.
const MAX_LEN: usize = 256;

impl ConvDesc {
    /// True when [`direct_forward_avx512`] runs the direct forward conv: a
    /// multiple of 32 output channels, a window of at most [`MAX_LEN`]
    /// elements, and a CPU with AVX-512F. Called only where
    /// [`ConvDesc::use_direct`] holds.
    pub(super) fn use_direct512(&self) -> bool {
        self.o.is_multiple_of(BLOCK_O) && self.patch_len() <= MAX_LEN && has_avx512()
    }
}

/// Where a window's taps are, in tap order: `x[pixel + image[t]]` times the
/// filter row at `w[filter[t]]`, for the first `len` entries.
struct Taps {
    image: [usize; MAX_LEN],
    filter: [usize; MAX_LEN],
    len: usize,
}

impl Taps {
    fn new() -> Taps {
        Taps {
            image: [0; MAX_LEN],
            filter: [0; MAX_LEN],
            len: 0,
        }
    }

    fn push(&mut self, image: usize, filter: usize) {
        self.image[self.len] = image;
        self.filter[self.len] = filter;
        self.len += 1;
    }
}

/// `y` (one chunk's `images` images, NHWC) from `x` (the same images).
/// Only called when [`ConvDesc::use_direct`] and
/// [`ConvDesc::use_direct512`] hold.
pub(super) fn direct_forward_avx512(
    d: &ConvDesc,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    images: usize,
) {
    // Every tap of a window wholly inside the image, relative to the
    // window's first element.
    let mut full = Taps::new();
    for p in 0..d.kh {
        for q in 0..d.kw {
            for ch in 0..d.c {
                full.push(
                    p * d.x_h + q * d.x_w + ch,
                    p * d.f_h + q * d.f_w + ch * d.f_i,
                );
            }
        }
    }
    let step = d.stride_w * d.x_w;
    let mut edge = Taps::new();
    for b in 0..images {
        for i in 0..d.oh {
            let top = i * d.stride_h;
            let rows_inside = d.rows_inside(i);
            let mut j = 0;
            while j < d.ow {
                let out = b * d.y_n + i * d.y_h + j * d.y_w;
                if rows_inside && d.cols_inside(j) {
                    let mut end = j + 1;
                    while end < d.ow && end < j + PIXELS && d.cols_inside(end) {
                        end += 1;
                    }
                    let corner = b * d.x_n
                        + (top - d.pad_top) * d.x_h
                        + (j * d.stride_w - d.pad_left) * d.x_w;
                    let run = Run {
                        x: &x[corner..],
                        step,
                        pixels: end - j,
                    };
                    sums(&run, &full, w, d.o, &mut y[out..], d.y_w);
                    j = end;
                    continue;
                }
                // A window touching the padding: its taps inside the image.
                edge.len = 0;
                let mut corner = None;
                for p in 0..d.kh {
                    let Some(row) = tap(i, d.stride_h, p, d.pad_top, d.h) else {
                        continue;
                    };
                    for q in 0..d.kw {
                        let Some(col) = tap(j, d.stride_w, q, d.pad_left, d.w) else {
                            continue;
                        };
                        let at = b * d.x_n + row * d.x_h + col * d.x_w;
                        let first = *corner.get_or_insert(at);
                        for ch in 0..d.c {
                            edge.push(at + ch - first, p * d.f_h + q * d.f_w + ch * d.f_i);
                        }
                    }
                }
                match corner {
                    Some(first) => {
                        let run = Run {
                            x: &x[first..],
                            step: 0,
                            pixels: 1,
                        };
                        sums(&run, &edge, w, d.o, &mut y[out..], d.y_w);
                    }
                    // No tap inside the image: a sum of nothing.
                    None => y[out..out + d.o].fill(0.0),
                }
                j += 1;
            }
        }
    }
}

/// Consecutive output pixels: pixel `p`'s window starts at `x[p * step]`.
struct Run<'a> {
    x: &'a [f32],
    step: usize,
    pixels: usize,
}

/// `y[p * y_step + oc] = sum over taps t of x[p * step + taps.image[t]] *
/// w[taps.filter[t] + oc]` for the run's pixels and every channel `oc < o`.
fn sums(run: &Run<'_>, taps: &Taps, w: &[f32], o: usize, y: &mut [f32], y_step: usize) {
    let len = taps.len;
    let last = |v: &[usize]| v[..len].iter().max().copied().unwrap_or(0);
    let pixels = run.pixels;
    assert!(
        (1..=PIXELS).contains(&pixels)
            && o.is_multiple_of(BLOCK_O)
            && (len == 0 || (pixels - 1) * run.step + last(&taps.image) < run.x.len())
            && (len == 0 || last(&taps.filter) + o <= w.len())
            && (pixels - 1) * y_step + o <= y.len(),
        "direct conv: a run of {pixels} pixels overruns its slices"
    );
    #[cfg(target_arch = "x86_64")]
    {
        assert!(has_avx512(), "AVX-512 direct conv without AVX-512F");
        for c0 in (0..o).step_by(BLOCK_O) {
            macro_rules! go {
                ($($n:literal)*) => {
                    match pixels {
                        // SAFETY: the CPU has AVX-512F, and every tap,
                        // filter row and output row is inside its slice
                        // (both asserted above, with `c0 + 32 <= o`).
                        $($n => unsafe { block::<$n>(run, taps, w, c0, y, y_step) },)*
                        _ => unreachable!("runs hold 1 to {PIXELS} pixels"),
                    }
                };
            }
            go!(1 2 3 4 5 6 7 8)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("use_direct512 is false off x86_64");
}

/// Channels `c0..c0 + 32` of `P` pixels' sums.
///
/// # Safety
///
/// The CPU supports AVX-512F; for every pixel `p < P` and tap `t <
/// taps.len`, `p * run.step + taps.image[t] < run.x.len()` and
/// `taps.filter[t] + c0 + 32 <= w.len()`; `(P - 1) * y_step + c0 + 32 <=
/// y.len()`.
// SAFETY: callers keep the `# Safety` invariant (the CPU feature and the
// extents); every access below is within those extents.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn block<const P: usize>(
    run: &Run<'_>,
    taps: &Taps,
    w: &[f32],
    c0: usize,
    y: &mut [f32],
    y_step: usize,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; P];
    let (x, w, step) = (run.x.as_ptr(), w.as_ptr(), run.step);
    let len = taps.len;
    for (&xi, &fi) in taps.image[..len].iter().zip(&taps.filter[..len]) {
        // SAFETY: tap `xi` of each of the `P` pixels and the filter row at
        // `fi + c0..fi + c0 + 32` are inside their slices (the contract).
        unsafe {
            let row = w.add(fi + c0);
            let (w0, w1) = (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(16)));
            for (p, acc) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*x.add(p * step + xi));
                acc[0] = _mm512_fmadd_ps(xv, w0, acc[0]);
                acc[1] = _mm512_fmadd_ps(xv, w1, acc[1]);
            }
        }
    }
    let out = y.as_mut_ptr();
    for (p, acc) in acc.iter().enumerate() {
        // SAFETY: output row `p < P`, channels `c0..c0 + 32` (the contract).
        unsafe {
            let at = out.add(p * y_step + c0);
            _mm512_storeu_ps(at, acc[0]);
            _mm512_storeu_ps(at.add(16), acc[1]);
        }
    }
}
