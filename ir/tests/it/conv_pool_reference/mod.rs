//! conv2d, its two gradients, maxpool2d and its gradient checked against a
//! naive direct-loop reference written here, in f64, for many geometries in
//! both layouts. The reference shares nothing with the crate: its own
//! padding arithmetic (TensorFlow rules), its own index math, and NCHW/OIHW
//! handled by explicit transposition loops.

mod reference;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use reference::*;
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{Graph, Layout};

// ------------------------------------------------------ interpreter runs

fn array(shape: &[usize], data: Vec<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

fn flat<'a>(a: impl Into<ndarray::ArrayViewD<'a, f64>>) -> Vec<f64> {
    a.into().iter().copied().collect()
}

struct ConvOut {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
}

/// Runs conv2d, conv2d_input_grad and conv2d_filter_grad in `layout` on
/// NHWC/HWIO data (converted in and out), returning NHWC/HWIO results.
fn interp_conv(g: &Geo, layout: Layout, x: &[f64], w: &[f64], dy: &[f64]) -> ConvOut {
    let xd = [g.n, g.h, g.w, g.c];
    let wd = [g.kh, g.kw, g.c, g.o];
    let yd = [g.n, g.rows().0, g.cols().0, g.o];
    let (xs, ws, ys) = (
        image_shape(xd, layout),
        filter_shape(wd, layout),
        image_shape(yd, layout),
    );
    let attrs = g.conv_attrs(layout);
    let mut graph = Graph::new("conv");
    let vx = graph.input("x", xs.clone()).unwrap();
    let vw = graph.param("w", ws.clone()).unwrap();
    let vdy = graph.input("dy", ys.clone()).unwrap();
    let y = graph.conv2d(vx, vw, attrs).unwrap();
    assert_eq!(
        graph.shape(y).dims(),
        ys.as_slice(),
        "conv2d shape for {g:?}"
    );
    let dx = graph.conv2d_input_grad(vdy, vw, attrs, xs.clone()).unwrap();
    let dw = graph
        .conv2d_filter_grad(vx, vdy, attrs, ws.clone())
        .unwrap();
    graph.add_output("y", y).unwrap();
    graph.add_output("dx", dx).unwrap();
    graph.add_output("dw", dw).unwrap();
    let w_in = match layout {
        Layout::Nhwc => w.to_vec(),
        Layout::Nchw => hwio_to_oihw(w, wd),
    };
    let inputs: Inputs<f64> = [
        ("x".to_string(), array(&xs, image_to(layout, x, xd))),
        ("w".to_string(), array(&ws, w_in)),
        ("dy".to_string(), array(&ys, image_to(layout, dy, yd))),
    ]
    .into_iter()
    .collect();
    let eval = evaluate::<f64>(&graph, &inputs).unwrap();
    let dw = flat(eval.output("dw").unwrap());
    ConvOut {
        y: image_from(layout, &flat(eval.output("y").unwrap()), yd),
        dx: image_from(layout, &flat(eval.output("dx").unwrap()), xd),
        dw: match layout {
            Layout::Nhwc => dw,
            Layout::Nchw => oihw_to_hwio(&dw, wd),
        },
    }
}

/// Runs maxpool2d and maxpool2d_grad in `layout` on NHWC data.
fn interp_pool(g: &Geo, layout: Layout, x: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let xd = [g.n, g.h, g.w, g.c];
    let yd = [g.n, g.rows().0, g.cols().0, g.c];
    let (xs, ys) = (image_shape(xd, layout), image_shape(yd, layout));
    let attrs = g.pool_attrs(layout);
    let mut graph = Graph::new("pool");
    let vx = graph.input("x", xs.clone()).unwrap();
    let vdy = graph.input("dy", ys.clone()).unwrap();
    let y = graph.maxpool2d(vx, attrs).unwrap();
    assert_eq!(
        graph.shape(y).dims(),
        ys.as_slice(),
        "maxpool2d shape for {g:?}"
    );
    let dx = graph.maxpool2d_grad(vx, vdy, attrs).unwrap();
    graph.add_output("y", y).unwrap();
    graph.add_output("dx", dx).unwrap();
    let inputs: Inputs<f64> = [
        ("x".to_string(), array(&xs, image_to(layout, x, xd))),
        ("dy".to_string(), array(&ys, image_to(layout, dy, yd))),
    ]
    .into_iter()
    .collect();
    let eval = evaluate::<f64>(&graph, &inputs).unwrap();
    (
        image_from(layout, &flat(eval.output("y").unwrap()), yd),
        image_from(layout, &flat(eval.output("dx").unwrap()), xd),
    )
}

