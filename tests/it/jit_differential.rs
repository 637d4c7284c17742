//! The JIT against the interpreter on random graphs (the shared generator
//! of `triceratops_ir::testing`, plain and with every elementwise op fused)
//! and on hand-written graphs for every kernel kind: broadcasts with odd
//! extents (scalar tails), transposes, pads, slices, reductions over every
//! axis combination, zero-sized tensors. Outputs and updated state must
//! agree within f32 rounding: the JIT's reductions and GEMM associate sums
//! differently, and its exp/log/tanh/sigmoid are polynomials (a few ULP).

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD};
use proptest::prelude::*;
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::compile::ArgRole;
use triceratops::ir::testing::{arb_fused_graph, arb_graph, random_inputs};
use triceratops::ir::{BinaryOp, CmpOp, Graph, UnaryOp};
use triceratops::state::{StateLayout, StateStore};

use crate::jit_support::compiled_with_state;

/// Outputs and final state of `g` on `backend` with inputs from `seed`.
fn run(backend: &dyn Backend, g: &Graph, seed: u64) -> (Vec<ArrayD<f32>>, Vec<f32>) {
    let c = compiled_with_state(g);
    let entries = c.signature.state_args().map(|(_, a)| {
        let ArgRole::State(kind) = a.role else {
            unreachable!("state args have state roles")
        };
        (a.name.clone(), kind, a.ty.shape.clone())
    });
    let layout = Arc::new(StateLayout::new(entries).unwrap());
    let mut store = StateStore::with_layout(Arc::clone(&layout));
    let inputs = random_inputs::<f32>(g, seed);
    let mut batch = Vec::new();
    for a in &c.signature.args {
        let value = &inputs[&a.name];
        match a.role {
            ArgRole::State(_) => store.set(&a.name, &value.view()).unwrap(),
            _ => batch.push(value.clone()),
        }
    }
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
    let mut exe = backend
        .compile(c, &layout)
        .unwrap_or_else(|e| panic!("{} compiles: {e}", backend.name()));
    let out = exe.run(&views, &mut store).unwrap();
    (out.outputs, store.as_slice().to_vec())
}

/// Whether `jit` is within f32 rounding of `reference` (NaN matches NaN,
/// infinities match exactly).
fn close(jit: f32, reference: f32) -> bool {
    if reference.is_nan() || jit.is_nan() {
        return reference.is_nan() && jit.is_nan();
    }
    if reference.is_infinite() || jit.is_infinite() {
        return jit == reference;
    }
    (jit - reference).abs() <= 1e-5 + 2e-4 * reference.abs()
}

fn assert_agree(g: &Graph, seed: u64) {
    let (want_out, want_state) = run(&Interpreter, g, seed);
    let (got_out, got_state) = run(&Jit::default(), g, seed);
    for (i, (w, got)) in want_out.iter().zip(&got_out).enumerate() {
        assert_eq!(w.shape(), got.shape(), "output {i}");
        for (k, (&a, &b)) in got.iter().zip(w.iter()).enumerate() {
            assert!(
                close(a, b),
                "output {i} element {k}: jit {a} vs interpreter {b}\n{}",
                triceratops::ir::text::print(g)
            );
        }
    }
    for (k, (&a, &b)) in got_state.iter().zip(&want_state).enumerate() {
        assert!(
            close(a, b),
            "state element {k}: jit {a} vs interpreter {b}\n{}",
            triceratops::ir::text::print(g)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_graphs_agree(g in arb_graph(), seed in any::<u64>()) {
        assert_agree(&g, seed);
    }

    #[test]
    fn random_fused_graphs_agree((_, fused) in arb_fused_graph(), seed in any::<u64>()) {
        assert_agree(&fused, seed);
    }
}

/// A graph of one input of `dims` feeding `build`'s result as its output.
fn one_op(
    dims: &[usize],
    build: impl FnOnce(&mut Graph, triceratops::ir::ValueId) -> triceratops::ir::ValueId,
) -> Graph {
    let mut g = Graph::new("one_op");
    let x = g.input("x", dims.to_vec()).unwrap();
    let y = build(&mut g, x);
    g.add_output("y", y).unwrap();
    g
}

/// Shapes of rank 1-4 with extents 0-9: odd sizes exercise the scalar
/// tails, zero extents the empty loops.
fn arb_dims() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1 => Just(0usize), 9 => 1..=9usize], 1..=4)
}

