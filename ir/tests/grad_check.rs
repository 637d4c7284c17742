//! Finite-difference checks of every VJP rule of the symbolic autodiff.
//!
//! Each check builds some op output `y` from params in a fresh graph, makes
//! the scalar loss `sum(y * R)` with a fixed random constant `R` (so every
//! output element matters with its own weight), appends the backward pass
//! with `grad`, and compares every element of every symbolic gradient
//! (evaluated once by the reference interpreter in f64) against the central
//! difference `(loss(x + h e_i) - loss(x - h e_i)) / 2h`, also in f64.
//! Inputs stay away from kinks and domain edges (zero for log/sqrt/relu/abs,
//! ties for max/min/reduce_max/maxpool2d) by construction or by a guard that
//! rejects the case.

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use triceratops_ir::geometry::{image_shape, window};
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{
    grad, verify, BinaryOp, CmpOp, ConvAttrs, Graph, IrError, Layout, Padding, PoolAttrs, Result,
    Role, TensorType, UnaryOp, ValueId,
};

// ------------------------------------------------------------------ checker

/// Central-difference step. In f64 the truncation error is ~h^2 and the
/// rounding error ~1e-16 |loss| / h, both far below the tolerance.
const H: f64 = 1e-6;
const ABS_TOL: f64 = 1e-6;
const REL_TOL: f64 = 1e-5;
/// Minimum distance from a kink (relu input from 0, pooling window from a
/// tie) that a guarded case must keep; the FD perturbation moves values by
/// orders of magnitude less.
const MARGIN: f64 = 1e-4;

/// One graph argument: a param (differentiated) or an input (not).
#[derive(Clone, Debug)]
struct Arg {
    name: &'static str,
    shape: Vec<usize>,
    data: Vec<f64>,
    wrt: bool,
}

fn param(name: &'static str, shape: &[usize], data: Vec<f64>) -> Arg {
    arg(name, shape, data, true)
}

fn input(name: &'static str, shape: &[usize], data: Vec<f64>) -> Arg {
    arg(name, shape, data, false)
}

fn arg(name: &'static str, shape: &[usize], data: Vec<f64>, wrt: bool) -> Arg {
    assert_eq!(
        data.len(),
        numel(shape),
        "{name}: data does not fit {shape:?}"
    );
    Arg {
        name,
        shape: shape.to_vec(),
        data,
        wrt,
    }
}

/// What a builder returns: the checked output and the conditions the point
/// must satisfy for the loss to be smooth there.
struct Out {
    y: ValueId,
    /// Values whose elements must all be at least `MARGIN` away from 0.
    away_from_zero: Vec<ValueId>,
    /// Inputs of max pools whose windows must not have a near-tie at the top
    /// (a window whose max is exactly 0, i.e. relu-flat, is exempt).
    pools: Vec<(ValueId, PoolAttrs)>,
}

impl Out {
    fn new(y: ValueId) -> Out {
        Out {
            y,
            away_from_zero: Vec::new(),
            pools: Vec::new(),
        }
    }
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Fixed pseudo-random weights in ±[0.5, 1.5) (SplitMix64), distinct per
/// element, so no output element can hide behind a zero or shared weight.
fn weights(n: usize, salt: u64) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let magnitude = 0.5 + (z >> 11) as f64 / (1u64 << 53) as f64;
            (if z & 1 == 0 { magnitude } else { -magnitude }) as f32
        })
        .collect()
}

/// `sum(v * R)` over all axes, with fresh random weights `R`.
fn weighted_sum(g: &mut Graph, v: ValueId, salt: u64) -> Result<ValueId> {
    let shape = g.shape(v).clone();
    let r = g.tensor(shape.clone(), weights(shape.numel(), salt))?;
    let prod = g.mul(v, r)?;
    let axes: Vec<usize> = (0..shape.rank()).collect();
    g.reduce_sum(prod, &axes, false)
}

fn scalar_of(a: &ArrayD<f64>) -> f64 {
    assert_eq!(a.ndim(), 0, "the loss is a scalar");
    a[IxDyn(&[])]
}

/// Checks the gradients of `sum(y * R)`, `y` built by `build`, against
/// central differences for every element of every `wrt` argument; a case
/// whose point violates a guard of `Out` is rejected. (`check` is the
/// variant for builders that return a bare value.)
fn check_guarded(
    what: &str,
    args: &[Arg],
    build: impl Fn(&mut Graph, &[ValueId]) -> Result<Out>,
) -> Result<(), TestCaseError> {
    check_scaled(what, args, build, 1.0)
}

