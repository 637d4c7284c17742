//! Shape inference of the contracting ops: `matmul` and `conv2d` with its
//! input and filter gradients, in both layouts, valid/same padding and
//! strides. Expected shapes are written out by hand, and on random
//! geometries computed by an independent closed-form window formula (the
//! property test checks `maxpool2d` against the same formula).

use proptest::prelude::*;
use triceratops_ir::{ConvAttrs, IrError, Layout, Op, Padding};

use crate::interp_support::types::{infer, ok, rejects, t};
use crate::interp_support::{conv, pool};
use Layout::{Nchw, Nhwc};
use Padding::{Same, Valid};

// -------------------------------------------------------------------- matmul

#[test]
fn matmul() {
    let m = Op::MATMUL;
    ok(&m, &[&[2, 3], &[3, 4]], &[2, 4]);
    ok(&m, &[&[1, 2], &[2, 3]], &[1, 3]);
    ok(&m, &[&[5, 2, 3], &[5, 3, 4]], &[5, 2, 4]);
    ok(&m, &[&[2, 7, 2, 3], &[2, 7, 3, 1]], &[2, 7, 2, 1]);
    ok(&m, &[&[2, 0], &[0, 3]], &[2, 3]);
    rejects(&m, &[&[2, 3], &[4, 5]], &["contracting", "3 vs 4"]);
    rejects(&m, &[&[5, 2, 3], &[6, 3, 4]], &["batch"]);
    rejects(&m, &[&[2, 5, 2, 3], &[5, 2, 3, 4]], &["batch"]);
    rejects(&m, &[&[3], &[3]], &["rank", "at least 2"]);
    rejects(&m, &[&[], &[]], &["rank"]);
    rejects(&m, &[&[2, 3], &[1, 3, 4]], &["same rank"]);
    rejects(&m, &[&[3], &[3, 4]], &["rank"]);
    rejects(&m, &[&[2, 3]], &["takes 2 operand(s), got 1"]);
}

// -------------------------------------------------------------------- conv2d

#[test]
fn conv2d_nhwc() {
    let f: &[usize] = &[3, 3, 3, 8];
    let x: &[usize] = &[1, 5, 5, 3];
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[x, f],
        &[1, 3, 3, 8],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nhwc)),
        &[x, f],
        &[1, 5, 5, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nhwc)),
        &[x, f],
        &[1, 2, 2, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nhwc)),
        &[x, f],
        &[1, 3, 3, 8],
    );
    // Even input, stride 2: same gives in/2; valid floor((6-3)/2)+1 = 2.
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nhwc)),
        &[&[4, 6, 6, 3], f],
        &[4, 3, 3, 8],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nhwc)),
        &[&[4, 6, 6, 3], f],
        &[4, 2, 2, 8],
    );
    // Non-square image, filter and strides.
    let x2: &[usize] = &[2, 7, 6, 3];
    let f2: &[usize] = &[3, 2, 3, 4];
    ok(
        &Op::Conv2d(conv([2, 3], Valid, Nhwc)),
        &[x2, f2],
        &[2, 3, 2, 4],
    );
    ok(
        &Op::Conv2d(conv([2, 3], Same, Nhwc)),
        &[x2, f2],
        &[2, 4, 2, 4],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[x2, f2],
        &[2, 5, 5, 4],
    );
    // Window as large as the image.
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[&[1, 3, 3, 1], &[3, 3, 1, 2]],
        &[1, 1, 1, 2],
    );
    // Window larger than the image: only same padding fits.
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nhwc)),
        &[&[1, 2, 2, 3], f],
        &[1, 2, 2, 8],
    );
}

#[test]
fn conv2d_nchw() {
    let x: &[usize] = &[1, 3, 5, 5];
    let f: &[usize] = &[8, 3, 3, 3];
    ok(
        &Op::Conv2d(conv([1, 1], Valid, Nchw)),
        &[x, f],
        &[1, 8, 3, 3],
    );
    ok(
        &Op::Conv2d(conv([1, 1], Same, Nchw)),
        &[x, f],
        &[1, 8, 5, 5],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Valid, Nchw)),
        &[x, f],
        &[1, 8, 2, 2],
    );
    ok(
        &Op::Conv2d(conv([2, 2], Same, Nchw)),
        &[x, f],
        &[1, 8, 3, 3],
    );
    // [n, c, h, w] = [2, 3, 7, 6]; OIHW filter [4, 3, 3, 2].
    let x2: &[usize] = &[2, 3, 7, 6];
    let f2: &[usize] = &[4, 3, 3, 2];
    ok(
        &Op::Conv2d(conv([2, 3], Valid, Nchw)),
        &[x2, f2],
        &[2, 4, 3, 2],
    );
    ok(
        &Op::Conv2d(conv([2, 3], Same, Nchw)),
        &[x2, f2],
        &[2, 4, 4, 2],
    );
    // An NHWC-shaped pair is wrong in NCHW (channels read from axis 1).
    rejects(
        &Op::Conv2d(conv([1, 1], Valid, Nchw)),
        &[&[1, 5, 5, 3], &[3, 3, 3, 8]],
        &["channels"],
    );
}

