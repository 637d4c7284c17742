//! The stepping harness shared by the `optimizers_*` integration tests,
//! declared `#[macro_use]` in `main.rs` (ahead of the tests, so the `golden!`
//! macro is in scope for them) and used as `crate::optimizer_support`.
//!
//! - [`run`] builds an optimizer as IR (`param %w`, `input %g`, the
//!   optimizer's step-scalar inputs, `state %step`) and steps it on the
//!   reference interpreter in f64 or f32 over a gradient sequence, feeding
//!   the step scalars the trainer would, and records the param and every
//!   slot;
//! - [`check`] compares both precisions step by step against
//!   [`reference`], an independent implementation of the Keras 3 / PyTorch
//!   2.x updates in each framework's own arithmetic (see `reference.rs`):
//!   the f64 run against the reference in f64 to 1e-12, the f32 run
//!   against the reference in f32 bit for bit (Keras) or to 1e-6 (PyTorch,
//!   whose CPU kernels may fuse multiply-adds);
//! - `golden!` turns `name: optimizer;` lines into one `#[test]` each, over
//!   [`GRADS`], and `golden_long!` over [`LONG_STEPS`] steps cycling
//!   through them (so `β₂ = 0.9999` reaches `1 - β₂ᵗ` far from 0 and from 1).

// Each test file uses only some of these helpers.
#![allow(dead_code)]

mod reference;

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::{evaluate, Inputs, Scalar};
use triceratops::ir::{verify, Graph, Shape};
use triceratops::keras::optimizers::{Convention, Optimizer, SlotInit};

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

/// Steps of the long golden runs.
pub const LONG_STEPS: usize = 1000;

/// [`GRADS`] repeated for `steps` steps.
pub fn cycled(steps: usize) -> Vec<[f64; 4]> {
    GRADS.iter().cycle().take(steps).copied().collect()
}

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

/// `param %w: f32[4]`, `input %g`, the step scalars, `state %step` with
/// `update step <- step + 1`, and the optimizer's updates.
fn build(opt: &Optimizer) -> (Graph, Vec<SlotInit>) {
    let mut g = Graph::new("train_step");
    let w = g.param("w", [4]).unwrap();
    let grad = g.input("g", [4]).unwrap();
    let scalars = opt.declare_step_inputs(&mut g).unwrap();
    let step = g.state("step", Shape::scalar()).unwrap();
    let slots = opt.apply(&mut g, &scalars, &[(w, grad)]).unwrap();
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
    run_with::<T>(opt, grads, |step| opt.step_values(step))
}

/// [`run`] with the step scalars (in [`Optimizer::step_scalars`] order)
/// given by `values` for the number of steps already taken.
pub fn run_with<T: Float>(
    opt: &Optimizer,
    grads: &[[f64; 4]],
    values: impl Fn(u64) -> Vec<f32>,
) -> Vec<State> {
    let (g, inits) = build(opt);
    let mut inputs: Inputs<T> = Inputs::new();
    inputs.insert("w".into(), array(&[4], &W0));
    inputs.insert("step".into(), array(&[], &[0.0]));
    for s in &inits {
        let init = vec![s.value as f64; s.shape.numel()];
        inputs.insert(s.name.clone(), array(s.shape.dims(), &init));
    }
    let mut states = Vec::new();
    for (k, grad) in grads.iter().enumerate() {
        inputs.insert("g".into(), array(&[4], grad));
        // What the trainer feeds, from the step counter.
        let step = inputs["step"][[]].to() as u64;
        assert_eq!(step, k as u64);
        for (s, v) in opt.step_scalars().into_iter().zip(values(step)) {
            inputs.insert(s.name().into(), array(&[], &[v as f64]));
        }
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

/// Every step's param and slots have exactly the same bits.
fn assert_bit_exact(label: &str, actual: &[State], expected: &[State]) {
    assert_eq!(actual.len(), expected.len());
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.w), bits(&e.w), "{label} w at step {}", k + 1);
        assert_eq!(
            a.slots.keys().collect::<Vec<_>>(),
            e.slots.keys().collect::<Vec<_>>()
        );
        for (name, values) in &e.slots {
            assert_eq!(
                bits(&a.slots[name]),
                bits(values),
                "{label} {name} at step {}: got {:?}, expected {values:?}",
                k + 1,
                a.slots[name]
            );
        }
    }
}

/// The optimizer's runs over `grads` against the reference, step by step:
/// in f64 to 1e-12 of the reference in f64; in f32 within `f32_vs_f64` of
/// the reference in f64, and bit for bit (Keras) or to 1e-6 (PyTorch) of
/// the reference in f32, i.e. of the framework's own arithmetic.
pub fn check_over(opt: Optimizer, grads: &[[f64; 4]], f32_vs_f64: f64) {
    let expected = reference::<f64>(&opt, grads);
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
        &run::<f64>(&opt, grads),
        &expected,
        1e-12,
    );
    let f32_run = run::<f32>(&opt, grads);
    assert_trajectory(&format!("f32 {label}"), &f32_run, &expected, f32_vs_f64);
    let framework = reference::<f32>(&opt, grads);
    let label = format!("f32 {label} against the framework's f32 arithmetic");
    match opt.convention {
        Convention::Keras => assert_bit_exact(&label, &f32_run, &framework),
        Convention::PyTorch => assert_trajectory(&label, &f32_run, &framework, 1e-6),
    }
}

/// [`check_over`] on the six steps of [`GRADS`].
pub fn check(opt: Optimizer) {
    check_over(opt, &GRADS, 1e-5);
}

/// [`check_over`] on [`LONG_STEPS`] steps: f32 drifts up to 1e-4 from f64
/// over 1000 steps, while the f32 checks against the framework stay exact.
pub fn check_long(opt: Optimizer) {
    check_over(opt, &cycled(LONG_STEPS), 1e-4);
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

/// One `#[test]` per `name: optimizer;` line, each calling [`check_long`]
/// (which the including file imports).
#[allow(unused_macros)]
macro_rules! golden_long {
    ($($name:ident: $opt:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_long($opt);
            }
        )*
    };
}
