//! Snapshots of differentiated graphs, canonicalized as every backend sees
//! them: the backward pass must read like the math. Each snapshot was read
//! and checked by hand when accepted.

use triceratops::ir::text::print;
use triceratops::ir::{canonicalize, grad, Graph};
use triceratops::keras::losses::Loss;

/// y = a*x + b over a batch of 4, with `loss`, differentiated w.r.t. a and b.
fn linreg(loss: Loss) -> String {
    let mut g = Graph::new("linreg.grad");
    let x = g.input("x", [4]).unwrap();
    let t = g.input("t", [4]).unwrap();
    let a = g.param("a", []).unwrap();
    let b = g.param("b", []).unwrap();
    let ax = g.mul(a, x).unwrap();
    let y = g.add(ax, b).unwrap();
    g.rename(y, "y").unwrap();
    let e = loss.build(&mut g, y, t).unwrap();
    g.rename(e, "E").unwrap();
    let grads = grad(&mut g, e, &[a, b]).unwrap();
    g.add_output("E", e).unwrap();
    g.add_output("dE_da", grads[0]).unwrap();
    g.add_output("dE_db", grads[1]).unwrap();
    print(&canonicalize(&g))
}

#[test]
fn lecture_half_sse_gradient_is_the_familiar_sums() {
    // dE/da = sum((y - t) * x), dE/db = sum(y - t).
    insta::assert_snapshot!(linreg(Loss::HalfSumSquaredError));
}

#[test]
fn keras_mse_gradient() {
    // dE/da = sum(2 (y - t) / 4 * x), dE/db = sum(2 (y - t) / 4).
    insta::assert_snapshot!(linreg(Loss::MeanSquaredError));
}
