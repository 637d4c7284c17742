//! Row fusion (`plan/rows.rs`): the loss, metric and gradient-norm tails
//! become rows kernels that agree with the interpreter on random shapes
//! (within f32 rounding: a row sum keeps the lone reduction's four-lane
//! association, totals are added in the interpreter's order), whose max
//! is exact (NaN anywhere makes the guard false, -0 < +0), and that leave
//! no map feeding only a reduction in the MNIST MLP's train step.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::plan::{Kernel, RowStep};
use triceratops::backend::jit::{plan_graph, Planned};
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::ir::testing::fuse_elementwise;
use triceratops::ir::{BinaryOp, CmpOp, Graph, UnaryOp, ValueId};
use triceratops::state::{StateLayout, StateStore};

use crate::jit_support::{builtin_plan, compiled};

fn run(backend: &dyn Backend, g: &Graph, batch: &[ArrayD<f32>]) -> Vec<ArrayD<f32>> {
    let layout = Arc::new(StateLayout::new(Vec::new()).unwrap());
    let mut store = StateStore::with_layout(Arc::clone(&layout));
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
    let mut exe = backend.compile(compiled(g), &layout).unwrap();
    exe.run(&views, &mut store).unwrap().outputs
}

fn plan(g: &Graph) -> Planned {
    let layout = StateLayout::new(Vec::new()).unwrap();
    plan_graph(compiled(g), &layout, 1).unwrap()
}

fn rows_kernels(p: &Planned) -> usize {
    p.memory
        .kernels
        .iter()
        .filter(|k| matches!(k, Kernel::Rows(_)))
        .count()
}

/// Softmax cross-entropy forward and backward, an argmax-match accuracy,
/// a mean squared error and a gradient-norm check over logits `x` and
/// targets `y` of `[rows, cols]`, written the way the front end writes
/// them (keepdims reductions broadcast back).
fn loss_tail(rows: usize, cols: usize) -> Graph {
    let mut g = Graph::new("tail");
    let dims = vec![rows, cols];
    let x = g.input("x", dims.clone()).unwrap();
    let y = g.input("y", dims.clone()).unwrap();
    let wide = |g: &mut Graph, v: ValueId| g.broadcast_to(v, dims.clone()).unwrap();
    let m = g.reduce_max(x, &[1], true).unwrap();
    let mw = wide(&mut g, m);
    let s = g.sub(x, mw).unwrap();
    let e = g.unary(UnaryOp::Exp, s).unwrap();
    let z = g.reduce_sum(e, &[1], true).unwrap();
    let lz = g.unary(UnaryOp::Log, z).unwrap();
    let lzw = wide(&mut g, lz);
    let logp = g.sub(s, lzw).unwrap();
    let ylogp = g.mul(y, logp).unwrap();
    let per_row = g.reduce_sum(ylogp, &[1], false).unwrap();
    let neg = g.unary(UnaryOp::Neg, per_row).unwrap();
    let loss = g.reduce_sum(neg, &[0], false).unwrap();
    let zw = wide(&mut g, z);
    let p = g.div(e, zw).unwrap();
    let dx = g.sub(p, y).unwrap();
    // Accuracy: does the row's max of x sit where y's does?
    let hit = g.compare(CmpOp::Eq, x, mw).unwrap();
    let ym = g.reduce_max(y, &[1], true).unwrap();
    let ymw = wide(&mut g, ym);
    let yhit = g.compare(CmpOp::Eq, y, ymw).unwrap();
    let both = g.mul(hit, yhit).unwrap();
    let right = g.reduce_max(both, &[1], false).unwrap();
    let correct = g.reduce_sum(right, &[0], false).unwrap();
    // Mean squared error and the finite check of dx.
    let d = g.sub(x, y).unwrap();
    let sq = g.unary(UnaryOp::Square, d).unwrap();
    let mse_rows = g.reduce_sum(sq, &[1], false).unwrap();
    let mse = g.reduce_sum(mse_rows, &[0], false).unwrap();
    let a = g.unary(UnaryOp::Abs, dx).unwrap();
    let norm = g.reduce_max(a, &[0, 1], false).unwrap();
    for (name, v) in [
        ("loss", loss),
        ("dx", dx),
        ("correct", correct),
        ("mse", mse),
        ("norm", norm),
    ] {
        g.add_output(name, v).unwrap();
    }
    g
}

