//! How a product is blocked (the kernel, its orientation, the block sizes)
//! and how much packing workspace that takes. Everything here depends on
//! the shape and the instruction set alone.

use super::kernel::{Isa, Micro};

/// The most steps of the sum packed at once. `k` is cut into equal blocks
/// of at most this many, so the A panel (MR x KC) stays in L1 and there is
/// no short tail block. Every output element is summed block by block in
/// order, so KC (a function of `k` only) fixes the rounding.
pub const KC: usize = 192;
/// The most rows of A packed at once (~200 KB of panels, in L2).
const MC: usize = 192;
/// The most columns of B packed at once (~512 KB of panels, in L2).
const NC: usize = 512;
/// Slack for aligning each packed block to a 64-byte line.
const ALIGN: usize = 16;

/// How one product runs: `dst (=|+=) a x b`, or, `transposed`, `dst^T
/// (=|+=) b^T x a^T` (the kernel tiles the output the other way round),
/// with the kernel `micro`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    pub micro: Micro,
    pub transposed: bool,
}

impl Plan {
    /// The kernel and orientation of `isa` with the least estimated time
    /// for an `m x n x k` product, in cycles: the padded tiles' FMAs (16
    /// lanes, two a cycle), plus packing B, the operand the kernels load
    /// as vectors (nothing when its rows already are whole panels, else
    /// ~8 cycles a panel row plus a quarter cycle an element when rows are
    /// contiguous, a cycle when the pack transposes), plus packing A when
    /// it has fewer rows than one panel (else it is read in place).
    /// `b_strides[t]`: the (row, col) strides B has in orientation `t`.
    /// mnist-mlp's `128x128x10` runs transposed (10 rows of 12 instead of
    /// 10 columns of 32); seed-cnn's 16-channel conv GEMMs take 28x16.
    pub fn new(isa: Isa, m: usize, n: usize, k: usize, b_strides: [(isize, isize); 2]) -> Plan {
        let mut best: Option<(f32, Plan)> = None;
        for transposed in [false, true] {
            let (rows, cols) = if transposed { (n, m) } else { (m, n) };
            let (b_row, b_col) = b_strides[transposed as usize];
            for &micro in isa.kernels() {
                let (mr, nr) = (micro.mr, micro.nr);
                let area = (rows.next_multiple_of(mr) * cols.next_multiple_of(nr)) as f32;
                let fma = area * k as f32 / 32.0 * micro.cost;
                let panels = cols.div_ceil(nr) as f32;
                let per_element = if b_col == 1 { 0.25 } else { 1.0 };
                let pack_b = if b_in_place(b_row, b_col, cols, nr) {
                    0.0
                } else {
                    k as f32 * panels * (8.0 + nr as f32 * per_element)
                };
                let pack_a = if rows < mr {
                    (k * mr) as f32 * 0.25
                } else {
                    0.0
                };
                let cost = fma + pack_b + pack_a;
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, Plan { micro, transposed }));
                }
            }
        }
        best.expect("every set has a kernel").1
    }
}

/// Whether B (strides `row`, `col`, `cols` columns) already is in panel
/// layout for a kernel `nr` wide: rows of exactly `nr` consecutive
/// elements, as a 16- or 32-channel `dy` is. It is then read in place.
pub(super) fn b_in_place(row: isize, col: isize, cols: usize, nr: usize) -> bool {
    col == 1 && row == nr as isize && cols.is_multiple_of(nr)
}

/// The depth of each block of the sum: `k` cut into equal blocks of at
/// most [`KC`].
pub(super) fn kc(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
}

/// Rows of A packed per block (a multiple of `mr`): `rows` cut evenly.
pub(super) fn mc(rows: usize, mr: usize) -> usize {
    even(rows, MC.next_multiple_of(mr), mr)
}

/// Columns of B packed per block (a multiple of `nr`).
pub(super) fn nc(cols: usize, nr: usize) -> usize {
    even(cols, NC.next_multiple_of(nr), nr)
}

fn even(len: usize, most: usize, unit: usize) -> usize {
    len.div_ceil(len.div_ceil(most).max(1))
        .next_multiple_of(unit)
        .max(unit)
}

/// The (A, B) packed block lengths, in f32, for a product with oriented
/// `rows x cols` and depth `k` under `micro`: one short row panel of A,
/// and a block of B's column panels. Bounds for every part of the product
/// a thread may run (monotone in each extent).
pub(super) fn block_lens(micro: &Micro, rows: usize, cols: usize, k: usize) -> (usize, usize) {
    let depth = k.min(KC);
    let a = if rows == 0 { 0 } else { micro.mr * depth };
    let b = cols
        .next_multiple_of(micro.nr)
        .min(NC.next_multiple_of(micro.nr))
        * depth;
    (a + ALIGN, b + ALIGN)
}

/// f32 elements of packing workspace one thread needs for an `m x n x k`
/// product with any kernel of any instruction set in either orientation:
/// so a workspace sized at compile time fits whatever set runs it, and the
/// bound is monotone in each extent (a smaller product, or a thread's part
/// of one, always fits).
pub fn per_thread_len(m: usize, n: usize, k: usize) -> usize {
    if m == 0 || n == 0 || k == 0 {
        return 0;
    }
    let mut most = 0;
    for isa in Isa::ALL {
        for micro in isa.kernels() {
            for (rows, cols) in [(m, n), (n, m)] {
                let (a, b) = block_lens(micro, rows, cols, k);
                most = most.max(a + b);
            }
        }
    }
    most
}

/// f32 elements of workspace an `m x n x k` product on `threads` threads
/// needs: one disjoint per-thread block each.
pub fn workspace_len(m: usize, n: usize, k: usize, threads: usize) -> usize {
    threads.max(1) * per_thread_len(m, n, k)
}

/// The first 64-byte aligned element of `ws` and the rest from there.
pub(super) fn aligned(ws: &mut [f32]) -> &mut [f32] {
    let skip = ws.as_ptr().align_offset(64).min(ALIGN).min(ws.len());
    &mut ws[skip..]
}
