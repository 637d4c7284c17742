//! conv2d and its gradients by im2col + GEMM, computed in NHWC/HWIO; the
//! `nchw` layout is transposed in and out. Simple, and fast enough to train
//! small CNNs on the interpreter.

use ndarray::{Array2, ArrayD, ArrayViewD, IxDyn};

use super::shape_ops::transpose;
use super::Scalar;
use crate::geometry::{self, window, Window};
use crate::op::ConvAttrs;
use crate::types::Shape;

/// The geometry of one conv2d in NHWC terms.
struct Geometry {
    n: usize,
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    o: usize,
    rows: Window,
    cols: Window,
    strides: [usize; 2],
}

impl Geometry {
    fn new(image: &[usize], filter: &[usize], attrs: &ConvAttrs) -> Geometry {
        let [n, h, w, c] = geometry::image_dims(image, attrs.layout);
        let [kh, kw, _, o] = geometry::filter_dims(filter, attrs.layout);
        let [sh, sw] = attrs.strides;
        Geometry {
            n,
            h,
            w,
            c,
            kh,
            kw,
            o,
            rows: window(h, kh, sh, attrs.padding).expect("shape inference checked the window"),
            cols: window(w, kw, sw, attrs.padding).expect("shape inference checked the window"),
            strides: attrs.strides,
        }
    }

    /// Rows of the patch matrix: one per output pixel.
    fn patches(&self) -> usize {
        self.n * self.rows.out * self.cols.out
    }

    /// Columns of the patch matrix: one per filter tap and input channel.
    fn patch_len(&self) -> usize {
        self.kh * self.kw * self.c
    }

    /// Calls `f(patch_row, patch_col_start, image_offset)` for every filter
    /// tap that lands inside the (unpadded) image; each covers `c` channels.
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        for b in 0..self.n {
            for i in 0..self.rows.out {
                for j in 0..self.cols.out {
                    let row = (b * self.rows.out + i) * self.cols.out + j;
                    for p in 0..self.kh {
                        let Some(y) = (i * self.strides[0] + p).checked_sub(self.rows.pad_before)
                        else {
                            continue;
                        };
                        if y >= self.h {
                            continue;
                        }
                        for q in 0..self.kw {
                            let Some(x) =
                                (j * self.strides[1] + q).checked_sub(self.cols.pad_before)
                            else {
                                continue;
                            };
                            if x >= self.w {
                                continue;
                            }
                            let col = (p * self.kw + q) * self.c;
                            f(row, col, ((b * self.h + y) * self.w + x) * self.c);
                        }
                    }
                }
            }
        }
    }

    fn im2col<T: Scalar>(&self, image: &[T]) -> Array2<T> {
        let mut cols = Array2::zeros((self.patches(), self.patch_len()));
        let (c, len) = (self.c, self.patch_len());
        let buf = cols.as_slice_mut().expect("fresh array is contiguous");
        self.for_each_tap(|row, col, at| {
            buf[row * len + col..row * len + col + c].copy_from_slice(&image[at..at + c]);
        });
        cols
    }

    fn col2im<T: Scalar>(&self, cols: &Array2<T>) -> Vec<T> {
        let mut image = vec![T::zero(); self.n * self.h * self.w * self.c];
        let (c, len) = (self.c, self.patch_len());
        let buf = cols.as_slice().expect("GEMM result is contiguous");
        self.for_each_tap(|row, col, at| {
            for k in 0..c {
                image[at + k] = image[at + k] + buf[row * len + col + k];
            }
        });
        image
    }
}

fn to_nhwc<T: Scalar>(x: &ArrayViewD<T>, attrs: &ConvAttrs) -> ArrayD<T> {
    transpose(x, &geometry::to_nhwc_perm(attrs.layout))
}

fn to_hwio_matrix<T: Scalar>(f: &ArrayViewD<T>, attrs: &ConvAttrs, g: &Geometry) -> Array2<T> {
    transpose(f, &geometry::filter_to_hwio_perm(attrs.layout))
        .into_shape_with_order((g.patch_len(), g.o))
        .expect("HWIO filter flattens to [kh*kw*c, o]")
}

fn from_nhwc<T: Scalar>(data: Vec<T>, nhwc: [usize; 4], attrs: &ConvAttrs) -> ArrayD<T> {
    let x = ArrayD::from_shape_vec(IxDyn(&nhwc), data).expect("NHWC result has its size");
    transpose(&x.view(), &geometry::from_nhwc_perm(attrs.layout))
}

fn dy_matrix<T: Scalar>(dy: &ArrayViewD<T>, attrs: &ConvAttrs, g: &Geometry) -> Array2<T> {
    to_nhwc(dy, attrs)
        .into_shape_with_order((g.patches(), g.o))
        .expect("dy flattens to [patches, o]")
}

pub fn conv2d<T: Scalar>(
    image: &ArrayViewD<T>,
    filter: &ArrayViewD<T>,
    attrs: &ConvAttrs,
) -> ArrayD<T> {
    let g = Geometry::new(image.shape(), filter.shape(), attrs);
    let x = to_nhwc(image, attrs);
    let cols = g.im2col(x.as_slice().expect("standard layout"));
    let out = cols.dot(&to_hwio_matrix(filter, attrs, &g));
    let data = out.as_standard_layout().iter().copied().collect();
    from_nhwc(data, [g.n, g.rows.out, g.cols.out, g.o], attrs)
}

pub fn conv2d_input_grad<T: Scalar>(
    dy: &ArrayViewD<T>,
    filter: &ArrayViewD<T>,
    attrs: &ConvAttrs,
    input_shape: &Shape,
) -> ArrayD<T> {
    let g = Geometry::new(input_shape, filter.shape(), attrs);
    let dcols = dy_matrix(dy, attrs, &g).dot(&to_hwio_matrix(filter, attrs, &g).t());
    let dcols = dcols.as_standard_layout().into_owned();
    from_nhwc(g.col2im(&dcols), [g.n, g.h, g.w, g.c], attrs)
}

pub fn conv2d_filter_grad<T: Scalar>(
    image: &ArrayViewD<T>,
    dy: &ArrayViewD<T>,
    attrs: &ConvAttrs,
    filter_shape: &Shape,
) -> ArrayD<T> {
    let g = Geometry::new(image.shape(), filter_shape, attrs);
    let x = to_nhwc(image, attrs);
    let cols = g.im2col(x.as_slice().expect("standard layout"));
    let dw = cols.t().dot(&dy_matrix(dy, attrs, &g));
    let hwio = dw
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&[g.kh, g.kw, g.c, g.o]))
        .expect("filter gradient has the filter's size");
    transpose(&hwio.view(), &geometry::filter_from_hwio_perm(attrs.layout))
}
