//! maxpool2d and its gradient, bit for bit as the reference interpreter
//! (`ir/src/interp/pool.rs`) computes them, for both layouts through
//! element strides.
//!
//! The winner of a window is its first candidate in row-major tap order
//! that no later candidate beats, where `v` beats `best` when `v > best`, or
//! when `v` is NaN and `best` is not: ties keep the earlier element, the
//! first NaN wins, padded positions are never candidates. The gradient adds
//! each `dy` to its window's winner, visiting the windows of one image and
//! channel in row-major order as the interpreter does, so overlapping
//! windows sum in the same order.
//!
//! The forward can record each output's winning tap (its number `p * kw + q`
//! in the window, as the smallest unsigned integer that numbers every tap:
//! [`PoolDesc::tap_bytes`]) so that a gradient of the same pool scatters
//! without comparing anything ([`maxpool2d_argmax`],
//! [`maxpool2d_grad_argmax`]). The taps are stored per output element in
//! NHWC order whatever the layout.
//!
//! With `threads > 1` every routine splits the batch into rayon tasks on
//! the pool it is called in: images own disjoint regions of every buffer
//! (`dx` included), so results are bit-identical for any thread count.
//! Outside a rayon pool the routines run on the caller's thread, so they
//! never start rayon's global pool.

mod shims;
mod winners;

pub(super) use shims::bytes;
pub use shims::{
    tri_maxpool2d, tri_maxpool2d_argmax, tri_maxpool2d_grad, tri_maxpool2d_grad_argmax,
};

use rayon::prelude::*;
pub use winners::warm_threads;
use winners::{with_winners, Winners};

use super::epilogue::Epilogue;
use super::{permuted_strides, span, tap};
use crate::ir::geometry::{self, window};
use crate::ir::op::PoolAttrs;

/// The geometry of one maxpool2d in NHWC terms, plus the element strides of
/// the actual layout. Built by [`PoolDesc::new`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolDesc {
    /// Image extents: batch, rows, columns, channels.
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Window rows and columns.
    pub kh: usize,
    pub kw: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    /// Output rows and columns.
    pub oh: usize,
    pub ow: usize,
    /// Implicit rows above and columns left of the image (`same`).
    pub pad_top: usize,
    pub pad_left: usize,
    /// Element strides of the image (and of `dx`) along n, h, w, c.
    pub x_n: usize,
    pub x_h: usize,
    pub x_w: usize,
    pub x_c: usize,
    /// Element strides of the output (and of `dy`) along n, h, w, c.
    pub y_n: usize,
    pub y_h: usize,
    pub y_w: usize,
    pub y_c: usize,
    /// Threads of the pool the routines run in (1: the caller's thread).
    pub threads: usize,
}

impl PoolDesc {
    /// The maxpool2d of a row-major `image` of this shape in `attrs.layout`,
    /// on one thread.
    pub fn new(image: &[usize], attrs: PoolAttrs) -> PoolDesc {
        let layout = attrs.layout;
        let [n, h, w, c] = geometry::image_dims(image, layout);
        let [kh, kw] = attrs.window;
        let [sh, sw] = attrs.strides;
        let rows = window(h, kh, sh, attrs.padding).expect("pool window fits the image");
        let cols = window(w, kw, sw, attrs.padding).expect("pool window fits the image");
        let perm = geometry::to_nhwc_perm(layout);
        let [x_n, x_h, x_w, x_c] = permuted_strides(image, perm);
        let y_shape = geometry::image_shape([n, rows.out, cols.out, c], layout);
        let [y_n, y_h, y_w, y_c] = permuted_strides(&y_shape, perm);
        PoolDesc {
            n,
            h,
            w,
            c,
            kh,
            kw,
            stride_h: sh,
            stride_w: sw,
            oh: rows.out,
            ow: cols.out,
            pad_top: rows.pad_before,
            pad_left: cols.pad_before,
            x_n,
            x_h,
            x_w,
            x_c,
            y_n,
            y_h,
            y_w,
            y_c,
            threads: 1,
        }
    }

