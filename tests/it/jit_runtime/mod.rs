//! The JIT's runtime routines (`backend::jit::runtime`) against the
//! reference interpreter, op by op, on proptest-generated shapes.
//!
//! Contractions are compared with a relative tolerance, since the GEMM
//! reorders sums: `|got - want| <= 1e-5 * bound`, where `bound` is the same
//! op evaluated on the absolute values of the operands (the sum of the
//! terms' magnitudes). Pooling must match bit for bit, NaN payloads, ties
//! and signed zeros included. Every output buffer (and the scratch) starts
//! out full of NaN, so an element the routine forgets to write shows up.

//!
//! `matmul.rs`, `conv.rs`, `pool.rs` and `shims.rs` hold the routines'
//! tests; this file the helpers they share (also with `jit_pool.rs`).

mod conv;
mod epilogue;
mod gemm;
mod matmul;
mod pool;
mod shims;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::runtime::{self, ConvDesc, MatMulDesc, PoolDesc};
use triceratops::ir::interp::evaluate_args;
use triceratops::ir::op::MatMulAttrs;
use triceratops::ir::{geometry, ConvAttrs, Graph, Layout, Op, Padding, PoolAttrs};

/// `op` applied by the interpreter to `args` (one graph input each).
fn oracle(op: Op, args: &[&ArrayD<f32>]) -> ArrayD<f32> {
    let mut g = Graph::new("one_op");
    let ids: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(i, a)| g.input(&format!("a{i}"), a.shape().to_vec()).unwrap())
        .collect();
    let y = g.push_op(op, &ids).unwrap();
    let views = args.iter().map(|a| a.view()).collect();
    evaluate_args(&g, views).unwrap().value(y).to_owned()
}

/// A row-major array of `shape` with entries uniform in [-1, 1).
fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-1.0..1.0))
}

/// A buffer for a routine to write, poisoned with NaN.
fn poisoned(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

fn data(x: &ArrayD<f32>) -> &[f32] {
    x.as_slice().expect("test arrays are row-major")
}

/// `got` (row-major) equals `want` up to GEMM reassociation, `bound` being
/// the op on the operands' absolute values.
fn assert_close(what: &str, got: &[f32], want: &ArrayD<f32>, bound: &ArrayD<f32>) {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, ((&g, &w), &b)) in got.iter().zip(want.iter()).zip(bound.iter()).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * b,
            "{what}: element {i} is {g}, the interpreter says {w} (bound {b})"
        );
    }
}

/// `got` (row-major) equals `want` bit for bit.
fn assert_bits(what: &str, got: &[f32], want: &ArrayD<f32>) {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: element {i} is {g} ({:#x}), the interpreter says {w} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

fn abs(x: &ArrayD<f32>) -> ArrayD<f32> {
    x.mapv(f32::abs)
}

/// as an executable compiled for `threads` runs its kernels.
fn within<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads <= 1 {
        return f();
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

pub(crate) fn layouts() -> impl Strategy<Value = Layout> {
    prop::sample::select(Layout::ALL.to_vec())
}

pub(crate) fn paddings() -> impl Strategy<Value = Padding> {
    prop::sample::select(Padding::ALL.to_vec())
}

/// A window extent that fits `input` under `padding` (`valid` needs
/// `window <= input`).
pub(crate) fn fit(window: usize, input: usize, padding: Padding) -> usize {
    match padding {
        Padding::Valid => window.min(input),
        Padding::Same => window,
    }
}

/// Values that make ties, signed zeros, infinities and NaN (two payloads,
/// to see which one wins; they come last) common in small windows.
pub(crate) const PALETTE: [f32; 9] = [
    -1.0,
    0.0,
    -0.0,
    1.0,
    2.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::from_bits(0x7fc0_1234),
];

pub(crate) fn from_palette(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || PALETTE[rng.random_range(0..PALETTE.len())])
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}