#[track_caller]
fn assert_close(what: &str, g: &Geo, layout: Layout, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what} length, {layout:?} {g:?}");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= tol * scale,
            "{what}[{i}] = {a}, reference {b} ({layout:?} {g:?})"
        );
    }
}

fn check_conv(g: &Geo, x: &[f64], w: &[f64], dy: &[f64]) {
    let y = ref_conv(g, x, w);
    let dx = ref_conv_input_grad(g, dy, w);
    let dw = ref_conv_filter_grad(g, x, dy);
    let mut outs = Vec::new();
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let out = interp_conv(g, layout, x, w, dy);
        assert_close("conv2d", g, layout, &out.y, &y, 1e-12);
        assert_close("conv2d_input_grad", g, layout, &out.dx, &dx, 1e-12);
        assert_close("conv2d_filter_grad", g, layout, &out.dw, &dw, 1e-12);
        outs.push(out);
    }
    // NCHW results are the NHWC results transposed (both brought to NHWC).
    assert_close(
        "nchw vs nhwc y",
        g,
        Layout::Nchw,
        &outs[1].y,
        &outs[0].y,
        1e-13,
    );
    assert_close(
        "nchw vs nhwc dx",
        g,
        Layout::Nchw,
        &outs[1].dx,
        &outs[0].dx,
        1e-13,
    );
    assert_close(
        "nchw vs nhwc dw",
        g,
        Layout::Nchw,
        &outs[1].dw,
        &outs[0].dw,
        1e-13,
    );
}

fn check_pool(g: &Geo, x: &[f64], dy: &[f64]) {
    let y = ref_pool(g, x);
    let dx = ref_pool_grad(g, x, dy);
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (py, pdx) = interp_pool(g, layout, x, dy);
        // Max selects an element: exact equality.
        assert_eq!(py, y, "maxpool2d {layout:?} {g:?}");
        assert_close("maxpool2d_grad", g, layout, &pdx, &dx, 1e-14);
    }
}

/// Deterministic pseudo-random values in [-1, 1) (a 64-bit LCG).
fn lcg_values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// Distinct values (a shifted range of integers) in a scrambled order.
fn distinct_values(len: usize, seed: u64) -> Vec<f64> {
    let mut v: Vec<f64> = (0..len).map(|i| i as f64 - len as f64 / 2.0).collect();
    // Fisher-Yates with the LCG.
    let r = lcg_values(len, seed);
    for i in (1..len).rev() {
        let j = (((r[i] + 1.0) / 2.0) * (i + 1) as f64) as usize;
        v.swap(i, j.min(i));
    }
    v
}

// -------------------------------------------------- self-check of the reference

