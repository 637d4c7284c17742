//! The JIT's runtime routines (`backend::jit::runtime`) against the
//! reference interpreter, op by op, on proptest-generated shapes.
//!
//! Contractions are compared with a relative tolerance, since the GEMM
//! reorders sums: `|got - want| <= 1e-5 * bound`, where `bound` is the same
//! op evaluated on the absolute values of the operands (the sum of the
//! terms' magnitudes). Pooling must match bit for bit, NaN payloads, ties
//! and signed zeros included. Every output buffer (and the scratch) starts
//! out full of NaN, so an element the routine forgets to write shows up.

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::runtime::{self, ConvDesc, MatMulDesc, PoolDesc};
use triceratops::ir::interp::evaluate_args;
use triceratops::ir::op::MatMulAttrs;
use triceratops::ir::{geometry, ConvAttrs, Graph, Layout, Op, Padding, PoolAttrs};

/// `op` applied by the interpreter to `args` (one graph input each).
fn oracle(op: Op, args: &[&ArrayD<f32>]) -> ArrayD<f32> {
    let mut g = Graph::new("one_op");
    let ids: Vec<_> = args
        .iter()
        .enumerate()
        .map(|(i, a)| g.input(&format!("a{i}"), a.shape().to_vec()).unwrap())
        .collect();
    let y = g.push_op(op, &ids).unwrap();
    let views = args.iter().map(|a| a.view()).collect();
    evaluate_args(&g, views).unwrap().value(y).to_owned()
}

/// A row-major array of `shape` with entries uniform in [-1, 1).
fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-1.0..1.0))
}

/// A buffer for a routine to write, poisoned with NaN.
fn poisoned(len: usize) -> Vec<f32> {
    vec![f32::NAN; len]
}

fn data(x: &ArrayD<f32>) -> &[f32] {
    x.as_slice().expect("test arrays are row-major")
}

/// `got` (row-major) equals `want` up to GEMM reassociation, `bound` being
/// the op on the operands' absolute values.
fn assert_close(what: &str, got: &[f32], want: &ArrayD<f32>, bound: &ArrayD<f32>) {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, ((&g, &w), &b)) in got.iter().zip(want.iter()).zip(bound.iter()).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * b,
            "{what}: element {i} is {g}, the interpreter says {w} (bound {b})"
        );
    }
}

