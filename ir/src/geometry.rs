//! Window arithmetic shared by shape inference and the interpreter, so the
//! two can never disagree about conv/pool output sizes or padding.

use crate::op::{Layout, Padding};

/// Output extent and padding of one spatial axis under a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub out: usize,
    pub pad_before: usize,
    pub pad_after: usize,
}

/// The window geometry of one axis, or `None` when no output position fits
/// (`valid` padding with a window larger than the input) or an extent is zero.
pub fn window(input: usize, size: usize, stride: usize, padding: Padding) -> Option<Window> {
    if input == 0 || size == 0 || stride == 0 {
        return None;
    }
    match padding {
        Padding::Valid => (input >= size).then(|| Window {
            out: (input - size) / stride + 1,
            pad_before: 0,
            pad_after: 0,
        }),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride + size).saturating_sub(input);
            Some(Window {
                out,
                pad_before: total / 2,
                pad_after: total - total / 2,
            })
        }
    }
}

/// Image extents `(n, h, w, c)` read from a rank-4 shape in `layout`.
pub fn image_dims(dims: &[usize], layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [dims[0], dims[1], dims[2], dims[3]],
        Layout::Nchw => [dims[0], dims[2], dims[3], dims[1]],
    }
}

/// A rank-4 image shape in `layout` from `(n, h, w, c)`.
pub fn image_shape([n, h, w, c]: [usize; 4], layout: Layout) -> Vec<usize> {
    match layout {
        Layout::Nhwc => vec![n, h, w, c],
        Layout::Nchw => vec![n, c, h, w],
    }
}

/// Filter extents `(kh, kw, in_channels, out_channels)` from a rank-4 shape:
/// HWIO in the `nhwc` layout, OIHW in `nchw`.
pub fn filter_dims(dims: &[usize], layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [dims[0], dims[1], dims[2], dims[3]],
        Layout::Nchw => [dims[2], dims[3], dims[1], dims[0]],
    }
}

/// Axis permutation taking an image from `layout` to NHWC.
pub fn to_nhwc_perm(layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [0, 1, 2, 3],
        Layout::Nchw => [0, 2, 3, 1],
    }
}

/// Axis permutation taking an NHWC image to `layout`.
pub fn from_nhwc_perm(layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [0, 1, 2, 3],
        Layout::Nchw => [0, 3, 1, 2],
    }
}

/// Axis permutation taking a filter from `layout` to HWIO.
pub fn filter_to_hwio_perm(layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [0, 1, 2, 3],
        Layout::Nchw => [2, 3, 1, 0],
    }
}

/// Axis permutation taking an HWIO filter to `layout`.
pub fn filter_from_hwio_perm(layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nhwc => [0, 1, 2, 3],
        Layout::Nchw => [3, 2, 0, 1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_same_match_tensorflow() {
        // TF: valid out = floor((in - k) / s) + 1; same out = ceil(in / s),
        // padding total = max((out - 1) * s + k - in, 0), odd element after.
        assert_eq!(window(5, 3, 1, Padding::Valid).unwrap().out, 3);
        assert_eq!(window(6, 3, 2, Padding::Valid).unwrap().out, 2);
        assert_eq!(window(2, 3, 1, Padding::Valid), None);
        let w = window(5, 3, 2, Padding::Same).unwrap();
        assert_eq!((w.out, w.pad_before, w.pad_after), (3, 1, 1));
        let w = window(6, 3, 2, Padding::Same).unwrap();
        assert_eq!((w.out, w.pad_before, w.pad_after), (3, 0, 1));
        let w = window(4, 2, 2, Padding::Same).unwrap();
        assert_eq!((w.out, w.pad_before, w.pad_after), (2, 0, 0));
        assert_eq!(window(4, 2, 0, Padding::Same), None);
    }

    #[test]
    fn layout_permutations_are_inverse() {
        for layout in [Layout::Nhwc, Layout::Nchw] {
            let to = to_nhwc_perm(layout);
            let from = from_nhwc_perm(layout);
            for i in 0..4 {
                assert_eq!(to[from[i]], i);
            }
            let to = filter_to_hwio_perm(layout);
            let from = filter_from_hwio_perm(layout);
            for i in 0..4 {
                assert_eq!(to[from[i]], i);
            }
        }
        // NCHW [n,c,h,w] read as (n,h,w,c).
        assert_eq!(image_dims(&[1, 2, 3, 4], Layout::Nchw), [1, 3, 4, 2]);
        // OIHW [o,i,kh,kw] read as (kh,kw,i,o).
        assert_eq!(filter_dims(&[8, 3, 5, 5], Layout::Nchw), [5, 5, 3, 8]);
    }
}