#[test]
fn reference_matches_hand_computed_values() {
    // The reference itself against numbers worked out by hand, so a bug in
    // it cannot hide an identical bug in the interpreter.
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let w = [1.0, 2.0, 3.0, 4.0];
    let g = Geo {
        n: 1,
        h: 3,
        w: 3,
        c: 1,
        o: 1,
        kh: 2,
        kw: 2,
        sh: 1,
        sw: 1,
        same: false,
    };
    assert_eq!(ref_conv(&g, &x, &w), [37.0, 47.0, 67.0, 77.0]);
    assert_eq!(
        ref_conv_input_grad(&g, &[1.0; 4], &w),
        [1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0]
    );
    assert_eq!(
        ref_conv_filter_grad(&g, &x, &[1.0; 4]),
        [12.0, 16.0, 24.0, 28.0]
    );
    let same = Geo { same: true, ..g };
    assert_eq!(
        ref_conv(&same, &x, &w),
        [37.0, 47.0, 21.0, 67.0, 77.0, 33.0, 23.0, 26.0, 9.0]
    );
    let box3 = Geo {
        kh: 3,
        kw: 3,
        same: true,
        ..g
    };
    assert_eq!(
        ref_conv(&box3, &x, &[1.0; 9]),
        [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0]
    );
    assert_eq!(axis(5, 3, 2, true), (3, 1));
    assert_eq!(axis(6, 3, 2, true), (3, 0));
    assert_eq!(axis(4, 2, 2, true), (2, 0));
    assert_eq!(axis(7, 3, 2, false), (3, 0));
    let neg: Vec<f64> = x.iter().map(|v| -v).collect();
    assert_eq!(ref_pool(&same, &neg), neg);
    // Layout conversions invert each other and move the right element.
    let v: Vec<f64> = (0..24).map(f64::from).collect();
    let d = [2, 3, 2, 2];
    assert_eq!(nchw_to_nhwc(&nhwc_to_nchw(&v, d), d), v);
    assert_eq!(oihw_to_hwio(&hwio_to_oihw(&v, d), d), v);
    // NHWC [b=0,y=1,x=0,c=1] (index 5) is NCHW [0,1,1,0] (index 8).
    assert_eq!(nhwc_to_nchw(&v, d)[8], 5.0);
    // HWIO [p=0,q=1,c=1,o=0] (index 6) is OIHW [o=0,c=1,p=0,q=1] (index 7).
    assert_eq!(hwio_to_oihw(&v, d)[7], 6.0);
}

// -------------------------------------------------------- deterministic sweep

#[test]
fn sweep_of_geometries() {
    let mut count = 0u64;
    for &(h, w) in &[(1, 3), (4, 4), (5, 7), (8, 6)] {
        for kh in 1..=4 {
            for kw in 1..=4 {
                for &(sh, sw) in &[(1, 1), (2, 2), (3, 3), (1, 2), (3, 1)] {
                    for same in [false, true] {
                        if !same && (kh > h || kw > w) {
                            continue;
                        }
                        count += 1;
                        let (n, c, o) = (1 + count as usize % 2, 1 + count as usize % 3, 2);
                        let g = Geo {
                            n,
                            h,
                            w,
                            c,
                            o,
                            kh,
                            kw,
                            sh,
                            sw,
                            same,
                        };
                        let x = lcg_values(g.x_len(), count);
                        let wv = lcg_values(g.w_len(), count + 1000);
                        let dy = lcg_values(g.y_len(), count + 2000);
                        check_conv(&g, &x, &wv, &dy);
                        let x = distinct_values(g.x_len(), count);
                        let pdy = lcg_values(g.pool_len(), count + 3000);
                        check_pool(&g, &x, &pdy);
                    }
                }
            }
        }
    }
    assert!(count > 250, "{count} geometries");
}

// ------------------------------------------------------------- explicit ties

#[test]
fn maxpool_ties_go_to_the_first_maximum() {
    // 3x3 image of equal values, 3x3 window, stride 1, same (pad 1 around):
    // window (i,j)'s first in-image tap is (max(i-1,0), max(j-1,0)).
    let g = Geo {
        n: 1,
        h: 3,
        w: 3,
        c: 1,
        o: 1,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        same: true,
    };
    let x = [2.0; 9];
    let dy = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let want = [12.0, 9.0, 0.0, 15.0, 9.0, 0.0, 0.0, 0.0, 0.0];
    assert_eq!(ref_pool_grad(&g, &x, &dy), want);
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (y, dx) = interp_pool(&g, layout, &x, &dy);
        assert_eq!(y, [2.0; 9]);
        assert_eq!(dx, want, "{layout:?}");
    }
    // 2x2 window stride 1 valid on all-equal 3x3: each window's top-left.
    let g2 = Geo {
        kh: 2,
        kw: 2,
        same: false,
        ..g
    };
    let dy2 = [1.0, 2.0, 3.0, 4.0];
    let want2 = [1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0];
    for layout in [Layout::Nhwc, Layout::Nchw] {
        assert_eq!(interp_pool(&g2, layout, &x, &dy2).1, want2, "{layout:?}");
    }
    // A tie between later taps: row [1, 5, 5] then [5, 0, 0] in a 2x3
    // window: the first 5 in row-major order is (0, 1).
    let g3 = Geo {
        h: 2,
        kh: 2,
        kw: 3,
        ..g2
    };
    let x3 = [1.0, 5.0, 5.0, 5.0, 0.0, 0.0];
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (y, dx) = interp_pool(&g3, layout, &x3, &[1.0]);
        assert_eq!(y, [5.0]);
        assert_eq!(dx, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0], "{layout:?}");
    }
    // Each channel ties between pixels (0,0) and (1,1); the first wins.
    let g4 = Geo {
        h: 2,
        w: 2,
        c: 2,
        ..g2
    };
    let x4 = [3.0, 1.0, 0.0, 0.0, 0.0, 0.0, 3.0, 1.0];
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (y, dx) = interp_pool(&g4, layout, &x4, &[10.0, 20.0]);
        assert_eq!(y, [3.0, 1.0]);
        assert_eq!(dx, [10.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "{layout:?}");
    }
}

