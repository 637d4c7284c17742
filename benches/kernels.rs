//! The JIT runtime's kernels on the built-in models' shapes. GEMM and conv
//! run with descriptors for 1 thread (`t1`, on the bench thread) and for 2
//! threads (`t2`, inside a 2-thread rayon pool, as an executable compiled
//! for 2 threads runs them). Throughput is in floating-point operations:
//! criterion's `elem/s` reads as FLOP/s (`Gelem/s` = GFLOP/s); the pooling
//! benchmarks count image elements instead.
//!
//! | id                              | what                                            |
//! | ------------------------------- | ----------------------------------------------- |
//! | `gemm/mlp-*`                    | mnist-mlp (784-128-10, batch 128) forward and backward products |
//! | `gemm/cnn-conv*-im2col`         | the bare GEMM of seed-cnn's convs over the whole batch (128) |
//! | `conv/cnn-conv*-{fwd,dx,dw}`    | seed-cnn's convs with im2col/col2im, batch 128   |
//! | `conv/cnn-conv*-fwd-{direct,im2col}` | the forward strategy the rule did not pick |
//! | `conv/cnn-conv*-dw-chunkN`      | the filter gradient in 4x larger chunks          |
//! | `pool/cnn-pool*-{fwd,grad}`     | seed-cnn's 2x2 max pools, batch 32 (winners recomputed by the grad) |
//! | `pool/cnn-pool*-{fwd+argmax,grad-from-argmax}[-2t]` | the same, the forward recording its winners and the grad scattering from them; `-2t`: the batch split over a 2-thread rayon pool (entered per iteration) |
//! | `adam/{jit,interp}-N`           | Keras Adam on one N-element param, fused by the passes; elem/s = params/s |
//!
//! Run with `cargo bench --bench kernels` (`-- --quick` for a short run).

use std::hint::black_box;
use std::time::Duration;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::runtime::{self, ConvDesc, MatMulDesc, PoolDesc};
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::compile::{
    optimize, updated_args, ArgRole, ArgSpec, CompiledGraph, Passes, Signature,
};
use triceratops::ir::op::MatMulAttrs;
use triceratops::ir::{ConvAttrs, Layout, Padding, PoolAttrs};
use triceratops::ir::{Graph, Role};
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::state::{StateKind, StateLayout, StateStore};

