//! Shape inference of `maxpool2d` and `maxpool2d_grad`: window, stride,
//! padding and layout combinations, and everything they reject. Expected
//! shapes are written out by hand.

use triceratops_ir::{Layout, Op, Padding};

use crate::interp_support::pool;
use crate::interp_support::types::{ok, rejects};
use Layout::{Nchw, Nhwc};
use Padding::{Same, Valid};

// ----------------------------------------------------------------- maxpool2d

#[test]
fn maxpool2d() {
    let p = |w, s, pad, l| Op::MaxPool2d(pool(w, s, pad, l));
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nhwc),
        &[&[1, 5, 5, 2]],
        &[1, 3, 3, 2],
    );
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 5, 5, 2]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([3, 3], [1, 1], Same, Nhwc),
        &[&[3, 5, 4, 2]],
        &[3, 5, 4, 2],
    );
    ok(
        &p([3, 2], [1, 2], Valid, Nhwc),
        &[&[1, 5, 5, 1]],
        &[1, 3, 2, 1],
    );
    ok(
        &p([2, 2], [2, 2], Valid, Nchw),
        &[&[1, 2, 5, 5]],
        &[1, 2, 2, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nchw),
        &[&[1, 2, 5, 5]],
        &[1, 2, 3, 3],
    );
    ok(
        &p([3, 2], [1, 2], Valid, Nchw),
        &[&[1, 7, 5, 5]],
        &[1, 7, 3, 2],
    );
    // Window larger than the image with same padding is fine.
    ok(
        &p([4, 4], [1, 1], Same, Nhwc),
        &[&[1, 2, 3, 1]],
        &[1, 2, 3, 1],
    );
    for l in [Nhwc, Nchw] {
        rejects(&p([2, 2], [2, 2], Valid, l), &[&[4, 4, 2]], &["rank 4"]);
        rejects(
            &p([2, 2], [0, 2], Valid, l),
            &[&[1, 4, 4, 4]],
            &["strides must be positive"],
        );
        rejects(
            &p([0, 2], [1, 1], Same, l),
            &[&[1, 4, 4, 4]],
            &["0x2 window"],
        );
    }
    rejects(
        &p([3, 3], [1, 1], Valid, Nhwc),
        &[&[1, 2, 2, 5]],
        &["3x3 window", "2x2 image", "valid"],
    );
    rejects(
        &p([3, 3], [1, 1], Valid, Nchw),
        &[&[1, 5, 2, 2]],
        &["3x3 window", "2x2 image"],
    );
    rejects(
        &p([1, 1], [1, 1], Valid, Nhwc),
        &[&[1, 2, 2, 5], &[1, 2, 2, 5]],
        &["takes 1"],
    );
}

#[test]
fn maxpool2d_grad() {
    let p = |w, s, pad, l| Op::MaxPool2dGrad(pool(w, s, pad, l));
    ok(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2], &[1, 2, 2, 2]],
        &[1, 4, 4, 2],
    );
    ok(
        &p([2, 2], [2, 2], Same, Nchw),
        &[&[1, 2, 5, 5], &[1, 2, 3, 3]],
        &[1, 2, 5, 5],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2], &[1, 2, 2, 1]],
        &["dy has shape [1,2,2,1]", "[1,2,2,2]"],
    );
    rejects(
        &p([2, 2], [2, 2], Same, Nhwc),
        &[&[1, 5, 5, 2], &[1, 2, 2, 2]],
        &["dy has shape", "[1,3,3,2]"],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[4, 4, 2], &[2, 2, 2]],
        &["rank 4"],
    );
    rejects(
        &p([2, 2], [2, 2], Valid, Nhwc),
        &[&[1, 4, 4, 2]],
        &["takes 2"],
    );
}
