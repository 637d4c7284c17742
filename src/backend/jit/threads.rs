//! When a step is worth running on the executable's threads: the work in
//! its parallel kernels against the cost of entering the pool.

use super::plan::Kernel;
use super::runtime::pool;
use super::{codegen, profile, Planned};
use crate::error::{Error, Result};

/// Seconds of single-thread work in a step's parallel kernels below which
/// the step runs on one thread: handing a step to the pool and waking its
/// workers measured 0.15-0.2 ms per step (mnist-mlp at batch 128, whose
/// two split products do 0.6 ms of work and saved 0.18 ms on two threads,
/// ran no faster than on one).
const MIN_PARALLEL_WORK: f64 = 1.0e-3;

/// Whether the step's parallel kernels do enough work to pay for the pool,
/// by rough single-thread rates of this machine kind (contractions ~80
/// GFLOP/s, memory-bound kernels ~15 GB/s).
pub(super) fn worth_threads(planned: &Planned) -> bool {
    let seconds: f64 = planned
        .memory
        .kernels
        .iter()
        .map(|k| {
            let (flops, bytes) = profile::work(&planned.graph, k);
            let parallel = match k {
                Kernel::Map(m) => m.shape.iter().product::<usize>() >= codegen::MIN_SPLIT,
                Kernel::MatMul { desc, .. } => desc.parallel(),
                Kernel::Conv { desc, .. } => desc.threads > 1 && desc.chunks() > 1,
                Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => {
                    desc.threads > 1 && desc.n > 1
                }
                _ => false,
            };
            match parallel {
                false => 0.0,
                true if flops > 0.0 => flops / 80e9,
                true => bytes / 15e9,
            }
        })
        .sum();
    seconds >= MIN_PARALLEL_WORK
}

/// Whether any kernel runs on more than one thread: a split elementwise
/// kernel, or a runtime call whose descriptor splits. Only then does a run
/// enter the executable's pool, since entering hands the step to a pool
/// thread and back (measured 5-20 µs; linreg's whole step is 1 µs).
pub(super) fn uses_threads(kernels: &[Kernel], pieces: &[usize]) -> bool {
    kernels.iter().zip(pieces).any(|(k, &p)| {
        p > 1
            || match k {
                Kernel::MatMul { desc, .. } => desc.parallel(),
                Kernel::Conv { desc, .. } => desc.threads > 1,
                Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => desc.threads > 1,
                _ => false,
            }
    })
}

/// The executable's pool of `threads` threads, each started and holding
/// the per-thread buffers `kernels` need, so that no step allocates (a
/// thread that first gets work in a later step would otherwise size them
/// then).
pub(super) fn start_pool(threads: usize, kernels: &[Kernel]) -> Result<rayon::ThreadPool> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("triceratops-jit-{i}"))
        .build()
        .map_err(|e| Error::Jit(format!("starting {threads} threads: {e}")))?;
    let pools: Vec<pool::PoolDesc> = kernels
        .iter()
        .filter_map(|k| match k {
            Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => Some(*desc),
            _ => None,
        })
        .collect();
    pool::warm_threads(&pool, &pools);
    Ok(pool)
}
