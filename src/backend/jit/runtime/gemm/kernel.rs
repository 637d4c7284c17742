//! Microkernels: `c[mr, nr] (=|+=) a_panel^T x b_panel` over one packed
//! `kc`-deep A panel (`kc x MR`, one column of MR rows per step of `p`) and
//! B panel (`kc x NR`), with the `MR x NR` tile of accumulators in
//! registers. Each accumulator sums its `kc` products in order `p = 0, 1,
//! ...` from zero, one FMA per product (the scalar kernel: a multiply and
//! an add), so an output element's bits depend on its row of A, its column
//! of B and `kc`, never on which tile or thread computed it.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// An instruction set the kernels come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust, for CPUs without AVX2 and FMA.
    Scalar,
    Avx2,
    Avx512,
}

impl Isa {
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx2, Isa::Avx512];

    /// The best set this CPU has, detected once (a static, so the check
    /// costs one relaxed load per GEMM call after the first).
    pub fn best() -> Isa {
        static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
        match BEST.load(Relaxed) {
            0 => Isa::Scalar,
            1 => Isa::Avx2,
            2 => Isa::Avx512,
            _ => {
                let best = Isa::ALL
                    .into_iter()
                    .rev()
                    .find(|isa| isa.available())
                    .unwrap_or(Isa::Scalar);
                BEST.store(best as u8, Relaxed);
                best
            }
        }
    }

    /// Whether this CPU can run the set's kernels.
    pub fn available(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The tile shapes of this set's kernels.
    pub(super) fn kernels(self) -> &'static [Micro] {
        match self {
            Isa::Scalar => &SCALAR,
            Isa::Avx2 => &AVX2,
            Isa::Avx512 => &AVX512,
        }
    }
}

/// One tile's operands: rows `row0..rows` of `c[mr, cols] (=|+=) sum over
/// p < kc of a[.., p] x b[p, ..]`, where `a(i, p)` is at `a + i*a_row +
/// p*a_col` (the operand itself read in place: the kernels only broadcast
/// single elements of `a`, so any strides do, or a packed panel) and `b`
/// is a panel of `nr` consecutive elements per step of `p`, `b_row` apart;
/// `c(i, j)` is at `c + i*c_row + j*c_col`. Rows below `row0` are
/// computed but not stored: a last short panel of rows is run as the full
/// panel ending at the operand's last row.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tile {
    pub kc: usize,
    pub a: *const f32,
    pub a_row: isize,
    pub a_col: isize,
    pub b: *const f32,
    pub b_row: usize,
    pub c: *mut f32,
    pub c_row: isize,
    pub c_col: isize,
    pub row0: usize,
    pub rows: usize,
    pub cols: usize,
    pub overwrite: bool,
}

// SAFETY: a microkernel is unsafe to call because it trusts the tile's
// pointers and extents and needs its ISA; `Micro::run` calls it only with
// checked tiles on a CPU that has that ISA.
type KernelFn = unsafe fn(&Tile);

/// One microkernel and its tile: `mr` rows by `nr` columns of the output.
#[derive(Clone, Copy, Debug)]
pub(super) struct Micro {
    pub mr: usize,
    pub nr: usize,
    /// Relative cost per tile element against the set's widest kernel
    /// (a kernel with fewer accumulators hides less latency).
    pub cost: f32,
    /// For `a_row == 1` (packed panels, transposed operands): the row
    /// offsets are constants.
    unit: KernelFn,
    /// For any `a_row`.
    strided: KernelFn,
}

impl Micro {
    /// Writes (`overwrite`) or adds the `rows x cols` top-left corner of the
    /// tile's products to `c`.
    ///
    /// # Safety
    /// The set of this kernel is available; `row0 <= rows <= mr`, `cols <=
    /// nr`; `a(i, p)` is valid for reads for every `i < mr` (not only
    /// `rows`), `p < kc`; `b + p*b_row + j` for `p < kc`, `j < nr`; every
    /// `c(i, j)` with `row0 <= i < rows`, `j < cols` for reads and writes,
    /// not accessed by anyone else meanwhile.
    // SAFETY: unsafe to call because it trusts the pointers; callers keep
    // the invariant above.
    #[inline]
    pub unsafe fn run(&self, t: &Tile) {
        let f = if t.a_row == 1 {
            self.unit
        } else {
            self.strided
        };
        // SAFETY: forwarded under the caller's invariant (# Safety).
        unsafe { f(t) }
    }
}

