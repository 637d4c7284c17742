//! matmul with transposed operands (`transpose_a`, `transpose_b`): shape
//! inference, the interpreter (bit-identical to an explicit `transpose`
//! node, 2-D and batched, f32 and f64), the text form (flags printed only
//! when true, so plain matmuls print as before) and finite-difference
//! checks of the VJP for every flag combination.

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use triceratops_ir::interp::{evaluate, Inputs, Scalar};
use triceratops_ir::op::MatMulAttrs;
use triceratops_ir::testing::Rng;
use triceratops_ir::text::{parse, print};
use triceratops_ir::{Graph, Op, Shape};

use crate::grad_support::{arg, check, config, uniform};
use crate::interp_support::types::{ok, rejects};

fn swap_last(s: &[usize]) -> Vec<usize> {
    let mut s = s.to_vec();
    let r = s.len();
    s.swap(r - 2, r - 1);
    s
}

fn perm_last(rank: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..rank).collect();
    p.swap(rank - 2, rank - 1);
    p
}

#[test]
fn shapes_follow_the_transposed_reading() {
    let t = |a, b| Op::MatMul(MatMulAttrs::new(a, b));
    ok(&t(false, true), &[&[2, 3], &[4, 3]], &[2, 4]);
    ok(&t(true, false), &[&[3, 2], &[3, 4]], &[2, 4]);
    ok(&t(true, true), &[&[3, 2], &[4, 3]], &[2, 4]);
    ok(&t(true, true), &[&[5, 3, 2], &[5, 4, 3]], &[5, 2, 4]);
    ok(
        &t(false, true),
        &[&[7, 5, 2, 3], &[7, 5, 1, 3]],
        &[7, 5, 2, 1],
    );
    rejects(
        &t(false, true),
        &[&[2, 3], &[3, 4]],
        &["contracting", "3 vs 4"],
    );
    rejects(
        &t(true, false),
        &[&[2, 3], &[3, 4]],
        &["contracting", "2 vs 3"],
    );
    rejects(&t(true, true), &[&[5, 3, 2], &[6, 4, 3]], &["batch"]);
    rejects(&t(false, true), &[&[3], &[3]], &["at least 2"]);
}

#[test]
fn flags_print_only_when_set_and_round_trip() {
    let mut g = Graph::new("mm");
    let x = g.input("x", [2, 3]).unwrap();
    let w = g.param("w", [4, 3]).unwrap();
    let v = g.param("v", [2, 4]).unwrap();
    let y = g.matmul_with(x, w, MatMulAttrs::new(false, true)).unwrap();
    let z = g.matmul_with(x, v, MatMulAttrs::new(true, false)).unwrap();
    let p = g.matmul(y, w).unwrap();
    for (name, v) in [("y", y), ("z", z), ("p", p)] {
        g.add_output(name, v).unwrap();
    }
    let text = print(&g);
    assert!(
        text.contains("= matmul %x, %w, transpose_b=true\n"),
        "{text}"
    );
    assert!(
        text.contains("= matmul %x, %v, transpose_a=true\n"),
        "{text}"
    );
    assert!(text.contains("= matmul %3, %w\n"), "{text}");
    let parsed = parse(&text).unwrap();
    assert_eq!(parsed, g);
    assert_eq!(print(&parsed), text);
    // Spelled-out defaults parse to the same op (and print without them).
    let explicit = text.replace(
        "matmul %3, %w",
        "matmul %3, %w, transpose_a=false, transpose_b=false",
    );
    assert_eq!(parse(&explicit).unwrap(), g);
    let err = parse(&text.replace("transpose_b=true", "transpose_b=yes")).unwrap_err();
    assert!(
        err.to_string().contains("expects `true` or `false`"),
        "{err}"
    );
}

/// Random data with exact zeros, signed zeros and non-finite values mixed in.
fn data<T: Scalar>(shape: &[usize], r: &mut Rng) -> ArrayD<T> {
    let special = [0.0, -0.0, f32::INFINITY, f32::NAN, 1e-30, -3.5];
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| match r.below(10) {
            0 => r.pick(&special),
            _ => (r.below(1 << 20) as f32 / (1 << 18) as f32) - 2.0,
        })
        .map(T::from_f32)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// `matmul_with(a, b, flags)` against `matmul(transpose(a), transpose(b))`