/// `got` (row-major) equals `want` bit for bit.
fn assert_bits(what: &str, got: &[f32], want: &ArrayD<f32>) {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    for (i, (&g, &w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(
            g.to_bits() == w.to_bits(),
            "{what}: element {i} is {g} ({:#x}), the interpreter says {w} ({:#x})",
            g.to_bits(),
            w.to_bits()
        );
    }
}

fn abs(x: &ArrayD<f32>) -> ArrayD<f32> {
    x.mapv(f32::abs)
}

// ---------------------------------------------------------------- matmul

/// Stored operand shapes of a matmul: batch axes, then `[m, k]` / `[k, m]`
/// and `[k, n]` / `[n, k]` as the transpose flags say.
fn matmul_shapes(batch: &[usize], [m, k, n]: [usize; 3], attrs: MatMulAttrs) -> [Vec<usize>; 2] {
    let stored = |rows, cols, t: bool| {
        let mut s = batch.to_vec();
        s.extend(if t { [cols, rows] } else { [rows, cols] });
        s
    };
    [
        stored(m, k, attrs.transpose_a),
        stored(k, n, attrs.transpose_b),
    ]
}

fn check_matmul(batch: &[usize], mkn: [usize; 3], attrs: MatMulAttrs, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let [a_shape, b_shape] = matmul_shapes(batch, mkn, attrs);
    let (a, b) = (random(&a_shape, &mut rng), random(&b_shape, &mut rng));
    let desc = MatMulDesc::new(&a_shape, &b_shape, attrs);
    let mut c = poisoned(desc.c_len());
    runtime::matmul(&desc, data(&a), data(&b), &mut c);
    let want = oracle(Op::MatMul(attrs), &[&a, &b]);
    let bound = oracle(Op::MatMul(attrs), &[&abs(&a), &abs(&b)]);
    assert_close(
        &format!("matmul {a_shape:?} x {b_shape:?} {attrs:?}"),
        &c,
        &want,
        &bound,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn matmul_matches_the_interpreter(
        batch in prop::collection::vec(0usize..=3, 0..=2),
        m in 0usize..=17,
        k in 0usize..=17,
        n in 0usize..=17,
        ta: bool,
        tb: bool,
        seed: u64,
    ) {
        check_matmul(&batch, [m, k, n], MatMulAttrs::new(ta, tb), seed);
    }
}

#[test]
fn matmul_with_empty_extents() {
    // k = 0 is a sum of nothing: zeros, over the poisoned output.
    for attrs in [MatMulAttrs::PLAIN, MatMulAttrs::new(true, true)] {
        check_matmul(&[], [3, 0, 5], attrs, 1);
        check_matmul(&[2], [4, 0, 1], attrs, 2);
        check_matmul(&[0, 3], [4, 5, 6], attrs, 3);
        check_matmul(&[], [0, 5, 3], attrs, 4);
        check_matmul(&[2, 1], [3, 5, 0], attrs, 5);
    }
}

#[test]
fn matmul_desc_reads_transposes_through_strides() {
    let d = MatMulDesc::new(&[2, 7, 3], &[2, 5, 7], MatMulAttrs::new(true, true));
    let want = MatMulDesc {
        batch: 2,
        m: 3,
        k: 7,
        n: 5,
        a_row: 1,
        a_col: 3,
        a_batch: 21,
        b_row: 1,
        b_col: 7,
        b_batch: 35,
        c_batch: 15,
        threads: 1,
    };
    assert_eq!(d, want);
    assert_eq!((d.a_len(), d.b_len(), d.c_len()), (42, 70, 30));
    assert_eq!(d.flops(), 2.0 * 2.0 * 3.0 * 7.0 * 5.0);
}

#[test]
#[should_panic(expected = "needs")]
fn matmul_refuses_a_short_operand() {
    let d = MatMulDesc::new(&[4, 3], &[3, 2], MatMulAttrs::PLAIN);
    runtime::matmul(&d, &[0.0; 11], &[0.0; 6], &mut [0.0; 8]);
}

// ------------------------------------------------------------------ conv

/// One conv2d geometry: NHWC image extents, filter taps, output channels.
#[derive(Clone, Copy, Debug)]
struct ConvCase {
    nhwc: [usize; 4],
    taps: [usize; 2],
    o: usize,
    attrs: ConvAttrs,
}

impl ConvCase {
    fn image_shape(&self) -> Vec<usize> {
        geometry::image_shape(self.nhwc, self.attrs.layout)
    }

    fn filter_shape(&self) -> Vec<usize> {
        let [kh, kw] = self.taps;
        let (c, o) = (self.nhwc[3], self.o);
        match self.attrs.layout {
            Layout::Nhwc => vec![kh, kw, c, o],
            Layout::Nchw => vec![o, c, kh, kw],
        }
    }
}

/// conv2d and both its gradients on one geometry, each against the
/// interpreter.
fn check_conv(case: ConvCase, seed: u64) {
    check_conv_with(case, seed, None, 1);
}

/// [`check_conv`] in chunks of `chunk` images (the geometry's default when
/// `None`) with a descriptor for `threads` threads, run inside a pool of
/// that many threads when above 1.
fn check_conv_with(case: ConvCase, seed: u64, chunk: Option<usize>, threads: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let attrs = case.attrs;
    let (x_shape, w_shape) = (case.image_shape(), case.filter_shape());
    let (x, w) = (random(&x_shape, &mut rng), random(&w_shape, &mut rng));
    let mut d = ConvDesc::new(&x_shape, &w_shape, attrs).with_threads(threads);
    if let Some(images) = chunk {
        d = d.with_chunk(images);
    }
    let what = |op: &str| format!("{op} {case:?} chunk {chunk:?} threads {threads}");
    let in_pool = |f: &mut (dyn FnMut() + Send)| within(threads, f);

    let mut y = poisoned(d.output_len());
    in_pool(&mut || {
        let scratch = &mut poisoned(d.scratch_len());
        runtime::conv2d(&d, data(&x), data(&w), &mut y, scratch)
    });
    let want = oracle(Op::Conv2d(attrs), &[&x, &w]);
    let bound = oracle(Op::Conv2d(attrs), &[&abs(&x), &abs(&w)]);
    assert_close(&what("conv2d"), &y, &want, &bound);

    let dy = random(want.shape(), &mut rng);
    let op = Op::Conv2dInputGrad {
        conv: attrs,
        input_shape: x_shape.clone().into(),
    };
    let mut dx = poisoned(d.image_len());
    in_pool(&mut || {
        let scratch = &mut poisoned(d.scratch_len());
        runtime::conv2d_input_grad(&d, data(&dy), data(&w), &mut dx, scratch)
    });
    let want = oracle(op.clone(), &[&dy, &w]);
    let bound = oracle(op, &[&abs(&dy), &abs(&w)]);
    assert_close(&what("conv2d_input_grad"), &dx, &want, &bound);

    let op = Op::Conv2dFilterGrad {
        conv: attrs,
        filter_shape: w_shape.clone().into(),
    };
    let mut dw = poisoned(d.filter_len());
    in_pool(&mut || {
        let scratch = &mut poisoned(d.scratch_len());
        runtime::conv2d_filter_grad(&d, data(&x), data(&dy), &mut dw, scratch)
    });
    let want = oracle(op.clone(), &[&x, &dy]);
    let bound = oracle(op, &[&abs(&x), &abs(&dy)]);
    assert_close(&what("conv2d_filter_grad"), &dw, &want, &bound);

    // With the bias gradient fused in: the same filter gradient bits, and
    // dy summed over everything but its channel axis (the interpreter's
    // reduce_sum over those axes).
    let mut dw_fused = poisoned(d.filter_len());
    let mut db = poisoned(d.o);
    in_pool(&mut || {
        let scratch = &mut poisoned(d.scratch_len());
        runtime::conv2d_filter_and_bias_grad(
            &d,
            data(&x),
            data(&dy),
            &mut dw_fused,
            Some(&mut db),
            scratch,
        )
    });
    assert!(
        bits(&dw_fused) == bits(&dw),
        "{}",
        what("filter grad with bias")
    );
    let channel = match attrs.layout {
        Layout::Nhwc => 3,
        Layout::Nchw => 1,
    };
    let sum = Op::ReduceSum {
        axes: (0..4).filter(|&a| a != channel).collect(),
        keepdims: false,
    };
    let want = oracle(sum.clone(), &[&dy]);
    let bound = oracle(sum, &[&abs(&dy)]);
    assert_close(&what("bias grad"), &db, &want, &bound);
}

fn layouts() -> impl Strategy<Value = Layout> {
    prop::sample::select(Layout::ALL.to_vec())
}

fn paddings() -> impl Strategy<Value = Padding> {
    prop::sample::select(Padding::ALL.to_vec())
}

/// A window extent that fits `input` under `padding` (`valid` needs
/// `window <= input`).
fn fit(window: usize, input: usize, padding: Padding) -> usize {
    match padding {
        Padding::Valid => window.min(input),
        Padding::Same => window,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv_and_gradients_match_the_interpreter(
        n in 1usize..=3,
        h in 1usize..=9,
        w in 1usize..=9,
        c in 1usize..=5,
        o in 1usize..=5,
        kh in 1usize..=4,
        kw in 1usize..=4,
        sh in 1usize..=3,
        sw in 1usize..=3,
        padding in paddings(),
        layout in layouts(),
        seed: u64,
    ) {
        let case = ConvCase {
            nhwc: [n, h, w, c],
            taps: [fit(kh, h, padding), fit(kw, w, padding)],
            o,
            attrs: ConvAttrs { strides: [sh, sw], padding, layout },
        };
        check_conv(case, seed);
    }

    #[test]
    fn chunked_conv_on_threads_matches_the_interpreter(
        n in 1usize..=5,
        h in 1usize..=7,
        w in 1usize..=7,
        c in 1usize..=4,
        o in 1usize..=4,
        kh in 1usize..=3,
        kw in 1usize..=3,
        sh in 1usize..=2,
        sw in 1usize..=2,
        padding in paddings(),
        layout in layouts(),
        chunk in 1usize..=3,
        threads in 1usize..=3,
        seed: u64,
    ) {
        let case = ConvCase {
            nhwc: [n, h, w, c],
            taps: [fit(kh, h, padding), fit(kw, w, padding)],
            o,
            attrs: ConvAttrs { strides: [sh, sw], padding, layout },
        };
        check_conv_with(case, seed, Some(chunk), threads);
    }
}

#[test]
fn conv_with_empty_extents() {
    // No images, no input channels (a sum of nothing), no output channels.
    for layout in Layout::ALL {
        for padding in Padding::ALL {
            let attrs = ConvAttrs {
                strides: [1, 2],
                padding,
                layout,
            };
            for (nhwc, o) in [([0, 5, 4, 2], 3), ([2, 5, 4, 0], 3), ([2, 5, 4, 2], 0)] {
                let case = ConvCase {
                    nhwc,
                    taps: [3, 2],
                    o,
                    attrs,
                };
                check_conv(case, 7);
            }
        }
    }
}

#[test]
fn conv_desc_strides_follow_the_layout() {
    let attrs = |layout| ConvAttrs {
        strides: [1, 1],
        padding: Padding::Same,
        layout,
    };
    // NHWC [2, 6, 5, 3] with HWIO [3, 3, 3, 4].
    let d = ConvDesc::new(&[2, 6, 5, 3], &[3, 3, 3, 4], attrs(Layout::Nhwc));
    assert_eq!([d.x_n, d.x_h, d.x_w, d.x_c], [90, 15, 3, 1]);
    assert_eq!([d.f_h, d.f_w, d.f_i, d.f_o, d.f_k], [36, 12, 4, 1, 4]);
    assert_eq!([d.pad_top, d.pad_left, d.oh, d.ow], [1, 1, 6, 5]);
    // NCHW [2, 3, 6, 5] with OIHW [4, 3, 3, 3]: the same geometry.
    let e = ConvDesc::new(&[2, 3, 6, 5], &[4, 3, 3, 3], attrs(Layout::Nchw));
    assert_eq!([e.x_n, e.x_h, e.x_w, e.x_c], [90, 5, 1, 30]);
    assert_eq!([e.y_n, e.y_h, e.y_w, e.y_c], [120, 5, 1, 30]);
    assert_eq!([e.f_h, e.f_w, e.f_i, e.f_o, e.f_k], [3, 1, 9, 27, 1]);
    assert_eq!((e.n, e.h, e.w, e.c, e.o), (d.n, d.h, d.w, d.c, d.o));
    // Both images in one chunk: its patch block, then one partial dw and
    // one partial bias gradient.
    assert_eq!(d.chunk, 2);
    assert_eq!(d.scratch_len(), 2 * 6 * 5 * 27 + 27 * 4 + 4);
    assert_eq!(e.scratch_len(), d.scratch_len());
    assert_eq!(d.flops(), 2.0 * 60.0 * 27.0 * 4.0);
}

// ---------------------------------------------------------- thread counts

/// `f()` inside a fresh pool of `threads` threads (on this thread for 1),
/// as an executable compiled for `threads` runs its kernels.
fn within<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads <= 1 {
        return f();
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn matmul_is_the_same_bits_on_1_2_and_3_threads() {
    let cases: [(&[usize], [usize; 3], MatMulAttrs); 5] = [
        (&[], [128, 784, 128], MatMulAttrs::PLAIN),
        (&[2], [256, 400, 300], MatMulAttrs::new(false, true)),
        (&[], [1024, 256, 200], MatMulAttrs::new(false, true)),
        // Transposed `a` (mnist-mlp's dw1): gemm's own split lost, so it
        // runs as 4 row blocks on any thread count; below the threshold:
        // one thread whatever the descriptor says.
        (&[], [784, 128, 128], MatMulAttrs::new(true, false)),
        (&[], [128, 128, 10], MatMulAttrs::PLAIN),
    ];
    let mut parallel = 0;
    for (i, (batch, [m, k, n], attrs)) in cases.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
        let [a_shape, b_shape] = matmul_shapes(batch, [m, k, n], attrs);
        let (a, b) = (random(&a_shape, &mut rng), random(&b_shape, &mut rng));
        let d = MatMulDesc::new(&a_shape, &b_shape, attrs);
        let splits = d.with_threads(2).gemm_threads() > 1;
        parallel += usize::from(d.with_threads(2).parallel());
        let run = |threads: usize| {
            let d = d.with_threads(threads);
            assert_eq!(d.gemm_threads(), if splits { threads } else { 1 });
            let mut c = poisoned(d.c_len());
            within(threads, || runtime::matmul(&d, data(&a), data(&b), &mut c));
            bits(&c)
        };
        let one = run(1);
        for threads in [2, 3] {
            let what = format!("{a_shape:?} x {b_shape:?} on {threads} threads");
            assert!(run(threads) == one, "{what}");
        }
        let mut c = poisoned(d.c_len());
        within(2, || {
            runtime::matmul(&d.with_threads(2), data(&a), data(&b), &mut c)
        });
        let want = oracle(Op::MatMul(attrs), &[&a, &b]);
        let bound = oracle(Op::MatMul(attrs), &[&abs(&a), &abs(&b)]);
        assert_close(&format!("{a_shape:?} x {b_shape:?}"), &c, &want, &bound);
    }
    // The first four really split (three in gemm, one by row blocks); the
    // last stays on one thread.
    assert_eq!(parallel, 4);
}

/// Geometries with several chunks (the last one short): seed-cnn-like NHWC
/// `valid`, its NCHW twin, and `same` padding with stride 2 in both.
fn chunked_cases() -> Vec<(ConvCase, Option<usize>)> {
    let mut cases = Vec::new();
    for layout in Layout::ALL {
        let valid = ConvAttrs {
            strides: [1, 1],
            padding: Padding::Valid,
            layout,
        };
        let same = ConvAttrs {
            strides: [2, 2],
            padding: Padding::Same,
            layout,
        };
        // 13x13 outputs of 72-element patches: the default chunk of 21
        // images, 2 chunks.
        cases.push((
            ConvCase {
                nhwc: [30, 15, 15, 8],
                taps: [3, 3],
                o: 16,
                attrs: valid,
            },
            None,
        ));
        cases.push((
            ConvCase {
                nhwc: [7, 9, 8, 3],
                taps: [3, 3],
                o: 8,
                attrs: valid,
            },
            Some(2),
        ));
        cases.push((
            ConvCase {
                nhwc: [7, 11, 10, 5],
                taps: [3, 2],
                o: 6,
                attrs: same,
            },
            Some(3),
        ));
    }
    // Few input channels and 16 or 32 outputs: the direct forward loop
    // (pixel pairs inside the image, single pixels at a padded edge).
    for (nhwc, o, strides, padding) in [
        ([5, 10, 9, 3], 32, [1, 1], Padding::Valid),
        ([5, 9, 8, 2], 16, [1, 1], Padding::Same),
        ([4, 9, 11, 3], 32, [2, 2], Padding::Same),
    ] {
        let attrs = ConvAttrs {
            strides,
            padding,
            layout: Layout::Nhwc,
        };
        let taps = [3, 3];
        cases.push((
            ConvCase {
                nhwc,
                taps,
                o,
                attrs,
            },
            Some(2),
        ));
    }
    cases
}

/// conv2d, its input gradient and its filter gradient of `case`, as bits,
/// with a descriptor for `threads` threads run inside a pool of `pool`.
fn conv_bits(case: ConvCase, chunk: Option<usize>, threads: usize, pool: usize) -> [Vec<u32>; 3] {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (x_shape, w_shape) = (case.image_shape(), case.filter_shape());
    let mut d = ConvDesc::new(&x_shape, &w_shape, case.attrs).with_threads(threads);
    if let Some(images) = chunk {
        d = d.with_chunk(images);
    }
    let (x, w) = (random(&x_shape, &mut rng), random(&w_shape, &mut rng));
    let dy: Vec<f32> = (0..d.output_len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let [mut y, mut dx, mut dw] = [d.output_len(), d.image_len(), d.filter_len()].map(poisoned);
    within(pool, || {
        let mut scratch = poisoned(d.scratch_len());
        runtime::conv2d(&d, data(&x), data(&w), &mut y, &mut scratch);
        runtime::conv2d_input_grad(&d, &dy, data(&w), &mut dx, &mut scratch);
        runtime::conv2d_filter_grad(&d, data(&x), &dy, &mut dw, &mut scratch);
    });
    [bits(&y), bits(&dx), bits(&dw)]
}

#[test]
fn conv_is_the_same_bits_on_1_2_and_3_threads() {
    for (case, chunk) in chunked_cases() {
        let one = conv_bits(case, chunk, 1, 1);
        // The executable's pool, and (still correct, if not as fast) a
        // descriptor for 2 threads inside a pool of 3.
        for (threads, pool) in [(2, 2), (3, 3), (2, 3)] {
            let got = conv_bits(case, chunk, threads, pool);
            for (op, (g, o)) in ["conv2d", "input grad", "filter grad"]
                .iter()
                .zip(got.iter().zip(&one))
            {
                assert!(
                    g == o,
                    "{op} of {case:?} (chunk {chunk:?}) on {threads} threads"
                );
            }
        }
    }
}

#[test]
fn chunked_conv_matches_the_interpreter_on_threads() {
    for (case, chunk) in chunked_cases() {
        for threads in [1, 2, 3] {
            check_conv_with(case, 9, chunk, threads);
        }
    }
}

#[test]
fn conv_scratch_is_a_block_per_thread_and_a_partial_per_chunk() {
    let attrs = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    // seed-cnn at batch 128: conv1 has 900 x 27 patch elements an image
    // (10 images a chunk, 13 chunks), conv2 169 x 288 (5 images, 26 chunks).
    let conv1 = ConvDesc::new(&[128, 32, 32, 3], &[3, 3, 3, 32], attrs);
    let conv2 = ConvDesc::new(&[128, 15, 15, 32], &[3, 3, 32, 16], attrs);
    assert_eq!((conv1.chunk, conv1.chunks()), (10, 13));
    assert_eq!((conv2.chunk, conv2.chunks()), (5, 26));
    for threads in [1, 2, 3] {
        let d = conv1.with_threads(threads);
        assert_eq!(d.block_len(), 10 * 900 * 27);
        assert_eq!(
            d.scratch_len(),
            threads * 10 * 900 * 27 + 13 * (27 * 32 + 32)
        );
        let d = conv2.with_threads(threads);
        assert_eq!(d.block_len(), 5 * 169 * 288);
        assert_eq!(
            d.scratch_len(),
            threads * 5 * 169 * 288 + 26 * (288 * 16 + 16)
        );
    }
    // conv1 (3 channels) runs the direct forward loop, conv2 im2col + GEMM.
    assert!(conv1.direct && !conv2.direct);
    // The chunk never depends on the thread count.
    assert_eq!(conv2.with_threads(3).chunk, conv2.chunk);
    // Whole-batch im2col needed 115200 x 27 and 21632 x 288 elements.
    assert!(conv1.with_threads(2).scratch_len() * 6 < 115_200 * 27);
    assert!(conv2.with_threads(2).scratch_len() * 10 < 21_632 * 288);
}

#[test]
#[should_panic(expected = "scratch has")]
fn conv_refuses_scratch_for_fewer_threads() {
    let attrs = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let d = ConvDesc::new(&[4, 8, 8, 2], &[3, 3, 2, 4], attrs).with_chunk(1);
    let two = d.with_threads(2);
    let (x, w) = (vec![0.0; d.image_len()], vec![0.0; d.filter_len()]);
    let mut y = vec![0.0; d.output_len()];
    runtime::conv2d(&two, &x, &w, &mut y, &mut vec![0.0; d.scratch_len()]);
}

// ------------------------------------------------------------------ pool

/// Values that make ties, signed zeros, infinities and NaN (two payloads,
/// to see which one wins) common in small windows.
const PALETTE: [f32; 9] = [
    -1.0,
    0.0,
    -0.0,
    1.0,
    2.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::from_bits(0x7fc0_1234),
];

fn from_palette(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || PALETTE[rng.random_range(0..PALETTE.len())])
}

fn check_pool(nhwc: [usize; 4], attrs: PoolAttrs, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = geometry::image_shape(nhwc, attrs.layout);
    let x = from_palette(&shape, &mut rng);
    let d = PoolDesc::new(&shape, attrs);

    let mut y = poisoned(d.output_len());
    runtime::maxpool2d(&d, data(&x), &mut y);
    let want = oracle(Op::MaxPool2d(attrs), &[&x]);
    assert_bits(&format!("maxpool2d {nhwc:?} {attrs:?}"), &y, &want);

    // Random gradients, so a different summation order would show.
    let dy = random(want.shape(), &mut rng);
    let mut dx = poisoned(d.image_len());
    runtime::maxpool2d_grad(&d, data(&x), data(&dy), &mut dx);
    let want = oracle(Op::MaxPool2dGrad(attrs), &[&x, &dy]);
    assert_bits(&format!("maxpool2d_grad {nhwc:?} {attrs:?}"), &dx, &want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn maxpool_matches_the_interpreter_bit_for_bit(
        n in 1usize..=2,
        h in 1usize..=9,
        w in 1usize..=9,
        c in 1usize..=4,
        kh in 1usize..=3,
        kw in 1usize..=3,
        sh in 1usize..=3,
        sw in 1usize..=3,
        padding in paddings(),
        layout in layouts(),
        seed: u64,
    ) {
        let attrs = PoolAttrs {
            window: [fit(kh, h, padding), fit(kw, w, padding)],
            strides: [sh, sw],
            padding,
            layout,
        };
        check_pool([n, h, w, c], attrs, seed);
    }
}

#[test]
fn maxpool_with_empty_extents() {
    for layout in Layout::ALL {
        let attrs = PoolAttrs {
            window: [2, 2],
            strides: [1, 1],
            padding: Padding::Same,
            layout,
        };
        check_pool([0, 3, 3, 2], attrs, 1);
        check_pool([2, 3, 3, 0], attrs, 2);
    }
}

#[test]
fn maxpool_first_nan_and_first_tie_win() {
    // One 2x2 window over a 1-channel image, read row-major: 1, NaN(a),
    // NaN(b), 1. The first NaN wins the max and takes the whole gradient.
    let nan_a = f32::from_bits(0x7fc0_0001);
    let nan_b = f32::from_bits(0x7fc0_0002);
    let attrs = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let d = PoolDesc::new(&[1, 2, 2, 1], attrs);
    let x = [1.0, nan_a, nan_b, 1.0];
    let mut y = [0.0];
    runtime::maxpool2d(&d, &x, &mut y);
    assert_eq!(y[0].to_bits(), nan_a.to_bits());
    let mut dx = [f32::NAN; 4];
    runtime::maxpool2d_grad(&d, &x, &[3.0], &mut dx);
    assert_eq!(dx, [0.0, 3.0, 0.0, 0.0]);
    // Ties: -0 then +0, the first (-0) wins.
    let x = [-0.0, 0.0, -1.0, -1.0];
    runtime::maxpool2d(&d, &x, &mut y);
    assert_eq!(y[0].to_bits(), (-0.0f32).to_bits());
}

// ----------------------------------------------------------------- shims

#[test]
fn symbols_name_every_shim_once() {
    let symbols = runtime::symbols();
    let mut names: Vec<_> = symbols.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), symbols.len());
    for name in [
        "tri_matmul",
        "tri_conv2d",
        "tri_conv2d_input_grad",
        "tri_conv2d_filter_grad",
        "tri_maxpool2d",
        "tri_maxpool2d_grad",
    ] {
        let (_, address) = symbols.iter().find(|(n, _)| *n == name).unwrap();
        assert!(!address.is_null(), "{name}");
    }
}

#[test]
fn shims_agree_with_the_safe_routines() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);

    let d = MatMulDesc::new(&[2, 3, 5], &[2, 4, 5], MatMulAttrs::new(false, true));
    let (a, b) = (random(&[2, 3, 5], &mut rng), random(&[2, 4, 5], &mut rng));
    let (mut c1, mut c2) = (poisoned(d.c_len()), poisoned(d.c_len()));
    runtime::matmul(&d, data(&a), data(&b), &mut c1);
    // SAFETY: each buffer holds exactly the extent `d` gives it.
    unsafe { runtime::tri_matmul(&d, data(&a).as_ptr(), data(&b).as_ptr(), c2.as_mut_ptr()) };
    assert_eq!(bits(&c1), bits(&c2));

    let attrs = ConvAttrs {
        strides: [2, 1],
        padding: Padding::Same,
        layout: Layout::Nchw,
    };
    let d = ConvDesc::new(&[2, 3, 7, 6], &[4, 3, 3, 2], attrs);
    let (x, w) = (
        random(&[2, 3, 7, 6], &mut rng),
        random(&[4, 3, 3, 2], &mut rng),
    );
    let dy = random(&[2, 4, 4, 6], &mut rng);
    assert_eq!(d.output_len(), dy.len());
    let mut scratch = poisoned(d.scratch_len());
    let shim_outputs = [d.output_len(), d.image_len(), d.filter_len()];
    let [mut y1, mut dx1, mut dw1] = shim_outputs.map(poisoned);
    let [mut y2, mut dx2, mut dw2] = shim_outputs.map(poisoned);
    runtime::conv2d(&d, data(&x), data(&w), &mut y1, &mut scratch);
    runtime::conv2d_input_grad(&d, data(&dy), data(&w), &mut dx1, &mut scratch);
    runtime::conv2d_filter_grad(&d, data(&x), data(&dy), &mut dw1, &mut scratch);
    let s = scratch.as_mut_ptr();
    // SAFETY: each buffer holds exactly the extent `d` gives it, and the
    // outputs and scratch are distinct vectors.
    unsafe {
        runtime::tri_conv2d(&d, data(&x).as_ptr(), data(&w).as_ptr(), y2.as_mut_ptr(), s);
        runtime::tri_conv2d_input_grad(
            &d,
            data(&dy).as_ptr(),
            data(&w).as_ptr(),
            dx2.as_mut_ptr(),
            s,
        );
        runtime::tri_conv2d_filter_grad(
            &d,
            data(&x).as_ptr(),
            data(&dy).as_ptr(),
            dw2.as_mut_ptr(),
            s,
        );
    }
    assert_eq!(bits(&y1), bits(&y2));
    assert_eq!(bits(&dx1), bits(&dx2));
    assert_eq!(bits(&dw1), bits(&dw2));

    let attrs = PoolAttrs {
        window: [3, 2],
        strides: [2, 2],
        padding: Padding::Same,
        layout: Layout::Nhwc,
    };
    let d = PoolDesc::new(&[2, 5, 4, 3], attrs);
    let x = from_palette(&[2, 5, 4, 3], &mut rng);
    let dy = random(&[2, 3, 2, 3], &mut rng);
    let [mut y1, mut y2] = [d.output_len(); 2].map(poisoned);
    let [mut dx1, mut dx2] = [d.image_len(); 2].map(poisoned);
    runtime::maxpool2d(&d, data(&x), &mut y1);
    runtime::maxpool2d_grad(&d, data(&x), data(&dy), &mut dx1);
    // SAFETY: each buffer holds exactly the extent `d` gives it.
    unsafe {
        runtime::tri_maxpool2d(&d, data(&x).as_ptr(), y2.as_mut_ptr());
        runtime::tri_maxpool2d_grad(&d, data(&x).as_ptr(), data(&dy).as_ptr(), dx2.as_mut_ptr());
    }
    assert_eq!(bits(&y1), bits(&y2));
    assert_eq!(bits(&dx1), bits(&dx2));
}

#[test]
fn shims_accept_null_for_empty_buffers() {
    let d = MatMulDesc::new(&[0, 3, 4], &[0, 4, 2], MatMulAttrs::PLAIN);
    let null = std::ptr::null_mut();
    // SAFETY: every extent of `d` is empty, so no pointer is dereferenced.
    unsafe { runtime::tri_matmul(&d, null, null, null) };
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}
