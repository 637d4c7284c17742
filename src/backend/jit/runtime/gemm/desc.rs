//! The `matmul` op: its descriptor (operand strides, batch, threads), the
//! rule for when it splits over threads, and its C-ABI shim.

use super::{gemm_into, stride, Target, View};
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
    /// where splitting measured faster ([`MatMulDesc::parallel`]), else 1.
    pub fn gemm_threads(&self) -> usize {
        if self.parallel() {
            self.threads
        } else {
            1
        }
    }

    fn per_batch_flops(&self) -> f64 {
        2.0 * self.m as f64 * self.k as f64 * self.n as f64
    }

    /// Whether running this product can use more than one thread: a
    /// product of at least [`PARALLEL_MIN_FLOPS`] (below it the fork and
    /// join cost more than the second core saves) whose output has at
    /// least [`PARALLEL_MIN_N`] rows or columns to cut into bands.
    pub fn parallel(&self) -> bool {
        self.threads > 1
            && self.per_batch_flops() >= PARALLEL_MIN_FLOPS
            && self.m.max(self.n) >= PARALLEL_MIN_N
    }

    /// f32 elements of packing workspace the product needs (for as many
    /// threads as it splits over): the plan gives every matmul kernel this
    /// much arena scratch.
    pub fn workspace_len(&self) -> usize {
        if self.batch == 0 {
            return 0;
        }
        super::workspace_len(self.m, self.n, self.k, self.gemm_threads())
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

/// The fewest rows or columns (the longer side) of an output worth
/// cutting into per-thread bands.
pub const PARALLEL_MIN_N: usize = 64;

/// `c = op(a) x op(b)` as `desc` describes, overwriting `c`, packing in
/// `workspace` ([`MatMulDesc::workspace_len`] elements).
///
/// Panics if a slice is shorter than the strided extent `desc` reads or
/// writes in it, or if a stride is negative.
pub fn matmul(desc: &MatMulDesc, a: &[f32], b: &[f32], c: &mut [f32], workspace: &mut [f32]) {
    let threads = desc.gemm_threads();
    for batch in 0..desc.batch {
        let dst = Target::Overwrite(desc.c_view(batch));
        let (l, r) = (desc.a_view(batch), desc.b_view(batch));
        gemm_into(
            desc.m, desc.n, desc.k, c, dst, a, l, b, r, threads, workspace,
        );
    }
}

/// The C-ABI entry point of [`matmul`] for generated code.
///
/// # Safety
///
/// `desc` points to a valid [`MatMulDesc`] with non-negative strides; `a`,
/// `b` and `c` are valid for reads (`c`: writes) of every element `desc`
/// addresses in them, i.e. `a` for `a_len()` elements, `workspace` for
/// reads and writes of `workspace_len()`, and `c` and `workspace` overlap
/// nothing else. A pointer may dangle (even be null) when its extent is
/// empty.
pub unsafe extern "C" fn tri_matmul(
    desc: *const MatMulDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    workspace: *mut f32,
) {
    // SAFETY: the caller guarantees `desc` is valid and every pointer covers
    // the extent the descriptor gives it, which is what `a_len` and friends
    // compute; `c` and `workspace` are disjoint from everything else.
    unsafe {
        let d = &*desc;
        let a = super::super::slice(a, d.a_len());
        let b = super::super::slice(b, d.b_len());
        let c = super::super::slice_mut(c, d.c_len());
        let workspace = super::super::slice_mut(workspace, d.workspace_len());
        matmul(d, a, b, c, workspace);
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

/// The start of batch element `i` under a non-negative batch stride.
fn offset(i: usize, batch_stride: isize) -> usize {
    let s = usize::try_from(batch_stride).expect("batch stride is non-negative");
    i.checked_mul(s).expect("batch offset overflows")
}
