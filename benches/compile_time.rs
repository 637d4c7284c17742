//! Compile time on the JIT: a built-in model's train step from the model
//! to native code, passes included — `compile::train_step` (graph,
//! autodiff, optimizer, canonicalization, the egg passes and fusion) then
//! `Jit::compile` (kernel plan, memory plan, CLIF, Cranelift) — for each
//! built-in model with its built-in recipe and batch size. This is what a
//! `Model` pays on the first step at a batch size. The state layout comes
//! from a `Model` built outside the timed region, and each compiled
//! executable (code and arena) is dropped inside it. Run with
//! `cargo bench --bench compile_time`.

use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use triceratops::backend::{Backend, Jit};
use triceratops::compile::train_step;
use triceratops::models::{builtin, NAMES};
use triceratops::Model;

fn compile_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile_time");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1))
        // Compiles take tens to hundreds of ms: the same count per sample.
        .sampling_mode(SamplingMode::Flat);
    for name in NAMES {
        let b = builtin(name).unwrap().unwrap();
        let batch = b.batch_size;
        let model = Model::new(
            b.model,
            b.optimizer,
            b.loss,
            &b.metrics,
            Box::new(Jit::new()),
            0,
        )
        .unwrap_or_else(|e| panic!("building `{name}`: {e}"));
        let layout = model.state().layout().clone();
        group.bench_function(format!("jit/{name}"), |bench| {
            bench.iter(|| {
                let (train, _) = train_step(model.sequential(), model.spec(), batch)
                    .unwrap_or_else(|e| panic!("train step of `{name}`: {e}"));
                let exe = Jit::default()
                    .compile(train, &layout)
                    .unwrap_or_else(|e| panic!("compiling `{name}` on the JIT: {e}"));
                black_box(exe)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, compile_time);
criterion_main!(benches);