/// The checker, with the symbolic gradients multiplied by `scale` (1 in
/// every real check; the self-test uses other values to show that the
/// comparison is sharp).
fn check_scaled(
    what: &str,
    args: &[Arg],
    build: impl Fn(&mut Graph, &[ValueId]) -> Result<Out>,
    scale: f64,
) -> Result<(), TestCaseError> {
    let fail = |e: IrError| TestCaseError::fail(format!("{what}: {e}"));
    let mut g = Graph::new("grad_check");
    let mut ids = Vec::with_capacity(args.len());
    for a in args {
        let role = if a.wrt { Role::Param } else { Role::Input };
        ids.push(
            g.arg(role, a.name, TensorType::f32(a.shape.clone()))
                .map_err(fail)?,
        );
    }
    let out = build(&mut g, &ids).map_err(fail)?;
    let loss = weighted_sum(&mut g, out.y, 0x5EED).map_err(fail)?;
    let forward = g.clone();

    let wrt: Vec<ValueId> = ids
        .iter()
        .zip(args)
        .filter(|(_, a)| a.wrt)
        .map(|(&id, _)| id)
        .collect();
    let grads = grad(&mut g, loss, &wrt).map_err(fail)?;
    verify(&g).map_err(fail)?;
    prop_assert_eq!(grads.len(), wrt.len());

    let mut inputs: Inputs<f64> = HashMap::new();
    for a in args {
        let array = ArrayD::from_shape_vec(IxDyn(&a.shape), a.data.clone()).expect("shape fits");
        inputs.insert(a.name.to_string(), array);
    }
    let eval = evaluate::<f64>(&g, &inputs).map_err(fail)?;

    for &v in &out.away_from_zero {
        let closest = eval
            .value(v)
            .iter()
            .fold(f64::INFINITY, |m, x| m.min(x.abs()));
        if closest < MARGIN {
            return Err(TestCaseError::reject("a value is too close to a kink at 0"));
        }
    }
    for (v, attrs) in &out.pools {
        if pool_top_gap(eval.value(*v), attrs) < MARGIN {
            return Err(TestCaseError::reject("a pooling window is near a tie"));
        }
    }

    let loss_at = |inputs: &Inputs<f64>| -> Result<f64, TestCaseError> {
        let e = evaluate::<f64>(&forward, inputs).map_err(fail)?;
        Ok(scalar_of(e.value(loss)))
    };
    for (a, &gv) in args.iter().filter(|a| a.wrt).zip(&grads) {
        prop_assert_eq!(
            g.shape(gv).dims(),
            &a.shape[..],
            "{}: type of the gradient of %{}",
            what,
            a.name
        );
        let symbolic = eval.value(gv);
        prop_assert_eq!(symbolic.shape(), &a.shape[..]);
        let symbolic: Vec<f64> = symbolic.iter().map(|&v| v * scale).collect();
        for (i, &s) in symbolic.iter().enumerate() {
            let x0 = a.data[i];
            let slot = |inputs: &mut Inputs<f64>, v: f64| {
                inputs
                    .get_mut(a.name)
                    .expect("declared")
                    .as_slice_mut()
                    .expect("standard")[i] = v;
            };
            slot(&mut inputs, x0 + H);
            let plus = loss_at(&inputs)?;
            slot(&mut inputs, x0 - H);
            let minus = loss_at(&inputs)?;
            slot(&mut inputs, x0);
            let numeric = (plus - minus) / (2.0 * H);
            let tol = ABS_TOL + REL_TOL * s.abs().max(numeric.abs());
            prop_assert!(
                (s - numeric).abs() <= tol,
                "{}: d loss / d {}[{}] (shape {:?}): symbolic {} vs numeric {} (diff {:e})",
                what,
                a.name,
                i,
                a.shape,
                s,
                numeric,
                (s - numeric).abs()
            );
        }
    }
    Ok(())
}

fn check(
    what: &str,
    args: &[Arg],
    build: impl Fn(&mut Graph, &[ValueId]) -> Result<ValueId>,
) -> Result<(), TestCaseError> {
    check_guarded(what, args, |g, p| Ok(Out::new(build(g, p)?)))
}

/// The smallest gap between the largest and second-largest element of any
/// pooling window (padding excluded); windows whose max is exactly 0 (all
/// relu-flat) are smooth and skipped.
fn pool_top_gap(x: &ArrayD<f64>, attrs: &PoolAttrs) -> f64 {
    let x = match attrs.layout {
        Layout::Nhwc => x.view(),
        Layout::Nchw => x.view().permuted_axes(IxDyn(&[0, 2, 3, 1])),
    };
    let [n, h, w, c] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let rows = window(h, attrs.window[0], attrs.strides[0], attrs.padding).expect("fits");
    let cols = window(w, attrs.window[1], attrs.strides[1], attrs.padding).expect("fits");
    let mut gap = f64::INFINITY;
    for b in 0..n {
        for i in 0..rows.out {
            for j in 0..cols.out {
                for ch in 0..c {
                    let mut vals = Vec::new();
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
                            if y < h && xx < w {
                                vals.push(x[IxDyn(&[b, y, xx, ch])]);
                            }
                        }
                    }
                    vals.sort_by(|a, b| b.total_cmp(a));
                    if vals.len() >= 2 && vals[0] != 0.0 {
                        gap = gap.min(vals[0] - vals[1]);
                    }
                }
            }
        }
    }
    gap
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        // Shrinking nested flat-mapped strategies can otherwise run for
        // minutes after a failure.
        max_shrink_iters: 512,
        max_shrink_time: 30_000,
        ..ProptestConfig::default()
    }
}

/// The checker itself: it passes a right gradient and fails one that is off
/// by a relative 1e-4 (ten times the tolerance) or has a flipped sign.
#[test]
fn the_checker_is_sharp() {
    let args = [param("x", &[2, 3], vec![-1.5, -0.3, 0.2, 0.7, 1.1, 1.9])];
    let build = |g: &mut Graph, p: &[ValueId]| -> Result<Out> { Ok(Out::new(g.tanh(p[0])?)) };
    check_scaled("tanh", &args, build, 1.0).expect("right gradient passes");
    for scale in [1.0 + 1e-4, 1.0 - 1e-4, -1.0, 0.0] {
        match check_scaled("tanh", &args, build, scale) {
            Err(TestCaseError::Fail(msg)) => assert!(msg.message().contains("symbolic"), "{msg}"),
            other => panic!("a gradient scaled by {scale} should fail, got {other:?}"),
        }
    }
}

// --------------------------------------------------------------- strategies

/// A shape of rank `0..=max_rank` with extents 1..=3.
fn extents(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..=max_rank)
}

fn uniform(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(lo..hi, n)
}

/// Values in ±[0.1, 2): at least 0.1 from zero, either sign.
fn signed(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (0.1f64..2.0, any::<bool>()).prop_map(|(m, s)| if s { m } else { -m }),
        n,
    )
}

/// Pairwise distinct values at least 0.06 apart: a random permutation of a
/// grid of step 0.1 plus jitter of at most 0.02.
fn distinct(n: usize) -> impl Strategy<Value = Vec<f64>> {
    (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec(-0.02f64..0.02, n),
    )
        .prop_map(move |(perm, jitter)| {
            perm.iter()
                .zip(jitter)
                .map(|(&k, j)| (k as f64 - n as f64 / 2.0) * 0.1 + j)
                .collect()
        })
}

