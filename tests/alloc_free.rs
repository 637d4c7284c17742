//! The JIT's train step allocates nothing on the heap: the executable owns
//! its arena (which holds the GEMM and conv packing workspace too),
//! base-pointer table, output arrays and thread pool (its threads started
//! and their buffers sized when it is built), so a run after the first only
//! copies.
//!
//! Counted by a global allocator over the whole process, so nothing else
//! may run: this binary has no libtest harness (whose main thread does its
//! own bookkeeping while a test runs), and each case runs in a child
//! process of its own (a dropped rayon pool's threads exit after the drop
//! returns, which could overlap the next case).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use triceratops::backend::{Backend, Executable, Jit};
use triceratops::compile::{self, ArgRole};
use triceratops::models::builtin;
use triceratops::Model;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a relaxed atomic, which cannot allocate or block.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by the third to fifth runs of the train step of the
/// built-in `name` at `batch` on `threads` threads (the first runs may
/// size buffers and start the pool's threads).
fn allocations_per_run(name: &str, batch: usize, threads: usize) -> f64 {
    let b = builtin(name).unwrap().unwrap();
    let model = Model::new(
        b.model,
        b.optimizer,
        b.loss,
        &b.metrics,
        Box::new(Jit::new()),
        0,
    )
    .unwrap();
    let mut state = model.state().clone();
    let train = compile::train_step(model.sequential(), model.spec(), batch)
        .unwrap()
        .0;
    let sig = train.signature.clone();
    let mut exe: Box<dyn Executable> = Jit::new()
        .with_threads(threads)
        .compile(train, &Arc::clone(state.layout()))
        .unwrap();
    let arrays: Vec<ArrayD<f32>> = sig
        .batch_args()
        .map(|(_, a)| {
            let dims = a.ty.shape.dims();
            match a.role {
                ArgRole::X => ArrayD::from_shape_fn(IxDyn(dims), |i| (i[0] % 7) as f32 / 7.0),
                ArgRole::Y if dims[1] == 1 => ArrayD::from_elem(IxDyn(dims), 0.5),
                ArgRole::Y => {
                    ArrayD::from_shape_fn(IxDyn(dims), |i| (i[0] % dims[1] == i[1]) as u8 as f32)
                }
                _ => ArrayD::from_elem(IxDyn(dims), 1e-3),
            }
        })
        .collect();
    let views: Vec<ArrayViewD<f32>> = arrays.iter().map(|a| a.view()).collect();
    for _ in 0..2 {
        assert!(exe.run_in_place(&views, &mut state).unwrap());
    }
    let before = ALLOCATIONS.load(Relaxed);
    for _ in 0..3 {
        assert!(exe.run_in_place(&views, &mut state).unwrap());
    }
    (ALLOCATIONS.load(Relaxed) - before) as f64 / 3.0
}

/// The cases: linreg (elementwise kernels and a [b, 1] x [1, 1] product),
/// mnist-mlp (GEMMs large enough to split over two threads, epilogues and
/// rows kernels) and seed-cnn at a small batch (this binary is built at the
/// test profile's opt-level: convs and their gradients, maxpool with its
/// recorded winners and gradient epilogues), on one and two threads.
const CASES: [(&str, usize); 3] = [("linreg", 1024), ("mnist-mlp", 128), ("seed-cnn", 16)];

/// Without arguments: runs every case in a child process and fails unless
/// each reports 0. With `NAME BATCH THREADS`: the child, which prints its
/// count.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [name, batch, threads] = args.as_slice() {
        let n = allocations_per_run(name, batch.parse().unwrap(), threads.parse().unwrap());
        println!("{n}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut failed = Vec::new();
    for (name, batch) in CASES {
        for threads in [1, 2] {
            let out = std::process::Command::new(&exe)
                .args([name, &batch.to_string(), &threads.to_string()])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let verdict = match stdout.trim().parse::<f64>() {
                Ok(n) if out.status.success() && n == 0.0 => "ok".to_string(),
                Ok(n) if out.status.success() => format!("FAILED: {n} allocations per step"),
                _ => format!(
                    "FAILED: {}\n{stdout}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            };
            println!("test the_jit_train_step_allocates_nothing {name} x{threads} ... {verdict}");
            if verdict != "ok" {
                failed.push(format!("{name} x{threads}"));
            }
        }
    }
    // libtest's summary line, which CI's totals count.
    let cases = CASES.len() * 2;
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        cases - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "the train step allocates: {failed:?}");
}
