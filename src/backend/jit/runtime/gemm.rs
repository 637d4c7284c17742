//! Matrix products through the `gemm` crate, and the one checked entry point
//! to it ([`gemm_into`]) that the conv routines share.
//!
//! Every operand is a strided view into a slice, so transposed operands,
//! NCHW images and OIHW filters are read in place: a transpose is a swap of
//! two strides, never a copy.

use gemm::Parallelism;

use crate::ir::op::MatMulAttrs;

/// One `matmul` in element strides: `c[b] = op(a)[b] x op(b)[b]` for `b` in
/// `0..batch`, where `op(a)[b]` is the `[m, k]` matrix whose element `(i, p)`
/// is `a[b * a_batch + i * a_row + p * a_col]` (likewise `op(b)` as `[k, n]`)
/// and `c` is contiguous `[batch, m, n]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMulDesc {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_row: isize,
    pub a_col: isize,
    pub a_batch: isize,
    pub b_row: isize,
    pub b_col: isize,
    pub b_batch: isize,
    pub c_batch: isize,
    /// Threads of the executable running the product (1: the caller's
    /// thread only). Above 1 the shim may run inside that executable's
    /// rayon pool, and large products split across it.
    pub threads: usize,
}

impl MatMulDesc {
    /// The product of row-major operands of these shapes (rank >= 2, equal
    /// batch axes, as shape inference checked).
    pub fn new(a_shape: &[usize], b_shape: &[usize], attrs: MatMulAttrs) -> MatMulDesc {
        let r = a_shape.len();
        assert!(
            r >= 2 && b_shape.len() == r && a_shape[..r - 2] == b_shape[..r - 2],
            "matmul operands {a_shape:?} x {b_shape:?} have no common batch"
        );
        let batch = a_shape[..r - 2].iter().product();
        let a = Operand::read(a_shape[r - 2], a_shape[r - 1], attrs.transpose_a);
        let b = Operand::read(b_shape[r - 2], b_shape[r - 1], attrs.transpose_b);
        assert_eq!(a.cols, b.rows, "contracting extents of matmul differ");
        MatMulDesc {
            batch,
            m: a.rows,
            k: a.cols,
            n: b.cols,
            a_row: a.row,
            a_col: a.col,
            a_batch: a.len,
            b_row: b.row,
            b_col: b.col,
            b_batch: b.len,
            c_batch: stride(a.rows * b.cols),
            threads: 1,
        }
    }

    /// The same product for an executable of `threads` threads (at least 1).
    pub fn with_threads(self, threads: usize) -> MatMulDesc {
        MatMulDesc {
            threads: threads.max(1),
            ..self
        }
    }

    /// Threads the product of one batch element splits over: `threads`
    /// where splitting measured faster, else 1. That takes a product of at
    /// least [`PARALLEL_MIN_FLOPS`] (below it the fork and join cost more
    /// than the second core saves), at least [`PARALLEL_MIN_N`] columns
    /// (`gemm` splits the columns, so a tall skinny product gains nothing)
    /// and `a` read row by row (with `a` transposed, mnist-mlp's
    /// 784x128x128 `dw1` ran 8% slower on two threads than on one).
    pub fn gemm_threads(&self) -> usize {
        if self.threads > 1 && self.gemm_splits() {
            self.threads
        } else {
            1
        }
    }

    fn per_batch_flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }

    /// Whether the shape is one `gemm`'s own column split gains on.
    fn gemm_splits(&self) -> bool {
        self.per_batch_flops() >= PARALLEL_MIN_FLOPS && self.n >= PARALLEL_MIN_N && self.a_col == 1
    }

    /// Rows per block when the product is computed as [`ROW_BLOCKS`]
    /// independent row blocks (run on the threads, one `gemm` call each),
    /// or `None`. That is for large products `gemm` does not split well
    /// itself (`a` transposed, or few columns: mnist-mlp's `dw1`,
    /// 784x128x128). The blocks depend on the shape alone, so one thread
    /// runs the same blocks in turn and the bits never depend on the
    /// thread count.
    pub fn row_block(&self) -> Option<usize> {
        let big = self.per_batch_flops() >= PARALLEL_MIN_FLOPS && self.m >= ROW_BLOCKS * 64;
        (big && !self.gemm_splits()).then(|| self.m.div_ceil(ROW_BLOCKS).next_multiple_of(16))
    }

    /// Whether running this product can use more than one thread.
    pub fn parallel(&self) -> bool {
        self.threads > 1 && (self.gemm_splits() || self.row_block().is_some())
    }

    /// Floating-point operations: one multiply and one add per term.
    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.m as f64 * self.k as f64 * self.n as f64
    }

    fn a_view(&self, batch: usize) -> View {
        View::new(offset(batch, self.a_batch), self.a_row, self.a_col)
    }

    fn b_view(&self, batch: usize) -> View {
        View::new(offset(batch, self.b_batch), self.b_row, self.b_col)
    }

    fn c_view(&self, batch: usize) -> View {
        View::new(offset(batch, self.c_batch), stride(self.n), 1)
    }
}