/// A permutation of `0..rank` from `seed`.
fn permutation(rank: usize, seed: u64) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..rank).collect();
    let mut s = seed;
    for i in (1..rank).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        perm.swap(i, (s >> 33) as usize % (i + 1));
    }
    perm
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn transposes_agree(dims in arb_dims(), seed in any::<u64>()) {
        let perm = permutation(dims.len(), seed);
        assert_agree(&one_op(&dims, |g, x| g.transpose(x, &perm).unwrap()), seed);
    }

    #[test]
    fn pads_and_slices_agree(dims in arb_dims(), seed in any::<u64>()) {
        let low: Vec<usize> = dims.iter().enumerate().map(|(i, _)| (seed as usize >> i) % 3).collect();
        let high: Vec<usize> = dims.iter().enumerate().map(|(i, _)| (seed as usize >> (i + 8)) % 2).collect();
        assert_agree(&one_op(&dims, |g, x| g.pad(x, &low, &high).unwrap()), seed);
        let start: Vec<usize> = dims.iter().map(|&d| d / 3).collect();
        let end: Vec<usize> = dims.iter().map(|&d| d - d / 4).collect();
        assert_agree(&one_op(&dims, |g, x| g.slice(x, &start, &end).unwrap()), seed);
    }

    #[test]
    fn reductions_over_every_axis_set_agree(dims in arb_dims(), mask in 0u32..16, keep in any::<bool>(), seed in any::<u64>()) {
        let axes: Vec<usize> = (0..dims.len()).filter(|&i| mask & (1 << i) != 0).collect();
        assert_agree(&one_op(&dims, |g, x| g.reduce_sum(x, &axes, keep).unwrap()), seed);
        // The IR refuses a max over an empty axis (it has no value).
        if axes.iter().all(|&a| dims[a] > 0) {
            assert_agree(&one_op(&dims, |g, x| g.reduce_max(x, &axes, keep).unwrap()), seed);
        }
    }

    #[test]
    fn broadcasts_and_elementwise_ops_agree(dims in arb_dims(), seed in any::<u64>()) {
        // A row of the last axis against the whole tensor, through every
        // non-transcendental elementwise op and a select.
        let last = *dims.last().unwrap();
        let g = {
            let mut g = Graph::new("elementwise");
            let x = g.input("x", dims.clone()).unwrap();
            let row = g.input("row", vec![last]).unwrap();
            let wide = g.broadcast_to(row, dims.clone()).unwrap();
            let mut outs = Vec::new();
            for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Max, BinaryOp::Min] {
                outs.push(g.binary(op, x, wide).unwrap());
            }
            for op in [UnaryOp::Neg, UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Recip, UnaryOp::Relu, UnaryOp::Abs, UnaryOp::Square] {
                outs.push(g.unary(op, x).unwrap());
            }
            for op in [CmpOp::Gt, CmpOp::Ge, CmpOp::Eq] {
                outs.push(g.compare(op, x, wide).unwrap());
            }
            let mask = g.compare(CmpOp::Gt, x, wide).unwrap();
            outs.push(g.select(mask, x, wide).unwrap());
            outs.push(g.pow(x, 3.0).unwrap());
            outs.push(g.pow(x, 0.5).unwrap());
            for (i, o) in outs.into_iter().enumerate() {
                g.add_output(&format!("y{i}"), o).unwrap();
            }
            g
        };
        assert_agree(&g, seed);
    }
}

#[test]
fn special_values_follow_the_interpreter() {
    // NaN through max/min/relu and comparisons, -0 against +0, infinities.
    let values = [
        f32::NAN,
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.5,
        -2.5,
    ];
    let n = values.len();
    let mut g = Graph::new("special");
    let x = g.input("x", vec![n, n]).unwrap();
    let y = g.input("y", vec![n, n]).unwrap();
    let mut outs = Vec::new();
    for op in [BinaryOp::Max, BinaryOp::Min, BinaryOp::Add, BinaryOp::Div] {
        outs.push(g.binary(op, x, y).unwrap());
    }
    outs.push(g.relu(x).unwrap());
    for op in [CmpOp::Gt, CmpOp::Ge, CmpOp::Eq] {
        outs.push(g.compare(op, x, y).unwrap());
    }
    outs.push(g.select(x, x, y).unwrap());
    outs.push(g.reduce_max(x, &[1], false).unwrap());
    outs.push(g.reduce_sum(x, &[0], false).unwrap());
    for (i, o) in outs.into_iter().enumerate() {
        g.add_output(&format!("y{i}"), o).unwrap();
    }
    let xs: Vec<f32> = (0..n * n).map(|i| values[i / n]).collect();
    let ys: Vec<f32> = (0..n * n).map(|i| values[i % n]).collect();
    let batch = [
        ArrayD::from_shape_vec(vec![n, n], xs).unwrap(),
        ArrayD::from_shape_vec(vec![n, n], ys).unwrap(),
    ];
    let outputs = |backend: &dyn Backend| {
        let c = compiled_with_state(&g);
        let layout = Arc::new(StateLayout::new(std::iter::empty()).unwrap());
        let mut store = StateStore::with_layout(Arc::clone(&layout));
        let mut exe = backend.compile(c, &layout).unwrap();
        let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
        exe.run(&views, &mut store).unwrap().outputs
    };
    let want = outputs(&Interpreter);
    let got = outputs(&Jit::default());
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        for (k, (a, b)) in g.iter().zip(w.iter()).enumerate() {
            // Bit for bit, except that any NaN matches any NaN.
            let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                same,
                "output {i} element {k}: jit {a:?} vs interpreter {b:?}"
            );
        }
    }
}