const SCALAR: [Micro; 1] = [Micro {
    mr: 4,
    nr: 8,
    cost: 1.0,
    unit: scalar::<4, 8>,
    strided: scalar::<4, 8>,
}];

#[cfg(target_arch = "x86_64")]
const AVX2: [Micro; 1] = [Micro {
    mr: 6,
    nr: 16,
    cost: 1.0,
    unit: avx2::<6, true>,
    strided: avx2::<6, false>,
}];
#[cfg(not(target_arch = "x86_64"))]
const AVX2: [Micro; 1] = SCALAR;

/// 12x32: 24 zmm accumulators, two B vectors per step. 28x16: for outputs
/// 16 (or 48, ...) wide, where 12x32 would pad half its columns (seed-cnn's
/// conv2 has 16 channels, its dense layer 10 outputs).
#[cfg(target_arch = "x86_64")]
const AVX512: [Micro; 2] = [
    Micro {
        mr: 12,
        nr: 32,
        cost: 1.0,
        unit: avx512::<12, 2, true>,
        strided: avx512::<12, 2, false>,
    },
    Micro {
        mr: 28,
        nr: 16,
        cost: 1.1,
        unit: avx512::<28, 1, true>,
        strided: avx512::<28, 1, false>,
    },
];
#[cfg(not(target_arch = "x86_64"))]
const AVX512: [Micro; 1] = SCALAR;

/// Stores a finished tile held in `tile` (row-major, `nr` wide) into `c`:
/// the partial-tile and strided path of every kernel.
///
/// # Safety
/// As for [`Micro::run`] on `c`.
// SAFETY: unsafe to call because it trusts `c`; callers keep the invariant.
#[inline(always)]
unsafe fn store_tile(tile: &[f32], nr: usize, t: &Tile) {
    for i in t.row0..t.rows {
        for j in 0..t.cols {
            let v = tile[i * nr + j];
            // SAFETY: `i < rows`, `j < cols`: in bounds by the invariant.
            unsafe {
                let at = t.c.offset(i as isize * t.c_row + j as isize * t.c_col);
                *at = if t.overwrite { v } else { *at + v };
            }
        }
    }
}

/// The row offsets of `a` in elements: constants when `UNIT`.
#[inline(always)]
fn row_offsets<const MR: usize, const UNIT: bool>(a_row: isize) -> [isize; MR] {
    let step = if UNIT { 1 } else { a_row };
    std::array::from_fn(|i| i as isize * step)
}

/// The portable kernel: plain multiplies and adds, which LLVM vectorizes
/// across the `NR` columns.
///
/// # Safety
/// As for [`Micro::run`].
// SAFETY: unsafe to call because it trusts its pointers (# Safety).
unsafe fn scalar<const MR: usize, const NR: usize>(t: &Tile) {
    let rows = row_offsets::<MR, false>(t.a_row);
    let mut acc = [[0.0f32; NR]; MR];
    for p in 0..t.kc {
        // SAFETY: `p < kc`: inside both operands (# Safety).
        let (ap, bp) = unsafe {
            (
                t.a.offset(p as isize * t.a_col),
                std::slice::from_raw_parts(t.b.add(p * t.b_row), NR),
            )
        };
        for i in 0..MR {
            // SAFETY: row `i < mr` of `a` is readable (# Safety).
            let ai = unsafe { *ap.offset(rows[i]) };
            for j in 0..NR {
                acc[i][j] += ai * bp[j];
            }
        }
    }
    // SAFETY: the caller's invariant on `c` (# Safety).
    unsafe { store_tile(acc.as_flattened(), NR, t) }
}

