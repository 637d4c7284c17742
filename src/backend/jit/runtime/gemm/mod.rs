//! f32 matrix products: a BLIS-style blocked GEMM of our own (operands
//! packed into panels, register-tiled microkernels for AVX-512, AVX2+FMA
//! or portable Rust, chosen at run time), whose packing space the caller
//! provides, so a product never allocates. [`gemm_into`] is the one
//! checked entry point; `matmul` (in `desc.rs`) and the conv routines call
//! it.
//!
//! Every operand is a strided view into a slice, so transposed operands,
//! NCHW images and OIHW filters are read in place: a transpose is a swap of
//! two strides, never a copy.

mod blocked;
mod desc;
mod kernel;
mod pack;
mod workspace;

pub use desc::{matmul, tri_matmul, MatMulDesc, PARALLEL_MIN_FLOPS, PARALLEL_MIN_N};
pub use kernel::Isa;
pub use workspace::{per_thread_len, workspace_len, KC};

use blocked::{Out, Problem};
use pack::Mat;

/// Where one matrix starts in its slice and how it steps along rows and
/// columns, in elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub start: usize,
    pub row: isize,
    pub col: isize,
}

impl View {
    pub fn new(start: usize, row: isize, col: isize) -> View {
        View { start, row, col }
    }

    /// One past the largest offset of a `[rows, cols]` matrix (0 when it is
    /// empty). Panics on a negative stride or an offset past `isize::MAX`:
    /// descriptors never need either, and excluding them keeps the bounds
    /// check a single comparison.
    pub fn extent(self, rows: usize, cols: usize) -> usize {
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
pub enum Target {
    /// `dst = lhs x rhs`, never reading `dst` (it may hold NaN).
    Overwrite(View),
    /// `dst += lhs x rhs`.
    Accumulate(View),
}

/// `dst[m, n] (=|+=) lhs[m, k] x rhs[k, n]`, each a strided view into its
/// slice, with the best kernels this CPU has. `k = 0` overwrites with
/// zeros. `workspace` must hold [`workspace_len`]`(m, n, k, threads)`
/// elements; nothing is allocated.
///
/// With `threads > 1`, called inside a rayon pool, the product splits over
/// the pool by disjoint bands of `dst`'s rows or columns, never the sum
/// over `k`, so the result is the same bits for any thread count; the
/// caller must then not be a task that owns per-thread state, since a
/// worker waiting for the split may run another task meanwhile.
///
/// Panics if a view reaches past its slice or the workspace is short.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(
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
    workspace: &mut [f32],
) {
    gemm_with(
        Isa::best(),
        m,
        n,
        k,
        dst,
        target,
        lhs,
        l,
        rhs,
        r,
        threads,
        workspace,
    )
}

/// [`gemm_into`] with the kernels of `isa` (for tests and benchmarks of
/// each set). Panics if this CPU lacks `isa`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    isa: Isa,
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
    workspace: &mut [f32],
) {
    assert!(isa.available(), "this CPU has no {isa:?}");
    let (d, overwrite) = match target {
        Target::Overwrite(d) => (d, true),
        Target::Accumulate(d) => (d, false),
    };
    check("destination", d.extent(m, n), dst.len());
    check("left operand", l.extent(m, k), lhs.len());
    check("right operand", r.extent(k, n), rhs.len());
    // Split only inside a pool: outside one, rayon would use its global
    // pool, which the executable does not own.
    let threads = if rayon::current_thread_index().is_some() {
        threads.max(1)
    } else {
        1
    };
    let needed = workspace_len(m, n, k, threads);
    check("workspace", needed, workspace.len());
    if m == 0 || n == 0 {
        return;
    }
    // `start` is in bounds of each non-empty slice (checked just now), so
    // `add` stays inside it; with `k = 0` the operand pointers are never
    // read.
    let at = |s: &[f32], v: View| s.as_ptr().wrapping_add(v.start);
    let p = Problem {
        m,
        n,
        k,
        a: Mat {
            ptr: at(lhs, l),
            row: l.row,
            col: l.col,
        },
        b: Mat {
            ptr: at(rhs, r),
            row: r.row,
            col: r.col,
        },
        c: Out {
            ptr: dst.as_mut_ptr().wrapping_add(d.start),
            row: d.row,
            col: d.col,
        },
        overwrite,
    };
    // Every offset the loop nest forms, `start + i*row + j*col` for `i`,
    // `j` inside the extents above, is below its slice's length (strides
    // are non-negative, so the extremes are the corners); `dst` is a
    // unique borrow, so it aliases neither operand; `isa` is available.
    // SAFETY: those are exactly `blocked::run`'s requirements.
    unsafe { blocked::run(isa, p, threads, &mut workspace[..needed]) }
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
