//! The routines' per-chunk epilogue callbacks: called once per finished
//! range of units, with exactly those units of the output, ranges disjoint
//! and covering every unit, on 1 and 2 threads; an epilogue that rewrites
//! its chunk gives the bits of the routine followed by the same map over
//! the whole output (so it ran after the chunk was final).

use std::sync::Mutex;

use super::*;
use triceratops::backend::jit::runtime::Epilogue;

/// The map the tests fuse: any elementwise function works.
fn map(v: f32) -> f32 {
    (v + 0.25).max(0.0) * 3.0
}

/// Runs `routine` with an epilogue applying [`map`] to each chunk in
/// place, recording `(lo, hi)` per call; checks the ranges tile
/// `0..units` with chunks of `unit` elements each, and returns the output.
fn with_epilogue(
    units: usize,
    unit: usize,
    routine: impl FnOnce(Epilogue) -> Vec<f32>,
) -> Vec<f32> {
    let ranges = Mutex::new(Vec::new());
    let epi = |chunk: &mut [f32], lo: usize, hi: usize| {
        assert_eq!(chunk.len(), (hi - lo) * unit, "units {lo}..{hi}");
        chunk.iter_mut().for_each(|v| *v = map(*v));
        ranges.lock().unwrap().push((lo, hi));
    };
    let out = routine(Some(&epi));
    let mut ranges = ranges.into_inner().unwrap();
    ranges.sort_unstable();
    let mut next = 0;
    for (lo, hi) in ranges {
        assert!(
            lo == next && hi > lo,
            "ranges leave a gap or overlap at {lo}"
        );
        next = hi;
    }
    assert_eq!(next, units, "every unit is covered");
    out
}

/// `plain` with [`map`] applied to every element, as bits.
fn mapped(plain: &[f32]) -> Vec<u32> {
    plain.iter().map(|&v| map(v).to_bits()).collect()
}

#[test]
fn conv_epilogues_run_on_final_chunks() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    for layout in [Layout::Nhwc, Layout::Nchw] {
        for (direct, chunk, threads) in [(false, 2, 1), (false, 2, 2), (true, 3, 2), (false, 7, 2)]
        {
            let attrs = ConvAttrs {
                strides: [1, 1],
                padding: Padding::Same,
                layout,
            };
            let x_shape = geometry::image_shape([7, 5, 4, 3], layout);
            let w_shape = match layout {
                Layout::Nhwc => vec![3, 3, 3, 6],
                Layout::Nchw => vec![6, 3, 3, 3],
            };
            let (x, w) = (random(&x_shape, &mut rng), random(&w_shape, &mut rng));
            let d = ConvDesc::new(&x_shape, &w_shape, attrs)
                .with_direct(direct)
                .with_chunk(chunk)
                .with_threads(threads);
            let what = format!("{layout:?} direct {direct} chunk {chunk} threads {threads}");
            // Forward.
            let mut plain = poisoned(d.output_len());
            within(threads, || {
                runtime::conv2d(
                    &d,
                    data(&x),
                    data(&w),
                    &mut plain,
                    &mut poisoned(d.scratch_len()),
                )
            });
            let got = with_epilogue(d.n, d.y_n, |epi| {
                let mut y = poisoned(d.output_len());
                within(threads, || {
                    let scratch = &mut poisoned(d.scratch_len());
                    runtime::conv2d_then(&d, data(&x), data(&w), &mut y, scratch, epi)
                });
                y
            });
            assert_eq!(bits(&got), mapped(&plain), "conv2d {what}");
            // Input gradient.
            let dy = random(&[d.output_len()], &mut rng);
            let mut plain = poisoned(d.image_len());
            within(threads, || {
                let scratch = &mut poisoned(d.scratch_len());
                runtime::conv2d_input_grad(&d, data(&dy), data(&w), &mut plain, scratch)
            });
            let got = with_epilogue(d.n, d.x_n, |epi| {
                let mut dx = poisoned(d.image_len());
                within(threads, || {
                    let scratch = &mut poisoned(d.scratch_len());
                    runtime::conv2d_input_grad_then(&d, data(&dy), data(&w), &mut dx, scratch, epi)
                });
                dx
            });
            assert_eq!(bits(&got), mapped(&plain), "conv2d_input_grad {what}");
        }
    }
}

#[test]
fn pool_gradient_epilogues_run_on_final_images() {
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    for layout in [Layout::Nhwc, Layout::Nchw] {
        for threads in [1, 2, 3] {
            let a = PoolAttrs {
                window: [2, 2],
                strides: [1, 1],
                padding: Padding::Same,
                layout,
            };
            let shape = geometry::image_shape([9, 4, 3, 5], layout);
            let x = from_palette(&shape, &mut rng);
            let d = PoolDesc::new(&shape, a).with_threads(threads);
            let dy = random(&[d.output_len()], &mut rng);
            let mut argmax = vec![0u8; d.argmax_bytes()];
            runtime::maxpool2d_argmax(&d, data(&x), &mut poisoned(d.output_len()), &mut argmax);
            let mut plain = poisoned(d.image_len());
            within(threads, || {
                runtime::maxpool2d_grad(&d, data(&x), data(&dy), &mut plain)
            });
            let what = format!("{layout:?} threads {threads}");
            let got = with_epilogue(d.n, d.x_n, |epi| {
                let mut dx = poisoned(d.image_len());
                within(threads, || {
                    runtime::maxpool2d_grad_then(&d, data(&x), data(&dy), &mut dx, epi)
                });
                dx
            });
            assert_eq!(bits(&got), mapped(&plain), "maxpool2d_grad {what}");
            let got = with_epilogue(d.n, d.x_n, |epi| {
                let mut dx = poisoned(d.image_len());
                within(threads, || {
                    runtime::maxpool2d_grad_argmax_then(&d, &argmax, data(&dy), &mut dx, epi)
                });
                dx
            });
            assert_eq!(bits(&got), mapped(&plain), "maxpool2d_grad_argmax {what}");
        }
    }
}

#[test]
fn matmul_epilogues_run_on_the_product_rows() {
    let mut rng = ChaCha8Rng::seed_from_u64(33);
    // Small, and large enough (2^18 outputs) that rows split on threads.
    for (batch, m, k, n) in [(1, 5, 3, 4), (3, 4, 2, 5), (1, 1024, 8, 256)] {
        for threads in [1, 2] {
            let a = random(&[batch, m, k], &mut rng);
            let b = random(&[batch, k, n], &mut rng);
            let d = MatMulDesc::new(&[batch, m, k], &[batch, k, n], MatMulAttrs::default())
                .with_threads(threads);
            let mut plain = poisoned(d.c_len());
            let mut ws = poisoned(d.workspace_len());
            within(threads, || {
                runtime::matmul(&d, data(&a), data(&b), &mut plain, &mut ws)
            });
            let (units, unit) = runtime::matmul_units(&d);
            let rows = batch * m * n >= 1 << 18 && threads > 1;
            assert_eq!(
                (units, unit),
                if rows {
                    (batch * m, n)
                } else {
                    (1, batch * m * n)
                }
            );
            let got = with_epilogue(units, unit, |epi| {
                let mut c = poisoned(d.c_len());
                let mut ws = poisoned(d.workspace_len());
                within(threads, || {
                    runtime::matmul_then(&d, data(&a), data(&b), &mut c, &mut ws, epi)
                });
                c
            });
            assert_eq!(
                bits(&got),
                mapped(&plain),
                "{batch}x{m}x{k}x{n} threads {threads}"
            );
        }
    }
}