/// Values on the grid `0.2 k + offset` (plus jitter of at most 0.02): two
/// vectors with offsets 0 and 0.1 differ everywhere by at least 0.06, so
/// max/min never see a near-tie, whatever the broadcasting pairs up.
fn grid(n: usize, offset: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (-8i32..8, -0.02f64..0.02).prop_map(move |(k, j)| 0.2 * k as f64 + offset + j),
        n,
    )
}

fn shaped_signed(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    extents(max_rank).prop_flat_map(|s| {
        let n = numel(&s);
        (Just(s), signed(n))
    })
}

fn shaped_uniform(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    extents(max_rank).prop_flat_map(|s| {
        let n = numel(&s);
        (Just(s), uniform(n, -2.0, 2.0))
    })
}

/// A suffix of `base` (dropping `drop` leading axes) with the extents where
/// `ones` is set replaced by 1: any such shapes broadcast together to `base`
/// (or a shape with some of its extents 1).
fn broadcastable(base: &[usize], drop: usize, ones: &[bool]) -> Vec<usize> {
    base.iter()
        .enumerate()
        .skip(drop)
        .map(|(i, &e)| if ones[i] { 1 } else { e })
        .collect()
}

/// `k` shapes of ranks up to 4 that broadcast together numpy-style.
fn broadcast_shapes(k: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
    extents(4).prop_flat_map(move |base| {
        let r = base.len();
        let one = (0..=r, prop::collection::vec(prop::bool::weighted(0.3), r));
        (Just(base), prop::collection::vec(one, k)).prop_map(|(base, picks)| {
            picks
                .iter()
                .map(|(drop, ones)| broadcastable(&base, *drop, ones))
                .collect()
        })
    })
}

/// Shape pairs named in the brief plus a few more mixed-rank ones.
fn named_pairs() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::sample::select(vec![
        (vec![2, 3], vec![3]),
        (vec![3], vec![2, 3]),
        (vec![2, 1], vec![1, 4]),
        (vec![1, 4], vec![2, 1]),
        (vec![], vec![2, 2]),
        (vec![2, 2], vec![]),
        (vec![2, 1, 3], vec![4, 1]),
        (vec![1], vec![3, 1, 2]),
    ])
}

// ------------------------------------------------------- elementwise ops

/// Moves `v` into the domain where `op` is smooth and well conditioned.
fn unary_domain(op: UnaryOp, v: f64) -> f64 {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt => v.abs() + 0.4,
        UnaryOp::Recip => v + 0.4 * v.signum(),
        _ => v,
    }
}

/// Same sign, magnitude at least 0.5: a safe divisor.
fn away_from_zero(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x + 0.4 * x.signum()).collect()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn unary_ops((shape, raw) in shaped_signed(4)) {
        for op in UnaryOp::ALL {
            let data = raw.iter().map(|&v| unary_domain(op, v)).collect();
            check(op.name(), &[param("x", &shape, data)], |g, p| g.unary(op, p[0]))?;
        }
    }

    #[test]
    fn unary_ops_on_unrestricted_values((shape, raw) in shaped_uniform(3)) {
        // The smooth-everywhere ops, on values crossing zero.
        for op in [UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Square] {
            check(op.name(), &[param("x", &shape, raw.clone())], |g, p| g.unary(op, p[0]))?;
        }
    }

    #[test]
    fn pow_op((shape, raw) in shaped_signed(4)) {
        // Integer exponents on bases of either sign, fractional ones on
        // positive bases.
        for e in [2.0f32, 3.0, 1.0, 0.0, -1.0, -2.0] {
            let what = format!("pow {e}");
            check(&what, &[param("x", &shape, raw.clone())], |g, p| g.pow(p[0], e))?;
        }
        let positive: Vec<f64> = raw.iter().map(|v| v.abs() + 0.4).collect();
        for e in [0.5f32, -0.5, 1.5, 2.5, -1.5] {
            let what = format!("pow {e}");
            check(&what, &[param("x", &shape, positive.clone())], |g, p| g.pow(p[0], e))?;
        }
    }

    #[test]
    fn binary_ops_with_broadcasting(
        (shapes, a, b) in (broadcast_shapes(2), any::<bool>()).prop_flat_map(|(s, swap)| {
            // Either operand may be the one on the odd grid.
            let (na, nb) = (numel(&s[0]), numel(&s[1]));
            let (oa, ob) = if swap { (0.1, 0.0) } else { (0.0, 0.1) };
            (Just(s), grid(na, oa), grid(nb, ob))
        }),
        which in 1u8..4,
    ) {
        let (sa, sb) = (&shapes[0], &shapes[1]);
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [
                arg("a", sa, a.clone(), which & 1 != 0),
                arg("b", sb, b, which & 2 != 0),
            ];
            let what = format!("{} {sa:?} {sb:?}", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[1]))?;
        }
    }

    #[test]
    fn binary_ops_on_named_broadcast_pairs(
        (sa, sb, a, b) in named_pairs().prop_flat_map(|(sa, sb)| {
            let (na, nb) = (numel(&sa), numel(&sb));
            (Just(sa), Just(sb), grid(na, 0.1), grid(nb, 0.0))
        }),
    ) {
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [param("a", &sa, a.clone()), param("b", &sb, b)];
            let what = format!("{} {sa:?} {sb:?}", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[1]))?;
        }
    }

    #[test]
    fn select_wrt_both_branches(
        (shapes, mask, t, f) in broadcast_shapes(3).prop_flat_map(|s| {
            let (nm, nt, nf) = (numel(&s[0]), numel(&s[1]), numel(&s[2]));
            let mask = prop::collection::vec(prop::sample::select(vec![0.0, 1.0, 0.0, -2.5]), nm);
            (Just(s), mask, uniform(nt, -2.0, 2.0), uniform(nf, -2.0, 2.0))
        }),
        which in 1u8..4,
    ) {
        let args = [
            input("mask", &shapes[0], mask),
            arg("on_true", &shapes[1], t, which & 1 != 0),
            arg("on_false", &shapes[2], f, which & 2 != 0),
        ];
        let what = format!("select {shapes:?}");
        check(&what, &args, |g, p| g.select(p[0], p[1], p[2]))?;
    }

    #[test]
    fn select_with_a_mask_computed_from_the_param(
        (shape, w, v) in extents(3).prop_flat_map(|s| {
            let n = numel(&s);
            (Just(s), signed(n), uniform(n, -2.0, 2.0))
        }),
    ) {
        // The mask depends on w but gets no gradient; w is 0.1 away from the
        // switching point, so the loss is smooth there.
        let args = [param("w", &shape, w), param("v", &shape, v)];
        check("select(gt(w, 0), w^2, w * v)", &args, |g, p| {
            let zero = g.scalar(0.0)?;
            let mask = g.compare(CmpOp::Gt, p[0], zero)?;
            let t = g.square(p[0])?;
            let f = g.mul(p[0], p[1])?;
            g.select(mask, t, f)
        })?;
    }
}

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

    #[test]
    fn matmul_op(
        (batch, m, k, n, a, b) in (prop::collection::vec(1usize..3, 0..=2), 1usize..5, 1usize..5, 1usize..5)
            .prop_flat_map(|(batch, m, k, n)| {
                let nb: usize = batch.iter().product();
                (
                    Just(batch),
                    Just(m),
                    Just(k),
                    Just(n),
                    uniform(nb * m * k, -2.0, 2.0),
                    uniform(nb * k * n, -2.0, 2.0),
                )
            }),
        which in 1u8..4,
    ) {
        let sa = [batch.clone(), vec![m, k]].concat();
        let sb = [batch.clone(), vec![k, n]].concat();
        let args = [arg("a", &sa, a, which & 1 != 0), arg("b", &sb, b, which & 2 != 0)];
        let what = format!("matmul {sa:?} x {sb:?}");
        check(&what, &args, |g, p| g.matmul(p[0], p[1]))?;
    }
}

