//! The page's per-kernel profile: the JIT's own per-kernel timers (as
//! `bench --profile`) beside the interpreter's time for the same optimized
//! values, on one synthetic batch, medians over the timed steps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

use super::report::{KernelTime, ProfileInfo};
use crate::backend::jit::Planned;
use crate::backend::{Backend, Jit};
use crate::compile::{ArgRole, CompiledGraph};
use crate::error::{Error, Result};
use crate::ir::interp::evaluate_args_timed;
use crate::state::{StateKind, StateLayout, StateStore};

/// Times `steps` train steps of `optimized` on the JIT (profiled, on
/// `threads` threads) and on the interpreter. `kernel_of[node]` is the
/// plan kernel computing each node of the optimized graph; the plan must
/// be the one the JIT compiles (same threads), which is checked.
pub fn measure(
    optimized: &CompiledGraph,
    planned: &Planned,
    kernel_of: &[Option<usize>],
    layout: &Arc<StateLayout>,
    steps: usize,
    threads: usize,
) -> Result<ProfileInfo> {
    let mut state = StateStore::with_layout(Arc::clone(layout));
    initialize(&mut state);
    let batch = batch_arrays(optimized);
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();

    let mut exe = Jit::new()
        .with_threads(threads)
        .with_profile(true)
        .compile(optimized.clone(), layout)?;
    exe.run_in_place(&views, &mut state)?;
    let mut jit_steps = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        exe.run_in_place(&views, &mut state)?;
        jit_steps.push(start.elapsed());
    }
    let profile = exe
        .profile()
        .expect("a profiled JIT keeps its kernel times");
    let kernels = &planned.memory.kernels;
    let same_plan = profile.kernels.len() == kernels.len()
        && profile
            .kernels
            .iter()
            .zip(kernels)
            .all(|(t, k)| t.kind == k.kind_name());
    if !same_plan {
        return Err(Error::Jit(format!(
            "the profiled executable has another kernel plan than the one shown ({} kernels, not {}); profile with --threads 1",
            profile.kernels.len(),
            kernels.len()
        )));
    }

    let graph = &optimized.graph;
    let mut node_samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(steps); graph.len()];
    let mut interp_steps = Vec::with_capacity(steps);
    for _ in 0..steps {
        let args = graph_args(optimized, &views, &state);
        let mut times = vec![Duration::ZERO; graph.len()];
        let start = Instant::now();
        evaluate_args_timed(graph, args, Some(&mut times))?;
        interp_steps.push(start.elapsed());
        for (samples, t) in node_samples.iter_mut().zip(times) {
            samples.push(t);
        }
    }
    let mut interp_kernel = vec![Duration::ZERO; kernels.len()];
    let mut unattributed = Duration::ZERO;
    for (node, samples) in node_samples.iter_mut().enumerate() {
        let t = median(samples);
        match kernel_of[node] {
            Some(k) => interp_kernel[k] += t,
            None => unattributed += t,
        }
    }
    let jit_total: Duration = (0..kernels.len()).map(|k| profile.per_run(k)).sum();
    let interp_total: Duration = interp_kernel.iter().sum::<Duration>() + unattributed;
    let share = |t: Duration, total: Duration| match total.is_zero() {
        true => 0.0,
        false => t.as_secs_f64() / total.as_secs_f64(),
    };
    Ok(ProfileInfo {
        steps,
        threads,
        jit_step_ms: ms(median(&mut jit_steps)),
        interp_step_ms: ms(median(&mut interp_steps)),
        kernels: (0..kernels.len())
            .map(|k| KernelTime {
                kernel: k,
                jit_ms: ms(profile.per_run(k)),
                jit_share: share(profile.per_run(k), jit_total),
                interp_ms: ms(interp_kernel[k]),
                interp_share: share(interp_kernel[k], interp_total),
            })
            .collect(),
        interp_unattributed_ms: ms(unattributed),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Parameters small and varied (so no kernel runs on all zeros); slots
/// and the step count at their zero start.
fn initialize(state: &mut StateStore) {
    let params: Vec<usize> = (0..state.len())
        .filter(|&i| state.entries()[i].kind == StateKind::Param)
        .collect();
    for i in params {
        for (j, w) in state.slice_mut(i).iter_mut().enumerate() {
            *w = ((j * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1;
        }
    }
}

/// One synthetic batch: inputs in [0, 1), one-hot (or class 0) targets,
/// step scalars 1e-3, dropout noise 0.5.
fn batch_arrays(compiled: &CompiledGraph) -> Vec<ArrayD<f32>> {
    compiled
        .signature
        .batch_args()
        .map(|(_, a)| {
            let dims = a.ty.shape.dims();
            match a.role {
                ArgRole::X => ArrayD::from_shape_fn(IxDyn(dims), |i| {
                    (i.slice().iter().sum::<usize>() % 7) as f32 / 7.0
                }),
                ArgRole::Y if dims.len() >= 2 => {
                    let classes = dims[dims.len() - 1];
                    ArrayD::from_shape_fn(IxDyn(dims), |i| {
                        (i[0] % classes == i[dims.len() - 1]) as u8 as f32
                    })
                }
                ArgRole::Y => ArrayD::zeros(IxDyn(dims)),
                ArgRole::Noise => ArrayD::from_elem(IxDyn(dims), 0.5),
                _ => ArrayD::from_elem(IxDyn(dims), 1e-3),
            }
        })
        .collect()
}

/// The interpreter's arguments in signature order: the batch views, and
/// each state argument's entry of `state`.
fn graph_args<'a>(
    compiled: &CompiledGraph,
    batch: &[ArrayViewD<'a, f32>],
    state: &'a StateStore,
) -> Vec<ArrayViewD<'a, f32>> {
    let mut batch = batch.iter();
    compiled
        .signature
        .args
        .iter()
        .map(|a| match a.role {
            ArgRole::State(_) => state
                .view(&a.name)
                .expect("the layout has every state argument"),
            _ => batch.next().expect("one view per batch argument").clone(),
        })
        .collect()
}
