//! Running tiny graphs in the reference interpreter and checking values:
//! every generic case runs in f32 and in f64 (see [`both_precisions`]).

use std::collections::HashMap;

use ndarray::{ArrayD, IxDyn};
use triceratops_ir::interp::{evaluate, Inputs, Scalar};
use triceratops_ir::{Graph, ValueId};

pub fn arr<T: Scalar>(shape: &[usize], data: &[f64]) -> ArrayD<T> {
    ArrayD::from_shape_vec(
        IxDyn(shape),
        data.iter()
            .map(|&v| num_traits::cast::<f64, T>(v).unwrap())
            .collect(),
    )
    .unwrap()
}

pub fn is_f32<T: Scalar>() -> bool {
    std::mem::size_of::<T>() == 4
}

/// Runs `g` on the given arguments and returns every named output.
pub fn run<T: Scalar>(
    g: &Graph,
    inputs: &[(&str, &[usize], &[f64])],
) -> HashMap<String, ArrayD<T>> {
    let inputs: Inputs<T> = inputs
        .iter()
        .map(|(name, shape, data)| (name.to_string(), arr::<T>(shape, data)))
        .collect();
    let eval = evaluate::<T>(g, &inputs).unwrap_or_else(|e| panic!("evaluation failed: {e}"));
    g.outputs()
        .iter()
        .map(|(name, _)| (name.clone(), eval.output(name).unwrap().to_owned()))
        .collect()
}

/// Checks shape and values: NaN must be NaN, infinities exact, finite values
/// within 1e-5 (f32) or 1e-12 (f64) relative to max(1, |expected|).
#[track_caller]
pub fn expect<'a, T: Scalar>(
    actual: impl Into<ndarray::ArrayViewD<'a, T>>,
    shape: &[usize],
    expected: &[f64],
) {
    let actual = actual.into();
    assert_eq!(actual.shape(), shape, "shape");
    assert_eq!(actual.len(), expected.len(), "test bug: element count");
    let tol = if is_f32::<T>() { 1e-5 } else { 1e-12 };
    for (i, (a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a.to_f64().unwrap();
        let good = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= tol * e.abs().max(1.0)
        };
        assert!(
            good,
            "element {i} (row-major): got {a}, expected {e}\n actual: {actual:?}\n expected: {expected:?}"
        );
    }
}

/// Builds `x -> f(x)` on an input of shape `shape`, runs it on `data`.
pub fn unary_run<T: Scalar>(
    shape: &[usize],
    data: &[f64],
    f: impl FnOnce(&mut Graph, ValueId) -> ValueId,
) -> ArrayD<T> {
    let mut g = Graph::new("g");
    let x = g.input("x", shape.to_vec()).unwrap();
    let y = f(&mut g, x);
    g.add_output("y", y).unwrap();
    run::<T>(&g, &[("x", shape, data)]).remove("y").unwrap()
}

/// Builds `f(a, b)` on two inputs and runs it.
pub fn binary_run<T: Scalar>(
    a: (&[usize], &[f64]),
    b: (&[usize], &[f64]),
    f: impl FnOnce(&mut Graph, ValueId, ValueId) -> ValueId,
) -> ArrayD<T> {
    let mut g = Graph::new("g");
    let va = g.input("a", a.0.to_vec()).unwrap();
    let vb = g.input("b", b.0.to_vec()).unwrap();
    let y = f(&mut g, va, vb);
    g.add_output("y", y).unwrap();
    run::<T>(&g, &[("a", a.0, a.1), ("b", b.0, b.1)])
        .remove("y")
        .unwrap()
}

pub const NAN: f64 = f64::NAN;
pub const INF: f64 = f64::INFINITY;

/// Generates one `#[test]` per precision for each generic case function.
#[allow(unused_macros)] // unused by the shape-inference files
macro_rules! both_precisions {
    ($($case:ident),* $(,)?) => {
        mod f32_cases {
            $( #[test] fn $case() { super::$case::<f32>() } )*
        }
        mod f64_cases {
            $( #[test] fn $case() { super::$case::<f64>() } )*
        }
    };
}
#[allow(unused_imports)] // unused by the shape-inference files
pub(crate) use both_precisions;