fn close(jit: f32, reference: f32) -> bool {
    if reference.is_nan() || jit.is_nan() {
        return reference.is_nan() && jit.is_nan();
    }
    (jit - reference).abs() <= 1e-5 + 2e-4 * reference.abs()
}

fn random_batch(rows: usize, cols: usize, seed: u64) -> Vec<ArrayD<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |_| rng.random_range(-4.0f32..4.0));
    // One-hot targets, sometimes with ties in x's row maxima (rounded x).
    let y = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| {
        ((i[0] * 7 + 3) % cols == i[1]) as u8 as f32
    });
    let x = if seed.is_multiple_of(3) {
        x.mapv(f32::round)
    } else {
        x
    };
    vec![x, y]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn fused_loss_tails_agree_with_the_interpreter(rows in 1usize..=9, cols in 1usize..=41, fuse in any::<bool>(), seed in any::<u64>()) {
        let g = loss_tail(rows, cols);
        let g = if fuse { fuse_elementwise(&g) } else { g };
        let batch = random_batch(rows, cols, seed);
        let want = run(&Interpreter, &g, &batch);
        let got = run(&Jit::default(), &g, &batch);
        for (i, (w, o)) in want.iter().zip(&got).enumerate() {
            for (k, (&a, &b)) in o.iter().zip(w.iter()).enumerate() {
                prop_assert!(close(a, b), "output {} element {}: jit {} vs interpreter {}", i, k, a, b);
            }
        }
        if cols > 1 {
            prop_assert!(rows_kernels(&plan(&g)) >= 1);
        }
    }
}

/// `finite = inf > max(|l|, max|g|, max|h|)`, the train step's guard, over
/// a `[n]` and a `[rows, cols]` gradient.
fn guard_graph(n: usize, rows: usize, cols: usize) -> Graph {
    let mut g = Graph::new("guard");
    let l = g.input("l", vec![1]).unwrap();
    let a = g.input("a", vec![n]).unwrap();
    let b = g.input("b", vec![rows, cols]).unwrap();
    let mut m = g.unary(UnaryOp::Abs, l).unwrap();
    for (v, axes) in [(a, vec![0]), (b, vec![0, 1])] {
        let abs = g.unary(UnaryOp::Abs, v).unwrap();
        let r = g.reduce_max(abs, &axes, true).unwrap();
        let r = g.reshape(r, vec![1]).unwrap();
        m = g.binary(BinaryOp::Max, m, r).unwrap();
    }
    let inf = g.scalar(f32::INFINITY).unwrap();
    let inf = g.broadcast_to(inf, vec![1]).unwrap();
    let finite = g.compare(CmpOp::Gt, inf, m).unwrap();
    g.add_output("finite", finite).unwrap();
    g
}

#[test]
fn a_nan_anywhere_in_a_gradient_makes_the_guard_false() {
    // Lengths around the 16-element trips and 4-element tails.
    for n in [1, 3, 4, 5, 15, 16, 17, 33, 100] {
        let (rows, cols) = (3, 7);
        let g = guard_graph(n, rows, cols);
        assert!(rows_kernels(&plan(&g)) > usize::from(n > 1));
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let mut a: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        let b: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random_range(-3.0f32..3.0))
            .collect();
        let batch = |a: &[f32], b: &[f32]| {
            vec![
                ArrayD::from_shape_vec(IxDyn(&[1]), vec![0.5]).unwrap(),
                ArrayD::from_shape_vec(IxDyn(&[n]), a.to_vec()).unwrap(),
                ArrayD::from_shape_vec(IxDyn(&[rows, cols]), b.to_vec()).unwrap(),
            ]
        };
        let jit = Jit::default();
        assert_eq!(run(&jit, &g, &batch(&a, &b))[0].as_slice().unwrap(), &[1.0]);
        // Positive and negative quiet NaNs, and a signalling payload.
        let nans = [f32::NAN, -f32::NAN, f32::from_bits(0xff80_0001)];
        for p in 0..n {
            for nan in nans {
                let keep = a[p];
                a[p] = nan;
                let out = run(&jit, &g, &batch(&a, &b));
                assert_eq!(
                    out[0].as_slice().unwrap(),
                    &[0.0],
                    "NaN {nan:?} at {p} of {n}"
                );
                a[p] = keep;
            }
        }
        let mut b2 = b.clone();
        b2[rows * cols - 1] = -f32::NAN;
        assert_eq!(
            run(&jit, &g, &batch(&a, &b2))[0].as_slice().unwrap(),
            &[0.0]
        );
        a[n / 2] = f32::INFINITY;
        assert_eq!(run(&jit, &g, &batch(&a, &b))[0].as_slice().unwrap(), &[0.0]);
    }
}

