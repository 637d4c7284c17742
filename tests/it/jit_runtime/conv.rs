//! conv2d and its gradients (and the fused bias gradient): against the
//! interpreter in both layouts, chunked and on threads (the same bits for
//! any thread count), and the scratch they ask for.

use super::*;

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
    // one partial bias gradient; the GEMM packing space after the block.
    assert_eq!(d.scratch_len(), 2 * 6 * 5 * 27 + d.gemm_len() + 27 * 4 + 4);
    assert_eq!(e.scratch_len(), d.scratch_len());
    assert_eq!(d.flops(), 2.0 * 60.0 * 27.0 * 4.0);
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
    // Small filters with 32 or 64 outputs: the outer-product filter
    // gradient (one and two tap blocks, one and two channel blocks, windows
    // inside the image and at a padded edge).
    for (nhwc, taps, o, strides, padding) in [
        ([3, 7, 8, 5], [2, 2], 64, [1, 2], Padding::Same),
        ([2, 6, 6, 1], [5, 5], 32, [1, 1], Padding::Valid),
        ([3, 5, 9, 4], [1, 3], 32, [2, 1], Padding::Same),
    ] {
        let attrs = ConvAttrs {
            strides,
            padding,
            layout: Layout::Nhwc,
        };
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
        // Each worker's GEMM packing space comes after its patch block.
        assert!(d.gemm_len() > 0);
        assert_eq!(
            d.scratch_len(),
            threads * (10 * 900 * 27 + d.gemm_len()) + 13 * (27 * 32 + 32)
        );
        let d = conv2.with_threads(threads);
        assert_eq!(d.block_len(), 5 * 169 * 288);
        assert_eq!(
            d.scratch_len(),
            threads * (5 * 169 * 288 + d.gemm_len()) + 26 * (288 * 16 + 16)
        );
    }
    // conv1 (3 channels) runs the direct forward loop, conv2 im2col + GEMM.
    assert!(conv1.direct && !conv2.direct);
    // The chunk never depends on the thread count.
    assert_eq!(conv2.with_threads(3).chunk, conv2.chunk);
    // Whole-batch im2col needed 115200 x 27 and 21632 x 288 elements; the
    // chunks' blocks and partials take 6-10x less, and each worker's GEMM
    // packing space is less than its patch block.
    let patches = |d: ConvDesc| d.scratch_len() - d.threads * d.gemm_len();
    assert!(patches(conv1.with_threads(2)) * 6 < 115_200 * 27);
    assert!(patches(conv2.with_threads(2)) * 10 < 21_632 * 288);
    for d in [conv1, conv2] {
        assert!(d.gemm_len() < d.block_len());
    }
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