/// AVX2 + FMA, `MR`x16: `2 * MR` ymm accumulators.
///
/// # Safety
/// As for [`Micro::run`] (AVX2 and FMA available; `a_row == 1` if `UNIT`).
// SAFETY: unsafe to call because it trusts its pointers (# Safety).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const MR: usize, const UNIT: bool>(t: &Tile) {
    let rows = row_offsets::<MR, UNIT>(t.a_row);
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (mut ap, mut bp) = (t.a, t.b);
    for _ in 0..t.kc {
        // SAFETY: this step of the sum is inside both operands (# Safety).
        unsafe {
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            for (acc, &row) in acc.iter_mut().zip(&rows) {
                let ai = _mm256_broadcast_ss(&*ap.offset(row));
                acc[0] = _mm256_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(ai, b1, acc[1]);
            }
            ap = ap.offset(t.a_col);
            bp = bp.add(t.b_row);
        }
    }
    if t.row0 == 0 && t.rows == MR && t.cols == 16 && t.c_col == 1 {
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: a full tile with unit column stride: row `i` is 16
            // consecutive elements in bounds (# Safety).
            unsafe {
                let at = t.c.offset(i as isize * t.c_row);
                for (v, &sum) in acc.iter().enumerate() {
                    let to = at.add(8 * v);
                    let sum = if t.overwrite {
                        sum
                    } else {
                        _mm256_add_ps(_mm256_loadu_ps(to), sum)
                    };
                    _mm256_storeu_ps(to, sum);
                }
            }
        }
        return;
    }
    let mut tile = [[0.0f32; 16]; MR];
    for (row, acc) in tile.iter_mut().zip(&acc) {
        for (v, &sum) in acc.iter().enumerate() {
            // SAFETY: a row of `tile` has 16 elements.
            unsafe { _mm256_storeu_ps(row.as_mut_ptr().add(8 * v), sum) };
        }
    }
    // SAFETY: the caller's invariant on `c` (# Safety).
    unsafe { store_tile(tile.as_flattened(), 16, t) }
}

/// AVX-512F, `MR` rows by `NV` zmm vectors (16 columns each).
///
/// # Safety
/// As for [`Micro::run`] (AVX-512F available; `a_row == 1` if `UNIT`).
// SAFETY: unsafe to call because it trusts its pointers (# Safety).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<const MR: usize, const NV: usize, const UNIT: bool>(t: &Tile) {
    let rows = row_offsets::<MR, UNIT>(t.a_row);
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let (mut ap, mut bp) = (t.a, t.b);
    for _ in 0..t.kc {
        // SAFETY: this step of the sum is inside both operands (# Safety).
        unsafe {
            let bv: [__m512; NV] = std::array::from_fn(|v| _mm512_loadu_ps(bp.add(16 * v)));
            for (acc, &row) in acc.iter_mut().zip(&rows) {
                let ai = _mm512_set1_ps(*ap.offset(row));
                for (acc, &bv) in acc.iter_mut().zip(&bv) {
                    *acc = _mm512_fmadd_ps(ai, bv, *acc);
                }
            }
            ap = ap.offset(t.a_col);
            bp = bp.add(t.b_row);
        }
    }
    if t.c_col == 1 && t.rows == MR {
        // Whole rows of consecutive elements: vector stores, masked in
        // the last vector when the tile is narrower than `nr`.
        for (i, acc) in acc.iter().enumerate() {
            // (A test in the unrolled loop: indexing `acc` from `row0`
            // would keep the accumulators in memory.)
            if i < t.row0 {
                continue;
            }
            for (v, &sum) in acc.iter().enumerate() {
                let live = t.cols.saturating_sub(16 * v).min(16);
                let mask: __mmask16 = ((1u32 << live) - 1) as u16;
                // SAFETY: the `live` lanes of row `i` at column `16 * v`
                // are inside `c` (# Safety); masked lanes are not touched.
                unsafe {
                    let to = t.c.offset(i as isize * t.c_row).add(16 * v);
                    let sum = if t.overwrite {
                        sum
                    } else {
                        _mm512_add_ps(_mm512_maskz_loadu_ps(mask, to), sum)
                    };
                    _mm512_mask_storeu_ps(to, mask, sum);
                }
            }
        }
        return;
    }
    let mut tile = [[[0.0f32; 16]; NV]; MR];
    for (row, acc) in tile.iter_mut().zip(&acc) {
        for (out, &sum) in row.iter_mut().zip(acc) {
            // SAFETY: `out` has 16 elements.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), sum) };
        }
    }
    // SAFETY: the caller's invariant on `c` (# Safety).
    unsafe { store_tile(tile.as_flattened().as_flattened(), 16 * NV, t) }
}
