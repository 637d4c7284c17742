//! The direct-loop reference for conv2d, its gradients, maxpool2d and its
//! gradient, in f64: its own padding arithmetic (TensorFlow rules), its
//! own index math, and NCHW/OIHW handled by explicit permutation loops. It
//! shares nothing with the crate.

use triceratops_ir::{ConvAttrs, Layout, Padding, PoolAttrs};

// ------------------------------------------------------------- geometry

/// One conv/pool problem in NHWC/HWIO terms. For pools, `kh`/`kw` is the
/// window and `o` is unused.
#[derive(Clone, Copy, Debug)]
pub struct Geo {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub same: bool,
}

/// TensorFlow padding rule for one axis: `(out, pad_before)`.
/// valid: out = floor((in - k) / s) + 1, no padding;
/// same: out = ceil(in / s), pad_total = max((out - 1) * s + k - in, 0),
/// pad_before = pad_total / 2.
pub fn axis(input: usize, k: usize, s: usize, same: bool) -> (usize, usize) {
    if same {
        let out = input.div_ceil(s);
        let total = ((out - 1) * s + k).saturating_sub(input);
        (out, total / 2)
    } else {
        assert!(input >= k, "test bug: valid window does not fit");
        ((input - k) / s + 1, 0)
    }
}

impl Geo {
    pub fn rows(&self) -> (usize, usize) {
        axis(self.h, self.kh, self.sh, self.same)
    }
    pub fn cols(&self) -> (usize, usize) {
        axis(self.w, self.kw, self.sw, self.same)
    }
    pub fn x_len(&self) -> usize {
        self.n * self.h * self.w * self.c
    }
    pub fn w_len(&self) -> usize {
        self.kh * self.kw * self.c * self.o
    }
    pub fn y_len(&self) -> usize {
        self.n * self.rows().0 * self.cols().0 * self.o
    }
    pub fn pool_len(&self) -> usize {
        self.n * self.rows().0 * self.cols().0 * self.c
    }
    pub fn padding(&self) -> Padding {
        if self.same {
            Padding::Same
        } else {
            Padding::Valid
        }
    }
    pub fn conv_attrs(&self, layout: Layout) -> ConvAttrs {
        ConvAttrs {
            strides: [self.sh, self.sw],
            padding: self.padding(),
            layout,
        }
    }
    pub fn pool_attrs(&self, layout: Layout) -> PoolAttrs {
        PoolAttrs {
            window: [self.kh, self.kw],
            strides: [self.sh, self.sw],
            padding: self.padding(),
            layout,
        }
    }

    /// Calls `f(b, i, j, p, q, y, x)` for every output position `(b, i, j)`
    /// and window tap `(p, q)` whose input pixel `(y, x)` is inside the image,
    /// taps in row-major order.
    pub fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize, usize, usize, usize, usize)) {
        let (oh, ph) = self.rows();
        let (ow, pw) = self.cols();
        for b in 0..self.n {
            for i in 0..oh {
                for j in 0..ow {
                    for p in 0..self.kh {
                        for q in 0..self.kw {
                            let y = (i * self.sh + p) as isize - ph as isize;
                            let x = (j * self.sw + q) as isize - pw as isize;
                            if y < 0 || x < 0 || y >= self.h as isize || x >= self.w as isize {
                                continue;
                            }
                            f(b, i, j, p, q, y as usize, x as usize);
                        }
                    }
                }
            }
        }
    }

    pub fn xi(&self, b: usize, y: usize, x: usize, ch: usize) -> usize {
        ((b * self.h + y) * self.w + x) * self.c + ch
    }
    pub fn wi(&self, p: usize, q: usize, ch: usize, o: usize) -> usize {
        ((p * self.kw + q) * self.c + ch) * self.o + o
    }
    pub fn yi(&self, b: usize, i: usize, j: usize, o: usize, channels: usize) -> usize {
        ((b * self.rows().0 + i) * self.cols().0 + j) * channels + o
    }
}

// ------------------------------------------------------------ references

/// y[b,i,j,o] = sum_{p,q,c} x[b, i*sh+p-ph, j*sw+q-pw, c] * w[p,q,c,o].
pub fn ref_conv(g: &Geo, x: &[f64], w: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; g.y_len()];
    g.for_each_tap(|b, i, j, p, q, yy, xx| {
        for o in 0..g.o {
            for ch in 0..g.c {
                y[g.yi(b, i, j, o, g.o)] += x[g.xi(b, yy, xx, ch)] * w[g.wi(p, q, ch, o)];
            }
        }
    });
    y
}

/// The adjoint of `ref_conv` in x: dx[b,y,x,c] += dy[b,i,j,o] * w[p,q,c,o].
pub fn ref_conv_input_grad(g: &Geo, dy: &[f64], w: &[f64]) -> Vec<f64> {
    let mut dx = vec![0.0; g.x_len()];
    g.for_each_tap(|b, i, j, p, q, yy, xx| {
        for o in 0..g.o {
            for ch in 0..g.c {
                dx[g.xi(b, yy, xx, ch)] += dy[g.yi(b, i, j, o, g.o)] * w[g.wi(p, q, ch, o)];
            }
        }
    });
    dx
}