    /// The same pool, its batch split across a pool of `threads` threads
    /// (at least 1).
    pub fn with_threads(self, threads: usize) -> PoolDesc {
        PoolDesc {
            threads: threads.max(1),
            ..self
        }
    }

    /// Elements the image (`x`, `dx`) spans.
    pub fn image_len(&self) -> usize {
        let (n, h, w, c) = (self.n, self.h, self.w, self.c);
        span([(n, self.x_n), (h, self.x_h), (w, self.x_w), (c, self.x_c)])
    }

    /// Elements the output (`y`, `dy`) spans.
    pub fn output_len(&self) -> usize {
        let (n, oh, ow, c) = (self.n, self.oh, self.ow, self.c);
        span([(n, self.y_n), (oh, self.y_h), (ow, self.y_w), (c, self.y_c)])
    }

    /// Bytes of one recorded tap number: 1, 2 or 4, the smallest that
    /// numbers every tap of a window.
    pub fn tap_bytes(&self) -> usize {
        match self.kh * self.kw {
            0..=0x100 => 1,
            0x101..=0x1_0000 => 2,
            _ => 4,
        }
    }

    /// Bytes of the recorded winners: one tap number per output element.
    pub fn argmax_bytes(&self) -> usize {
        self.n * self.oh * self.ow * self.c * self.tap_bytes()
    }

    /// The recorded winners' size in f32 elements (rounded up), for an f32
    /// arena.
    pub fn argmax_len(&self) -> usize {
        self.argmax_bytes().div_ceil(4)
    }

    /// Recorded winners per image, in bytes.
    fn argmax_image(&self) -> usize {
        self.oh * self.ow * self.c * self.tap_bytes()
    }

    /// The image offsets of window `(i, j)`'s taps, row-major, `None` for a
    /// tap in the padding.
    fn tap_offsets(&self, i: usize, j: usize, offsets: &mut [Option<usize>]) {
        for p in 0..self.kh {
            let y = tap(i, self.stride_h, p, self.pad_top, self.h);
            for q in 0..self.kw {
                let xx = tap(j, self.stride_w, q, self.pad_left, self.w);
                offsets[p * self.kw + q] = y.zip(xx).map(|(y, xx)| y * self.x_h + xx * self.x_w);
            }
        }
    }

    /// The winners of window `(i, j)` of the image `x`, one per channel,
    /// taps scanned in row-major order.
    fn window_winners(&self, x: &[f32], i: usize, j: usize, winners: &mut Winners) {
        self.tap_offsets(i, j, &mut winners.offsets);
        let mut started = false;
        for t in 0..winners.offsets.len() {
            let Some(base) = winners.offsets[t] else {
                continue;
            };
            let t = t as u32;
            if !started {
                winners.start(x, base, self.x_c, t);
                started = true;
            } else if self.x_c == 1 {
                // NHWC: the channels are contiguous, a slice the compiler
                // vectorizes without bounds checks.
                winners.challenge(&x[base..base + self.c], t);
            } else {
                winners.challenge_strided(x, base, self.x_c, t);
            }
        }
        // `window` keeps every window's first tap inside the image.
        assert!(started, "every pool window overlaps the image");
    }

    /// `y` (and, when not empty, `argmax`) of one image.
    fn forward_image(&self, x: &[f32], y: &mut [f32], argmax: &mut [u8], winners: &mut Winners) {
        let width = self.tap_bytes();
        for i in 0..self.oh {
            for j in 0..self.ow {
                self.window_winners(x, i, j, winners);
                let out = i * self.y_h + j * self.y_w;
                // The leaders' values are copies of the winners' bits.
                if self.y_c == 1 {
                    y[out..out + self.c].copy_from_slice(&winners.value);
                } else {
                    for (ch, &v) in winners.value.iter().enumerate() {
                        y[out + ch * self.y_c] = v;
                    }
                }
                if !argmax.is_empty() {
                    let k = (i * self.ow + j) * self.c * width;
                    store_taps(&winners.tap, &mut argmax[k..k + self.c * width]);
                }
            }
        }
    }