// ----------------------------------------------------- convolution, pooling

#[derive(Clone, Debug)]
struct ConvCase {
    attrs: ConvAttrs,
    image: Vec<usize>,
    filter: Vec<usize>,
    out: Vec<usize>,
}

fn layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(vec![Layout::Nhwc, Layout::Nchw])
}

fn padding() -> impl Strategy<Value = Padding> {
    prop::sample::select(vec![Padding::Valid, Padding::Same])
}

/// A conv2d geometry: both layouts, strides 1/2 per axis, valid/same,
/// kernels 1..=3 per axis, non-square images of 1..=6 per axis.
fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (layout(), padding(), 1usize..3, 1usize..3),
        (1usize..3, 1usize..4, 1usize..4),
        (1usize..4, 1usize..4, 1usize..7, 1usize..7),
    )
        .prop_map(|((layout, padding, sh, sw), (n, c, o), (kh, kw, h, w))| {
            let (h, w) = match padding {
                Padding::Valid => (h.max(kh), w.max(kw)),
                Padding::Same => (h, w),
            };
            let attrs = ConvAttrs {
                strides: [sh, sw],
                padding,
                layout,
            };
            let oh = window(h, kh, sh, padding).expect("fits").out;
            let ow = window(w, kw, sw, padding).expect("fits").out;
            let filter = match layout {
                Layout::Nhwc => vec![kh, kw, c, o],
                Layout::Nchw => vec![o, c, kh, kw],
            };
            ConvCase {
                attrs,
                image: image_shape([n, h, w, c], layout),
                filter,
                out: image_shape([n, oh, ow, o], layout),
            }
        })
}

/// A conv case with random image, filter and output-shaped tensors.
fn conv_data() -> impl Strategy<Value = (ConvCase, Vec<f64>, Vec<f64>, Vec<f64>)> {
    conv_case().prop_flat_map(|c| {
        let (ni, nf, no) = (numel(&c.image), numel(&c.filter), numel(&c.out));
        (
            Just(c),
            uniform(ni, -1.0, 1.0),
            uniform(nf, -1.0, 1.0),
            uniform(no, -1.0, 1.0),
        )
    })
}

fn pool_case() -> impl Strategy<Value = (PoolAttrs, Vec<usize>)> {
    (
        (layout(), padding()),
        (2usize..4, 2usize..4, 1usize..3, 1usize..3),
        (1usize..3, 1usize..3, 1usize..7, 1usize..7),
    )
        .prop_map(|((layout, padding), (wh, ww, sh, sw), (n, c, h, w))| {
            let (h, w) = match padding {
                Padding::Valid => (h.max(wh), w.max(ww)),
                Padding::Same => (h, w),
            };
            let attrs = PoolAttrs {
                window: [wh, ww],
                strides: [sh, sw],
                padding,
                layout,
            };
            (attrs, image_shape([n, h, w, c], layout))
        })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn conv2d_op((c, x, w, _) in conv_data(), which in 1u8..4) {
        let args = [arg("image", &c.image, x, which & 1 != 0), arg("filter", &c.filter, w, which & 2 != 0)];
        let what = format!("conv2d {c:?}");
        check(&what, &args, |g, p| g.conv2d(p[0], p[1], c.attrs))?;
    }

    #[test]
    fn conv2d_input_grad_op((c, _, w, dy) in conv_data(), which in 1u8..4) {
        let args = [arg("dy", &c.out, dy, which & 1 != 0), arg("filter", &c.filter, w, which & 2 != 0)];
        let what = format!("conv2d_input_grad {c:?}");
        check(&what, &args, |g, p| g.conv2d_input_grad(p[0], p[1], c.attrs, c.image.clone()))?;
    }

    #[test]
    fn conv2d_filter_grad_op((c, x, _, dy) in conv_data(), which in 1u8..4) {
        let args = [arg("image", &c.image, x, which & 1 != 0), arg("dy", &c.out, dy, which & 2 != 0)];
        let what = format!("conv2d_filter_grad {c:?}");
        check(&what, &args, |g, p| g.conv2d_filter_grad(p[0], p[1], c.attrs, c.filter.clone()))?;
    }

    #[test]
    fn maxpool2d_op(
        ((attrs, shape), x) in pool_case().prop_flat_map(|(a, s)| {
            let n = numel(&s);
            (Just((a, s)), distinct(n))
        }),
    ) {
        let what = format!("maxpool2d {attrs:?} on {shape:?}");
        check_guarded(&what, &[param("x", &shape, x)], |g, p| {
            let mut out = Out::new(g.maxpool2d(p[0], attrs)?);
            out.pools.push((p[0], attrs));
            Ok(out)
        })?;
    }
}

