//! The GEMM itself (`runtime::gemm`) against a naive f64-accumulated
//! product: every instruction set this CPU has, shapes around the kernels'
//! tiles (0, 1, odd, not multiples of MR or NR), all four transpose
//! combinations, overwrite and accumulate, strided (padded) views, and the
//! same bits on 1, 2 and 3 threads.

use triceratops::backend::jit::runtime::gemm::{gemm_with, workspace_len, Isa, Target, View};

use super::*;

/// An `[rows, cols]` matrix stored with `pad` unused elements after each
/// stored row, transposed (stored `[cols, rows]`) when `t`: its data and
/// view.
fn matrix(rows: usize, cols: usize, t: bool, pad: usize, rng: &mut ChaCha8Rng) -> (Vec<f32>, View) {
    let (outer, inner) = if t { (cols, rows) } else { (rows, cols) };
    let stride = (inner + pad) as isize;
    let data = (0..outer * (inner + pad))
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let view = if t {
        View::new(0, 1, stride)
    } else {
        View::new(0, stride, 1)
    };
    (data, view)
}

fn at(data: &[f32], v: View, i: usize, j: usize) -> f32 {
    data[v.start + i * v.row as usize + j * v.col as usize]
}

/// One case: `isa`, `[m, k, n]`, transposes, accumulate, padding.
#[allow(clippy::too_many_arguments)]
fn check(isa: Isa, [m, k, n]: [usize; 3], ta: bool, tb: bool, acc: bool, pad: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (a, l) = matrix(m, k, ta, pad, &mut rng);
    let (b, r) = matrix(k, n, tb, pad, &mut rng);
    // dst is strided too: every other column of a wider matrix, whose
    // other columns must stay untouched.
    let d = View::new(1, 2 * n as isize + 1, 2);
    let c0: Vec<f32> = (0..m * (2 * n + 1) + 1)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let target = if acc {
        Target::Accumulate(d)
    } else {
        Target::Overwrite(d)
    };
    let what = format!("{isa:?} {m}x{k}x{n} ta={ta} tb={tb} acc={acc} pad={pad}");
    let mut runs = vec![];
    for threads in [1, 2, 3] {
        let mut c = c0.clone();
        if !acc {
            for i in 0..m {
                for j in 0..n {
                    c[1 + i * (2 * n + 1) + 2 * j] = f32::NAN;
                }
            }
        }
        let mut ws = vec![f32::NAN; workspace_len(m, n, k, threads)];
        within(threads, || {
            gemm_with(isa, m, n, k, &mut c, target, &a, l, &b, r, threads, &mut ws)
        });
        runs.push(c);
    }
    for (t, c) in runs.iter().enumerate().skip(1) {
        assert!(
            bits(c) == bits(&runs[0]),
            "{what}: {} threads differ",
            t + 1
        );
    }
    let c = &runs[0];
    for (o, (&got, &old)) in c.iter().zip(&c0).enumerate() {
        let (i, jj) = (
            (o.wrapping_sub(1)) / (2 * n + 1).max(1),
            (o.wrapping_sub(1)) % (2 * n + 1).max(1),
        );
        let inside = o >= 1 && i < m && jj % 2 == 0 && jj / 2 < n;
        if !inside {
            assert_eq!(got.to_bits(), old.to_bits(), "{what}: wrote outside at {o}");
            continue;
        }
        let j = jj / 2;
        let (mut sum, mut magnitude) = (if acc { old as f64 } else { 0.0 }, 0.0f64);
        for p in 0..k {
            let term = at(&a, l, i, p) as f64 * at(&b, r, p, j) as f64;
            sum += term;
            magnitude += term.abs();
        }
        // f32 rounding of each partial sum (k + 1 of them) on the terms'
        // magnitudes, plus the accumulated value's.
        let tol = 2.0 * f32::EPSILON as f64 * (k as f64 + 2.0) * (magnitude + sum.abs() + 1.0);
        assert!(
            (got as f64 - sum).abs() <= tol,
            "{what}: ({i}, {j}) is {got}, want {sum} within {tol}"
        );
    }
}

fn isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|isa| isa.available()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gemm_matches_a_naive_product_on_every_isa(
        m in 0usize..=70,
        k in 0usize..=40,
        n in 0usize..=70,
        ta: bool,
        tb: bool,
        acc: bool,
        pad in 0usize..=3,
        seed: u64,
    ) {
        for isa in isas() {
            check(isa, [m, k, n], ta, tb, acc, pad, seed);
        }
    }
}

#[test]
fn gemm_edges_and_block_boundaries() {
    // Tile edges of every kernel (4x8, 6x16, 12x32, 28x16), a depth over
    // two blocks of the sum (KC) and its remainder, and a row or column
    // count that splits into several thread bands.
    let shapes = [
        [0, 5, 3],
        [3, 0, 5],
        [1, 1, 1],
        [12, 7, 32],
        [13, 7, 33],
        [28, 9, 16],
        [29, 9, 17],
        [27, 450, 32],
        [6, 385, 16],
        [100, 3, 10],
        [10, 3, 100],
    ];
    for isa in isas() {
        for (s, &mkn) in shapes.iter().enumerate() {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for acc in [false, true] {
                    check(isa, mkn, ta, tb, acc, s % 2, s as u64);
                }
            }
        }
    }
}

#[test]
fn every_isa_this_cpu_has_is_tested() {
    // The scalar kernel always; on x86-64 CI machines AVX2 at least.
    assert!(Isa::Scalar.available());
    assert!(isas().contains(&Isa::best()));
}

#[test]
#[should_panic(expected = "workspace of a GEMM needs")]
fn gemm_refuses_a_short_workspace() {
    let (a, b, mut c) = ([0.0; 6], [0.0; 6], [0.0; 4]);
    let v = View::new(0, 3, 1);
    let mut ws = vec![0.0; workspace_len(2, 2, 3, 1) - 1];
    let d = Target::Overwrite(View::new(0, 2, 1));
    let r = View::new(0, 2, 1);
    gemm_with(Isa::Scalar, 2, 2, 3, &mut c, d, &a, v, &b, r, 1, &mut ws);
}
