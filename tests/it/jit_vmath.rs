//! The JIT's vector math (`backend::jit::vmath`) against `std` and the
//! interpreter's sigmoid: exact special values, a bound on the ULP error over
//! a strided sample of every f32 bit pattern, and the scalar tail of the map
//! loop. The exhaustive sweep and the timings behind ARCHITECTURE.md's
//! "Vector math accuracy" table are `#[ignore]`d: run them with
//! `cargo test --release --test it jit_vmath -- --ignored --nocapture`.

use std::time::Instant;

use triceratops::backend::jit::vmath::{MapKernel, MathFn};

/// The bound asserted over all finite results, in units in the last place
/// of the result (subnormal results count in the subnormal spacing): the
/// maxima of the exhaustive sweep over all 2^32 inputs.
fn max_ulp(f: MathFn) -> u64 {
    match f {
        MathFn::Exp | MathFn::Log => 1,
        MathFn::Tanh | MathFn::Sigmoid => 2,
    }
}

/// The interpreter's definition (`ir/src/interp/elementwise.rs`).
fn sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

fn reference(f: MathFn) -> fn(f32) -> f32 {
    match f {
        MathFn::Exp => f32::exp,
        MathFn::Log => f32::ln,
        MathFn::Tanh => f32::tanh,
        MathFn::Sigmoid => sigmoid,
    }
}

fn kernel(f: MathFn) -> MapKernel {
    MapKernel::compile(f).unwrap_or_else(|e| panic!("{f:?}: {e}"))
}

/// `f` through the kernel for a few inputs.
fn jit(k: &MapKernel, xs: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; xs.len()];
    k.apply(xs, &mut out);
    out
}

/// The bits as a signed integer that is monotonic in the float's value
/// (±0 both map to 0), so neighbours differ by one.
fn ordered(x: f32) -> i64 {
    let bits = x.to_bits();
    let magnitude = i64::from(bits & 0x7fff_ffff);
    if bits >> 31 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// The worst error seen by a sweep and where it happened.
#[derive(Debug, Default)]
struct Stats {
    checked: u64,
    max_ulp: u64,
    ulp_at: f32,
    /// Relative error over normal reference results.
    max_rel: f64,
    rel_at: f32,
    /// Inputs where NaN-ness or an infinity differs from the reference.
    mismatches: Vec<(f32, f32, f32)>,
}

impl Stats {
    fn record(&mut self, x: f32, got: f32, want: f32) {
        self.checked += 1;
        if want.is_nan() || got.is_nan() || want.is_infinite() {
            if !(want.is_nan() && got.is_nan() || got == want) && self.mismatches.len() < 8 {
                self.mismatches.push((x, got, want));
            }
            return;
        }
        let ulp = ordered(got).abs_diff(ordered(want));
        if ulp > self.max_ulp {
            self.max_ulp = ulp;
            self.ulp_at = x;
        }
        if want.is_normal() {
            let rel = ((f64::from(got) - f64::from(want)) / f64::from(want)).abs();
            if rel > self.max_rel {
                self.max_rel = rel;
                self.rel_at = x;
            }
        }
    }

    fn merge(&mut self, other: Stats) {
        self.checked += other.checked;
        if other.max_ulp > self.max_ulp {
            (self.max_ulp, self.ulp_at) = (other.max_ulp, other.ulp_at);
        }
        if other.max_rel > self.max_rel {
            (self.max_rel, self.rel_at) = (other.max_rel, other.rel_at);
        }
        self.mismatches.extend(other.mismatches);
    }
}

/// Runs the bit patterns `lo..hi` in steps of `stride` through `k` and the
/// reference, in chunks.
fn sweep(f: MathFn, k: &MapKernel, lo: u64, hi: u64, stride: u64) -> Stats {
    const CHUNK: usize = 1 << 16;
    let want = reference(f);
    let mut stats = Stats::default();
    let mut src = Vec::with_capacity(CHUNK);
    let mut dst = vec![0.0; CHUNK];
    let mut pattern = lo;
    while pattern < hi {
        src.clear();
        while pattern < hi && src.len() < CHUNK {
            src.push(f32::from_bits(pattern as u32));
            pattern += stride;
        }
        let dst = &mut dst[..src.len()];
        k.apply(&src, dst);
        for (&x, &got) in src.iter().zip(dst.iter()) {
            stats.record(x, got, want(x));
        }
    }
    stats
}

#[test]
fn special_values_are_exact() {
    let inf = f32::INFINITY;
    let tiny = f32::from_bits(1); // the smallest subnormal
    let cases: [(MathFn, &[(f32, f32)]); 4] = [
        (
            MathFn::Exp,
            &[
                (inf, inf),
                (-inf, 0.0),
                (0.0, 1.0),
                (-0.0, 1.0),
                (88.8, inf),
                (1000.0, inf),
                (f32::MAX, inf),
                (-104.0, 0.0),
                (-1000.0, 0.0),
                (-f32::MAX, 0.0),
                (tiny, 1.0),
                (1.0, std::f32::consts::E),
            ],
        ),
        (
            MathFn::Log,
            &[
                (0.0, -inf),
                (-0.0, -inf),
                (inf, inf),
                (1.0, 0.0),
                (2.0, std::f32::consts::LN_2),
                (tiny, tiny.ln()),
                (f32::MAX, f32::MAX.ln()),
            ],
        ),
        (
            MathFn::Tanh,
            &[
                (0.0, 0.0),
                (-0.0, -0.0),
                (inf, 1.0),
                (-inf, -1.0),
                (9.1, 1.0),
                (-9.1, -1.0),
                (20.0, 1.0),
                (-20.0, -1.0),
                (1e-20, 1e-20),
                (-1e-20, -1e-20),
                (tiny, tiny),
                (-tiny, -tiny),
                (f32::MAX, 1.0),
            ],
        ),
        (
            MathFn::Sigmoid,
            &[
                (inf, 1.0),
                (-inf, 0.0),
                (0.0, 0.5),
                (-0.0, 0.5),
                (200.0, 1.0),
                (-200.0, 0.0),
            ],
        ),
    ];
    for (f, pairs) in cases {
        let k = kernel(f);
        let (xs, want): (Vec<f32>, Vec<f32>) = pairs.iter().copied().unzip();
        let got = jit(&k, &xs);
        for ((x, got), want) in xs.iter().zip(got).zip(want) {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{f:?}({x:e}) = {got:e}, want {want:e}"
            );
        }
    }
}

