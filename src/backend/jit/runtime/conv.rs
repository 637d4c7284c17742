//! conv2d and its two gradients by im2col + GEMM, for both layouts without
//! transposing whole tensors: the image, the output and the filter are all
//! read (and written) through the element strides of their layout.
//!
//! The batch is worked through in chunks of whole images, a chunk's patch
//! matrix in a block of caller-provided scratch (one block per thread),
//! `[patches, patch_len]` row-major: one row per output pixel `(b, i, j)`,
//! one column per filter tap and input channel `(p, q, ch)`. The columns are ordered like the
//! filter's own memory (HWIO: `(p, q, ch)`; OIHW: `(ch, p, q)`), so the
//! filter is a plain `[patch_len, o]` strided matrix for the GEMM.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

mod direct;
mod direct512;
mod filter_grad;
mod outer;
mod patches;
mod shims;

use direct::{direct_forward, DIRECT_MAX_CHANNELS};
pub use filter_grad::{conv2d_filter_and_bias_grad, conv2d_filter_grad};
pub use shims::{
    tri_conv2d, tri_conv2d_filter_bias_grad, tri_conv2d_filter_grad, tri_conv2d_input_grad,
};

use rayon::prelude::*;

use super::epilogue::Epilogue;
use super::gemm::{gemm_into, per_thread_len, stride, Target, View};
use super::{permuted_strides, span};
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
    /// Images per chunk: the routines walk the batch in chunks of this many
    /// whole images (the last one may be short), each im2col'd into its
    /// worker's scratch block. It depends on the geometry alone, never on
    /// `threads`, so every sum is associated the same way (and every result
    /// bit is the same) whatever the thread count.
    pub chunk: usize,
    /// Threads of the executable (1: the caller's thread only). Above 1 the
    /// chunks run in parallel in the rayon pool the shim is called from,
    /// and scratch holds one patch block per thread.
    pub threads: usize,
    /// The forward conv runs as the direct loop ([`direct_forward`]) rather
    /// than im2col + GEMM: set by [`ConvDesc::new`] from the geometry (few
    /// input channels), used only where the layout and CPU allow it.
    pub direct: bool,
}

/// f32 elements a chunk's patch block aims at (rounded down to whole
/// images, at least one): 1 MiB, half this machine's L2, so the block
/// written by im2col is still in cache when the GEMM reads it, while the
/// batch still splits into enough chunks to balance two or three threads
/// (seed-cnn at batch 128: conv1 13 chunks of 10 images, conv2 26 of 5).
/// Measured with `benches/kernels.rs` on one thread: conv1's filter
/// gradient ran at 23 GFLOP/s in chunks of 1 image, 30 in chunks of 4, 37
/// in chunks of 10 and 22-35 in chunks of 40; conv2's at 55 in chunks of 5
/// or 6 and 39-46 in chunks of 20 or 24.
pub const CHUNK_ELEMS: usize = 1 << 18;

