//! One training step on each backend, the reference interpreter and the
//! Cranelift JIT: `Model::train_on_batch` on the three built-in models, each
//! compiled with its built-in recipe (optimizer, loss and metrics from
//! `triceratops::models::builtin`).
//!
//! | id                                   | model                     | batch | optimizer       |
//! | ------------------------------------ | ------------------------- | ----- | --------------- |
//! | `train_step/{interp,jit}/linreg`     | 1-unit Dense, MSE         | 1024  | SGD (Keras)     |
//! | `train_step/{interp,jit}/mnist-mlp`  | 784-128-10, cross-entropy | 128   | Adam (Keras)    |
//! | `train_step/{interp,jit}/seed-cnn`   | lecture CNN, 32x32x3      | 128   | RMSprop (Keras) |
//!
//! The interpreter is the baseline the JIT is measured against; both run
//! the same workloads with the same settings. Only steady-state steps are
//! timed: the model is compiled and one warm-up step
//! is run first, since the first step at a batch size builds and caches the
//! train-step graph. The batch is synthetic and deterministic (seeded
//! ChaCha8: inputs in [0, 1), one-hot targets for the classifiers, `2x + 1`
//! for linreg), so no data files are needed; cloning it into each step
//! happens outside the timed region. Run with `cargo bench --bench train_step`
//! (`cargo bench --bench train_step -- jit/` for the JIT alone).

use std::hint::black_box;
use std::time::Duration;

// As in the `triceratops` binary (see src/main.rs): the interpreter
// allocates every value of every step, which glibc's malloc hands back to
// the OS after each step and faults in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::models::builtin;
use triceratops::Model;

/// A built-in model at a batch size, with the criterion settings that keep
/// its run short on a 2-core machine.
struct Workload {
    name: &'static str,
    batch: usize,
    samples: usize,
    measure: Duration,
    sampling: SamplingMode,
}

const WORKLOADS: [Workload; 3] = [
    Workload {
        name: "linreg",
        batch: 1024,
        samples: 100,
        measure: Duration::from_secs(5),
        sampling: SamplingMode::Auto,
    },
    Workload {
        name: "mnist-mlp",
        batch: 128,
        samples: 30,
        measure: Duration::from_secs(10),
        sampling: SamplingMode::Auto,
    },
    Workload {
        name: "seed-cnn",
        batch: 128,
        samples: 10,
        measure: Duration::from_secs(20),
        // Steps of a few hundred ms: the same number of steps per sample.
        sampling: SamplingMode::Flat,
    },
];

/// Makes a fresh backend for one workload.
type MakeBackend = fn() -> Box<dyn Backend>;

/// The backends, by the name in the benchmark id.
fn backends() -> [(&'static str, MakeBackend); 2] {
    [
        ("interp", || Box::new(Interpreter)),
        ("jit", || Box::new(Jit::new())),
    ]
}

/// The built-in model `name` for `backend`, compiled with its own
/// optimizer, loss and metrics (seed 0).
fn compiled(name: &str, backend: Box<dyn Backend>) -> Model {
    let b = builtin(name)
        .expect("building the built-in model")
        .unwrap_or_else(|| panic!("no built-in model `{name}`"));
    Model::new(b.model, b.optimizer, b.loss, &b.metrics, backend, 0)
        .unwrap_or_else(|e| panic!("compiling `{name}`: {e}"))
}

/// A deterministic batch: inputs uniform in [0, 1); one-hot targets when the
/// model has several outputs, otherwise the line `2x + 1`.
fn synthetic_batch(model: &Model, batch: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let seq = model.sequential();
    let mut x_shape = vec![batch];
    x_shape.extend(&seq.input_shape);
    let x = ArrayD::from_shape_simple_fn(IxDyn(&x_shape), || rng.random::<f32>());
    let classes = seq.output_shape().last().copied().unwrap_or(1);
    let y = if classes > 1 {
        let mut y = ArrayD::zeros(IxDyn(&[batch, classes]));
        for i in 0..batch {
            y[[i, rng.random_range(0..classes)]] = 1.0;
        }
        y
    } else {
        x.mapv(|v| 2.0 * v + 1.0)
    };
    (x, y)
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    for (backend, make) in backends() {
        for w in &WORKLOADS {
            group
                .sample_size(w.samples)
                .measurement_time(w.measure)
                .sampling_mode(w.sampling);
            // Built on the closure's first call (criterion calls it for
            // every sample), so a filtered-out benchmark (`-- interp/`)
            // builds and compiles nothing.
            let mut prepared: Option<(Model, ArrayD<f32>, ArrayD<f32>)> = None;
            group.bench_function(format!("{backend}/{}", w.name), |b| {
                let (model, x, y) = prepared.get_or_insert_with(|| {
                    let mut model = compiled(w.name, make());
                    let (x, y) = synthetic_batch(&model, w.batch);
                    // The first step at this batch size builds and caches the graph.
                    model
                        .train_on_batch(x.clone(), y.clone())
                        .unwrap_or_else(|e| {
                            panic!("warm-up step of `{}` on {backend}: {e}", w.name)
                        });
                    (model, x, y)
                });
                b.iter_batched(
                    || (x.clone(), y.clone()),
                    |(x, y)| {
                        let logs = model.train_on_batch(x, y).unwrap_or_else(|e| {
                            panic!("train step of `{}` on {backend}: {e}", w.name)
                        });
                        black_box(logs)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