/// bit for bit: folding a transpose into the matmul changes no result.
fn folds_bit_identically<T: Scalar>() {
    let mut r = Rng(7);
    for batch in [vec![], vec![3], vec![2, 2]] {
        for (ta, tb) in [(false, true), (true, false), (true, true), (false, false)] {
            let (m, k, n) = (r.range(1, 5), r.range(1, 6), r.range(1, 5));
            let sa = [batch.clone(), vec![m, k]].concat();
            let sb = [batch.clone(), vec![k, n]].concat();
            let stored_a = if ta { swap_last(&sa) } else { sa.clone() };
            let stored_b = if tb { swap_last(&sb) } else { sb.clone() };
            let mut g = Graph::new("fold");
            let a = g.input("a", stored_a.clone()).unwrap();
            let b = g.input("b", stored_b.clone()).unwrap();
            let rank = sa.len();
            let a2 = if ta {
                g.transpose(a, &perm_last(rank)).unwrap()
            } else {
                a
            };
            let b2 = if tb {
                g.transpose(b, &perm_last(rank)).unwrap()
            } else {
                b
            };
            let unfolded = g.matmul(a2, b2).unwrap();
            let folded = g.matmul_with(a, b, MatMulAttrs::new(ta, tb)).unwrap();
            let mut expected = sa[..rank - 2].to_vec();
            expected.extend([m, n]);
            assert_eq!(*g.shape(folded), Shape::new(expected));
            let inputs: Inputs<T> = [
                ("a".to_string(), data::<T>(&stored_a, &mut r)),
                ("b".to_string(), data::<T>(&stored_b, &mut r)),
            ]
            .into_iter()
            .collect();
            let eval = evaluate(&g, &inputs).unwrap();
            let (x, y) = (eval.value(unfolded), eval.value(folded));
            assert_eq!(x.shape(), y.shape());
            for (p, q) in x.iter().zip(y.iter()) {
                let same = p.to_f64().unwrap().to_bits() == q.to_f64().unwrap().to_bits();
                assert!(same, "{ta} {tb} {batch:?}: {p} vs {q}");
            }
        }
    }
}

#[test]
fn folding_a_transpose_is_bit_identical_f32() {
    folds_bit_identically::<f32>();
}

#[test]
fn folding_a_transpose_is_bit_identical_f64() {
    folds_bit_identically::<f64>();
}

#[test]
fn transposed_product_matches_a_hand_computation() {
    // a^T b with a = [[1,2],[3,4],[5,6]] (3x2): a^T = [[1,3,5],[2,4,6]].
    let mut g = Graph::new("hand");
    let a = g.input("a", [3, 2]).unwrap();
    let b = g.input("b", [3, 1]).unwrap();
    let y = g.matmul_with(a, b, MatMulAttrs::new(true, false)).unwrap();
    g.add_output("y", y).unwrap();
    let out = crate::interp_support::eval::run::<f64>(
        &g,
        &[
            ("a", &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ("b", &[3, 1], &[1.0, 10.0, 100.0]),
        ],
    );
    crate::interp_support::eval::expect(&out["y"], &[2, 1], &[531.0, 642.0]);
}

#[test]
fn the_vjp_of_a_transposed_product_adds_no_transpose_node() {
    let mut g = Graph::new("dense");
    let x = g.param("x", [4, 3]).unwrap();
    let w = g.param("w", [5, 3]).unwrap();
    let y = g.matmul_with(x, w, MatMulAttrs::new(false, true)).unwrap();
    let loss = g.reduce_sum(y, &[0, 1], false).unwrap();
    triceratops_ir::grad(&mut g, loss, &[x, w]).unwrap();
    let text = print(&g);
    assert!(!text.contains("transpose %"), "{text}");
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn transposed_matmul_vjp(
        (batch, m, k, n, a, b) in (prop::collection::vec(1usize..3, 0..=2), 1usize..5, 1usize..5, 1usize..5)
            .prop_flat_map(|(batch, m, k, n)| {
                let nb: usize = batch.iter().product();
                (
                    Just(batch),
                    Just(m),
                    Just(k),
                    Just(n),
                    uniform(nb * m * k, -2.0, 2.0),
                    uniform(nb * k * n, -2.0, 2.0),
                )
            }),
        flags in 0u8..4,
        which in 1u8..4,
    ) {
        let attrs = MatMulAttrs::new(flags & 1 != 0, flags & 2 != 0);
        let mut sa = [batch.clone(), vec![m, k]].concat();
        let mut sb = [batch.clone(), vec![k, n]].concat();
        if attrs.transpose_a {
            sa = swap_last(&sa);
        }
        if attrs.transpose_b {
            sb = swap_last(&sb);
        }
        let args = [arg("a", &sa, a, which & 1 != 0), arg("b", &sb, b, which & 2 != 0)];
        let what = format!("matmul {sa:?} x {sb:?} {attrs:?}");
        check(&what, &args, |g, p| g.matmul_with(p[0], p[1], attrs))?;
    }
}
