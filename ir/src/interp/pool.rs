//! maxpool2d and its gradient, computed in NHWC. Padded positions never win;
//! ties and NaN go to the first candidate in row-major window order.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::shape_ops::transpose;
use super::Scalar;
use crate::geometry::{self, window};
use crate::op::PoolAttrs;

/// Calls `f(output_index, argmax_input_index)` for every output element of
/// the pool over the NHWC buffer `x` of extents `[n, h, w, c]`.
fn for_each_argmax<T: Scalar>(
    x: &[T],
    [n, h, w, c]: [usize; 4],
    attrs: &PoolAttrs,
    mut f: impl FnMut(usize, usize),
) -> [usize; 4] {
    let rows = window(h, attrs.window[0], attrs.strides[0], attrs.padding).expect("checked");
    let cols = window(w, attrs.window[1], attrs.strides[1], attrs.padding).expect("checked");
    for b in 0..n {
        for i in 0..rows.out {
            for j in 0..cols.out {
                for ch in 0..c {
                    let mut best: Option<usize> = None;
                    for p in 0..attrs.window[0] {
                        let Some(y) = (i * attrs.strides[0] + p).checked_sub(rows.pad_before)
                        else {
                            continue;
                        };
                        for q in 0..attrs.window[1] {
                            let Some(xx) = (j * attrs.strides[1] + q).checked_sub(cols.pad_before)
                            else {
                                continue;
                            };
                            if y >= h || xx >= w {
                                continue;
                            }
                            let at = ((b * h + y) * w + xx) * c + ch;
                            let wins = match best {
                                None => true,
                                Some(m) => x[at] > x[m] || (x[at].is_nan() && !x[m].is_nan()),
                            };
                            if wins {
                                best = Some(at);
                            }
                        }
                    }
                    let out = ((b * rows.out + i) * cols.out + j) * c + ch;
                    f(out, best.expect("every window overlaps the image"));
                }
            }
        }
    }
    [n, rows.out, cols.out, c]
}

fn nhwc<T: Scalar>(x: &ArrayViewD<T>, attrs: &PoolAttrs) -> (ArrayD<T>, [usize; 4]) {
    let dims = geometry::image_dims(x.shape(), attrs.layout);
    (transpose(x, &geometry::to_nhwc_perm(attrs.layout)), dims)
}

fn from_nhwc<T: Scalar>(data: Vec<T>, dims: [usize; 4], attrs: &PoolAttrs) -> ArrayD<T> {
    let x = ArrayD::from_shape_vec(IxDyn(&dims), data).expect("NHWC result has its size");
    transpose(&x.view(), &geometry::from_nhwc_perm(attrs.layout))
}

pub fn maxpool2d<T: Scalar>(image: &ArrayViewD<T>, attrs: &PoolAttrs) -> ArrayD<T> {
    let (x, dims) = nhwc(image, attrs);
    let x = x.as_slice().expect("standard layout");
    let mut out = Vec::new();
    let out_dims = for_each_argmax(x, dims, attrs, |o, m| {
        debug_assert_eq!(o, out.len());
        out.push(x[m]);
    });
    from_nhwc(out, out_dims, attrs)
}

pub fn maxpool2d_grad<T: Scalar>(
    image: &ArrayViewD<T>,
    dy: &ArrayViewD<T>,
    attrs: &PoolAttrs,
) -> ArrayD<T> {
    let (x, dims) = nhwc(image, attrs);
    let (dy, _) = nhwc(dy, attrs);
    let dy = dy.as_slice().expect("standard layout");
    let mut dx = vec![T::zero(); x.len()];
    for_each_argmax(
        x.as_slice().expect("standard layout"),
        dims,
        attrs,
        |o, m| {
            dx[m] = dx[m] + dy[o];
        },
    );
    from_nhwc(dx, dims, attrs)
}
