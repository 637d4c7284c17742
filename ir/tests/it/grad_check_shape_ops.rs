//! Finite-difference checks of the VJPs of the data-movement ops and the
//! reductions: broadcast_in_dim, reshape, transpose, pad, slice, reduce_sum,
//! mean and reduce_max (on tie-free values), over random shapes of rank
//! 0..=4 and random axes. The method is described in `grad_support`.

use crate::grad_support::{
    check, config, distinct, extents, numel, param, shaped_uniform, uniform,
};
use proptest::prelude::*;

// ----------------------------------------------- data movement, reductions

/// `(result shape, operand shape, dims)` of an explicit broadcast_in_dim.
fn broadcast_in_dim_case() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    extents(4).prop_flat_map(|to| {
        let r = to.len();
        (
            Just(to),
            prop::collection::vec(any::<bool>(), r),
            prop::collection::vec(prop::bool::weighted(0.3), r),
        )
            .prop_map(|(to, keep, ones)| {
                let dims: Vec<usize> = (0..to.len()).filter(|&i| keep[i]).collect();
                let from = dims
                    .iter()
                    .map(|&d| if ones[d] { 1 } else { to[d] })
                    .collect();
                (to, from, dims)
            })
    })
}

fn axes_of(select: &[bool]) -> Vec<usize> {
    (0..select.len()).filter(|&i| select[i]).collect()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn broadcast_in_dim_op(
        ((to, from, dims), x) in broadcast_in_dim_case().prop_flat_map(|c| {
            let n = numel(&c.1);
            (Just(c), uniform(n, -2.0, 2.0))
        }),
    ) {
        let what = format!("broadcast {from:?} -> {to:?} dims {dims:?}");
        check(&what, &[param("x", &from, x)], |g, p| {
            g.broadcast_in_dim(p[0], to.clone(), dims.clone())
        })?;
    }

    #[test]
    fn reshape_op(
        ((shape, x), target) in shaped_uniform(4).prop_flat_map(|(s, x)| {
            let mut padded = s.clone();
            padded.push(1);
            (Just((s, x)), Just(padded).prop_shuffle())
        }),
    ) {
        let what = format!("reshape {shape:?} -> {target:?}");
        check(&what, &[param("x", &shape, x.clone())], |g, p| g.reshape(p[0], target.clone()))?;
        let flat = [numel(&shape)];
        check("reshape to rank 1", &[param("x", &shape, x)], |g, p| g.reshape(p[0], flat))?;
    }

    #[test]
    fn transpose_op(
        ((shape, x), perm) in shaped_uniform(4).prop_flat_map(|(s, x)| {
            let r = s.len();
            (Just((s, x)), Just((0..r).collect::<Vec<usize>>()).prop_shuffle())
        }),
    ) {
        let what = format!("transpose {shape:?} perm {perm:?}");
        check(&what, &[param("x", &shape, x)], |g, p| g.transpose(p[0], &perm))?;
    }

    #[test]
    fn pad_op(
        ((shape, x), low, high) in shaped_uniform(4).prop_flat_map(|(s, x)| {
            let r = s.len();
            (
                Just((s, x)),
                prop::collection::vec(0usize..3, r),
                prop::collection::vec(0usize..3, r),
            )
        }),
    ) {
        let what = format!("pad {shape:?} low {low:?} high {high:?}");
        check(&what, &[param("x", &shape, x)], |g, p| g.pad(p[0], &low, &high))?;
    }

    #[test]
    fn slice_op(
        ((shape, x), bounds) in shaped_uniform(4).prop_flat_map(|(s, x)| {
            let bounds: Vec<_> = s
                .iter()
                .map(|&e| (0..e).prop_flat_map(move |lo| (Just(lo), lo + 1..=e)))
                .collect();
            (Just((s, x)), bounds)
        }),
    ) {
        let start: Vec<usize> = bounds.iter().map(|b| b.0).collect();
        let end: Vec<usize> = bounds.iter().map(|b| b.1).collect();
        let what = format!("slice {shape:?} {start:?}..{end:?}");
        check(&what, &[param("x", &shape, x)], |g, p| g.slice(p[0], &start, &end))?;
    }

    #[test]
    fn reduce_sum_and_mean(
        ((shape, x), select) in shaped_uniform(4).prop_flat_map(|(s, x)| {
            let r = s.len();
            (Just((s, x)), prop::collection::vec(any::<bool>(), r))
        }),
        keepdims in any::<bool>(),
    ) {
        let axes = axes_of(&select);
        let what = format!("reduce_sum {shape:?} axes {axes:?} keepdims {keepdims}");
        check(&what, &[param("x", &shape, x.clone())], |g, p| {
            g.reduce_sum(p[0], &axes, keepdims)
        })?;
        let what = format!("mean {shape:?} axes {axes:?} keepdims {keepdims}");
        check(&what, &[param("x", &shape, x)], |g, p| g.mean(p[0], &axes, keepdims))?;
    }

    #[test]
    fn reduce_max_op(
        (shape, x, select) in extents(4).prop_flat_map(|s| {
            let (n, r) = (numel(&s), s.len());
            (Just(s), distinct(n), prop::collection::vec(any::<bool>(), r))
        }),
        keepdims in any::<bool>(),
    ) {
        let axes = axes_of(&select);
        let what = format!("reduce_max {shape:?} axes {axes:?} keepdims {keepdims}");
        check(&what, &[param("x", &shape, x)], |g, p| g.reduce_max(p[0], &axes, keepdims))?;
    }
}
