//! conv2d and its two gradients by im2col + GEMM, for both layouts without
//! transposing whole tensors: the image, the output and the filter are all
//! read (and written) through the element strides of their layout.
//!
//! The patch matrix lives in caller-provided scratch, `[patches, patch_len]`
//! row-major: one row per output pixel `(b, i, j)`, one column per filter
//! tap and input channel `(p, q, ch)`. The columns are ordered like the
//! filter's own memory (HWIO: `(p, q, ch)`; OIHW: `(ch, p, q)`), so the
//! filter is a plain `[patch_len, o]` strided matrix for the GEMM.

use super::gemm::{gemm_into, stride, Target, View};
use super::{permuted_strides, span, tap};
use crate::ir::geometry::{self, window};
use crate::ir::op::{ConvAttrs, Layout};

/// The geometry of one conv2d (and of its gradients), in NHWC/HWIO terms,
/// plus the element strides of the actual layout. Built by [`ConvDesc::new`];
/// the planner stores it as constant data for the `tri_conv2d*` shims.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvDesc {
    /// Image extents: batch, rows, columns, input channels.
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// Filter extents: rows, columns (taps) and output channels.
    pub kh: usize,
    pub kw: usize,
    pub o: usize,
    /// Output rows and columns.
    pub oh: usize,
    pub ow: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    /// Implicit zero rows above and columns left of the image (`same`).
    pub pad_top: usize,
    pub pad_left: usize,
    /// Element strides of the image (and of `dx`) along n, h, w, c.
    pub x_n: usize,
    pub x_h: usize,
    pub x_w: usize,
    pub x_c: usize,
    /// Element strides of the output (and of `dy`) along n, h, w, o.
    pub y_n: usize,
    pub y_h: usize,
    pub y_w: usize,
    pub y_c: usize,
    /// Element strides of the filter (and of `dw`) along kh, kw, c, o.
    pub f_h: usize,
    pub f_w: usize,
    pub f_i: usize,
    pub f_o: usize,
    /// Where tap `(p, q, ch)` sits in a patch row: `p*k_h + q*k_w + ch*k_c`.
    pub k_h: usize,
    pub k_w: usize,
    pub k_c: usize,
    /// The filter's stride along a patch row's column index: with the
    /// columns in filter memory order, tap `(p, q, ch)` of output channel
    /// `oc` is at `col * f_k + oc * f_o`.
    pub f_k: usize,
}

impl ConvDesc {
    /// The conv2d of a row-major `image` and `filter` of these shapes in
    /// `attrs.layout` (shapes as shape inference accepts them).
    pub fn new(image: &[usize], filter: &[usize], attrs: ConvAttrs) -> ConvDesc {
        let layout = attrs.layout;
        let [n, h, w, c] = geometry::image_dims(image, layout);
        let [kh, kw, ci, o] = geometry::filter_dims(filter, layout);
        assert_eq!(c, ci, "image channels differ from the filter's");
        let [sh, sw] = attrs.strides;
        let rows = window(h, kh, sh, attrs.padding).expect("conv window fits the image");
        let cols = window(w, kw, sw, attrs.padding).expect("conv window fits the image");
        let (oh, ow) = (rows.out, cols.out);
        let [x_n, x_h, x_w, x_c] = permuted_strides(image, geometry::to_nhwc_perm(layout));
        let y_shape = geometry::image_shape([n, oh, ow, o], layout);
        let [y_n, y_h, y_w, y_c] = permuted_strides(&y_shape, geometry::to_nhwc_perm(layout));
        let [f_h, f_w, f_i, f_o] = permuted_strides(filter, geometry::filter_to_hwio_perm(layout));
        let ([k_h, k_w, k_c], f_k) = match layout {
            // HWIO: (p, q, ch) consecutive, each step one `o` apart.
            Layout::Nhwc => ([kw * c, c, 1], f_i),
            // OIHW: (ch, p, q) consecutive, each step one element apart.
            Layout::Nchw => ([kw, 1, kh * kw], f_w),
        };
        ConvDesc {
            n,
            h,
            w,
            c,
            kh,
            kw,
            o,
            oh,
            ow,
            stride_h: sh,
            stride_w: sw,
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
            f_h,
            f_w,
            f_i,
            f_o,
            k_h,
            k_w,
            k_c,
            f_k,
        }
    }

    /// Rows of the patch matrix: one per output pixel of the batch.
    pub fn patches(&self) -> usize {
        self.n * self.oh * self.ow
    }