/// A row-major `[rows, cols]` matrix as the product reads it, perhaps
/// transposed: its read extents and strides.
struct Operand {
    rows: usize,
    cols: usize,
    row: isize,
    col: isize,
    len: isize,
}

impl Operand {
    fn read(stored_rows: usize, stored_cols: usize, transposed: bool) -> Operand {
        let (row, col) = (stride(stored_cols), 1);
        let len = stride(stored_rows * stored_cols);
        if transposed {
            Operand {
                rows: stored_cols,
                cols: stored_rows,
                row: col,
                col: row,
                len,
            }
        } else {
            Operand {
                rows: stored_rows,
                cols: stored_cols,
                row,
                col,
                len,
            }
        }
    }
}

/// The smallest product (FLOPs of one batch element) worth splitting
/// across threads, measured with `benches/kernels.rs` (see BENCHMARKS.md):
/// mnist-mlp's 128x784x128 (2.6e7 FLOPs) ran 1.5x faster on two threads,
/// its 0.3 MFLOP products 4x slower.
pub const PARALLEL_MIN_FLOPS: f64 = 1.0e7;

/// The fewest columns of a product worth splitting: seed-cnn's im2col
/// GEMMs (n = 16 and 32, 2e8 FLOPs) ran no faster on two threads.
pub const PARALLEL_MIN_N: usize = 64;

/// Row blocks of a product split by rows ([`MatMulDesc::row_block`]): as
/// many as a 4-core machine would use; fewer threads take several each.
pub const ROW_BLOCKS: usize = 4;

/// `c = op(a) x op(b)` as `desc` describes, overwriting `c`.
///
/// Panics if a slice is shorter than the strided extent `desc` reads or
/// writes in it, or if a stride is negative.
pub fn matmul(desc: &MatMulDesc, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (desc.m, desc.k, desc.n);
    if let Some(rows) = desc.row_block() {
        return matmul_row_blocks(desc, rows, a, b, c);
    }
    let threads = desc.gemm_threads();
    for batch in 0..desc.batch {
        let dst = Target::Overwrite(desc.c_view(batch));
        gemm_into(
            m,
            n,
            k,
            c,
            dst,
            a,
            desc.a_view(batch),
            b,
            desc.b_view(batch),
            threads,
        );
    }
}

/// [`matmul`] as independent blocks of `rows` rows of `c` (each its own
/// single-threaded `gemm` call), in parallel on the current rayon pool
/// when `desc.threads > 1` and this runs inside one.
fn matmul_row_blocks(desc: &MatMulDesc, rows: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    use rayon::prelude::*;
    let (m, k, n) = (desc.m, desc.k, desc.n);
    let parallel = desc.threads > 1 && rayon::current_thread_index().is_some();
    for batch in 0..desc.batch {
        let start = offset(batch, desc.c_batch);
        let c = &mut c[start..start + m * n];
        let block = |(i, c): (usize, &mut [f32])| {
            let first = i * rows;
            let mut l = desc.a_view(batch);
            l.start += first * l.row as usize;
            gemm_into(
                c.len() / n,
                n,
                k,
                c,
                Target::Overwrite(View::new(0, stride(n), 1)),
                a,
                l,
                b,
                desc.b_view(batch),
                1,
            );
        };
        if parallel {
            c.par_chunks_mut(rows * n).enumerate().for_each(block);
        } else {
            c.chunks_mut(rows * n).enumerate().for_each(block);
        }
    }
}

/// The C-ABI entry point of [`matmul`] for generated code.
///
/// # Safety
///
/// `desc` points to a valid [`MatMulDesc`] with non-negative strides; `a`,
/// `b` and `c` are valid for reads (`c`: writes) of every element `desc`
/// addresses in them, i.e. `a` for `a_len()` elements, and `c` does not
/// overlap `a` or `b`. A pointer may dangle (even be null) when its extent
/// is empty.
pub unsafe extern "C" fn tri_matmul(
    desc: *const MatMulDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and every pointer covers
    // the extent the descriptor gives it, which is what `a_len` and friends
    // compute; `c` is disjoint from the inputs.
    unsafe {
        let d = &*desc;
        let a = super::slice(a, d.a_len());
        let b = super::slice(b, d.b_len());
        let c = super::slice_mut(c, d.c_len());
        matmul(d, a, b, c);
    }
}

