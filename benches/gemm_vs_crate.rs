//! Our GEMM (`runtime::gemm::gemm_into`) against the `gemm` crate (with its
//! `x86-v4` AVX-512 kernels) on the built-in models' shapes, on 1 and 2
//! threads (2: both inside a 2-thread rayon pool, the crate with
//! `Parallelism::Rayon(2)`). Prints the best of many runs per shape, in
//! GFLOP/s. Run with `cargo bench --bench gemm_vs_crate`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::runtime::gemm::{gemm_into, workspace_len, Target, View};

/// `name, m, k, n, a transposed, b transposed`.
const SHAPES: [(&str, usize, usize, usize, bool, bool); 11] = [
    ("mlp fwd1 128x784x128", 128, 784, 128, false, false),
    ("mlp dW1 784x128x128 aT", 784, 128, 128, true, false),
    ("mlp fwd2 128x128x10", 128, 128, 10, false, false),
    ("mlp dX2 128x10x128 bT", 128, 10, 128, false, true),
    ("cnn conv1 fwd 9000x27x32", 9000, 27, 32, false, false),
    ("cnn conv1 dW 27x9000x32 aT", 27, 9000, 32, true, false),
    ("cnn conv2 fwd 845x288x16", 845, 288, 16, false, false),
    ("cnn conv2 dX 845x16x288 bT", 845, 16, 288, false, true),
    ("cnn conv2 dW 288x845x16 aT", 288, 845, 16, true, false),
    ("cnn dense fwd 128x576x10", 128, 576, 10, false, false),
    ("cnn dense dW 576x128x10 aT", 576, 128, 10, true, false),
];

/// Row-major `[rows, cols]` storage read as `[m, k]` (transposed: stored
/// `[k, m]`): the view.
fn view(rows: usize, cols: usize, t: bool) -> View {
    if t {
        View::new(0, 1, rows as isize)
    } else {
        View::new(0, cols as isize, 1)
    }
}

/// Best seconds per call of `f` over ~0.3 s.
fn best(mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut best = f64::MAX;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pool2 = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    println!("| shape | ours t1 | crate t1 | ratio | ours t2 | crate t2 | ratio |");
    println!("|---|---|---|---|---|---|---|");
    for (name, m, k, n, ta, tb) in SHAPES {
        let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (l, r) = (view(m, k, ta), view(k, n, tb));
        let mut c = vec![0.0f32; m * n];
        let mut ws = vec![0.0f32; workspace_len(m, n, k, 2)];
        let flops = 2.0 * (m * k * n) as f64;
        let mut row = format!("| {name} |");
        for threads in [1usize, 2] {
            let mut ours = || {
                gemm_into(
                    m,
                    n,
                    k,
                    &mut c,
                    Target::Overwrite(View::new(0, n as isize, 1)),
                    black_box(&a),
                    l,
                    black_box(&b),
                    r,
                    threads,
                    &mut ws,
                )
            };
            let t_ours = if threads == 1 {
                best(&mut ours)
            } else {
                pool2.install(|| best(&mut ours))
            };
            let mut theirs = || {
                let par = if threads == 1 {
                    gemm::Parallelism::None
                } else {
                    gemm::Parallelism::Rayon(threads)
                };
                // SAFETY: all three buffers hold the full extents the
                // strides address; `c` is a distinct buffer.
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        black_box(a.as_ptr()),
                        l.col,
                        l.row,
                        black_box(b.as_ptr()),
                        r.col,
                        r.row,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        par,
                    )
                }
            };
            let t_theirs = if threads == 1 {
                best(&mut theirs)
            } else {
                pool2.install(|| best(&mut theirs))
            };
            let g = |t: f64| flops / t / 1e9;
            row += &format!(
                " {:.1} | {:.1} | {:.2} |",
                g(t_ours),
                g(t_theirs),
                t_theirs / t_ours
            );
        }
        println!("{row}");
    }
}