#[test]
fn a_fused_max_is_bit_exact_with_signed_zeros_and_nan() {
    // Every row's maximum, and one over everything, of rows mixing -0, +0,
    // infinities and NaN, as the interpreter computes them.
    let values = [
        -0.0,
        0.0,
        f32::NEG_INFINITY,
        f32::INFINITY,
        -1.5,
        f32::NAN,
        -f32::NAN,
    ];
    let (rows, cols) = (24, 19);
    let mut g = Graph::new("max");
    let x = g.input("x", vec![rows, cols]).unwrap();
    let r = g.reduce_max(x, &[1], false).unwrap();
    let all = g.reduce_max(x, &[0, 1], false).unwrap();
    g.add_output("r", r).unwrap();
    g.add_output("all", all).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let data: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let row = i / cols;
            // Row k draws from the first 2 + k % 6 values: zeros only, then
            // more kinds, NaN only in the last rows.
            values[rng.random_range(0..2 + row % 6)]
        })
        .collect();
    let batch = vec![ArrayD::from_shape_vec(IxDyn(&[rows, cols]), data).unwrap()];
    let want = run(&Interpreter, &g, &batch);
    let got = run(&Jit::default(), &g, &batch);
    for (w, o) in want.iter().zip(&got) {
        for (&a, &b) in o.iter().zip(w.iter()) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "jit {a:?} vs interpreter {b:?}"
            );
        }
    }
}

#[test]
fn mnist_mlp_train_step_has_no_map_feeding_only_a_reduction() {
    let planned = builtin_plan("mnist-mlp", 1);
    let kernels = &planned.memory.kernels;
    let outputs: Vec<ValueId> = planned.graph.outputs().iter().map(|(_, v)| *v).collect();
    for (p, k) in kernels.iter().enumerate() {
        let Kernel::Map(m) = k else { continue };
        for o in &m.outputs {
            let readers: Vec<&Kernel> = kernels
                .iter()
                .filter(|r| r.reads().contains(&o.value))
                .collect();
            let only_reduced = matches!(readers.as_slice(), [Kernel::Reduce(_)]);
            assert!(
                !only_reduced || outputs.contains(&o.value),
                "k{p} feeds only a reduction"
            );
        }
    }
    // Every reduction over a last axis is in a rows kernel; the softmax
    // cross-entropy with its gradient and the accuracy are two of them.
    for k in kernels {
        if let Kernel::Reduce(r) = k {
            assert!(!r.reduced.last().unwrap(), "{r:?}");
        }
    }
    let rows: Vec<usize> = kernels
        .iter()
        .filter_map(|k| match k {
            Kernel::Rows(r) if r.rows == 128 => Some(r.steps.len()),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 2, "loss and metric groups");
    assert!(rows.iter().all(|&n| n >= 9), "{rows:?}");
    let totals = kernels
        .iter()
        .filter_map(|k| match k {
            Kernel::Rows(r) => Some(
                r.steps
                    .iter()
                    .filter(|s| matches!(s, RowStep::Total { .. }))
                    .count(),
            ),
            _ => None,
        })
        .sum::<usize>();
    assert_eq!(totals, 2, "the loss and the accuracy sums");
    assert!(kernels.len() <= 30, "{} kernels", kernels.len());
}