    /// `dx` of one image, winners recomputed from `x`.
    fn grad_image(&self, x: &[f32], dy: &[f32], dx: &mut [f32], winners: &mut Winners) {
        dx.fill(0.0);
        for i in 0..self.oh {
            for j in 0..self.ow {
                self.window_winners(x, i, j, winners);
                let out = i * self.y_h + j * self.y_w;
                for (ch, &t) in winners.tap.iter().enumerate() {
                    let at = winners.offsets[t as usize].expect("winners are in the image");
                    dx[at + ch * self.x_c] += dy[out + ch * self.y_c];
                }
            }
        }
    }

    /// `dx` of one image, winners read from `argmax`: a scatter.
    fn scatter_image(
        &self,
        argmax: &[u8],
        dy: &[f32],
        dx: &mut [f32],
        offsets: &mut [Option<usize>],
    ) {
        dx.fill(0.0);
        let width = self.tap_bytes();
        for i in 0..self.oh {
            for j in 0..self.ow {
                self.tap_offsets(i, j, offsets);
                let out = i * self.y_h + j * self.y_w;
                let k = (i * self.ow + j) * self.c * width;
                let taps = &argmax[k..k + self.c * width];
                if width == 1 && self.x_c == 1 && self.y_c == 1 {
                    scatter_window(taps, &dy[out..out + self.c], dx, offsets);
                    continue;
                }
                for ch in 0..self.c {
                    let t = load_tap(taps, ch, width);
                    let at = offsets[t].expect("a recorded winner is in the image");
                    dx[at + ch * self.x_c] += dy[out + ch * self.y_c];
                }
            }
        }
    }

    /// Images per task: every image in one task, unless the descriptor asks
    /// for threads and runs inside a rayon pool. A few tasks per thread let
    /// work stealing even out a busy core.
    fn per_task(&self) -> usize {
        let parallel = self.threads > 1 && rayon::current_thread_index().is_some();
        if parallel {
            self.n.div_ceil(self.threads * 4).max(1)
        } else {
            self.n.max(1)
        }
    }

    /// The image and output buffers must be whole images one after another,
    /// as every row-major layout has them, for the batch to split.
    fn check_batch(&self) {
        assert!(
            self.output_len() == self.n * self.y_n,
            "maxpool2d: images are not contiguous one after another"
        );
        self.check_batch_images();
    }

    /// The image buffers (`x`, `dx`) are whole images one after another.
    fn check_batch_images(&self) {
        assert!(
            self.image_len() == self.n * self.x_n,
            "maxpool2d: images are not contiguous one after another"
        );
    }
}

/// One window's scatter with contiguous channels (NHWC) and one-byte tap
/// numbers: for each tap in the image, every channel adds its `dy` where
/// the tap won and `-0.0` where it did not. `v + -0.0` is `v` bit for bit
/// (NaN payloads, `+0` included), so this sums exactly what the per-channel
/// scatter sums, in the same order, as whole vectors instead of one
/// bounds-checked element at a time.
fn scatter_window(taps: &[u8], dy: &[f32], dx: &mut [f32], offsets: &[Option<usize>]) {
    let c = taps.len();
    let dy = &dy[..c];
    for (t, offset) in offsets.iter().enumerate() {
        let Some(at) = *offset else {
            continue;
        };
        let dx = &mut dx[at..at + c];
        for ch in 0..c {
            let mask = ((taps[ch] as usize == t) as u32).wrapping_neg();
            let add = (dy[ch].to_bits() & mask) | (!mask & 0x8000_0000);
            dx[ch] += f32::from_bits(add);
        }
    }
}