/// The adjoint of `ref_conv` in w: dw[p,q,c,o] += x[b,y,x,c] * dy[b,i,j,o].
pub fn ref_conv_filter_grad(g: &Geo, x: &[f64], dy: &[f64]) -> Vec<f64> {
    let mut dw = vec![0.0; g.w_len()];
    g.for_each_tap(|b, i, j, p, q, yy, xx| {
        for o in 0..g.o {
            for ch in 0..g.c {
                dw[g.wi(p, q, ch, o)] += x[g.xi(b, yy, xx, ch)] * dy[g.yi(b, i, j, o, g.o)];
            }
        }
    });
    dw
}

/// For every pool output `(b,i,j,c)` (row-major), the input index of the
/// first maximum of its window in row-major tap order; padding never wins.
pub fn ref_argmax(g: &Geo, x: &[f64]) -> Vec<usize> {
    let mut best: Vec<Option<usize>> = vec![None; g.pool_len()];
    g.for_each_tap(|b, i, j, _p, _q, yy, xx| {
        for ch in 0..g.c {
            let at = g.xi(b, yy, xx, ch);
            let slot = &mut best[g.yi(b, i, j, ch, g.c)];
            match slot {
                Some(m) if x[at] <= x[*m] => {}
                _ => *slot = Some(at),
            }
        }
    });
    best.into_iter()
        .map(|b| b.expect("every window overlaps the image"))
        .collect()
}

pub fn ref_pool(g: &Geo, x: &[f64]) -> Vec<f64> {
    ref_argmax(g, x).into_iter().map(|m| x[m]).collect()
}

pub fn ref_pool_grad(g: &Geo, x: &[f64], dy: &[f64]) -> Vec<f64> {
    let mut dx = vec![0.0; g.x_len()];
    for (o, m) in ref_argmax(g, x).into_iter().enumerate() {
        dx[m] += dy[o];
    }
    dx
}

// ------------------------------------------------------ layout conversion

/// `v` of row-major shape `dims` with its axes permuted (output axis `i`
/// is input axis `perm[i]`), by explicit index loops.
pub fn permute(v: &[f64], dims: [usize; 4], perm: [usize; 4]) -> Vec<f64> {
    let strides = [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];
    let out = perm.map(|p| dims[p]);
    let mut result = Vec::with_capacity(v.len());
    for i0 in 0..out[0] {
        for i1 in 0..out[1] {
            for i2 in 0..out[2] {
                for i3 in 0..out[3] {
                    let at = [i0, i1, i2, i3];
                    let src: usize = (0..4).map(|k| at[k] * strides[perm[k]]).sum();
                    result.push(v[src]);
                }
            }
        }
    }
    result
}

pub fn nhwc_to_nchw(v: &[f64], [n, h, w, c]: [usize; 4]) -> Vec<f64> {
    permute(v, [n, h, w, c], [0, 3, 1, 2])
}

pub fn nchw_to_nhwc(v: &[f64], [n, h, w, c]: [usize; 4]) -> Vec<f64> {
    permute(v, [n, c, h, w], [0, 2, 3, 1])
}

pub fn hwio_to_oihw(v: &[f64], [kh, kw, c, o]: [usize; 4]) -> Vec<f64> {
    permute(v, [kh, kw, c, o], [3, 2, 0, 1])
}

pub fn oihw_to_hwio(v: &[f64], [kh, kw, c, o]: [usize; 4]) -> Vec<f64> {
    permute(v, [o, c, kh, kw], [2, 3, 1, 0])
}

/// An image `[n,h,w,c]` (NHWC order of extents) as a shape in `layout`.
pub fn image_shape([n, h, w, c]: [usize; 4], layout: Layout) -> Vec<usize> {
    match layout {
        Layout::Nhwc => vec![n, h, w, c],
        Layout::Nchw => vec![n, c, h, w],
    }
}

pub fn image_to(layout: Layout, v: &[f64], dims: [usize; 4]) -> Vec<f64> {
    match layout {
        Layout::Nhwc => v.to_vec(),
        Layout::Nchw => nhwc_to_nchw(v, dims),
    }
}

pub fn image_from(layout: Layout, v: &[f64], dims: [usize; 4]) -> Vec<f64> {
    match layout {
        Layout::Nhwc => v.to_vec(),
        Layout::Nchw => nchw_to_nhwc(v, dims),
    }
}

pub fn filter_shape([kh, kw, c, o]: [usize; 4], layout: Layout) -> Vec<usize> {
    match layout {
        Layout::Nhwc => vec![kh, kw, c, o],
        Layout::Nchw => vec![o, c, kh, kw],
    }
}
