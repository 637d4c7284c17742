//! Per-kernel timing of a compiled step (`bench --profile`): what each
//! kernel costs, and the work it does, so its rate can be read beside its
//! time (GFLOP/s for contractions, GB/s for everything else).

use std::time::Duration;

use super::plan::Kernel;
use crate::ir::Graph;

/// One kernel's share of the runs an executable has made.
#[derive(Clone, Debug)]
pub struct KernelTime {
    /// Its position in the plan and kind, e.g. `k0 conv2d`.
    pub label: String,
    pub kind: &'static str,
    /// Wall time of each profiled run.
    pub samples: Vec<Duration>,
    /// Work per run: floating-point operations of a contraction (0 for
    /// other kernels) and bytes read plus written.
    pub flops: f64,
    pub bytes: f64,
}

/// The kernels of an executable compiled with profiling.
#[derive(Clone, Debug)]
pub struct Profile {
    pub kernels: Vec<KernelTime>,
}

impl Profile {
    /// Runs profiled so far.
    pub fn runs(&self) -> usize {
        self.kernels.first().map_or(0, |k| k.samples.len())
    }

    /// Median wall time of kernel `k` per run (a median, so that a run
    /// another process interrupted does not count).
    pub fn per_run(&self, k: usize) -> Duration {
        let mut s = self.kernels[k].samples.clone();
        s.sort_unstable();
        match s.len() {
            0 => Duration::ZERO,
            n => s[n / 2],
        }
    }

    /// The sum of the kernels' medians: a typical step.
    pub fn step(&self) -> Duration {
        (0..self.kernels.len()).map(|k| self.per_run(k)).sum()
    }
}

/// The label and the work of each kernel of a plan.
pub fn describe(graph: &Graph, kernels: &[Kernel]) -> Vec<KernelTime> {
    kernels
        .iter()
        .enumerate()
        .map(|(p, k)| {
            let (flops, bytes) = work(graph, k);
            KernelTime {
                label: format!("k{p} {}", k.kind_name()),
                kind: k.kind_name(),
                samples: Vec::new(),
                flops,
                bytes,
            }
        })
        .collect()
}

/// (flops, bytes) of one run of `kernel`. Bytes count each distinct
/// element a kernel reads or writes once (a broadcast input counts its own
/// size), which is what an ideal cache would move.
pub(super) fn work(graph: &Graph, kernel: &Kernel) -> (f64, f64) {
    let (flops, bytes) = own_work(graph, kernel);
    match kernel.epilogue() {
        // The epilogue's own reads and writes (its read of the producer's
        // output is counted once, with the producer).
        Some(e) => {
            let mut map = e.map.clone();
            for &k in e.from_producer.iter().rev() {
                map.inputs.remove(k);
            }
            (flops, bytes + own_work(graph, &Kernel::Map(map)).1)
        }
        None => (flops, bytes),
    }
}

fn own_work(graph: &Graph, kernel: &Kernel) -> (f64, f64) {
    let numel = |v| graph.shape(v).numel() as f64;
    let f32s = |n: f64| 4.0 * n;
    match kernel {
        Kernel::Map(m) => {
            let touched = |strides: &[isize]| -> f64 {
                m.shape
                    .iter()
                    .zip(strides)
                    .filter(|(_, &s)| s != 0)
                    .map(|(&d, _)| d as f64)
                    .product()
            };
            let n: f64 = m
                .inputs
                .iter()
                .chain(&m.outputs)
                .map(|a| touched(&a.at.strides))
                .sum();
            (0.0, f32s(n))
        }
        Kernel::Fill { out, .. } => (0.0, f32s(numel(*out))),
        Kernel::Reduce(r) => (0.0, f32s(numel(r.input) + numel(r.out))),
        Kernel::Rows(r) => {
            let moved = r.reads().into_iter().chain(r.writes()).map(numel).sum();
            (0.0, f32s(moved))
        }
        Kernel::MatMul {
            desc, a, b, out, ..
        } => (desc.flops(), f32s(numel(*a) + numel(*b) + numel(*out))),
        Kernel::Conv {
            desc, a, b, out, ..
        } => (desc.flops(), f32s(numel(*a) + numel(*b) + numel(*out))),
        Kernel::MaxPool { x, out, .. } => (0.0, f32s(numel(*x) + numel(*out))),
        Kernel::MaxPoolGrad { x, dy, out, .. } => (0.0, f32s(numel(*x) + numel(*dy) + numel(*out))),
        Kernel::Copy { len, .. } => (0.0, f32s(2.0 * *len as f64)),
    }
}
