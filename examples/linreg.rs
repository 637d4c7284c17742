//! The lecture's gradient descent: fit `y = a*x + b` to noisy samples of
//! `y = 2x + 1` by `theta_n = theta_{n-1} - alpha * grad E`, with the lecture's
//! loss `E = 1/2 * sum (y - t)^2`.
//!
//! The forward pass is differentiated symbolically, the update is part of
//! the same graph (`update %a <- ...`), and every step runs on the reference
//! interpreter. Run with `cargo run --release --example linreg`.

use ndarray::{arr0, Array1, ArrayD};
use triceratops::ir::interp::{evaluate, Inputs};
use triceratops::ir::text::print;
use triceratops::ir::{grad, Graph, Result};
use triceratops::keras::losses::Loss;

const N: usize = 32;
const ALPHA: f32 = 0.01;
const STEPS: usize = 200;

/// forward + loss + backward + SGD update, as one graph.
fn train_step() -> Result<Graph> {
    let mut g = Graph::new("linreg.train_step");
    let x = g.input("x", [N])?;
    let t = g.input("t", [N])?;
    let alpha = g.input("alpha", [])?;
    let a = g.param("a", [])?;
    let b = g.param("b", [])?;
    let ax = g.mul(a, x)?;
    let y = g.add(ax, b)?;
    let e = Loss::HalfSumSquaredError.build(&mut g, y, t)?;
    g.rename(e, "E")?;
    let grads = grad(&mut g, e, &[a, b])?;
    for (param, gradient) in [a, b].into_iter().zip(grads) {
        let step = g.mul(alpha, gradient)?;
        let new = g.sub(param, step)?;
        g.add_update(param, new)?;
    }
    g.add_output("E", e)?;
    Ok(g)
}

/// Samples of `2x + 1` on [-1, 1] with a deterministic wiggle as noise.
fn data() -> (Array1<f32>, Array1<f32>) {
    let x = Array1::linspace(-1.0, 1.0, N);
    let t = x.mapv(|v| 2.0 * v + 1.0) + Array1::from_shape_fn(N, |i| 0.1 * (7.0 * i as f32).sin());
    (x, t)
}

/// The exact least-squares line, to show where gradient descent should land.
fn least_squares(x: &Array1<f32>, t: &Array1<f32>) -> (f32, f32) {
    let (mx, mt) = (x.mean().unwrap(), t.mean().unwrap());
    let cov = ((x - mx) * (t - mt)).sum();
    let var = x.mapv(|v| (v - mx).powi(2)).sum();
    let a = cov / var;
    (a, mt - a * mx)
}

fn main() -> Result<()> {
    let graph = train_step()?;
    println!("{}", print(&graph));

    let (x, t) = data();
    let mut a: ArrayD<f32> = arr0(0.0).into_dyn();
    let mut b: ArrayD<f32> = arr0(0.0).into_dyn();
    for step in 0..=STEPS {
        let inputs = Inputs::from([
            ("x".to_string(), x.clone().into_dyn()),
            ("t".to_string(), t.clone().into_dyn()),
            ("alpha".to_string(), arr0(ALPHA).into_dyn()),
            ("a".to_string(), a.clone()),
            ("b".to_string(), b.clone()),
        ]);
        let eval = evaluate(&graph, &inputs)?;
        let loss = eval.output("E").expect("E is an output")[[]];
        if step % 20 == 0 {
            println!(
                "step {step:>3}  E = {loss:>10.6}  a = {:>8.5}  b = {:>8.5}",
                a[[]],
                b[[]]
            );
        }
        for (name, value) in eval.updates() {
            match name {
                "a" => a = value.to_owned(),
                _ => b = value.to_owned(),
            }
        }
    }
    let (a_ls, b_ls) = least_squares(&x, &t);
    println!(
        "\ngradient descent: a = {:.5}, b = {:.5}\nleast squares:    a = {a_ls:.5}, b = {b_ls:.5}\ntrue line:        a = 2, b = 1",
        a[[]],
        b[[]]
    );
    Ok(())
}