// ------------------------------------------------------------ second order

proptest! {
    #![proptest_config(config(48))]

    /// `y = d sum(tanh(conv2d(x, w)) * R1) / d{x,w}`: checking `y` by FD
    /// exercises the VJPs of conv2d_input_grad and conv2d_filter_grad (and
    /// of tanh's own VJP) in context.
    #[test]
    fn second_order_through_conv2d((c, x, w, _) in conv_data(), wrt_filter in any::<bool>()) {
        let args = [param("image", &c.image, x), param("filter", &c.filter, w)];
        let what = format!("d conv2d / d {} {c:?}", if wrt_filter { "filter" } else { "image" });
        check(&what, &args, |g, p| {
            let z = g.conv2d(p[0], p[1], c.attrs)?;
            let t = g.tanh(z)?;
            let inner = weighted_sum(g, t, 7)?;
            let d = grad(g, inner, &[p[0], p[1]])?;
            Ok(d[usize::from(wrt_filter)])
        })?;
    }

    /// Second derivatives of the unary ops (abs and relu too: their VJPs use
    /// their masks only in selects, so they are differentiable again).
    #[test]
    fn second_order_unary((shape, raw) in shaped_signed(3)) {
        for op in UnaryOp::ALL {
            let data = raw.iter().map(|&v| unary_domain(op, v)).collect();
            let what = format!("d {} / dx", op.name());
            check(&what, &[param("x", &shape, data)], |g, p| {
                let y = g.unary(op, p[0])?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0]])?[0])
            })?;
        }
        let positive: Vec<f64> = raw.iter().map(|v| v.abs() + 0.4).collect();
        for e in [3.0f32, 0.5, -1.5] {
            let what = format!("d pow {e} / dx");
            check(&what, &[param("x", &shape, positive.clone())], |g, p| {
                let y = g.pow(p[0], e)?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0]])?[0])
            })?;
        }
    }

    /// Second derivatives of the binary ops under broadcasting (so the VJPs
    /// of reduce_sum and reshape, which broadcast's VJP emits, are hit too).
    #[test]
    fn second_order_binary(
        (shapes, a, b) in broadcast_shapes(2).prop_flat_map(|s| {
            let (na, nb) = (numel(&s[0]), numel(&s[1]));
            (Just(s), grid(na, 0.0), grid(nb, 0.1))
        }),
        wrt_b in any::<bool>(),
    ) {
        let (sa, sb) = (&shapes[0], &shapes[1]);
        for op in BinaryOp::ALL {
            let b = if op == BinaryOp::Div { away_from_zero(&b) } else { b.clone() };
            let args = [param("a", sa, a.clone()), param("b", sb, b)];
            let what = format!("d {} / d{} {sa:?} {sb:?}", op.name(), if wrt_b { "b" } else { "a" });
            check(&what, &args, |g, p| {
                // tanh makes the first derivative depend on both operands
                // even for add/sub.
                let y = g.binary(op, p[0], p[1])?;
                let y = g.tanh(y)?;
                let inner = weighted_sum(g, y, 7)?;
                Ok(grad(g, inner, &[p[0], p[1]])?[usize::from(wrt_b)])
            })?;
        }
    }

    /// Second derivatives through reduce_max, as in a max-shifted softmax:
    /// its VJP routes the gradient with selects, never through the mask.
    #[test]
    fn second_order_through_reduce_max((shape, raw) in shaped_signed(3)) {
        prop_assume!(!shape.is_empty());
        let last = shape.len() - 1;
        let spread: Vec<f64> = raw.iter().enumerate().map(|(i, v)| v + 0.37 * i as f64).collect();
        check("d softmax-like / dx", &[param("x", &shape, spread)], |g, p| {
            let m = g.reduce_max(p[0], &[last], true)?;
            let z = g.sub(p[0], m)?;
            let e = g.exp(z)?;
            let inner = weighted_sum(g, e, 7)?;
            Ok(grad(g, inner, &[p[0]])?[0])
        })?;
    }

    #[test]
    fn second_order_through_matmul(
        (m, k, n, a, b) in (1usize..4, 1usize..4, 1usize..4).prop_flat_map(|(m, k, n)| {
            (Just(m), Just(k), Just(n), uniform(m * k, -1.0, 1.0), uniform(k * n, -1.0, 1.0))
        }),
        wrt_b in any::<bool>(),
    ) {
        let args = [param("a", &[m, k], a), param("b", &[k, n], b)];
        check("d matmul", &args, |g, p| {
            let y = g.matmul(p[0], p[1])?;
            let y = g.sigmoid(y)?;
            let inner = weighted_sum(g, y, 7)?;
            Ok(grad(g, inner, &[p[0], p[1]])?[usize::from(wrt_b)])
        })?;
    }
}