#[test]
fn conv2d_rejected() {
    for layout in [Nhwc, Nchw] {
        let op = Op::Conv2d(conv([1, 1], Valid, layout));
        let (x, f_bad): (&[usize], &[usize]) = match layout {
            Nhwc => (&[1, 5, 5, 3], &[3, 3, 4, 8]),
            Nchw => (&[1, 3, 5, 5], &[8, 4, 3, 3]),
        };
        let reason = rejects(
            &op,
            &[x, f_bad],
            &["3 channels", "expects 4", layout.name()],
        );
        assert!(reason.contains("filter"));
        // Window larger than the image with valid padding.
        let (small, f): (&[usize], &[usize]) = match layout {
            Nhwc => (&[1, 2, 2, 3], &[3, 3, 3, 8]),
            Nchw => (&[1, 3, 2, 2], &[8, 3, 3, 3]),
        };
        rejects(&op, &[small, f], &["3x3 window", "2x2 image", "valid"]);
        // Rank errors.
        rejects(&op, &[&[5, 5, 3], f], &["rank 4"]);
        rejects(&op, &[x, &[3, 3, 3]], &["rank 4"]);
        rejects(&op, &[&[1, 1, 5, 5, 3], f], &["rank 4"]);
        // Zero stride.
        let zero = Op::Conv2d(conv([0, 1], Same, layout));
        rejects(&zero, &[x, f], &["strides must be positive"]);
        let zero = Op::Conv2d(conv([1, 0], Valid, layout));
        rejects(&zero, &[x, f], &["strides must be positive"]);
        rejects(&op, &[x], &["takes 2 operand(s), got 1"]);
    }
    // Window taller than the image only along one axis.
    rejects(
        &Op::Conv2d(conv([1, 1], Valid, Nhwc)),
        &[&[1, 2, 9, 1], &[3, 1, 1, 1]],
        &["3x1 window", "2x9 image"],
    );
}

#[test]
fn conv2d_input_grad() {
    let a = conv([1, 1], Valid, Nhwc);
    let op = |a: ConvAttrs, input: &[usize]| Op::Conv2dInputGrad {
        conv: a,
        input_shape: input.to_vec().into(),
    };
    let f: &[usize] = &[3, 3, 3, 8];
    ok(&op(a, &[1, 5, 5, 3]), &[&[1, 3, 3, 8], f], &[1, 5, 5, 3]);
    // Stride 2 same: 5 and 6 both give 3 outputs; input_shape disambiguates.
    let s2 = conv([2, 2], Same, Nhwc);
    ok(&op(s2, &[1, 5, 5, 3]), &[&[1, 3, 3, 8], f], &[1, 5, 5, 3]);
    ok(&op(s2, &[1, 6, 6, 3]), &[&[1, 3, 3, 8], f], &[1, 6, 6, 3]);
    // NCHW.
    let n = conv([2, 1], Valid, Nchw);
    ok(
        &op(n, &[2, 3, 7, 6]),
        &[&[2, 4, 3, 5], &[4, 3, 3, 2]],
        &[2, 3, 7, 6],
    );
    // dy shape mismatch.
    rejects(
        &op(a, &[1, 5, 5, 3]),
        &[&[1, 4, 4, 8], f],
        &["dy has shape [1,4,4,8]", "[1,3,3,8]"],
    );
    rejects(
        &op(a, &[1, 5, 5, 3]),
        &[&[1, 3, 3, 7], f],
        &["dy has shape"],
    );
    // Invalid input_shape or filter.
    rejects(
        &op(a, &[1, 5, 5]),
        &[&[1, 3, 3, 8], f],
        &["input_shape [1,5,5]", "rank 4"],
    );
    rejects(
        &op(a, &[1, 5, 5, 2]),
        &[&[1, 3, 3, 8], f],
        &["input_shape", "channels"],
    );
    rejects(
        &op(a, &[1, 2, 2, 3]),
        &[&[1, 1, 1, 8], f],
        &["input_shape", "does not fit"],
    );
    rejects(
        &op(conv([0, 1], Valid, Nhwc), &[1, 5, 5, 3]),
        &[&[1, 3, 3, 8], f],
        &["strides must be positive"],
    );
}

