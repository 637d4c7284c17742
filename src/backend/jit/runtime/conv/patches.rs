//! The patch matrix of a chunk of images (im2col) and its inverse (col2im),
//! through the element strides of either layout.

use super::super::tap;
use super::ConvDesc;

impl ConvDesc {
    /// Calls `f(patch_offset, image_offset, taps)` for every run of
    /// horizontally consecutive filter taps of every patch of the first
    /// `images` images that lie either all inside the image or all in the
    /// padding: `patch_offset` is where the run's first tap (channel 0) goes
    /// in the patch block, `image_offset` where it is in the images (`None`
    /// in the padding). Within a run, tap `t` is `t * k_w` further on in the
    /// block and `t * x_w` in the image. Runs, not single taps, so NHWC
    /// copies `taps * c` contiguous elements at once.
    pub(super) fn for_each_run(
        &self,
        images: usize,
        mut f: impl FnMut(usize, Option<usize>, usize),
    ) {
        let (len, kw) = (self.patch_len(), self.kw);
        for b in 0..images {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    let row = ((b * self.oh + i) * self.ow + j) * len;
                    // Tap `q` reads image column `left + q - pad_left`: the
                    // ones inside the image are `q_lo..q_hi`.
                    let left = j * self.stride_w;
                    let q_lo = self.pad_left.saturating_sub(left).min(kw);
                    let q_hi = (self.w + self.pad_left)
                        .saturating_sub(left)
                        .clamp(q_lo, kw);
                    for p in 0..self.kh {
                        let at = row + p * self.k_h;
                        let Some(y) = tap(i, self.stride_h, p, self.pad_top, self.h) else {
                            f(at, None, kw);
                            continue;
                        };
                        if q_lo > 0 {
                            f(at, None, q_lo);
                        }
                        if q_hi > q_lo {
                            let x = left + q_lo - self.pad_left;
                            let image = b * self.x_n + y * self.x_h + x * self.x_w;
                            f(at + q_lo * self.k_w, Some(image), q_hi - q_lo);
                        }
                        if kw > q_hi {
                            f(at + q_hi * self.k_w, None, kw - q_hi);
                        }
                    }
                }
            }
        }
    }

    /// True when a run of taps is one contiguous block, `taps * c` long, on
    /// both sides (NHWC images with HWIO-ordered patches).
    pub(super) fn runs_contiguous(&self) -> bool {
        self.x_c == 1 && self.k_c == 1 && self.x_w == self.c && self.k_w == self.c
    }

    /// Fills `cols` with the patch matrix of the first `images` images of
    /// `x` (zeros for padding).
    pub(super) fn im2col(&self, x: &[f32], images: usize, cols: &mut [f32]) {
        let contiguous = self.runs_contiguous();
        let (c, k_w, k_c, x_w, x_c) = (self.c, self.k_w, self.k_c, self.x_w, self.x_c);
        self.for_each_run(images, |to, from, taps| match from {
            Some(from) if contiguous => {
                let n = taps * c;
                cols[to..to + n].copy_from_slice(&x[from..from + n]);
            }
            Some(from) => {
                for ch in 0..c {
                    for t in 0..taps {
                        cols[to + t * k_w + ch * k_c] = x[from + t * x_w + ch * x_c];
                    }
                }
            }
            None => {
                for ch in 0..c {
                    for t in 0..taps {
                        cols[to + t * k_w + ch * k_c] = 0.0;
                    }
                }
            }
        });
    }

    /// `dx = 0` (all of it: exactly the chunk's `images` images), then adds
    /// every patch-matrix entry of `cols` back onto the image element it
    /// was read from (overlapping windows sum).
    pub(super) fn col2im(&self, cols: &[f32], images: usize, dx: &mut [f32]) {
        dx.fill(0.0);
        let contiguous = self.runs_contiguous();
        let (c, k_w, k_c, x_w, x_c) = (self.c, self.k_w, self.k_c, self.x_w, self.x_c);
        self.for_each_run(images, |from, to, taps| match to {
            Some(to) if contiguous => {
                let n = taps * c;
                for (d, s) in dx[to..to + n].iter_mut().zip(&cols[from..from + n]) {
                    *d += s;
                }
            }
            Some(to) => {
                for ch in 0..c {
                    for t in 0..taps {
                        dx[to + t * x_w + ch * x_c] += cols[from + t * k_w + ch * k_c];
                    }
                }
            }
            None => {}
        });
    }
}
