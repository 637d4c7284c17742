//! Packing: copying a block of an operand, through its strides, into the
//! panel order the microkernels read (consecutive, zero-padded), so the
//! kernels' loads are unit-stride whatever the operand's layout.

/// A strided read-only matrix by raw pointer: element `(i, j)` at `ptr +
/// i*row + j*col`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mat {
    pub ptr: *const f32,
    pub row: isize,
    pub col: isize,
}

impl Mat {
    /// The same matrix starting at element `(i, j)`.
    ///
    /// # Safety
    /// `(i, j)` is inside the matrix the caller checked.
    // SAFETY: unsafe to call because the offset must stay in bounds.
    pub unsafe fn at(self, i: usize, j: usize) -> Mat {
        // SAFETY: in bounds by the caller's invariant (# Safety).
        let ptr = unsafe {
            self.ptr
                .offset(i as isize * self.row + j as isize * self.col)
        };
        Mat { ptr, ..self }
    }

    /// The transpose: a swap of the two strides.
    pub fn t(self) -> Mat {
        Mat {
            ptr: self.ptr,
            row: self.col,
            col: self.row,
        }
    }
}

/// Packs `src[0..rows, 0..depth]` (`rows` along the panel, `depth` along
/// the sum) into `ceil(rows / w)` panels of `depth x w` elements, panel by
/// panel: `dst[q*depth*w + p*w + r] = src[q*w + r, p]`, zero where `q*w + r
/// >= rows`. A packs with `w = MR` (rows of A); B packs its transpose with
/// `w = NR` (columns of B).
///
/// # Safety
/// Every `src(i, p)` with `i < rows`, `p < depth` is valid for reads; `dst`
/// holds at least `rows.div_ceil(w) * depth * w` elements.
// SAFETY: unsafe to call because it trusts `src` (# Safety); `dst` is a
// checked slice.
pub(super) unsafe fn pack(src: Mat, rows: usize, depth: usize, w: usize, dst: &mut [f32]) {
    let panels = rows.div_ceil(w);
    let dst = &mut dst[..panels * depth * w];
    for (q, panel) in dst.chunks_exact_mut(depth * w).enumerate() {
        let r0 = q * w;
        let live = w.min(rows - r0);
        // SAFETY: row `r0 < rows` is inside `src`.
        let s = unsafe { src.at(r0, 0) };
        if s.row == 1 {
            // Each step of the sum is `live` consecutive elements.
            for (p, out) in panel.chunks_exact_mut(w).enumerate() {
                // SAFETY: rows `r0..r0+live` at column `p < depth` are in
                // bounds and consecutive (unit row stride).
                let from = unsafe { std::slice::from_raw_parts(s.at(0, p).ptr, live) };
                out[..live].copy_from_slice(from);
                out[live..].fill(0.0);
            }
        } else {
            // Row by row: with a unit column stride each is a contiguous
            // read, scattered `w` apart.
            for r in 0..live {
                // SAFETY: row `r0 + r < rows`.
                let row = unsafe { s.at(r, 0) };
                let out = panel[r..].as_mut_ptr();
                for p in 0..depth {
                    // SAFETY: `(r0 + r, p)` is in bounds of `src`, and
                    // `p*w + r < depth*w`, the panel's length.
                    unsafe { *out.add(p * w) = *row.ptr.offset(p as isize * row.col) };
                }
            }
            if live < w {
                for out in panel.chunks_exact_mut(w) {
                    out[live..].fill(0.0);
                }
            }
        }
    }
}
