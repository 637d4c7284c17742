//! matmul: against the interpreter, transposes as strides, empty extents, and
//! the same bits on any thread count.

use super::*;

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
    let mut ws = poisoned(desc.workspace_len());
    runtime::matmul(&desc, data(&a), data(&b), &mut c, &mut ws);
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
#[should_panic(expected = "workspace of a GEMM needs")]
fn matmul_refuses_a_short_workspace() {
    let d = MatMulDesc::new(&[4, 3], &[3, 2], MatMulAttrs::PLAIN);
    let mut ws = vec![0.0; d.workspace_len() - 1];
    runtime::matmul(&d, &[0.0; 12], &[0.0; 6], &mut [0.0; 8], &mut ws);
}

#[test]
#[should_panic(expected = "needs")]
fn matmul_refuses_a_short_operand() {
    let d = MatMulDesc::new(&[4, 3], &[3, 2], MatMulAttrs::PLAIN);
    runtime::matmul(&d, &[0.0; 11], &[0.0; 6], &mut [0.0; 8], &mut []);
}

#[test]
fn matmul_is_the_same_bits_on_1_2_and_3_threads() {
    let cases: [(&[usize], [usize; 3], MatMulAttrs); 5] = [
        (&[], [128, 784, 128], MatMulAttrs::PLAIN),
        (&[2], [256, 400, 300], MatMulAttrs::new(false, true)),
        (&[], [1024, 256, 200], MatMulAttrs::new(false, true)),
        // Transposed `a` (mnist-mlp's dw1).
        (&[], [784, 128, 128], MatMulAttrs::new(true, false)),
        // Below the threshold: one thread whatever the descriptor says.
        (&[], [128, 128, 10], MatMulAttrs::PLAIN),
    ];
    let mut parallel = 0;
    for (i, (batch, [m, k, n], attrs)) in cases.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
        let [a_shape, b_shape] = matmul_shapes(batch, [m, k, n], attrs);
        let (a, b) = (random(&a_shape, &mut rng), random(&b_shape, &mut rng));
        let d = MatMulDesc::new(&a_shape, &b_shape, attrs);
        let splits = d.with_threads(2).parallel();
        parallel += usize::from(splits);
        let run = |threads: usize| {
            let d = d.with_threads(threads);
            assert_eq!(d.gemm_threads(), if splits { threads } else { 1 });
            let mut c = poisoned(d.c_len());
            let mut ws = poisoned(d.workspace_len());
            within(threads, || {
                runtime::matmul(&d, data(&a), data(&b), &mut c, &mut ws)
            });
            bits(&c)
        };
        let one = run(1);
        for threads in [2, 3] {
            let what = format!("{a_shape:?} x {b_shape:?} on {threads} threads");
            assert!(run(threads) == one, "{what}");
        }
        let d2 = d.with_threads(2);
        let mut c = poisoned(d2.c_len());
        let mut ws = poisoned(d2.workspace_len());
        within(2, || {
            runtime::matmul(&d2, data(&a), data(&b), &mut c, &mut ws)
        });
        let want = oracle(Op::MatMul(attrs), &[&a, &b]);
        let bound = oracle(Op::MatMul(attrs), &[&abs(&a), &abs(&b)]);
        assert_close(&format!("{a_shape:?} x {b_shape:?}"), &c, &want, &bound);
    }
    // The first four split; the last stays on one thread.
    assert_eq!(parallel, 4);
}