#[test]
fn conv2d_filter_grad() {
    let a = conv([1, 1], Valid, Nhwc);
    let op = |a: ConvAttrs, filter: &[usize]| Op::Conv2dFilterGrad {
        conv: a,
        filter_shape: filter.to_vec().into(),
    };
    let x: &[usize] = &[1, 5, 5, 3];
    ok(&op(a, &[3, 3, 3, 8]), &[x, &[1, 3, 3, 8]], &[3, 3, 3, 8]);
    ok(
        &op(conv([2, 2], Same, Nhwc), &[2, 2, 3, 1]),
        &[x, &[1, 3, 3, 1]],
        &[2, 2, 3, 1],
    );
    ok(
        &op(conv([1, 1], Same, Nchw), &[8, 3, 3, 3]),
        &[&[1, 3, 5, 5], &[1, 8, 5, 5]],
        &[8, 3, 3, 3],
    );
    rejects(
        &op(a, &[3, 3, 3, 8]),
        &[x, &[1, 3, 3, 4]],
        &["dy has shape [1,3,3,4]", "[1,3,3,8]"],
    );
    rejects(
        &op(a, &[3, 3, 3, 8]),
        &[x, &[1, 5, 5, 8]],
        &["dy has shape [1,5,5,8]"],
    );
    rejects(
        &op(a, &[3, 3, 2, 8]),
        &[x, &[1, 3, 3, 8]],
        &["filter_shape [3,3,2,8]", "channels"],
    );
    rejects(
        &op(a, &[3, 3, 3]),
        &[x, &[1, 3, 3, 8]],
        &["filter_shape", "rank 4"],
    );
}

// ------------------------------------------------- properties vs closed forms

/// Output extent of one axis, written independently of `geometry::window`.
fn expected_extent(input: usize, k: usize, s: usize, same: bool) -> Option<usize> {
    if same {
        Some(input.div_ceil(s))
    } else if input >= k {
        Some((input - k) / s + 1)
    } else {
        None
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn conv2d_output_extents(
        n in 1usize..4, h in 1usize..12, w in 1usize..12, c in 1usize..5, o in 1usize..5,
        kh in 1usize..6, kw in 1usize..6, sh in 1usize..4, sw in 1usize..4,
        same in any::<bool>(), nchw in any::<bool>(),
    ) {
        let padding = if same { Same } else { Valid };
        let layout = if nchw { Nchw } else { Nhwc };
        let (x, f) = if nchw {
            (vec![n, c, h, w], vec![o, c, kh, kw])
        } else {
            (vec![n, h, w, c], vec![kh, kw, c, o])
        };
        let op = Op::Conv2d(conv([sh, sw], padding, layout));
        let got = infer(&op, &[&x, &f]);
        match (expected_extent(h, kh, sh, same), expected_extent(w, kw, sw, same)) {
            (Some(oh), Some(ow)) => {
                let want = if nchw { vec![n, o, oh, ow] } else { vec![n, oh, ow, o] };
                prop_assert_eq!(got.unwrap(), t(&want));
                // The gradients accept that dy and give back the image/filter.
                let dy = want;
                let ig = Op::Conv2dInputGrad { conv: conv([sh, sw], padding, layout), input_shape: x.clone().into() };
                prop_assert_eq!(infer(&ig, &[&dy, &f]).unwrap(), t(&x));
                let fg = Op::Conv2dFilterGrad { conv: conv([sh, sw], padding, layout), filter_shape: f.clone().into() };
                prop_assert_eq!(infer(&fg, &[&x, &dy]).unwrap(), t(&f));
            }
            _ => {
                prop_assert!(!same);
                let reason = match got.unwrap_err() { IrError::Type { reason, .. } => reason, e => panic!("{e:?}") };
                prop_assert!(reason.contains("does not fit"), "{}", reason);
            }
        }
        let pa = pool([kh, kw], [sh, sw], padding, layout);
        let got = infer(&Op::MaxPool2d(pa), &[&x]);
        match (expected_extent(h, kh, sh, same), expected_extent(w, kw, sw, same)) {
            (Some(oh), Some(ow)) => {
                let want = if nchw { vec![n, c, oh, ow] } else { vec![n, oh, ow, c] };
                prop_assert_eq!(got.unwrap(), t(&want));
                prop_assert_eq!(infer(&Op::MaxPool2dGrad(pa), &[&x, &want]).unwrap(), t(&x));
            }
            _ => prop_assert!(got.is_err()),
        }
    }
}
