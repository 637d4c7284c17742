//! The stepping harness shared by the `optimizers_*` integration tests,
//! declared `#[macro_use]` in `main.rs` (ahead of the tests, so the `golden!`
//! macro is in scope for them) and used as `crate::optimizer_support`.
//!
//! - [`run`] builds an optimizer as IR (`param %w`, `input %g`, `input %lr`,
//!   `state %step`) and steps it on the reference interpreter in f64 or f32
//!   over a fixed gradient sequence, recording the param and every slot;
//! - [`check`] compares both precisions step by step against
//!   [`reference`], an independent plain-f64 implementation of the published
//!   Keras 3 / PyTorch 2.x formulas (see `reference.rs`);
//! - `golden!` turns `name: optimizer;` lines into one `#[test]` each.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

mod reference;

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::{evaluate, Inputs, Scalar};
use triceratops::ir::{verify, Graph, Shape};
use triceratops::keras::optimizers::{Optimizer, SlotInit};

use reference::reference;

pub const W0: [f64; 4] = [1.0, -0.5, 0.25, 2.0];

/// Mixed signs, a tiny coordinate (±1e-4) and a large one (up to 55) whose
/// gradient changes sign and also gets small (step 4).
pub const GRADS: [[f64; 4]; 6] = [
    [0.5, -1.2, 1e-4, 30.0],
    [0.3, 0.8, -2e-4, -25.0],
    [-0.7, 1.5, 1e-4, 40.0],
    [0.05, -0.4, 3e-4, -1e-3],
    [-1.1, 2.2, -1e-4, 12.0],
    [0.9, -0.1, 2e-4, 55.0],
];

/// The param and every slot after a step; slots keyed by full name.
#[derive(Clone, Debug)]
pub struct State {
    pub w: Vec<f64>,
    pub slots: BTreeMap<String, Vec<f64>>,
}

/// The interpreter's element types, with conversions to and from f64.
pub trait Float: Scalar {
    fn of(v: f64) -> Self;
    fn to(self) -> f64;
}

impl Float for f32 {
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn to(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    fn of(v: f64) -> f64 {
        v
    }
    fn to(self) -> f64 {
        self
    }
}

/// `param %w: f32[4]`, `input %g`, `input %lr`, `state %step` with
/// `update step <- step + 1`, and the optimizer's updates.
fn build(opt: &Optimizer) -> (Graph, Vec<SlotInit>) {
    let mut g = Graph::new("train_step");
    let w = g.param("w", [4]).unwrap();
    let grad = g.input("g", [4]).unwrap();
    let lr = g.input("lr", Shape::scalar()).unwrap();
    let step = g.state("step", Shape::scalar()).unwrap();
    let slots = opt.apply(&mut g, lr, step, &[(w, grad)]).unwrap();
    let one = g.scalar(1.0).unwrap();
    let next = g.add(step, one).unwrap();
    g.add_update(step, next).unwrap();
    verify(&g).unwrap();
    (g, slots)
}

fn array<T: Float>(shape: &[usize], data: &[f64]) -> ArrayD<T> {
    let data = data.iter().map(|&v| T::of(v)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

fn to_vec<T: Float>(a: &ArrayD<T>) -> Vec<f64> {
    a.iter().map(|&v| v.to()).collect()
}

/// Runs the optimizer's graph for `grads.len()` steps, carrying the param,
/// the slots and the step counter between runs through the updates.
pub fn run<T: Float>(opt: &Optimizer, grads: &[[f64; 4]]) -> Vec<State> {
    let (g, inits) = build(opt);
    let mut inputs: Inputs<T> = Inputs::new();
    inputs.insert("w".into(), array(&[4], &W0));
    inputs.insert("lr".into(), array(&[], &[opt.learning_rate as f64]));
    inputs.insert("step".into(), array(&[], &[0.0]));
    for s in &inits {
        let init = vec![s.value as f64; s.shape.numel()];
        inputs.insert(s.name.clone(), array(s.shape.dims(), &init));
    }
    let mut states = Vec::new();
    for grad in grads {
        inputs.insert("g".into(), array(&[4], grad));
        let eval = evaluate(&g, &inputs).unwrap();
        let updated: Vec<(String, ArrayD<T>)> = eval
            .updates()
            .map(|(name, a)| (name.to_string(), a.to_owned()))
            .collect();
        assert_eq!(updated.len(), 2 + inits.len(), "w, step and every slot");
        inputs.extend(updated);
        assert_eq!(inputs["step"][[]].to(), (states.len() + 1) as f64);
        states.push(State {
            w: to_vec(&inputs["w"]),
            slots: inits
                .iter()
                .map(|s| (s.name.clone(), to_vec(&inputs[&s.name])))
                .collect(),
        });
    }
    states
}

/// Every step's values within `tol` relative to the largest magnitude that
/// coordinate reaches over the run (so a slot crossing zero is judged on
/// its own scale, not on a cancelled near-zero value).
fn assert_close(what: &str, actual: &[Vec<f64>], expected: &[Vec<f64>], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for i in 0..expected[0].len() {
        let scale = expected.iter().map(|e| e[i].abs()).fold(1e-300, f64::max);
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            let err = (a[i] - e[i]).abs() / scale;
            assert!(
                err <= tol,
                "{what}[{i}] at step {}: got {}, expected {} (relative error {err:.2e})\n\
                 got {a:?}\nexpected {e:?}",
                k + 1,
                a[i],
                e[i]
            );
        }
    }
}

fn assert_trajectory(label: &str, actual: &[State], expected: &[State], tol: f64) {
    let ws = |states: &[State]| states.iter().map(|s| s.w.clone()).collect::<Vec<_>>();
    assert_close(&format!("{label} w"), &ws(actual), &ws(expected), tol);
    let names: Vec<&String> = expected[0].slots.keys().collect();
    assert_eq!(actual[0].slots.keys().collect::<Vec<_>>(), names, "{label}");
    for name in names {
        let of = |states: &[State]| {
            states
                .iter()
                .map(|s| s.slots[name].clone())
                .collect::<Vec<_>>()
        };
        assert_close(&format!("{label} {name}"), &of(actual), &of(expected), tol);
    }
}

/// The optimizer's f64 and f32 runs against the reference, step by step.
pub fn check(opt: Optimizer) {
    let expected = reference(&opt, &GRADS);
    let moved = expected
        .last()
        .unwrap()
        .w
        .iter()
        .zip(W0)
        .all(|(w, w0)| *w != w0);
    assert!(moved, "the reference must move every coordinate");
    let label = format!("{opt:?}");
    assert_trajectory(
        &format!("f64 {label}"),
        &run::<f64>(&opt, &GRADS),
        &expected,
        1e-12,
    );
    assert_trajectory(
        &format!("f32 {label}"),
        &run::<f32>(&opt, &GRADS),
        &expected,
        1e-5,
    );
}

/// One `#[test]` per `name: optimizer;` line, each calling [`check`] (which
/// the including file imports); used through `#[macro_use]` by the golden
/// files only.
#[allow(unused_macros)]
macro_rules! golden {
    ($($name:ident: $opt:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check($opt);
            }
        )*
    };
}