/// Writes tap numbers as `width`-byte native-endian integers.
fn store_taps(taps: &[u32], out: &mut [u8]) {
    match out.len() / taps.len().max(1) {
        // The common case (windows of at most 256 taps), a narrowing copy.
        1 => {
            for (o, &t) in out.iter_mut().zip(taps) {
                *o = t as u8;
            }
        }
        2 => {
            for (o, &t) in out.chunks_exact_mut(2).zip(taps) {
                o.copy_from_slice(&(t as u16).to_ne_bytes());
            }
        }
        _ => {
            for (o, &t) in out.chunks_exact_mut(4).zip(taps) {
                o.copy_from_slice(&t.to_ne_bytes());
            }
        }
    }
}

/// Tap number `k` of `taps`, stored `width` bytes each.
fn load_tap(taps: &[u8], k: usize, width: usize) -> usize {
    match width {
        1 => taps[k] as usize,
        2 => u16::from_ne_bytes([taps[2 * k], taps[2 * k + 1]]) as usize,
        _ => {
            let b = &taps[4 * k..4 * k + 4];
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize
        }
    }
}

/// Calls `f(first, out, aux)` for each task: `out` the task's `per`
/// images of `out` (`unit` elements each; the last task's may be fewer),
/// `aux` the same images of `aux` (`aux_unit` elements each, empty when
/// `aux` is), `first` the task's first image. In the current rayon pool
/// when there are several tasks (each owns its slices, so the order cannot
/// matter). Nothing is allocated: rayon's chunk iterators hand out the
/// slices.
fn for_tasks<A: Send>(
    out: &mut [f32],
    unit: usize,
    aux: &mut [A],
    aux_unit: usize,
    per: usize,
    f: impl Fn(usize, &mut [f32], &mut [A]) + Send + Sync,
) {
    let step = per * unit;
    if out.len() <= step {
        return f(0, out, aux);
    }
    let outs = out.par_chunks_mut(step).enumerate();
    if aux.is_empty() {
        outs.for_each(|(t, out)| f(t * per, out, &mut []));
    } else {
        outs.zip(aux.par_chunks_mut(per * aux_unit))
            .for_each(|((t, out), aux)| f(t * per, out, aux));
    }
}

fn check(what: &str, len: usize, needed: usize) {
    assert!(
        len >= needed,
        "maxpool2d: `{what}` has {len} elements, needs {needed}"
    );
}

/// `y = maxpool2d(x)`: each window's winner, bit for bit (NaN payloads
/// included).
pub fn maxpool2d(d: &PoolDesc, x: &[f32], y: &mut [f32]) {
    forward(d, x, y, &mut []);
}

/// [`maxpool2d`], recording each output's winning tap in `argmax`
/// ([`PoolDesc::argmax_bytes`] bytes) for [`maxpool2d_grad_argmax`].
pub fn maxpool2d_argmax(d: &PoolDesc, x: &[f32], y: &mut [f32], argmax: &mut [u8]) {
    check("argmax", argmax.len(), d.argmax_bytes());
    forward(d, x, y, &mut argmax[..d.argmax_bytes()]);
}

/// The forward; `argmax` is empty when not recording.
fn forward(d: &PoolDesc, x: &[f32], y: &mut [f32], argmax: &mut [u8]) {
    check("x", x.len(), d.image_len());
    check("y", y.len(), d.output_len());
    if d.image_len() == 0 || d.output_len() == 0 {
        return;
    }
    d.check_batch();
    let per_argmax = if argmax.is_empty() {
        0
    } else {
        d.argmax_image()
    };
    let y = &mut y[..d.output_len()];
    for_tasks(
        y,
        d.y_n,
        argmax,
        per_argmax,
        d.per_task(),
        |first, y, argmax| {
            with_winners(d, |winners| {
                for (b, y) in y.chunks_mut(d.y_n).enumerate() {
                    let x = &x[(first + b) * d.x_n..(first + b + 1) * d.x_n];
                    let argmax = argmax.get_mut(b * per_argmax..(b + 1) * per_argmax);
                    d.forward_image(x, y, argmax.unwrap_or_default(), winners);
                }
            })
        },
    );
}

