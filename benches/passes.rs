//! Pass time: the passes (`triceratops_passes::optimize` with the
//! default options: algebra, numerics, fusion) on the train step of each
//! built-in model with its built-in recipe, the graph built once outside
//! the timed region. The
//! seed-cnn step is the one to keep well under 100 ms, since the passes
//! run on every compile. Run with `cargo bench --bench passes`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use triceratops::compile::{train_step, CompileSpec, Passes};
use triceratops::models::builtin;
use triceratops_passes::{optimize, PassOptions};

fn passes(c: &mut Criterion) {
    let mut group = c.benchmark_group("passes");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    for name in ["linreg", "mnist-mlp", "seed-cnn"] {
        let b = builtin(name).unwrap().unwrap();
        let spec = CompileSpec::new(&b.model, b.optimizer, b.loss, &b.metrics, Passes::None);
        let graph = train_step(&b.model, &spec, b.batch_size).unwrap().0.graph;
        group.bench_function(format!("train_step/{name}"), |bench| {
            bench.iter(|| optimize(black_box(&graph), &PassOptions::default()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, passes);
criterion_main!(benches);