#[test]
fn nan_and_out_of_domain_give_nan() {
    let nans = [
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffc0_1234),
    ];
    for f in MathFn::ALL {
        let got = jit(&kernel(f), &nans);
        assert!(got.iter().all(|y| y.is_nan()), "{f:?}(NaN) = {got:?}");
    }
    let negatives = [
        -f32::from_bits(1),
        -1e-30,
        -1.0,
        -f32::MAX,
        f32::NEG_INFINITY,
    ];
    let got = jit(&kernel(MathFn::Log), &negatives);
    assert!(got.iter().all(|y| y.is_nan()), "log(negative) = {got:?}");
}

/// Every 257th bit pattern (257 is odd, so both signs, all exponents and
/// varied mantissas, subnormals, infinities and NaNs included).
#[test]
fn strided_sweep_is_within_the_ulp_bound() {
    for f in MathFn::ALL {
        let stats = sweep(f, &kernel(f), 0, 1 << 32, 257);
        assert!(
            stats.mismatches.is_empty(),
            "{f:?}: (x, got, want) {:?}",
            stats.mismatches
        );
        assert!(
            stats.max_ulp <= max_ulp(f),
            "{f:?}: {} ULP at x = {:e} (bits {:#010x})",
            stats.max_ulp,
            stats.ulp_at,
            stats.ulp_at.to_bits()
        );
    }
}

/// Lengths 0..9 run the vector loop zero to two times and the scalar tail
/// zero to three times; both give the same bits for the same input, and
/// nothing past `dst`'s end is written.
#[test]
fn scalar_tail_matches_the_vector_loop() {
    let pool: Vec<f32> = (0..12).map(|i| 0.37 * i as f32 - 2.1).collect();
    let sentinel = f32::from_bits(0x7fc0_beef);
    for f in MathFn::ALL {
        let k = kernel(f);
        let full = jit(&k, &pool[..12]);
        for len in 0..10 {
            let mut dst = [sentinel; 12];
            k.apply(&pool[..len], &mut dst[..len]);
            for i in 0..12 {
                let want = if i < len { full[i] } else { sentinel };
                assert_eq!(
                    dst[i].to_bits(),
                    want.to_bits(),
                    "{f:?}, len {len}, element {i}"
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "lengths")]
fn apply_refuses_unequal_lengths() {
    kernel(MathFn::Exp).apply(&[1.0; 3], &mut [0.0; 4]);
}

/// All 2^32 inputs per function (two threads), then ns/element against
/// `std` over 1M elements. Minutes in release; prints the numbers that
/// ARCHITECTURE.md records.
#[test]
#[ignore = "exhaustive: run in --release"]
fn exhaustive_accuracy_and_timing() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    for f in MathFn::ALL {
        let start = Instant::now();
        let span = (1u64 << 32).div_ceil(threads);
        let stats = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let hi = ((t + 1) * span).min(1 << 32);
                        sweep(f, &kernel(f), t * span, hi, 1)
                    })
                })
                .collect();
            let mut all = Stats::default();
            for h in handles {
                all.merge(h.join().expect("sweep thread"));
            }
            all
        });
        println!(
            "{f:?}: {} inputs in {:.0?}: max {} ULP at {:e} ({:#010x}); \
             max rel {:.3e} at {:e}; mismatches {:?}",
            stats.checked,
            start.elapsed(),
            stats.max_ulp,
            stats.ulp_at,
            stats.ulp_at.to_bits(),
            stats.max_rel,
            stats.rel_at,
            stats.mismatches
        );
        assert!(stats.mismatches.is_empty());
        assert!(stats.max_ulp <= max_ulp(f));
    }

    const N: usize = 1 << 20;
    for f in MathFn::ALL {
        // Inputs where each function does real work (no saturation).
        let (lo, hi) = if f == MathFn::Log {
            (1e-3, 1e3)
        } else {
            (-10.0, 10.0)
        };
        let src: Vec<f32> = (0..N)
            .map(|i| lo + (hi - lo) * i as f32 / N as f32)
            .collect();
        let mut dst = vec![0.0; N];
        let k = kernel(f);
        let want = reference(f);
        let jit_ns = best_ns_per_element(N, || k.apply(&src, &mut dst));
        let std_ns = best_ns_per_element(N, || {
            for (d, &x) in dst.iter_mut().zip(&src) {
                *d = want(std::hint::black_box(x));
            }
        });
        std::hint::black_box(&dst);
        println!("{f:?}: jit {jit_ns:.2} ns/element, std {std_ns:.2} ns/element");
    }
}

/// The fastest of 11 runs of `run` over `n` elements, per element.
fn best_ns_per_element(n: usize, mut run: impl FnMut()) -> f64 {
    run();
    (0..11)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e9 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}