// ------------------------------------------------- adjoint accumulation

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn a_value_used_several_times((shape, x) in shaped_signed(3)) {
        let args = [param("x", &shape, x.clone())];
        check("x*x + exp(x) + x", &args, |g, p| {
            let x = p[0];
            let sq = g.mul(x, x)?;
            let e = g.exp(x)?;
            let s = g.add(sq, e)?;
            g.add(s, x)
        })?;
        check("tanh(x)^2 + sigmoid(tanh(x)) * x", &args, |g, p| {
            let h = g.tanh(p[0])?;
            let a = g.mul(h, h)?;
            let b = g.sigmoid(h)?;
            let b = g.mul(b, p[0])?;
            g.add(a, b)
        })?;
        for op in BinaryOp::ALL {
            // x op x: both operand slots of one node feed the same adjoint
            // (max/min tie exactly, and the tie rule must still total 1).
            let what = format!("x {} x", op.name());
            check(&what, &args, |g, p| g.binary(op, p[0], p[0]))?;
        }
        check("select(mask, x, x)", &args, |g, p| {
            let n = g.shape(p[0]).numel();
            let mask: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
            let mask = g.tensor(g.shape(p[0]).clone(), mask)?;
            g.select(mask, p[0], p[0])
        })?;
        if !shape.is_empty() {
            let axes: Vec<usize> = (0..shape.len()).step_by(2).collect();
            check("x * reduce_sum(x, keepdims)", &args, |g, p| {
                let s = g.reduce_sum(p[0], &axes, true)?;
                g.mul(p[0], s)
            })?;
            check("x - reduce_max(x)", &[param("x", &shape, distinct_like(&x))], |g, p| {
                let m = g.reduce_max(p[0], &axes, false)?;
                let m = g.reshape(m, reduced_shape(&shape, &axes))?;
                g.sub(p[0], m)
            })?;
        }
    }

    #[test]
    fn square_operand_used_twice_in_matmul_and_conv(
        (k, c, x) in (1usize..4, 1usize..3).prop_flat_map(|(k, c)| {
            (Just(k), Just(c), uniform(k * k * c * c, -1.0, 1.0))
        }),
        layout in layout(),
    ) {
        check("matmul(x, x)", &[param("x", &[k, k], x[..k * k].to_vec())], |g, p| {
            g.matmul(p[0], p[0])
        })?;
        // One tensor as both image and filter: [k, k, c, c] is an NHWC image
        // (n = h = k, w = c, c channels) and a HWIO filter (k x k, c -> c);
        // [c, c, k, k] is an NCHW image (n = c, c channels, k x k) and an
        // OIHW filter (c -> c, k x k).
        let shape = match layout {
            Layout::Nhwc => [k, k, c, c],
            Layout::Nchw => [c, c, k, k],
        };
        let attrs = ConvAttrs { strides: [1, 1], padding: Padding::Same, layout };
        let what = format!("conv2d(x, x) {shape:?} {layout:?}");
        check(&what, &[param("x", &shape, x)], |g, p| g.conv2d(p[0], p[0], attrs))?;
    }
}

/// Spread-out distinct values in the order of `x`'s ranks (keeps the case's
/// randomness but removes near-ties).
fn distinct_like(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut out = vec![0.0; x.len()];
    for (rank, &i) in order.iter().enumerate() {
        out[i] = rank as f64 * 0.1 - 1.0 + x[i] * 0.01;
    }
    out
}

fn reduced_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    (0..shape.len())
        .map(|i| if axes.contains(&i) { 1 } else { shape[i] })
        .collect()
}

// -------------------------------------------------------- whole networks

/// Softmax cross-entropy of `logits [n, classes]` against one-hot `t`,
/// written from primitive ops: `-sum(t * log(softmax(logits))) / n`.
fn softmax_cross_entropy(g: &mut Graph, logits: ValueId, t: ValueId) -> Result<ValueId> {
    let n = g.shape(logits)[0];
    let max = g.reduce_max(logits, &[1], true)?;
    let shifted = g.sub(logits, max)?;
    let e = g.exp(shifted)?;
    let sum = g.reduce_sum(e, &[1], true)?;
    let p = g.div(e, sum)?;
    let logp = g.log(p)?;
    let tl = g.mul(t, logp)?;
    let total = g.reduce_sum(tl, &[0, 1], false)?;
    let total = g.neg(total)?;
    let scale = g.scalar(1.0 / n as f32)?;
    g.mul(total, scale)
}

fn one_hot(labels: &[usize], classes: usize) -> Vec<f64> {
    let mut t = vec![0.0; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        t[i * classes + l] = 1.0;
    }
    t
}

#[derive(Clone, Debug)]
struct MlpCase {
    n: usize,
    d: usize,
    h: usize,
    c: usize,
    x: Vec<f64>,
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
    labels: Vec<usize>,
}

fn mlp_case() -> impl Strategy<Value = MlpCase> {
    (1usize..4, 1usize..5, 1usize..5, 2usize..5).prop_flat_map(|(n, d, h, c)| {
        (
            uniform(n * d, -2.0, 2.0),
            uniform(d * h, -1.0, 1.0),
            uniform(h, -1.0, 1.0),
            uniform(h * c, -1.0, 1.0),
            uniform(c, -1.0, 1.0),
            prop::collection::vec(0..c, n),
        )
            .prop_map(move |(x, w1, b1, w2, b2, labels)| MlpCase {
                n,
                d,
                h,
                c,
                x,
                w1,
                b1,
                w2,
                b2,
                labels,
            })
    })
}

#[derive(Clone, Debug)]
struct CnnCase {
    layout: Layout,
    padding: Padding,
    image: Vec<usize>,
    filter: Vec<usize>,
    o: usize,
    features: usize,
    classes: usize,
    x: Vec<f64>,
    k: Vec<f64>,
    kb: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
    labels: Vec<usize>,
}