fn random(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// One matmul: stored operand shapes and transpose flags.
struct Product {
    name: &'static str,
    a: [usize; 2],
    b: [usize; 2],
    attrs: MatMulAttrs,
}

const fn product(name: &'static str, a: [usize; 2], b: [usize; 2], ta: bool, tb: bool) -> Product {
    Product {
        name,
        a,
        b,
        attrs: MatMulAttrs {
            transpose_a: ta,
            transpose_b: tb,
        },
    }
}

const PRODUCTS: [Product; 7] = [
    // mnist-mlp, batch 128: x[128,784] w1[784,128], h[128,128] w2[128,10].
    product("mlp-fwd1 128x784x128", [128, 784], [784, 128], false, false),
    product("mlp-fwd2 128x128x10", [128, 128], [128, 10], false, false),
    // dw2 = h^T dy, dh = dy w2^T, dw1 = x^T dh.
    product(
        "mlp-dw2 128x128x10 (ta)",
        [128, 128],
        [128, 10],
        true,
        false,
    ),
    product("mlp-dh 128x10x128 (tb)", [128, 10], [128, 10], false, true),
    product(
        "mlp-dw1 784x128x128 (ta)",
        [128, 784],
        [128, 128],
        true,
        false,
    ),
    // seed-cnn, batch 128, as im2col GEMMs: [patches, kh*kw*c] x [.., o].
    product(
        "cnn-conv1-im2col 115200x27x32",
        [128 * 30 * 30, 27],
        [27, 32],
        false,
        false,
    ),
    product(
        "cnn-conv2-im2col 21632x288x16",
        [128 * 13 * 13, 288],
        [288, 16],
        false,
        false,
    ),
];

/// Thread counts the GEMM and conv benches run with, and the pool (none
/// for 1) each runs inside.
fn pools() -> Vec<(usize, Option<rayon::ThreadPool>)> {
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    vec![(1, None), (2, Some(two))]
}

/// `f()` inside `pool` (on this thread when there is none).
fn within<R: Send>(pool: &Option<rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

fn gemm(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("gemm");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let pools = pools();
    for p in &PRODUCTS {
        let d = MatMulDesc::new(&p.a, &p.b, p.attrs);
        let (a, b) = (random(d.a_len(), &mut rng), random(d.b_len(), &mut rng));
        let mut out = vec![0.0; d.c_len()];
        group.throughput(Throughput::Elements(d.flops() as u64));
        for (threads, pool) in &pools {
            let d = d.with_threads(*threads);
            let mut ws = vec![0.0; d.workspace_len()];
            group.bench_function(format!("{} t{threads}", p.name), |bench| {
                bench.iter(|| {
                    within(pool, || {
                        runtime::matmul(&d, black_box(&a), black_box(&b), &mut out, &mut ws)
                    })
                })
            });
        }
    }
    group.finish();
}

/// seed-cnn's two convs at batch 128 (valid padding, stride 1, NHWC): image
/// and HWIO filter shapes.
const CONVS: [(&str, [usize; 4], [usize; 4]); 2] = [
    (
        "cnn-conv1 32x32x3 * 3x3x3x32",
        [128, 32, 32, 3],
        [3, 3, 3, 32],
    ),
    (
        "cnn-conv2 15x15x32 * 3x3x32x16",
        [128, 15, 15, 32],
        [3, 3, 32, 16],
    ),
];

fn conv(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut group = c.benchmark_group("conv");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let attrs = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let pools = pools();
    for (name, image, filter) in CONVS {
        let d = ConvDesc::new(&image, &filter, attrs);
        let x = random(d.image_len(), &mut rng);
        let w = random(d.filter_len(), &mut rng);
        let dy = random(d.output_len(), &mut rng);
        let mut y = vec![0.0; d.output_len()];
        let mut dx = vec![0.0; d.image_len()];
        let mut dw = vec![0.0; d.filter_len()];
        group.throughput(Throughput::Elements(d.flops() as u64));
        for (threads, pool) in &pools {
            let d = d.with_threads(*threads);
            let mut scratch = vec![0.0; d.scratch_len()];
            let (x, w, dy) = (&x, &w, &dy);
            group.bench_function(format!("{name} fwd t{threads}"), |b| {
                b.iter(|| {
                    within(pool, || {
                        runtime::conv2d(&d, black_box(x), w, &mut y, &mut scratch)
                    })
                })
            });
            // The other forward strategy (direct loop vs im2col + GEMM),
            // to check the rule that picks one.
            let other = d.with_direct(!d.direct);
            let label = if other.direct { "direct" } else { "im2col" };
            group.bench_function(format!("{name} fwd-{label} t{threads}"), |b| {
                b.iter(|| {
                    within(pool, || {
                        runtime::conv2d(&other, black_box(x), w, &mut y, &mut scratch)
                    })
                })
            });
            group.bench_function(format!("{name} dx t{threads}"), |b| {
                b.iter(|| {
                    within(pool, || {
                        runtime::conv2d_input_grad(&d, black_box(dy), w, &mut dx, &mut scratch)
                    })
                })
            });
            group.bench_function(format!("{name} dw t{threads}"), |b| {
                b.iter(|| {
                    within(pool, || {
                        runtime::conv2d_filter_grad(&d, black_box(x), dy, &mut dw, &mut scratch)
                    })
                })
            });
            // Chunks of 4x the images: fewer, larger dw GEMMs.
            let big = d.with_chunk(4 * d.chunk);
            let mut big_scratch = vec![0.0; big.scratch_len()];
            group.bench_function(format!("{name} dw-chunk{} t{threads}", big.chunk), |b| {
                b.iter(|| {
                    within(pool, || {
                        runtime::conv2d_filter_grad(
                            &big,
                            black_box(x),
                            dy,
                            &mut dw,
                            &mut big_scratch,
                        )
                    })
                })
            });
        }
    }
    group.finish();
}

/// seed-cnn's two 2x2 pools at batch 32 (NHWC images).
const POOLS: [(&str, [usize; 4]); 2] = [
    ("cnn-pool1 30x30x32", [32, 30, 30, 32]),
    ("cnn-pool2 13x13x16", [32, 13, 13, 16]),
];

fn pool(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut group = c.benchmark_group("pool");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let attrs = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    for (name, image) in POOLS {
        let d = PoolDesc::new(&image, attrs);
        let x = random(d.image_len(), &mut rng);
        let dy = random(d.output_len(), &mut rng);
        let mut y = vec![0.0; d.output_len()];
        let mut dx = vec![0.0; d.image_len()];
        group.throughput(Throughput::Elements(d.image_len() as u64));
        group.bench_function(format!("{name} fwd"), |b| {
            b.iter(|| runtime::maxpool2d(&d, black_box(&x), &mut y))
        });
        group.bench_function(format!("{name} grad"), |b| {
            b.iter(|| runtime::maxpool2d_grad(&d, black_box(&x), &dy, &mut dx))
        });
        let mut argmax = vec![0u8; d.argmax_bytes()];
        group.bench_function(format!("{name} fwd+argmax"), |b| {
            b.iter(|| runtime::maxpool2d_argmax(&d, black_box(&x), &mut y, &mut argmax))
        });
        group.bench_function(format!("{name} grad-from-argmax"), |b| {
            b.iter(|| runtime::maxpool2d_grad_argmax(&d, black_box(&argmax), &dy, &mut dx))
        });
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let d2 = d.with_threads(2);
        group.bench_function(format!("{name} fwd+argmax-2t"), |b| {
            b.iter(|| {
                threads
                    .install(|| runtime::maxpool2d_argmax(&d2, black_box(&x), &mut y, &mut argmax))
            })
        });
        group.bench_function(format!("{name} grad-from-argmax-2t"), |b| {
            b.iter(|| {
                threads.install(|| {
                    runtime::maxpool2d_grad_argmax(&d2, black_box(&argmax), &dy, &mut dx)
                })
            })
        });
    }
    group.finish();
}

/// The Keras Adam update of one `n`-element param from its gradient, as
/// the compiler builds it (step scalars as inputs), passes on: one fused
/// multi-result kernel writing the param and both slots.
fn adam_update(n: usize) -> CompiledGraph {
    let optimizer = Optimizer::adam(Convention::Keras);
    let mut g = Graph::new("adam");
    let p = g.param("p", [n]).unwrap();
    let grad = g.input("g", [n]).unwrap();
    let scalars = optimizer.declare_step_inputs(&mut g).unwrap();
    optimizer.apply(&mut g, &scalars, &[(p, grad)]).unwrap();
    let args = g
        .arguments()
        .map(|v| ArgSpec {
            name: g.value_name(v).to_string(),
            role: match g.node(v).role() {
                Some(Role::Input) => ArgRole::Noise,
                Some(Role::Param) => ArgRole::State(StateKind::Param),
                _ => ArgRole::State(StateKind::Slot),
            },
            ty: g.ty(v).clone(),
        })
        .collect();
    let signature = Signature {
        name: "adam".into(),
        args,
        outputs: vec![],
        updated: updated_args(&g),
    };
    let compiled = CompiledGraph::new(g, signature).unwrap();
    optimize(compiled, Passes::On).unwrap().0
}

fn adam(c: &mut Criterion) {
    let mut group = c.benchmark_group("adam");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for n in [784 * 128, 1 << 20] {
        let compiled = adam_update(n);
        let layout = Arc::new(
            StateLayout::new(compiled.signature.state_args().map(|(_, a)| {
                let ArgRole::State(kind) = a.role else {
                    unreachable!("state args")
                };
                (a.name.clone(), kind, a.ty.shape.clone())
            }))
            .unwrap(),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let batch: Vec<ArrayD<f32>> = compiled
            .signature
            .batch_args()
            .map(|(_, a)| {
                let len = a.ty.shape.numel();
                let data = if len == 1 {
                    vec![1e-3]
                } else {
                    random(len, &mut rng)
                };
                ArrayD::from_shape_vec(IxDyn(a.ty.shape.dims()), data).unwrap()
            })
            .collect();
        let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
        group.throughput(Throughput::Elements(n as u64));
        let backends: [(&str, &dyn Backend); 2] =
            [("jit", &Jit::default()), ("interp", &Interpreter)];
        for (name, backend) in backends {
            let mut state = StateStore::with_layout(Arc::clone(&layout));
            let mut exe = backend.compile(compiled.clone(), &layout).unwrap();
            group.bench_function(format!("{name}-{n}"), |b| {
                b.iter(|| exe.run(black_box(&views), &mut state).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, gemm, conv, pool, adam);
criterion_main!(benches);