impl ConvDesc {
    /// The conv2d of a row-major `image` and `filter` of these shapes in
    /// `attrs.layout` (shapes as shape inference accepts them), for one
    /// thread ([`ConvDesc::with_threads`] sets more).
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
            chunk: (CHUNK_ELEMS / (oh * ow * kh * kw * c).max(1)).clamp(1, n.max(1)),
            threads: 1,
            direct: false,
        }
        .with_direct(c <= DIRECT_MAX_CHANNELS)
    }

    /// The same conv with the forward loop chosen by hand (`true` takes the
    /// direct loop where the layout and CPU allow it): for benchmarks and
    /// tests of both strategies on one shape.
    pub fn with_direct(self, direct: bool) -> ConvDesc {
        ConvDesc { direct, ..self }
    }

    /// The same conv for an executable of `threads` threads (at least 1).
    pub fn with_threads(self, threads: usize) -> ConvDesc {
        ConvDesc {
            threads: threads.max(1),
            ..self
        }
    }

    /// The same conv in chunks of `images` images (at least 1) instead of
    /// the geometry's default: for tests that want many chunks of a small
    /// batch. Changes how sums associate, so results move within rounding.
    pub fn with_chunk(self, images: usize) -> ConvDesc {
        ConvDesc {
            chunk: images.max(1),
            ..self
        }
    }

    /// Whether the windows of output row `i` lie inside the image's rows
    /// (no padding tap).
    pub(super) fn rows_inside(&self, i: usize) -> bool {
        let top = i * self.stride_h;
        top >= self.pad_top && top + self.kh <= self.h + self.pad_top
    }

    /// Whether the windows of output column `j` lie inside the image's
    /// columns.
    pub(super) fn cols_inside(&self, j: usize) -> bool {
        let left = j * self.stride_w;
        left >= self.pad_left && left + self.kw <= self.w + self.pad_left
    }

    /// Rows of the patch matrix: one per output pixel of the batch.
    pub fn patches(&self) -> usize {
        self.n * self.oh * self.ow
    }

    /// Columns of the patch matrix: one per filter tap and input channel.
    pub fn patch_len(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// Chunks the batch splits into.
    pub fn chunks(&self) -> usize {
        self.n.div_ceil(self.chunk)
    }

    /// f32 elements of one worker's patch block: the patch rows of one
    /// (full) chunk.
    pub fn block_len(&self) -> usize {
        self.chunk.min(self.n) * self.oh * self.ow * self.patch_len()
    }

    /// Elements of one chunk's partial filter gradient (`[patch_len, o]`).
    /// One chunk's partial filter gradient (`[patch_len, o]`) and partial
    /// bias gradient (`o`, used only when the bias gradient is fused in).
    fn partial_len(&self) -> usize {
        self.patch_len() * self.o + self.o
    }

    /// f32 elements of GEMM packing workspace one worker needs: enough
    /// for the largest of the three routines' per-chunk products.
    pub fn gemm_len(&self) -> usize {
        let (rows, len, o) = (
            self.chunk.min(self.n) * self.oh * self.ow,
            self.patch_len(),
            self.o,
        );
        per_thread_len(rows, o, len)
            .max(per_thread_len(rows, len, o))
            .max(per_thread_len(len, o, rows))
    }

    /// f32 elements of one worker's scratch: its patch block, then its
    /// GEMM workspace.
    fn worker_len(&self) -> usize {
        self.block_len() + self.gemm_len()
    }

    /// f32 elements of scratch the three conv routines need: a patch block
    /// and GEMM workspace per thread, then one partial filter gradient per
    /// chunk (which only the filter gradient uses; the plan sizes scratch
    /// per descriptor).
    pub fn scratch_len(&self) -> usize {
        self.threads * self.worker_len() + self.chunks() * self.partial_len()
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

    /// The first image of chunk `ci` and the chunk's image count.
    fn chunk_images(&self, ci: usize) -> (usize, usize) {
        let first = ci * self.chunk;
        (first, self.chunk.min(self.n - first))
    }

    /// How the patch rows of `images` consecutive images map onto output
    /// rows for the GEMMs. In NHWC they are one evenly strided run of rows
    /// (one GEMM); in NCHW rows are evenly strided only within an image, so
    /// there is one GEMM per image (unless the batch axis happens to fold,
    /// e.g. `o = 1`).
    fn row_groups(&self, images: usize) -> RowGroups {
        let per_image = self.oh * self.ow;
        debug_assert!(self.oh <= 1 || self.y_h == self.ow * self.y_w);
        if images <= 1 || self.y_n == self.oh * self.y_h {
            RowGroups {
                count: 1,
                rows: images * per_image,
                y_step: 0,
            }
        } else {
            RowGroups {
                count: images,
                rows: per_image,
                y_step: self.y_n,
            }
        }
    }

    /// The patch rows of group `g` in a patch block, as a `[rows,
    /// patch_len]` view.
    fn patch_view(&self, groups: &RowGroups, g: usize) -> View {
        let len = self.patch_len();
        View::new(g * groups.rows * len, stride(len), 1)
    }

    /// The output rows of group `g` (in `y` or `dy`, whose first image is
    /// at `base`) as a `[rows, o]` view.
    fn output_view(&self, groups: &RowGroups, g: usize, base: usize) -> View {
        View::new(base + g * groups.y_step, stride(self.y_w), stride(self.y_c))
    }

    /// The filter as the `[patch_len, o]` matrix the forward GEMM reads.
    fn filter_view(&self) -> View {
        View::new(0, stride(self.f_k), stride(self.f_o))
    }

    /// Calls `f(chunk, out, block)` for every chunk of the batch, `out`
    /// being the chunk's `per_chunk` elements of `out` (the last chunk's may
    /// be fewer) and `block` a worker block (patches, then GEMM workspace)
    /// no other running call uses. In order on this thread when `threads`
    /// is 1; else each of the `threads` blocks is a task in the current
    /// rayon pool that takes chunks from a shared counter until none are
    /// left (without allocating: no per-call list of blocks). `f` never
    /// calls into rayon, so a task never waits for another.
    fn run_chunks<F>(&self, out: &mut [f32], per_chunk: usize, blocks: &mut [f32], f: F)
    where
        F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
    {
        let block = self.worker_len();
        if self.threads <= 1 {
            let block = &mut blocks[..block];
            for (ci, out) in out.chunks_mut(per_chunk).enumerate() {
                f(ci, out, block);
            }
            return;
        }
        let chunks = out.len().div_ceil(per_chunk);
        let next = AtomicUsize::new(0);
        let out = SharedOut(out.as_mut_ptr(), out.len());
        blocks[..self.threads * block]
            .par_chunks_mut(block)
            .for_each(|block| loop {
                let ci = next.fetch_add(1, Relaxed);
                if ci >= chunks {
                    break;
                }
                let start = ci * per_chunk;
                let len = per_chunk.min(out.1 - start);
                // The counter hands out each chunk once, so this is the
                // only live slice of its elements; `start + len <= out.1`.
                // SAFETY: in bounds and unaliased, within `out`'s borrow
                // (for_each returns after every task).
                let out = unsafe { std::slice::from_raw_parts_mut(out.get().add(start), len) };
                f(ci, out, block);
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

/// How a chunk's patch rows are cut into GEMMs: `count` groups of `rows`
/// patch rows, group `g`'s output rows starting at `g * y_step` past the
/// chunk's first image.
struct RowGroups {
    count: usize,
    rows: usize,
    y_step: usize,
}

/// `y = conv2d(x, w)`, chunk by chunk: im2col of the chunk's images into a
/// patch block, then `patches x filter` written straight into the chunk's
/// images of `y` through its strides.
pub fn conv2d(d: &ConvDesc, x: &[f32], w: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    conv2d_then(d, x, w, y, scratch, None)
}

/// [`conv2d`], running `epi` on each chunk's images of `y` as soon as the
/// chunk is written (units: images, `y_n` elements each).
pub fn conv2d_then(
    d: &ConvDesc,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
    epi: Epilogue,
) {
    let sizes = [
        ("x", x.len(), d.image_len()),
        ("w", w.len(), d.filter_len()),
        ("y", y.len(), d.output_len()),
    ];
    d.check(sizes, scratch.len());
    let y = &mut y[..d.output_len()];
    if y.is_empty() {
        return;
    }
    let blocks = &mut scratch[..d.threads * d.worker_len()];
    let direct = d.use_direct();
    d.run_chunks(y, d.chunk * d.y_n, blocks, |ci, y, block| {
        let (cols, ws) = block.split_at_mut(d.block_len());
        let (first, images) = d.chunk_images(ci);
        if direct {
            direct_forward(d, &x[first * d.x_n..], w, y, images);
        } else {
            d.im2col(&x[first * d.x_n..], images, cols);
            let groups = d.row_groups(images);
            for g in 0..groups.count {
                let out = Target::Overwrite(d.output_view(&groups, g, 0));
                let patches = d.patch_view(&groups, g);
                let (m, k) = (groups.rows, d.patch_len());
                gemm_into(m, d.o, k, y, out, cols, patches, w, d.filter_view(), 1, ws);
            }
        }
        if let Some(epi) = epi {
            epi(y, first, first + images);
        }
    });
}

/// `dx = conv2d_input_grad(dy, w)`, chunk by chunk: `dy x filter^T` of the
/// chunk's images into a patch block, then col2im sums it back into those
/// images of `dx` (chunks hold whole images, so they never overlap).
pub fn conv2d_input_grad(d: &ConvDesc, dy: &[f32], w: &[f32], dx: &mut [f32], scratch: &mut [f32]) {
    conv2d_input_grad_then(d, dy, w, dx, scratch, None)
}

/// [`conv2d_input_grad`], running `epi` on each chunk's images of `dx` as
/// soon as the chunk is summed (units: images, `x_n` elements each).
pub fn conv2d_input_grad_then(
    d: &ConvDesc,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    scratch: &mut [f32],
    epi: Epilogue,
) {
    let sizes = [
        ("dy", dy.len(), d.output_len()),
        ("w", w.len(), d.filter_len()),
        ("dx", dx.len(), d.image_len()),
    ];
    d.check(sizes, scratch.len());
    let dx = &mut dx[..d.image_len()];
    if dx.is_empty() {
        return;
    }
    // The filter transposed: `[o, patch_len]`, a swap of its two strides.
    let filter_t = View::new(0, stride(d.f_o), stride(d.f_k));
    let blocks = &mut scratch[..d.threads * d.worker_len()];
    d.run_chunks(dx, d.chunk * d.x_n, blocks, |ci, dx, block| {
        let (cols, ws) = block.split_at_mut(d.block_len());
        let (first, images) = d.chunk_images(ci);
        let groups = d.row_groups(images);
        for g in 0..groups.count {
            let patches = Target::Overwrite(d.patch_view(&groups, g));
            let dy_rows = d.output_view(&groups, g, first * d.y_n);
            let (m, n) = (groups.rows, d.patch_len());
            gemm_into(m, n, d.o, cols, patches, dy, dy_rows, w, filter_t, 1, ws);
        }
        d.col2im(cols, images, dx);
        if let Some(epi) = epi {
            epi(dx, first, first + images);
        }
    });
}

/// The output of [`ConvDesc::run_chunks`] (pointer, length), shared by its
/// tasks, each writing only the chunks it took from the counter.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32, usize);

impl SharedOut {
    /// The pointer (a method, so closures capture the `Sync` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: tasks write disjoint chunks of the output (one counter hands out
// each chunk once) and `run_chunks` joins them before its borrow ends.
unsafe impl Send for SharedOut {}
// SAFETY: as for Send.
unsafe impl Sync for SharedOut {}