    /// Columns of the patch matrix: one per filter tap and input channel.
    pub fn patch_len(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// f32 elements of scratch the three conv routines need: the whole
    /// batch's patch matrix.
    pub fn scratch_len(&self) -> usize {
        self.patches() * self.patch_len()
    }

    /// Floating-point operations of the contraction (each of the three ops
    /// does the same number of multiply-adds).
    pub fn flops(&self) -> f64 {
        2.0 * self.patches() as f64 * self.patch_len() as f64 * self.o as f64
    }

    /// Elements the image (`x`, `dx`) spans.
    pub fn image_len(&self) -> usize {
        let (n, h, w, c) = (self.n, self.h, self.w, self.c);
        span([(n, self.x_n), (h, self.x_h), (w, self.x_w), (c, self.x_c)])
    }

    /// Elements the output (`y`, `dy`) spans.
    pub fn output_len(&self) -> usize {
        let (n, oh, ow, o) = (self.n, self.oh, self.ow, self.o);
        span([(n, self.y_n), (oh, self.y_h), (ow, self.y_w), (o, self.y_c)])
    }

    /// Elements the filter (`w`, `dw`) spans.
    pub fn filter_len(&self) -> usize {
        let (kh, kw, c, o) = (self.kh, self.kw, self.c, self.o);
        span([(kh, self.f_h), (kw, self.f_w), (c, self.f_i), (o, self.f_o)])
    }

    /// How the patch rows map onto output rows for the GEMMs. In NHWC the
    /// whole batch is one evenly strided run of rows (one big GEMM); in NCHW
    /// rows are evenly strided only within an image, so there is one GEMM
    /// per image (unless the batch axis happens to fold, e.g. `o = 1`).
    fn row_groups(&self) -> RowGroups {
        let per_image = self.oh * self.ow;
        debug_assert!(self.oh <= 1 || self.y_h == self.ow * self.y_w);
        if self.n <= 1 || self.y_n == self.oh * self.y_h {
            RowGroups {
                count: 1,
                rows: self.n * per_image,
                y_step: 0,
            }
        } else {
            RowGroups {
                count: self.n,
                rows: per_image,
                y_step: self.y_n,
            }
        }
    }

    /// The patch rows of group `g` in scratch, as a `[rows, patch_len]` view.
    fn patch_view(&self, groups: &RowGroups, g: usize) -> View {
        let len = self.patch_len();
        View::new(g * groups.rows * len, stride(len), 1)
    }

    /// The output rows of group `g` (in `y` or `dy`) as a `[rows, o]` view.
    fn output_view(&self, groups: &RowGroups, g: usize) -> View {
        View::new(g * groups.y_step, stride(self.y_w), stride(self.y_c))
    }

    /// The filter as the `[patch_len, o]` matrix the forward GEMM reads.
    fn filter_view(&self) -> View {
        View::new(0, stride(self.f_k), stride(self.f_o))
    }

    /// Calls `f(patch_offset, image_offset, taps)` for every run of
    /// horizontally consecutive filter taps of every patch that lie either
    /// all inside the image or all in the padding: `patch_offset` is where
    /// the run's first tap (channel 0) goes in scratch, `image_offset` where
    /// it is in the image (`None` in the padding). Within a run, tap `t` is
    /// `t * k_w` further on in scratch and `t * x_w` in the image. Runs, not
    /// single taps, so NHWC copies `taps * c` contiguous elements at once.
    fn for_each_run(&self, mut f: impl FnMut(usize, Option<usize>, usize)) {
        let (len, kw) = (self.patch_len(), self.kw);
        for b in 0..self.n {
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
    fn runs_contiguous(&self) -> bool {
        self.x_c == 1 && self.k_c == 1 && self.x_w == self.c && self.k_w == self.c
    }

    /// Fills `cols` with the patch matrix of `x` (zeros for padding).
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let contiguous = self.runs_contiguous();
        let (c, k_w, k_c, x_w, x_c) = (self.c, self.k_w, self.k_c, self.x_w, self.x_c);
        self.for_each_run(|to, from, taps| match from {
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

    /// `dx = 0`, then adds every patch-matrix entry of `cols` back onto the
    /// image element it was read from (overlapping windows sum).
    fn col2im(&self, cols: &[f32], dx: &mut [f32]) {
        dx[..self.image_len()].fill(0.0);
        let contiguous = self.runs_contiguous();
        let (c, k_w, k_c, x_w, x_c) = (self.c, self.k_w, self.k_c, self.x_w, self.x_c);
        self.for_each_run(|from, to, taps| match to {
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

    fn check(&self, what: [(&str, usize, usize); 3], scratch: usize) {
        for (name, len, needed) in what {
            assert!(
                len >= needed,
                "conv2d: `{name}` has {len} elements, needs {needed}"
            );
        }
        let needed = self.scratch_len();
        assert!(
            scratch >= needed,
            "conv2d: scratch has {scratch} elements, needs {needed}"
        );
    }
}

/// How the patch matrix is cut into GEMMs: `count` groups of `rows` patch
/// rows, group `g`'s output rows starting at `g * y_step`.
struct RowGroups {
    count: usize,
    rows: usize,
    y_step: usize,
}

/// `y = conv2d(x, w)`: im2col of `x` into `scratch`, then `patches x
/// filter` written straight into `y` through its strides.
pub fn conv2d(d: &ConvDesc, x: &[f32], w: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    let sizes = [
        ("x", x.len(), d.image_len()),
        ("w", w.len(), d.filter_len()),
        ("y", y.len(), d.output_len()),
    ];
    d.check(sizes, scratch.len());
    d.im2col(x, scratch);
    let groups = d.row_groups();
    for g in 0..groups.count {
        let out = Target::Overwrite(d.output_view(&groups, g));
        let patches = d.patch_view(&groups, g);
        let (m, k) = (groups.rows, d.patch_len());
        gemm_into(m, d.o, k, y, out, scratch, patches, w, d.filter_view());
    }
}

/// `dx = conv2d_input_grad(dy, w)`: `dy x filter^T` into `scratch` as a
/// patch matrix, then col2im sums it back into `dx`.
pub fn conv2d_input_grad(d: &ConvDesc, dy: &[f32], w: &[f32], dx: &mut [f32], scratch: &mut [f32]) {
    let sizes = [
        ("dy", dy.len(), d.output_len()),
        ("w", w.len(), d.filter_len()),
        ("dx", dx.len(), d.image_len()),
    ];
    d.check(sizes, scratch.len());
    let groups = d.row_groups();
    // The filter transposed: `[o, patch_len]`, a swap of its two strides.
    let filter_t = View::new(0, stride(d.f_o), stride(d.f_k));
    for g in 0..groups.count {
        let cols = Target::Overwrite(d.patch_view(&groups, g));
        let dy_rows = d.output_view(&groups, g);
        let (m, n) = (groups.rows, d.patch_len());
        gemm_into(m, n, d.o, scratch, cols, dy, dy_rows, w, filter_t);
    }
    d.col2im(scratch, dx);
}

/// `dw = conv2d_filter_grad(x, dy)`: im2col of `x` into `scratch`, then
/// `patches^T x dy` written into `dw` in the filter's layout through its
/// strides, accumulating over the GEMMs of an NCHW batch.
pub fn conv2d_filter_grad(
    d: &ConvDesc,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
) {
    let sizes = [
        ("x", x.len(), d.image_len()),
        ("dy", dy.len(), d.output_len()),
        ("dw", dw.len(), d.filter_len()),
    ];
    d.check(sizes, scratch.len());
    d.im2col(x, scratch);
    let groups = d.row_groups();
    for g in 0..groups.count {
        // The first GEMM overwrites, so `dw` need not be zeroed; with no
        // patches at all it is a `k = 0` GEMM, which writes zeros.
        let target = if g == 0 {
            Target::Overwrite
        } else {
            Target::Accumulate
        };
        let patches = d.patch_view(&groups, g);
        let patches_t = View::new(patches.start, patches.col, patches.row);
        let dy_rows = d.output_view(&groups, g);
        let (m, k) = (d.patch_len(), groups.rows);
        gemm_into(
            m,
            d.o,
            k,
            dw,
            target(d.filter_view()),
            scratch,
            patches_t,
            dy,
            dy_rows,
        );
    }
}

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
        let x = super::slice(x, d.image_len());
        let w = super::slice(w, d.filter_len());
        let y = super::slice_mut(y, d.output_len());
        let scratch = super::slice_mut(scratch, d.scratch_len());
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
        let dy = super::slice(dy, d.output_len());
        let w = super::slice(w, d.filter_len());
        let dx = super::slice_mut(dx, d.image_len());
        let scratch = super::slice_mut(scratch, d.scratch_len());
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
        let x = super::slice(x, d.image_len());
        let dy = super::slice(dy, d.output_len());
        let dw = super::slice_mut(dw, d.filter_len());
        let scratch = super::slice_mut(scratch, d.scratch_len());
        conv2d_filter_grad(d, x, dy, dw, scratch);
    }
}