/// `dx = maxpool2d_grad(x, dy)`: zero, plus each `dy` element added to its
/// window's winner in `x`.
pub fn maxpool2d_grad(d: &PoolDesc, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    maxpool2d_grad_then(d, x, dy, dx, None)
}

/// [`maxpool2d_grad`], running `epi` on each image of `dx` as soon as it
/// is final, while it is in cache (units: images, `x_n` elements each).
pub fn maxpool2d_grad_then(d: &PoolDesc, x: &[f32], dy: &[f32], dx: &mut [f32], epi: Epilogue) {
    check("x", x.len(), d.image_len());
    check("dy", dy.len(), d.output_len());
    check("dx", dx.len(), d.image_len());
    if d.image_len() == 0 {
        return;
    }
    if d.output_len() == 0 {
        return zero_then(d, dx, epi);
    }
    d.check_batch();
    let dx = &mut dx[..d.image_len()];
    for_tasks(dx, d.x_n, &mut [0u8; 0], 0, d.per_task(), |first, dx, _| {
        with_winners(d, |winners| {
            for (b, dx) in dx.chunks_mut(d.x_n).enumerate() {
                let img = first + b;
                let x = &x[img * d.x_n..(img + 1) * d.x_n];
                let dy = &dy[img * d.y_n..(img + 1) * d.y_n];
                d.grad_image(x, dy, dx, winners);
                if let Some(epi) = epi {
                    epi(dx, img, img + 1);
                }
            }
        })
    });
}

/// A gradient with no `dy` elements: `dx` is zeros, then the epilogue.
fn zero_then(d: &PoolDesc, dx: &mut [f32], epi: Epilogue) {
    let dx = &mut dx[..d.image_len()];
    dx.fill(0.0);
    if let Some(epi) = epi {
        d.check_batch_images();
        epi(dx, 0, d.n);
    }
}

/// [`maxpool2d_grad`] from the winners [`maxpool2d_argmax`] recorded for
/// the same descriptor and `x`: zero, plus each `dy` element added to its
/// recorded winner.
pub fn maxpool2d_grad_argmax(d: &PoolDesc, argmax: &[u8], dy: &[f32], dx: &mut [f32]) {
    maxpool2d_grad_argmax_then(d, argmax, dy, dx, None)
}

/// [`maxpool2d_grad_argmax`], running `epi` on each image of `dx` as soon
/// as it is final, while it is in cache (units: images, `x_n` elements
/// each).
pub fn maxpool2d_grad_argmax_then(
    d: &PoolDesc,
    argmax: &[u8],
    dy: &[f32],
    dx: &mut [f32],
    epi: Epilogue,
) {
    check("argmax", argmax.len(), d.argmax_bytes());
    check("dy", dy.len(), d.output_len());
    check("dx", dx.len(), d.image_len());
    if d.image_len() == 0 {
        return;
    }
    if d.output_len() == 0 {
        return zero_then(d, dx, epi);
    }
    d.check_batch();
    let dx = &mut dx[..d.image_len()];
    let per_argmax = d.argmax_image();
    for_tasks(dx, d.x_n, &mut [0u8; 0], 0, d.per_task(), |first, dx, _| {
        with_winners(d, |winners| {
            for (b, dx) in dx.chunks_mut(d.x_n).enumerate() {
                let img = first + b;
                let argmax = &argmax[img * per_argmax..(img + 1) * per_argmax];
                let dy = &dy[img * d.y_n..(img + 1) * d.y_n];
                d.scatter_image(argmax, dy, dx, &mut winners.offsets);
                if let Some(epi) = epi {
                    epi(dx, img, img + 1);
                }
            }
        })
    });
}
