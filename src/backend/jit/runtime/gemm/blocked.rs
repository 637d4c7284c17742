//! The blocked loop nest (BLIS order: columns of B, the sum, rows of A,
//! then tiles) over raw pointers the caller bounds-checked, and its split
//! over threads by disjoint rectangles of the output.

use rayon::prelude::*;

use super::kernel::{Isa, Micro, Tile};
use super::pack::{pack, Mat};
use super::workspace::{aligned, b_in_place, block_lens, kc, mc, nc, per_thread_len, Plan};

/// The output by raw pointer: element `(i, j)` at `ptr + i*row + j*col`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Out {
    pub ptr: *mut f32,
    pub row: isize,
    pub col: isize,
}

/// One product `c[m, n] (=|+=) a[m, k] x b[k, n]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Mat,
    pub b: Mat,
    pub c: Out,
    pub overwrite: bool,
}

// SAFETY: a `Problem` is only sent to the workers of one split, which
// read `a` and `b` (never written during the call) and write disjoint
// rectangles of `c` (`Problem::part`); the call joins them all before the
// borrows behind the pointers end.
unsafe impl Send for Problem {}
// SAFETY: as for Send.
unsafe impl Sync for Problem {}

impl Problem {
    /// `c^T (=|+=) b^T x a^T`: the same elements, tiled the other way.
    fn transposed(self) -> Problem {
        Problem {
            m: self.n,
            n: self.m,
            a: self.b.t(),
            b: self.a.t(),
            c: Out {
                row: self.c.col,
                col: self.c.row,
                ..self.c
            },
            ..self
        }
    }

    /// Part `t` of `parts`: a band of whole tiles of rows (`by_rows`) or
    /// columns, empty past the end.
    fn part(self, t: usize, parts: usize, micro: &Micro, by_rows: bool) -> Problem {
        let (len, unit) = if by_rows {
            (self.m, micro.mr)
        } else {
            (self.n, micro.nr)
        };
        let per = len.div_ceil(unit).div_ceil(parts) * unit;
        let start = (t * per).min(len);
        let end = (start + per).min(len);
        let (i, j) = if by_rows { (start, 0) } else { (0, start) };
        // The band starts inside `c`, `a` (rows) or `b` (columns), or one
        // past it with an empty extent, where it is never dereferenced.
        let ptr = self
            .c
            .ptr
            .wrapping_offset(i as isize * self.c.row + j as isize * self.c.col);
        Problem {
            m: if by_rows { end - start } else { self.m },
            n: if by_rows { self.n } else { end - start },
            a: Mat {
                ptr: self.a.ptr.wrapping_offset(i as isize * self.a.row),
                ..self.a
            },
            b: Mat {
                ptr: self.b.ptr.wrapping_offset(j as isize * self.b.col),
                ..self.b
            },
            c: Out { ptr, ..self.c },
            ..self
        }
    }
}

/// Runs `p` with `isa`'s kernels, split over `threads` parts in the current
/// rayon pool when `threads > 1`.
///
/// # Safety
/// `isa` is available; every element of `a` (`m x k`), `b` (`k x n`) and
/// `c` (`m x n`) is valid (`c` for writes too, and not aliased by `a`,
/// `b` or anyone else during the call); `ws` holds at least
/// `workspace_len(m, n, k, threads)` elements.
// SAFETY: unsafe to call because it trusts the pointers (# Safety).
pub(super) unsafe fn run(isa: Isa, p: Problem, threads: usize, ws: &mut [f32]) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 {
        if p.overwrite {
            for i in 0..p.m {
                for j in 0..p.n {
                    // SAFETY: `(i, j)` is inside `c` (# Safety).
                    unsafe { *p.c.ptr.offset(i as isize * p.c.row + j as isize * p.c.col) = 0.0 };
                }
            }
        }
        return;
    }
    let per = per_thread_len(p.m, p.n, p.k);
    // B is `b` untransposed, `a^T` transposed.
    let b_strides = [(p.b.row, p.b.col), (p.a.col, p.a.row)];
    let plan = Plan::new(isa, p.m, p.n, p.k, b_strides);
    let p = if plan.transposed { p.transposed() } else { p };
    let micro = plan.micro;
    let (row_tiles, col_tiles) = (p.m.div_ceil(micro.mr), p.n.div_ceil(micro.nr));
    let parts = threads.min(row_tiles.max(col_tiles));
    if parts <= 1 {
        // SAFETY: the caller's invariant (# Safety); `per` fits `ws`.
        return unsafe { blocked(&micro, p, &mut ws[..per]) };
    }
    let by_rows = row_tiles >= col_tiles;
    ws[..parts * per]
        .par_chunks_mut(per)
        .enumerate()
        .for_each(|(t, ws)| {
            let part = p.part(t, parts, &micro, by_rows);
            // SAFETY: each part is a disjoint rectangle of `c` (whole
            // bands of tiles) with its own workspace; the operands are
            // only read (# Safety).
            unsafe { blocked(&micro, part, ws) }
        });
}

