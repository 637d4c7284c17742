//! The filter gradient (and the fused bias gradient), chunk by chunk:
//! per-chunk partials added in chunk order, so the bits never depend on
//! the thread count.

use super::super::gemm::{gemm_into, stride, Target, View};
use super::outer::outer_filter_grad;
use super::ConvDesc;

/// `dw = conv2d_filter_grad(x, dy)`, chunk by chunk: im2col of the chunk's
/// images into a patch block, then `patches^T x dy` into the chunk's own
/// partial gradient in scratch; last, `dw` (in the filter's layout, through
/// its strides) is the sum of the partials in chunk order, so the result
/// does not depend on which thread ran which chunk.
pub fn conv2d_filter_grad(
    d: &ConvDesc,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    scratch: &mut [f32],
) {
    conv2d_filter_and_bias_grad(d, x, dy, dw, None, scratch)
}

/// [`conv2d_filter_grad`], and with `db` also the bias gradient (the sum of
/// `dy` over every pixel of the batch, per output channel) from the same
/// chunks while each is in cache: per-chunk partial sums in pixel order,
/// added in chunk order, like the filter gradient (so the same bits for any
/// thread count; within f32 rounding of one sequential sum).
pub fn conv2d_filter_and_bias_grad(
    d: &ConvDesc,
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    scratch: &mut [f32],
) {
    if let Some(db) = &db {
        assert!(db.len() >= d.o, "db: {} elements, needs {}", db.len(), d.o);
    }
    let with_bias = db.is_some();
    let sizes = [
        ("x", x.len(), d.image_len()),
        ("dy", dy.len(), d.output_len()),
        ("dw", dw.len(), d.filter_len()),
    ];
    d.check(sizes, scratch.len());
    if d.filter_len() == 0 {
        // No filter (no input channels or taps), but dy may still have
        // elements: the bias gradient is their sum.
        if let Some(db) = db {
            d.bias_sums(dy, 0, d.n, &mut db[..d.o]);
        }
        return;
    }
    let (blocks, partials) = scratch.split_at_mut(d.threads * d.worker_len());
    let (len, o) = (d.patch_len(), d.o);
    let partials = &mut partials[..d.chunks() * d.partial_len()];
    let outer = d.use_outer();
    d.run_chunks(partials, d.partial_len(), blocks, |ci, partial, block| {
        let (cols, ws) = block.split_at_mut(d.block_len());
        let (first, images) = d.chunk_images(ci);
        if outer {
            let (x, dy) = (&x[first * d.x_n..], &dy[first * d.y_n..]);
            outer_filter_grad(d, x, dy, images, partial);
        } else {
            d.im2col(&x[first * d.x_n..], images, cols);
            let groups = d.row_groups(images);
            let to = View::new(0, stride(o), 1);
            for g in 0..groups.count {
                // The first GEMM overwrites, so the partial need not be zeroed.
                let target = if g == 0 {
                    Target::Overwrite(to)
                } else {
                    Target::Accumulate(to)
                };
                let patches = d.patch_view(&groups, g);
                let patches_t = View::new(patches.start, patches.col, patches.row);
                let dy_rows = d.output_view(&groups, g, first * d.y_n);
                let rows = groups.rows;
                gemm_into(
                    len, o, rows, partial, target, cols, patches_t, dy, dy_rows, 1, ws,
                );
            }
        }
        if with_bias {
            d.bias_sums(dy, first, images, &mut partial[len * o..]);
        }
    });
    // dw = sum of the partials, in chunk order (zeros with no images).
    let mut chunks = partials.chunks(d.partial_len());
    let first = chunks.next();
    for kk in 0..len {
        for oc in 0..o {
            dw[kk * d.f_k + oc * d.f_o] = first.map_or(0.0, |p| p[kk * o + oc]);
        }
    }
    for partial in chunks {
        for kk in 0..len {
            for oc in 0..o {
                dw[kk * d.f_k + oc * d.f_o] += partial[kk * o + oc];
            }
        }
    }
    if let Some(db) = db {
        let mut chunks = partials.chunks(d.partial_len());
        let first = chunks.next().map(|p| &p[len * o..]);
        for oc in 0..o {
            db[oc] = first.map_or(0.0, |p| p[oc]);
        }
        for partial in chunks {
            for oc in 0..o {
                db[oc] += partial[len * o + oc];
            }
        }
    }
}

impl ConvDesc {
    /// `out[oc]` = the sum of `dy` over every pixel of images
    /// `first..first + images`, in pixel order, from 0.
    pub(super) fn bias_sums(&self, dy: &[f32], first: usize, images: usize, out: &mut [f32]) {
        out.fill(0.0);
        for img in first..first + images {
            for i in 0..self.oh {
                for j in 0..self.ow {
                    let at = img * self.y_n + i * self.y_h + j * self.y_w;
                    if self.y_c == 1 {
                        // NHWC: the channels are contiguous (vectorizes).
                        for (b, v) in out.iter_mut().zip(&dy[at..at + self.o]) {
                            *b += v;
                        }
                    } else {
                        for (oc, b) in out.iter_mut().enumerate() {
                            *b += dy[at + oc * self.y_c];
                        }
                    }
                }
            }
        }
    }
}
