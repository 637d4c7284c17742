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
}

impl PoolDesc {
    /// The maxpool2d of a row-major `image` of this shape in `attrs.layout`.
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

    /// Calls `f(output_offset, winner_offset)` for every output element, in
    /// NHWC order (row-major windows within each image and channel).
    fn for_each_argmax(&self, x: &[f32], mut f: impl FnMut(usize, usize)) {
        // One window's winners for all channels at once: the inner loop runs
        // over channels without a data-dependent branch per element (random
        // data would mispredict it half the time), keeping the winning tap's
        // number, the same for every lane of one comparison.
        let mut winners = Winners::new(self.c);
        for b in 0..self.n {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    self.window_winners(x, b, i, j, &mut winners);
                    let out = b * self.y_n + i * self.y_h + j * self.y_w;
                    for (ch, &t) in winners.tap.iter().enumerate() {
                        f(
                            out + ch * self.y_c,
                            winners.bases[t as usize] + ch * self.x_c,
                        );
                    }
                }
            }
        }
    }

    /// The winners of window `(i, j)` of image `b`, one per channel, taps
    /// scanned in row-major order.
    fn window_winners(&self, x: &[f32], b: usize, i: usize, j: usize, winners: &mut Winners) {
        winners.bases.clear();
        for p in 0..self.kh {
            let Some(y) = tap(i, self.stride_h, p, self.pad_top, self.h) else {
                continue;
            };
            for q in 0..self.kw {
                let Some(xx) = tap(j, self.stride_w, q, self.pad_left, self.w) else {
                    continue;
                };
                let base = b * self.x_n + y * self.x_h + xx * self.x_w;
                winners.bases.push(base);
                let t = winners.bases.len() as u32 - 1;
                match (t, self.x_c) {
                    (0, _) => winners.start(x, base, self.x_c),
                    // NHWC: the channels are contiguous, a slice the
                    // compiler vectorizes without bounds checks.
                    (_, 1) => winners.challenge(&x[base..base + self.c], t),
                    _ => winners.challenge_strided(x, base, self.x_c, t),
                }
            }
        }
        // `window` keeps every window's first tap inside the image.
        assert!(
            !winners.bases.is_empty(),
            "every pool window overlaps the image"
        );
    }
}

/// Per channel, the number of the best tap so far and its value; the
/// window's in-image taps' base offsets, in scan order.
struct Winners {
    tap: Vec<u32>,
    value: Vec<f32>,
    bases: Vec<usize>,
}

impl Winners {
    fn new(c: usize) -> Winners {
        Winners {
            tap: vec![0; c],
            value: vec![0.0; c],
            bases: Vec::new(),
        }
    }

    /// The window's first tap (at `base`, channels `x_c` apart) leads.
    fn start(&mut self, x: &[f32], base: usize, x_c: usize) {
        self.tap.fill(0);
        for (ch, value) in self.value.iter_mut().enumerate() {
            *value = x[base + ch * x_c];
        }
    }

    /// Tap `t` (one value per channel) takes the lead where it beats the
    /// leader: greater, or NaN over a number. Equal values keep the
    /// earlier tap.
    fn challenge(&mut self, taps: &[f32], t: u32) {
        for ((tap, value), &v) in self.tap.iter_mut().zip(&mut self.value).zip(taps) {
            let wins = v > *value || (v.is_nan() && !value.is_nan());
            *tap = if wins { t } else { *tap };
            *value = if wins { v } else { *value };
        }
    }

    /// [`Winners::challenge`] with channels `x_c` apart (NCHW).
    fn challenge_strided(&mut self, x: &[f32], base: usize, x_c: usize, t: u32) {
        for (ch, (tap, value)) in self.tap.iter_mut().zip(&mut self.value).enumerate() {
            let v = x[base + ch * x_c];
            let wins = v > *value || (v.is_nan() && !value.is_nan());
            *tap = if wins { t } else { *tap };
            *value = if wins { v } else { *value };
        }
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
    check("x", x.len(), d.image_len());
    check("y", y.len(), d.output_len());
    d.for_each_argmax(x, |out, at| y[out] = x[at]);
}

/// `dx = maxpool2d_grad(x, dy)`: zero, plus each `dy` element added to its
/// window's winner in `x`.
pub fn maxpool2d_grad(d: &PoolDesc, x: &[f32], dy: &[f32], dx: &mut [f32]) {
    check("x", x.len(), d.image_len());
    check("dy", dy.len(), d.output_len());
    check("dx", dx.len(), d.image_len());
    dx[..d.image_len()].fill(0.0);
    d.for_each_argmax(x, |out, at| dx[at] += dy[out]);
}

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
        let x = super::slice(x, d.image_len());
        let y = super::slice_mut(y, d.output_len());
        maxpool2d(d, x, y);
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
        let x = super::slice(x, d.image_len());
        let dy = super::slice(dy, d.output_len());
        let dx = super::slice_mut(dx, d.image_len());
        maxpool2d_grad(d, x, dy, dx);
    }
}