// ------------------------------------------------------------- properties

fn geo_strategy() -> impl Strategy<Value = Geo> {
    (
        (1usize..=3, 1usize..=9, 1usize..=9, 1usize..=4, 1usize..=4),
        (
            1usize..=4,
            1usize..=4,
            1usize..=3,
            1usize..=3,
            any::<bool>(),
        ),
    )
        .prop_map(|((n, h, w, c, o), (kh, kw, sh, sw, same))| {
            let (kh, kw) = if same {
                (kh, kw)
            } else {
                (kh.min(h), kw.min(w))
            };
            Geo {
                n,
                h,
                w,
                c,
                o,
                kh,
                kw,
                sh,
                sw,
                same,
            }
        })
}

fn values(len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1.0f64..1.0, len)
}

fn conv_case() -> impl Strategy<Value = (Geo, Vec<f64>, Vec<f64>, Vec<f64>)> {
    geo_strategy().prop_flat_map(|g| {
        (
            Just(g),
            values(g.x_len()),
            values(g.w_len()),
            values(g.y_len()),
        )
    })
}

/// Distinct values (a shuffled arithmetic sequence) so the max is unique.
fn pool_case() -> impl Strategy<Value = (Geo, Vec<f64>, Vec<f64>)> {
    geo_strategy().prop_flat_map(|g| {
        let distinct: Vec<f64> = (0..g.x_len()).map(|i| i as f64 * 0.25 - 3.0).collect();
        (Just(g), Just(distinct).prop_shuffle(), values(g.pool_len()))
    })
}

/// Values from {-1, 0, 1}: many ties, resolved by the first-maximum rule.
fn tied_pool_case() -> impl Strategy<Value = (Geo, Vec<f64>, Vec<f64>)> {
    geo_strategy().prop_flat_map(|g| {
        (
            Just(g),
            prop::collection::vec((-1i32..=1).prop_map(f64::from), g.x_len()),
            values(g.pool_len()),
        )
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn abs_dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn conv2d_and_gradients_match_reference((g, x, w, dy) in conv_case()) {
        check_conv(&g, &x, &w, &dy);
    }

    #[test]
    fn maxpool2d_and_gradient_match_reference((g, x, dy) in pool_case()) {
        check_pool(&g, &x, &dy);
    }

    #[test]
    fn maxpool2d_ties_match_reference((g, x, dy) in tied_pool_case()) {
        check_pool(&g, &x, &dy);
    }

    /// <conv2d(x, w), dy> == <x, conv2d_input_grad(dy, w)> == <w, conv2d_filter_grad(x, dy)>,
    /// on the interpreter alone (no reference involved), in both layouts.
    #[test]
    fn conv2d_gradients_are_adjoint((g, x, w, dy) in conv_case(), nchw in any::<bool>()) {
        let layout = if nchw { Layout::Nchw } else { Layout::Nhwc };
        let out = interp_conv(&g, layout, &x, &w, &dy);
        let a = dot(&out.y, &dy);
        let b = dot(&x, &out.dx);
        let c = dot(&w, &out.dw);
        // Relative to the magnitude of the summed terms (the sums may cancel).
        let scale = abs_dot(&out.y, &dy).max(abs_dot(&x, &out.dx)).max(1e-300);
        prop_assert!((a - b).abs() <= 1e-9 * scale, "<y,dy> = {a}, <x,dx> = {b} ({g:?})");
        prop_assert!((a - c).abs() <= 1e-9 * scale, "<y,dy> = {a}, <w,dw> = {c} ({g:?})");
    }
}
