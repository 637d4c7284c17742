//! Shape inference of the ops that move, broadcast or reduce data across
//! axes: `broadcast_in_dim`, `reshape`, `transpose`, `pad`, `slice`,
//! `reduce_sum`/`reduce_max` (including the builder's axis normalisation),
//! with reduced shapes also checked against an independent formula on random
//! shapes.

use proptest::prelude::*;
use triceratops_ir::{Graph, Op};

use crate::interp_support::types::{check_type_error, infer, ok, rejects, t};

// ------------------------------------------------------------- broadcast

fn bcast(shape: &[usize], dims: &[usize]) -> Op {
    Op::Broadcast {
        shape: shape.to_vec().into(),
        dims: dims.to_vec(),
    }
}

#[test]
fn broadcast_accepted() {
    ok(&bcast(&[2, 3], &[1]), &[&[3]], &[2, 3]);
    ok(&bcast(&[2, 3], &[0]), &[&[2]], &[2, 3]);
    ok(&bcast(&[2, 2], &[]), &[&[]], &[2, 2]);
    ok(&bcast(&[], &[]), &[&[]], &[]);
    // Extent-1 operand axes expand.
    ok(&bcast(&[4, 3], &[0, 1]), &[&[1, 3]], &[4, 3]);
    ok(&bcast(&[4, 3], &[0, 1]), &[&[1, 1]], &[4, 3]);
    ok(&bcast(&[3, 5, 7], &[0, 2]), &[&[3, 1]], &[3, 5, 7]);
    ok(&bcast(&[2, 5, 3], &[0, 2]), &[&[2, 3]], &[2, 5, 3]);
    // Identity broadcast.
    ok(&bcast(&[2, 3], &[0, 1]), &[&[2, 3]], &[2, 3]);
}

#[test]
fn broadcast_rejected() {
    // dims must have one entry per operand axis.
    rejects(
        &bcast(&[2, 3], &[0, 1]),
        &[&[3]],
        &["dims has 2 entries", "rank 1"],
    );
    rejects(&bcast(&[2, 3], &[]), &[&[3]], &["dims has 0 entries"]);
    // Out of range.
    rejects(
        &bcast(&[2, 3], &[2]),
        &[&[3]],
        &["dims[0] = 2", "out of range", "[2,3]"],
    );
    rejects(&bcast(&[], &[0]), &[&[1]], &["out of range"]);
    // Not strictly increasing.
    rejects(
        &bcast(&[3, 2], &[1, 0]),
        &[&[2, 3]],
        &["strictly increasing"],
    );
    rejects(
        &bcast(&[3, 3], &[1, 1]),
        &[&[3, 3]],
        &["strictly increasing"],
    );
    // Extent neither 1 nor the result's.
    rejects(
        &bcast(&[2, 3], &[1]),
        &[&[4]],
        &["axis 0", "extent 4", "axis 1 of [2,3]"],
    );
    rejects(&bcast(&[2, 3], &[0, 1]), &[&[2, 2]], &["extent 2"]);
    // Broadcasting never shrinks an axis.
    rejects(&bcast(&[1, 3], &[0, 1]), &[&[2, 3]], &["extent 2"]);
    rejects(
        &bcast(&[2, 3], &[1]),
        &[&[3], &[3]],
        &["takes 1 operand(s), got 2"],
    );
}

// ------------------------------------------------ reshape, transpose, pad, slice

#[test]
fn reshape() {
    let r = |s: &[usize]| Op::Reshape {
        shape: s.to_vec().into(),
    };
    ok(&r(&[3, 4]), &[&[2, 6]], &[3, 4]);
    ok(&r(&[2, 2, 3]), &[&[12]], &[2, 2, 3]);
    ok(&r(&[1, 1]), &[&[]], &[1, 1]);
    ok(&r(&[]), &[&[1, 1, 1]], &[]);
    ok(&r(&[0, 7]), &[&[3, 0]], &[0, 7]);
    rejects(
        &r(&[4, 2]),
        &[&[2, 3]],
        &["6 elements", "[4,2]", "8 elements"],
    );
    rejects(&r(&[]), &[&[2]], &["2 elements", "1 elements"]);
}

#[test]
fn transpose() {
    let p = |perm: &[usize]| Op::Transpose {
        perm: perm.to_vec(),
    };
    ok(&p(&[1, 0]), &[&[2, 3]], &[3, 2]);
    ok(&p(&[2, 0, 1]), &[&[2, 3, 4]], &[4, 2, 3]);
    ok(&p(&[1, 2, 0]), &[&[2, 3, 4]], &[3, 4, 2]);
    ok(&p(&[0, 1, 2]), &[&[2, 3, 4]], &[2, 3, 4]);
    ok(&p(&[]), &[&[]], &[]);
    rejects(&p(&[0, 0]), &[&[2, 3]], &["not a permutation"]);
    rejects(&p(&[0, 2]), &[&[2, 3]], &["not a permutation"]);
    rejects(&p(&[0]), &[&[2, 3]], &["perm has 1 entries for rank 2"]);
    rejects(&p(&[0, 1, 2]), &[&[2, 3]], &["perm has 3 entries"]);
}