fn cnn_case() -> impl Strategy<Value = CnnCase> {
    (
        (layout(), padding()),
        (
            1usize..3,
            4usize..7,
            4usize..7,
            1usize..3,
            1usize..4,
            2usize..4,
        ),
    )
        .prop_flat_map(|((layout, padding), (n, h, w, c, o, classes))| {
            let conv_out = |e: usize| window(e, 3, 1, padding).expect("fits").out;
            let (ch, cw) = (conv_out(h), conv_out(w));
            let pool_out = |e: usize| window(e, 2, 2, Padding::Valid).expect("fits").out;
            let features = pool_out(ch) * pool_out(cw) * o;
            let image = image_shape([n, h, w, c], layout);
            let filter = match layout {
                Layout::Nhwc => vec![3, 3, c, o],
                Layout::Nchw => vec![o, c, 3, 3],
            };
            (
                uniform(numel(&image), -1.0, 1.0),
                uniform(numel(&filter), -1.0, 1.0),
                uniform(o, -0.5, 0.5),
                uniform(features * classes, -1.0, 1.0),
                uniform(classes, -1.0, 1.0),
                prop::collection::vec(0..classes, n),
            )
                .prop_map(move |(x, k, kb, w, b, labels)| CnnCase {
                    layout,
                    padding,
                    image: image.clone(),
                    filter: filter.clone(),
                    o,
                    features,
                    classes,
                    x,
                    k,
                    kb,
                    w,
                    b,
                    labels,
                })
        })
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn mlp_softmax_cross_entropy(m in mlp_case()) {
        let args = [
            input("x", &[m.n, m.d], m.x.clone()),
            input("t", &[m.n, m.c], one_hot(&m.labels, m.c)),
            param("w1", &[m.d, m.h], m.w1.clone()),
            param("b1", &[m.h], m.b1.clone()),
            param("w2", &[m.h, m.c], m.w2.clone()),
            param("b2", &[m.c], m.b2.clone()),
        ];
        check_guarded("mlp", &args, |g, p| {
            let [x, t, w1, b1, w2, b2] = [p[0], p[1], p[2], p[3], p[4], p[5]];
            let z = g.matmul(x, w1)?;
            let z = g.add(z, b1)?;
            let a = g.relu(z)?;
            let logits = g.matmul(a, w2)?;
            let logits = g.add(logits, b2)?;
            let mut out = Out::new(softmax_cross_entropy(g, logits, t)?);
            out.away_from_zero.push(z);
            Ok(out)
        })?;
    }

    #[test]
    fn cnn_softmax_cross_entropy(m in cnn_case()) {
        let n = m.labels.len();
        let args = [
            input("x", &m.image, m.x.clone()),
            input("t", &[n, m.classes], one_hot(&m.labels, m.classes)),
            param("kernel", &m.filter, m.k.clone()),
            param("kernel_bias", &[m.o], m.kb.clone()),
            param("dense", &[m.features, m.classes], m.w.clone()),
            param("dense_bias", &[m.classes], m.b.clone()),
        ];
        let conv = ConvAttrs { strides: [1, 1], padding: m.padding, layout: m.layout };
        let pool = PoolAttrs {
            window: [2, 2],
            strides: [2, 2],
            padding: Padding::Valid,
            layout: m.layout,
        };
        let channel_axis = match m.layout {
            Layout::Nhwc => 3,
            Layout::Nchw => 1,
        };
        let what = format!("cnn {:?} {:?} {:?}", m.layout, m.padding, m.image);
        check_guarded(&what, &args, |g, p| {
            let [x, t, k, kb, w, b] = [p[0], p[1], p[2], p[3], p[4], p[5]];
            let z = g.conv2d(x, k, conv)?;
            let shape = g.shape(z).clone();
            let bias = g.broadcast_in_dim(kb, shape, vec![channel_axis])?;
            let z = g.add(z, bias)?;
            let a = g.relu(z)?;
            let pooled = g.maxpool2d(a, pool)?;
            let flat = g.reshape(pooled, [n, m.features])?;
            let logits = g.matmul(flat, w)?;
            let logits = g.add(logits, b)?;
            let mut out = Out::new(softmax_cross_entropy(g, logits, t)?);
            out.away_from_zero.push(z);
            out.pools.push((a, pool));
            Ok(out)
        })?;
    }
}

// ------------------------------------------------ zero gradients, errors