impl MatMulDesc {
    /// Elements of `a` the product reads: one past the last offset.
    pub fn a_len(&self) -> usize {
        batched_extent(
            self.batch,
            self.a_batch,
            self.m,
            self.k,
            self.a_row,
            self.a_col,
        )
    }

    /// Elements of `b` the product reads.
    pub fn b_len(&self) -> usize {
        batched_extent(
            self.batch,
            self.b_batch,
            self.k,
            self.n,
            self.b_row,
            self.b_col,
        )
    }

    /// Elements of `c` the product writes.
    pub fn c_len(&self) -> usize {
        batched_extent(self.batch, self.c_batch, self.m, self.n, stride(self.n), 1)
    }
}

fn batched_extent(
    batch: usize,
    batch_stride: isize,
    rows: usize,
    cols: usize,
    row: isize,
    col: isize,
) -> usize {
    if batch == 0 {
        return 0;
    }
    let last = View::new(offset(batch - 1, batch_stride), row, col);
    last.extent(rows, cols)
}

/// Where one matrix starts in its slice and how it steps along rows and
/// columns, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub start: usize,
    pub row: isize,
    pub col: isize,
}

impl View {
    pub(crate) fn new(start: usize, row: isize, col: isize) -> View {
        View { start, row, col }
    }

    /// One past the largest offset of a `[rows, cols]` matrix (0 when it is
    /// empty). Panics on a negative stride or an offset past `isize::MAX`:
    /// descriptors never need either, and excluding them keeps the bounds
    /// check a single comparison.
    pub(crate) fn extent(self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            return 0;
        }
        assert!(
            self.row >= 0 && self.col >= 0,
            "negative stride in {self:?}"
        );
        let last = |n: usize, s: isize| (n - 1).checked_mul(s as usize);
        last(rows, self.row)
            .and_then(|r| last(cols, self.col).and_then(|c| r.checked_add(c)))
            .and_then(|o| o.checked_add(self.start))
            .filter(|&o| o < isize::MAX as usize)
            .map(|o| o + 1)
            .unwrap_or_else(|| panic!("{rows}x{cols} matrix at {self:?} overflows"))
    }
}

/// How [`gemm_into`] writes its product.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    /// `dst = lhs x rhs`, never reading `dst` (it may hold NaN).
    Overwrite(View),
    /// `dst += lhs x rhs`.
    Accumulate(View),
}

/// `dst[m, n] (=|+=) lhs[m, k] x rhs[k, n]`, each a strided view into its
/// slice. The bounds of all three views are checked here, which is what
/// makes the call into `gemm` sound; `k = 0` overwrites with zeros.
///
/// With `threads > 1` the product splits over the current rayon pool
/// (`gemm` splits the rows and columns of `dst`, never the sum over `k`, so
/// the result is the same bits for any thread count); the caller must then
/// not be a task that owns per-thread state, since a worker waiting for the
/// split may run another task meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_into(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    target: Target,
    lhs: &[f32],
    l: View,
    rhs: &[f32],
    r: View,
    threads: usize,
) {
    let (d, read_dst) = match target {
        Target::Overwrite(d) => (d, false),
        Target::Accumulate(d) => (d, true),
    };
    check("destination", d.extent(m, n), dst.len());
    check("left operand", l.extent(m, k), lhs.len());
    check("right operand", r.extent(k, n), rhs.len());
    if m == 0 || n == 0 {
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // Every offset `gemm` forms, `start + i*row + j*col` for `i`, `j` inside
    // the extents above, is below its slice's length (checked just now;
    // strides are non-negative, so the extremes are the corners, and
    // `wrapping_add` of an in-bounds `start` stays in bounds). With
    // `Parallelism::Rayon` the pool's workers write disjoint blocks of `dst`
    // and only read the operands (f32 slices are `Sync`), and `gemm` joins
    // them all before it returns, inside these borrows.
    // SAFETY: every access is in bounds (above) and `dst` is a unique
    // borrow disjoint from the two shared ones.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().wrapping_add(d.start),
            d.col,
            d.row,
            read_dst,
            lhs.as_ptr().wrapping_add(l.start),
            l.col,
            l.row,
            rhs.as_ptr().wrapping_add(r.start),
            r.col,
            r.row,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn check(what: &str, needed: usize, len: usize) {
    assert!(
        needed <= len,
        "{what} of a GEMM needs {needed} elements, the slice has {len}"
    );
}

/// A usize extent as an element stride.
pub(crate) fn stride(x: usize) -> isize {
    isize::try_from(x).expect("stride fits isize")
}

/// The start of batch element `i` under a non-negative batch stride.
fn offset(i: usize, batch_stride: isize) -> usize {
    let s = usize::try_from(batch_stride).expect("batch stride is non-negative");
    i.checked_mul(s).expect("batch offset overflows")
}
