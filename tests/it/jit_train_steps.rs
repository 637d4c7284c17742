//! The whole train step on the JIT against the interpreter: every built-in
//! model (the seed CNN in both data formats) with every optimizer variant
//! in both conventions, three steps from the same initial weights on the
//! same batch. After each step the loss and every state entry (params,
//! slots, step) must be within f32 rounding of the interpreter's: the JIT
//! associates GEMM and reduction sums differently, so bits may differ, but
//! nothing more.

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::keras::optimizers::Convention;
use triceratops::state::StateKind;
use triceratops::Model;

use crate::passes_train_steps::{optimizers, recipe};

/// A deterministic batch for `model`: inputs in [0, 1), one-hot targets
/// (or `2x + 1` for linreg).
pub(crate) fn batch(model: &Model, n: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut shape = vec![n];
    shape.extend(&model.sequential().input_shape);
    let x = ArrayD::from_shape_fn(IxDyn(&shape), |_| rng.random::<f32>());
    let classes = *model.sequential().output_shape().last().unwrap();
    let y = if classes == 1 {
        x.mapv(|v| 2.0 * v + 1.0)
            .into_shape_with_order(IxDyn(&[n, 1]))
            .unwrap()
    } else {
        ArrayD::from_shape_fn(IxDyn(&[n, classes]), |i| {
            ((i[0] * 7) % classes == i[1]) as u8 as f32
        })
    };
    (x, y)
}

/// Whether `jit` is within f32 rounding of `interp` for a value that
/// scales like `scale` (the entry's largest magnitude).
fn close(jit: f32, interp: f32, scale: f32) -> bool {
    (jit - interp).abs() <= 1e-6 + 1e-4 * (interp.abs() + 1e-2 * scale)
}

fn check(model_name: &str, batch_size: usize) {
    for convention in [Convention::Keras, Convention::PyTorch] {
        for (opt_name, optimizer) in optimizers(convention) {
            let what = format!("{model_name} {opt_name} {convention:?}");
            let build = |backend: Box<dyn Backend>| {
                let (model, loss, metrics) = recipe(model_name);
                Model::new(model, optimizer, loss, &metrics, backend, 3).unwrap()
            };
            let mut reference = build(Box::new(Interpreter));
            let mut jit = build(Box::new(Jit::new()));
            let (x, y) = batch(&reference, batch_size);
            for step in 0..3 {
                let want = reference.train_on_batch(x.clone(), y.clone()).unwrap();
                let got = jit.train_on_batch(x.clone(), y.clone()).unwrap();
                let (wl, gl) = (want.loss, got.loss);
                assert!(
                    close(gl, wl, 0.0),
                    "{what} step {step}: loss jit {gl} vs interpreter {wl}"
                );
                for entry in reference.state().entries() {
                    let w = reference.state().view(&entry.name).unwrap();
                    let g = jit.state().view(&entry.name).unwrap();
                    let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                    // Adaptive optimizers divide by the gradient's own size
                    // (`g / (sqrt(v) + eps)` is about sign(g) on the first
                    // step), so an element whose gradient is a rounding
                    // residue near zero may move by up to a step in either
                    // direction on either backend. Allow that for a few
                    // elements per entry, never more than a few steps. A
                    // slot may hold `g / (sqrt(v) + eps)` itself (PyTorch
                    // RMSprop's momentum buffer, ~10 at step 0 when `g`
                    // is well above eps), not scaled by the rate: for a
                    // residue near eps it may move by a tenth of its
                    // entry's largest magnitude.
                    let mut max_step = 20.0 * optimizer.learning_rate;
                    if entry.kind == StateKind::Slot {
                        max_step = max_step.max(0.1 * scale);
                    }
                    let mut loose = 0;
                    for (k, (a, b)) in g.iter().zip(w.iter()).enumerate() {
                        if close(*a, *b, scale) {
                            continue;
                        }
                        loose += 1;
                        assert!(
                            (a - b).abs() <= max_step * (step + 1) as f32,
                            "{what} step {step}: {}[{k}] jit {a} vs interpreter {b}",
                            entry.name
                        );
                    }
                    assert!(
                        loose <= 1 + w.len() / 100,
                        "{what} step {step}: {loose} of {} elements of {} differ beyond rounding",
                        w.len(),
                        entry.name
                    );
                }
            }
        }
    }
}

#[test]
fn linreg_steps_agree() {
    check("linreg", 33);
}

#[test]
fn mnist_mlp_steps_agree() {
    check("mnist-mlp", 9);
}

#[test]
fn seed_cnn_steps_agree() {
    check("seed-cnn", 2);
}

#[test]
fn seed_cnn_channels_first_steps_agree() {
    check("seed-cnn-nchw", 2);
}