#[test]
fn a_param_the_loss_does_not_depend_on_gets_zeros_of_its_shape() -> Result<()> {
    let mut g = Graph::new("unused");
    let w = g.param("w", [2, 3])?;
    let unused = g.param("unused", [4, 1])?;
    let unused_scalar = g.param("unused_scalar", [])?;
    let x = g.input("x", [2, 3])?;
    let y = g.mul(w, x)?;
    let y = g.exp(y)?;
    let loss = g.reduce_sum(y, &[0, 1], false)?;
    // A value computed after the loss is not on any path either.
    let later = g.exp(w)?;
    let grads = grad(&mut g, loss, &[unused, w, unused_scalar, later])?;
    verify(&g)?;
    assert_eq!(g.shape(grads[0]).dims(), &[4, 1]);
    assert_eq!(g.shape(grads[2]).dims(), &[] as &[usize]);
    assert_eq!(g.shape(grads[3]).dims(), &[2, 3]);
    let inputs: Inputs<f64> = [
        ("w", ArrayD::from_elem(IxDyn(&[2, 3]), 0.5)),
        ("unused", ArrayD::from_elem(IxDyn(&[4, 1]), 3.0)),
        ("unused_scalar", ArrayD::from_elem(IxDyn(&[]), 3.0)),
        ("x", ArrayD::from_elem(IxDyn(&[2, 3]), 2.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let e = evaluate::<f64>(&g, &inputs)?;
    assert_eq!(e.value(grads[0]), &ArrayD::zeros(IxDyn(&[4, 1])));
    assert_eq!(e.value(grads[2]), &ArrayD::zeros(IxDyn(&[])));
    assert_eq!(e.value(grads[3]), &ArrayD::zeros(IxDyn(&[2, 3])));
    // d/dw sum(exp(w x)) = x exp(w x) = 2 e.
    for &v in e.value(grads[1]) {
        assert!((v - 2.0 * 1f64.exp()).abs() < 1e-12, "{v}");
    }
    Ok(())
}

#[track_caller]
fn expect_grad_error(result: Result<Vec<ValueId>>, needles: &[&str]) {
    match result {
        Err(IrError::Grad(msg)) => {
            for needle in needles {
                assert!(msg.contains(needle), "`{msg}` should mention `{needle}`");
            }
        }
        Err(other) => panic!("expected IrError::Grad, got {other:?}"),
        Ok(grads) => panic!("expected IrError::Grad, got gradients {grads:?}"),
    }
}

#[test]
fn a_non_scalar_loss_is_an_error() -> Result<()> {
    let mut g = Graph::new("non_scalar");
    let w = g.param("w", [2, 3])?;
    let y = g.exp(w)?;
    let len = g.len();
    expect_grad_error(grad(&mut g, y, &[w]), &["scalar", "f32[2,3]"]);
    assert_eq!(g.len(), len, "a rejected loss adds nothing");
    let keep = g.reduce_sum(y, &[1], true)?; // [2, 1]: rank 2 even with one element per row
    let one = g.reduce_sum(keep, &[0], true)?; // [1, 1]: one element, still not a scalar
    expect_grad_error(grad(&mut g, one, &[w]), &["scalar"]);
    Ok(())
}

#[test]
fn a_comparison_on_the_path_is_an_error_naming_the_op() -> Result<()> {
    for op in CmpOp::ALL {
        let mut g = Graph::new("cmp");
        let w = g.param("w", [3])?;
        let zero = g.scalar(0.0)?;
        let mask = g.compare(op, w, zero)?;
        let y = g.mul(mask, w)?;
        let loss = g.reduce_sum(y, &[0], false)?;
        expect_grad_error(grad(&mut g, loss, &[w]), &[op.name(), "not differentiable"]);
        // Whatever `grad` appended before failing, the graph stays well formed.
        verify(&g)?;
    }
    Ok(())
}

#[test]
fn a_mask_from_a_comparison_in_select_is_fine() -> Result<()> {
    let mut g = Graph::new("select_mask");
    let w = g.param("w", [3])?;
    let zero = g.scalar(0.0)?;
    let mask = g.compare(CmpOp::Gt, w, zero)?;
    let y = g.select(mask, w, zero)?;
    let loss = g.reduce_sum(y, &[0], false)?;
    let grads = grad(&mut g, loss, &[w])?;
    let inputs: Inputs<f64> = [(
        "w".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[3]), vec![-1.0, 0.5, 2.0]).expect("fits"),
    )]
    .into_iter()
    .collect();
    let e = evaluate::<f64>(&g, &inputs)?;
    assert_eq!(
        e.value(grads[0]).iter().copied().collect::<Vec<_>>(),
        [0.0, 1.0, 1.0]
    );
    Ok(())
}

#[test]
fn maxpool2d_grad_on_the_path_is_an_error() -> Result<()> {
    let attrs = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    // Directly: maxpool2d_grad w.r.t. either of its operands.
    for wrt_dy in [false, true] {
        let mut g = Graph::new("pool_grad");
        let x = g.param("x", [1, 4, 4, 1])?;
        let dy = g.param("dy", [1, 2, 2, 1])?;
        let dx = g.maxpool2d_grad(x, dy, attrs)?;
        let loss = g.reduce_sum(dx, &[0, 1, 2, 3], false)?;
        let wrt = if wrt_dy { dy } else { x };
        expect_grad_error(grad(&mut g, loss, &[wrt]), &["maxpool2d_grad"]);
    }
    // The realistic way to get there: differentiating a gradient through a
    // max pool (second order).
    let mut g = Graph::new("pool_second_order");
    let x = g.param("x", [1, 4, 4, 1])?;
    let y = g.maxpool2d(x, attrs)?;
    let y = g.square(y)?;
    let inner = g.reduce_sum(y, &[0, 1, 2, 3], false)?;
    let dx = grad(&mut g, inner, &[x])?[0];
    let outer = g.reduce_sum(dx, &[0, 1, 2, 3], false)?;
    expect_grad_error(
        grad(&mut g, outer, &[x]),
        &["maxpool2d_grad", "not differentiable"],
    );
    Ok(())
}

#[test]
fn gradients_of_repeated_intermediate_and_loss_values() -> Result<()> {
    let mut g = Graph::new("wrt_kinds");
    let w = g.param("w", [3])?;
    let two = g.scalar(2.0)?;
    let h = g.mul(w, two)?;
    let e = g.exp(h)?;
    let loss = g.reduce_sum(e, &[0], false)?;
    let grads = grad(&mut g, loss, &[w, h, w, loss])?;
    verify(&g)?;
    assert_eq!(
        grads[0], grads[2],
        "a repeated wrt value gets the same gradient"
    );
    assert_eq!(g.value_name(grads[0]), "grad.w");
    let h_name = format!("grad.{}", g.value_name(h));
    assert_eq!(
        g.value_name(grads[1]),
        h_name,
        "computed values are renamed too"
    );
    let w0 = [-0.5, 0.25, 1.0];
    let inputs: Inputs<f64> = [(
        "w".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[3]), w0.to_vec()).expect("fits"),
    )]
    .into_iter()
    .collect();
    let ev = evaluate::<f64>(&g, &inputs)?;
    for (i, &x) in w0.iter().enumerate() {
        let e2x = (2.0 * x).exp();
        assert!((ev.value(grads[0])[i] - 2.0 * e2x).abs() < 1e-12);
        assert!((ev.value(grads[1])[i] - e2x).abs() < 1e-12);
    }
    assert_eq!(scalar_of(ev.value(grads[3])), 1.0);
    Ok(())
}

#[test]
fn a_gradient_that_is_a_forward_value_keeps_its_name() {
    // d exp(w)/dw = exp(w): the gradient is the forward value %loss itself,
    // which must not be renamed to grad.w.
    let mut g = Graph::new("exp");
    let w = g.param("w", []).unwrap();
    let e = g.exp(w).unwrap();
    g.rename(e, "loss").unwrap();
    let d = grad(&mut g, e, &[w]).unwrap()[0];
    assert_eq!(d, e);
    assert_eq!(g.lookup("loss"), Some(e));
}

#[test]
fn pow_zero_has_a_zero_gradient_even_at_zero() {
    let mut g = Graph::new("pow0");
    let x = g.param("x", [2]).unwrap();
    let y = g.pow(x, 0.0).unwrap();
    let loss = g.reduce_sum(y, &[0], false).unwrap();
    let d = grad(&mut g, loss, &[x]).unwrap()[0];
    g.add_output("d", d).unwrap();
    let inputs: HashMap<String, ArrayD<f64>> = HashMap::from([(
        "x".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.0, 2.0]).unwrap(),
    )]);
    let eval = evaluate(&g, &inputs).unwrap();
    assert_eq!(eval.output("d").unwrap().as_slice().unwrap(), &[0.0, 0.0]);
}
