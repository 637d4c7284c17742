//! The JIT on several threads computes exactly what it computes on one:
//! elementwise kernels are split into disjoint pieces, and the runtime's
//! contractions and pooling split work so that no sum changes order. So
//! every state entry and every output must be bit-identical for 1, 2 and 3
//! threads (3 leaves uneven pieces), for every built-in model, after
//! several train steps, and for the forward (predict) step.

use triceratops::backend::Jit;
use triceratops::keras::optimizers::Convention;
use triceratops::Model;

use crate::jit_train_steps::batch;
use crate::passes_train_steps::{optimizers, recipe};

/// Trains `steps` steps on `threads` threads; returns every state entry's
/// bits, each step's loss bits and the predictions' bits.
fn run(model_name: &str, opt: &str, threads: usize, n: usize, steps: usize) -> Vec<Vec<u32>> {
    let (_, optimizer) = optimizers(Convention::Keras)
        .into_iter()
        .find(|(name, _)| *name == opt)
        .unwrap();
    let (model, loss, metrics) = recipe(model_name);
    let backend = Box::new(Jit::new().with_threads(threads));
    let mut m = Model::new(model, optimizer, loss, &metrics, backend, 5).unwrap();
    let (x, y) = batch(&m, n);
    let mut bits = Vec::new();
    for _ in 0..steps {
        let logs = m.train_on_batch(x.clone(), y.clone()).unwrap();
        bits.push(vec![logs.loss.to_bits()]);
    }
    for entry in m.state().entries() {
        let v = m.state().view(&entry.name).unwrap();
        bits.push(v.iter().map(|f| f.to_bits()).collect());
    }
    let p = m.predict(&x, n).unwrap();
    bits.push(p.iter().map(|f| f.to_bits()).collect());
    bits
}

fn check(model: &str, opt: &str, n: usize, steps: usize) {
    let one = run(model, opt, 1, n, steps);
    for threads in [2, 3] {
        let many = run(model, opt, threads, n, steps);
        assert!(
            one == many,
            "{model} {opt}: {threads} threads differ from 1 thread"
        );
    }
}

#[test]
fn linreg_is_thread_count_invariant() {
    check("linreg", "sgd", 1024, 3);
}

#[test]
fn mnist_mlp_is_thread_count_invariant() {
    // At batch 256 the step's two large products (gemm's own column split
    // and dw1's row blocks) do enough work for the step to use the pool.
    check("mnist-mlp", "adam", 256, 3);
}

#[test]
fn seed_cnn_is_thread_count_invariant() {
    check("seed-cnn", "rmsprop", 32, 2);
}

#[test]
fn seed_cnn_nchw_is_thread_count_invariant() {
    check("seed-cnn-nchw", "adamw", 16, 2);
}