#[test]
fn pad() {
    let p = |low: &[usize], high: &[usize]| Op::Pad {
        low: low.to_vec(),
        high: high.to_vec(),
    };
    ok(&p(&[1, 0], &[0, 2]), &[&[2, 3]], &[3, 5]);
    ok(&p(&[0, 0], &[0, 0]), &[&[2, 3]], &[2, 3]);
    ok(&p(&[2], &[3]), &[&[0]], &[5]);
    ok(&p(&[], &[]), &[&[]], &[]);
    rejects(
        &p(&[1], &[0, 0]),
        &[&[2, 3]],
        &["low has 1 entries for rank 2"],
    );
    rejects(&p(&[1, 1], &[0, 0, 0]), &[&[2, 3]], &["high has 3 entries"]);
}

#[test]
fn slice() {
    let s = |start: &[usize], end: &[usize]| Op::Slice {
        start: start.to_vec(),
        end: end.to_vec(),
    };
    ok(&s(&[1, 0], &[3, 5]), &[&[4, 5]], &[2, 5]);
    ok(&s(&[0, 0], &[4, 5]), &[&[4, 5]], &[4, 5]);
    ok(&s(&[2, 5], &[2, 5]), &[&[4, 5]], &[0, 0]);
    ok(&s(&[], &[]), &[&[]], &[]);
    rejects(
        &s(&[0, 0], &[5, 5]),
        &[&[4, 5]],
        &["axis 0", "0..5", "0..4"],
    );
    rejects(&s(&[0, 0], &[4, 6]), &[&[4, 5]], &["axis 1", "0..6"]);
    rejects(&s(&[3, 0], &[2, 5]), &[&[4, 5]], &["axis 0", "3..2"]);
    rejects(&s(&[0], &[4, 5]), &[&[4, 5]], &["start has 1 entries"]);
    rejects(&s(&[0, 0], &[4]), &[&[4, 5]], &["end has 1 entries"]);
}

// ---------------------------------------------------------------- reductions

#[test]
fn reductions() {
    for max in [false, true] {
        let r = |axes: &[usize], keepdims: bool| {
            if max {
                Op::ReduceMax {
                    axes: axes.to_vec(),
                    keepdims,
                }
            } else {
                Op::ReduceSum {
                    axes: axes.to_vec(),
                    keepdims,
                }
            }
        };
        let x: &[usize] = &[2, 3, 4];
        ok(&r(&[1], false), &[x], &[2, 4]);
        ok(&r(&[1], true), &[x], &[2, 1, 4]);
        ok(&r(&[0, 2], false), &[x], &[3]);
        ok(&r(&[0, 2], true), &[x], &[1, 3, 1]);
        ok(&r(&[0, 1, 2], false), &[x], &[]);
        ok(&r(&[0, 1, 2], true), &[x], &[1, 1, 1]);
        ok(&r(&[], false), &[x], &[2, 3, 4]);
        ok(&r(&[], true), &[x], &[2, 3, 4]);
        ok(&r(&[], false), &[&[]], &[]);
        ok(&r(&[0], false), &[&[5]], &[]);
        ok(&r(&[0], true), &[&[5]], &[1]);
        let name = if max { "reduce_max" } else { "reduce_sum" };
        let reason = rejects(&r(&[3], false), &[x], &["axis 3", "out of range", "rank 3"]);
        assert!(!reason.is_empty());
        rejects(&r(&[0], true), &[&[]], &["axis 0", "rank 0"]);
        rejects(&r(&[2, 0], false), &[x], &["strictly increasing"]);
        rejects(&r(&[1, 1], false), &[x], &["strictly increasing"]);
        assert_eq!(r(&[], false).name(), name);
    }
    // Summing an empty axis gives zeros; the max of nothing is undefined.
    ok(
        &Op::ReduceSum {
            axes: vec![0],
            keepdims: false,
        },
        &[&[0, 3]],
        &[3],
    );
    rejects(
        &Op::ReduceMax {
            axes: vec![0],
            keepdims: false,
        },
        &[&[0, 3]],
        &["empty axis 0"],
    );
}

#[test]
fn builder_reductions_sort_and_dedup_axes() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2, 3, 4]).unwrap();
    let s = g.reduce_sum(x, &[2, 0, 2], true).unwrap();
    assert_eq!(*g.ty(s), t(&[1, 3, 1]));
    assert_eq!(
        g.node(s).op(),
        Some(&Op::ReduceSum {
            axes: vec![0, 2],
            keepdims: true
        })
    );
    let m = g.reduce_max(x, &[1, 0], false).unwrap();
    assert_eq!(*g.ty(m), t(&[4]));
    let e = g.reduce_sum(x, &[3], false).unwrap_err();
    check_type_error(&e, "reduce_sum", &[&[2, 3, 4]], &["axis 3"]);
    let mean = g.mean(x, &[1], false).unwrap();
    assert_eq!(*g.ty(mean), t(&[2, 4]));
}

// ------------------------------------------------ properties vs closed forms

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn reduce_shapes(dims in prop::collection::vec(1usize..5, 0..5), mask in any::<u8>(), keepdims in any::<bool>()) {
        let axes: Vec<usize> = (0..dims.len()).filter(|i| mask & (1 << i) != 0).collect();
        let mut want = Vec::new();
        for (i, &d) in dims.iter().enumerate() {
            if !axes.contains(&i) {
                want.push(d);
            } else if keepdims {
                want.push(1);
            }
        }
        let op = Op::ReduceSum { axes: axes.clone(), keepdims };
        prop_assert_eq!(infer(&op, &[&dims]).unwrap(), t(&want));
        let op = Op::ReduceMax { axes, keepdims };
        prop_assert_eq!(infer(&op, &[&dims]).unwrap(), t(&want));
    }
}
