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
//!
//! This module holds what the `grad_check_*` integration tests share: the
//! checker (`check`, `check_guarded`, `check_scaled`), the proptest
//! strategies for shapes and values, and the conv2d geometry strategies.
//! Each test file uses it as `crate::grad_support` and uses only part of
//! it, hence the `dead_code` allowance.

#![allow(dead_code)]

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use triceratops_ir::geometry::{image_shape, window};
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{
    grad, verify, ConvAttrs, Graph, IrError, Layout, Padding, PoolAttrs, Result, Role, TensorType,
    UnaryOp, ValueId,
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
pub struct Arg {
    name: &'static str,
    shape: Vec<usize>,
    data: Vec<f64>,
    wrt: bool,
}

pub fn param(name: &'static str, shape: &[usize], data: Vec<f64>) -> Arg {
    arg(name, shape, data, true)
}

pub fn input(name: &'static str, shape: &[usize], data: Vec<f64>) -> Arg {
    arg(name, shape, data, false)
}

pub fn arg(name: &'static str, shape: &[usize], data: Vec<f64>, wrt: bool) -> Arg {
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
pub struct Out {
    pub y: ValueId,
    /// Values whose elements must all be at least `MARGIN` away from 0.
    pub away_from_zero: Vec<ValueId>,
    /// Inputs of max pools whose windows must not have a near-tie at the top
    /// (a window whose max is exactly 0, i.e. relu-flat, is exempt).
    pub pools: Vec<(ValueId, PoolAttrs)>,
}

impl Out {
    pub fn new(y: ValueId) -> Out {
        Out {
            y,
            away_from_zero: Vec::new(),
            pools: Vec::new(),
        }
    }
}

pub fn numel(shape: &[usize]) -> usize {
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
pub fn weighted_sum(g: &mut Graph, v: ValueId, salt: u64) -> Result<ValueId> {
    let shape = g.shape(v).clone();
    let r = g.tensor(shape.clone(), weights(shape.numel(), salt))?;
    let prod = g.mul(v, r)?;
    let axes: Vec<usize> = (0..shape.rank()).collect();
    g.reduce_sum(prod, &axes, false)
}

pub fn scalar_of<'a>(a: impl Into<ndarray::ArrayViewD<'a, f64>>) -> f64 {
    let a = a.into();
    assert_eq!(a.ndim(), 0, "the loss is a scalar");
    a[IxDyn(&[])]
}

/// Checks the gradients of `sum(y * R)`, `y` built by `build`, against
/// central differences for every element of every `wrt` argument; a case
/// whose point violates a guard of `Out` is rejected. (`check` is the
/// variant for builders that return a bare value.)
pub fn check_guarded(
    what: &str,
    args: &[Arg],
    build: impl Fn(&mut Graph, &[ValueId]) -> Result<Out>,
) -> Result<(), TestCaseError> {
    check_scaled(what, args, build, 1.0)
}

/// The checker, with the symbolic gradients multiplied by `scale` (1 in
/// every real check; the self-test uses other values to show that the
/// comparison is sharp).
pub fn check_scaled(
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
    // The evaluation borrows its inputs; the probes below edit a copy.
    let at_point = inputs.clone();
    let eval = evaluate::<f64>(&g, &at_point).map_err(fail)?;

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

pub fn check(
    what: &str,
    args: &[Arg],
    build: impl Fn(&mut Graph, &[ValueId]) -> Result<ValueId>,
) -> Result<(), TestCaseError> {
    check_guarded(what, args, |g, p| Ok(Out::new(build(g, p)?)))
}

/// The smallest gap between the largest and second-largest element of any
/// pooling window (padding excluded); windows whose max is exactly 0 (all
/// relu-flat) are smooth and skipped.
fn pool_top_gap(x: ndarray::ArrayViewD<f64>, attrs: &PoolAttrs) -> f64 {
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

pub fn config(cases: u32) -> ProptestConfig {
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

// --------------------------------------------------------------- strategies

/// A shape of rank `0..=max_rank` with extents 1..=3.
pub fn extents(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..=max_rank)
}

pub fn uniform(n: usize, lo: f64, hi: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(lo..hi, n)
}

/// Values in ±[0.1, 2): at least 0.1 from zero, either sign.
pub fn signed(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (0.1f64..2.0, any::<bool>()).prop_map(|(m, s)| if s { m } else { -m }),
        n,
    )
}

/// Pairwise distinct values at least 0.06 apart: a random permutation of a
/// grid of step 0.1 plus jitter of at most 0.02.
pub fn distinct(n: usize) -> impl Strategy<Value = Vec<f64>> {
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
pub fn grid(n: usize, offset: f64) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (-8i32..8, -0.02f64..0.02).prop_map(move |(k, j)| 0.2 * k as f64 + offset + j),
        n,
    )
}

pub fn shaped_signed(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
    extents(max_rank).prop_flat_map(|s| {
        let n = numel(&s);
        (Just(s), signed(n))
    })
}

pub fn shaped_uniform(max_rank: usize) -> impl Strategy<Value = (Vec<usize>, Vec<f64>)> {
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
pub fn broadcast_shapes(k: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
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
pub fn named_pairs() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
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

// ------------------------------------------------ shared domain helpers

/// Moves `v` into the domain where `op` is smooth and well conditioned.
pub fn unary_domain(op: UnaryOp, v: f64) -> f64 {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt => v.abs() + 0.4,
        UnaryOp::Recip => v + 0.4 * v.signum(),
        _ => v,
    }
}

/// Same sign, magnitude at least 0.5: a safe divisor.
pub fn away_from_zero(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x + 0.4 * x.signum()).collect()
}

// ------------------------------------------------- convolution geometry

#[derive(Clone, Debug)]
pub struct ConvCase {
    pub attrs: ConvAttrs,
    pub image: Vec<usize>,
    pub filter: Vec<usize>,
    pub out: Vec<usize>,
}

pub fn layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(vec![Layout::Nhwc, Layout::Nchw])
}

pub fn padding() -> impl Strategy<Value = Padding> {
    prop::sample::select(vec![Padding::Valid, Padding::Same])
}

/// A conv2d geometry: both layouts, strides 1/2 per axis, valid/same,
/// kernels 1..=3 per axis, non-square images of 1..=6 per axis.
pub fn conv_case() -> impl Strategy<Value = ConvCase> {
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
pub fn conv_data() -> impl Strategy<Value = (ConvCase, Vec<f64>, Vec<f64>, Vec<f64>)> {
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