/// The loop nest on this thread: B packed block by block, A read in place
/// but for a short last row panel, packed with zeros below its rows.
///
/// # Safety
/// As for [`run`], with `ws` at least `per_thread_len` for the whole
/// product this is part of.
// SAFETY: unsafe to call because it trusts the pointers (# Safety).
unsafe fn blocked(micro: &Micro, p: Problem, ws: &mut [f32]) {
    let (mr, nr) = (micro.mr, micro.nr);
    if p.m == 0 || p.n == 0 {
        return;
    }
    let (a_len, _) = block_lens(micro, p.m, p.n, p.k);
    let (a_ws, b_ws) = ws.split_at_mut(a_len);
    let (a_ws, b_ws) = (aligned(a_ws), aligned(b_ws));
    let (kc, mc, nc) = (kc(p.k), mc(p.m, mr), nc(p.n, nr));
    let b_in_place = b_in_place(p.b.row, p.b.col, p.n, nr);
    for jc in (0..p.n).step_by(nc) {
        let cols = nc.min(p.n - jc);
        for pc in (0..p.k).step_by(kc) {
            let depth = kc.min(p.k - pc);
            if !b_in_place {
                // SAFETY: rows `pc..pc+depth`, columns `jc..jc+cols` of
                // `b` are in bounds (# Safety); `b_ws` holds the panels
                // (`block_lens`).
                unsafe { pack(p.b.at(pc, jc).t(), cols, depth, nr, b_ws) };
            }
            if p.m < mr {
                // Fewer rows than one panel: packed, zeros below.
                // SAFETY: as above, for the rows of `a`.
                unsafe { pack(p.a.at(0, pc), p.m, depth, mr, a_ws) };
            }
            // Only the first block of the sum may overwrite.
            let overwrite = p.overwrite && pc == 0;
            for ic in (0..p.m).step_by(mc) {
                let rows = mc.min(p.m - ic);
                for jr in (0..cols).step_by(nr) {
                    for ir in (0..rows).step_by(mr) {
                        // A short last panel runs as the full panel ending
                        // at row `m`, storing only its new rows.
                        let i = (ic + ir).min(p.m.saturating_sub(mr));
                        let row0 = ic + ir - i;
                        // SAFETY: `(i, pc)` is inside `a` (`i < m`).
                        let (a, a_row, a_col) = if p.m >= mr {
                            (unsafe { p.a.at(i, pc).ptr }, p.a.row, p.a.col)
                        } else {
                            (a_ws.as_ptr(), 1, mr as isize)
                        };
                        let j = jc + jr;
                        // SAFETY: `(pc, j)` is inside `b`.
                        let (b, b_row) = if b_in_place {
                            (unsafe { p.b.at(pc, j).ptr }, nr)
                        } else {
                            (b_ws[jr * depth..].as_ptr(), nr)
                        };
                        let tile = Tile {
                            kc: depth,
                            a,
                            a_row,
                            a_col,
                            b,
                            b_row,
                            // SAFETY: `(i, j)` is inside `c`.
                            c: unsafe {
                                p.c.ptr.offset(i as isize * p.c.row + j as isize * p.c.col)
                            },
                            c_row: p.c.row,
                            c_col: p.c.col,
                            row0,
                            rows: (row0 + rows - ir).min(mr),
                            cols: nr.min(cols - jr),
                            overwrite,
                        };
                        // SAFETY: the tile's rows `row0..rows` by `cols`
                        // are inside `c`; `a` has `mr` readable rows (of
                        // the operand, or the packed panel) for `depth`
                        // steps; the B panel has `depth` rows of `nr`.
                        unsafe { micro.run(&tile) };
                    }
                }
            }
        }
    }
}
