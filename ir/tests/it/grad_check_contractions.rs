//! Finite-difference checks of the VJPs of the contracting and windowed ops:
//! batched matmul, conv2d and the two ops its VJP emits (conv2d_input_grad,
//! conv2d_filter_grad) over both layouts, strides 1/2, valid/same padding and
//! non-square kernels and images, and maxpool2d on tie-free windows. The
//! method is described in `grad_support`.

use crate::grad_support::{
    arg, check, check_guarded, config, conv_data, distinct, layout, numel, padding, param, uniform,
    Out,
};
use proptest::prelude::*;
use triceratops_ir::geometry::image_shape;
use triceratops_ir::{Padding, PoolAttrs};

// ------------------------------------------- matmul, convolution, pooling

fn pool_case() -> impl Strategy<Value = (PoolAttrs, Vec<usize>)> {
    (
        (layout(), padding()),
        (2usize..4, 2usize..4, 1usize..3, 1usize..3),
        (1usize..3, 1usize..3, 1usize..7, 1usize..7),
    )
        .prop_map(|((layout, padding), (wh, ww, sh, sw), (n, c, h, w))| {
            let (h, w) = match padding {
                Padding::Valid => (h.max(wh), w.max(ww)),
                Padding::Same => (h, w),
            };
            let attrs = PoolAttrs {
                window: [wh, ww],
                strides: [sh, sw],
                padding,
                layout,
            };
            (attrs, image_shape([n, h, w, c], layout))
        })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn matmul_op(
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
        which in 1u8..4,
    ) {
        let sa = [batch.clone(), vec![m, k]].concat();
        let sb = [batch.clone(), vec![k, n]].concat();
        let args = [arg("a", &sa, a, which & 1 != 0), arg("b", &sb, b, which & 2 != 0)];
        let what = format!("matmul {sa:?} x {sb:?}");
        check(&what, &args, |g, p| g.matmul(p[0], p[1]))?;
    }

    #[test]
    fn conv2d_op((c, x, w, _) in conv_data(), which in 1u8..4) {
        let args = [arg("image", &c.image, x, which & 1 != 0), arg("filter", &c.filter, w, which & 2 != 0)];
        let what = format!("conv2d {c:?}");
        check(&what, &args, |g, p| g.conv2d(p[0], p[1], c.attrs))?;
    }

    #[test]
    fn conv2d_input_grad_op((c, _, w, dy) in conv_data(), which in 1u8..4) {
        let args = [arg("dy", &c.out, dy, which & 1 != 0), arg("filter", &c.filter, w, which & 2 != 0)];
        let what = format!("conv2d_input_grad {c:?}");
        check(&what, &args, |g, p| g.conv2d_input_grad(p[0], p[1], c.attrs, c.image.clone()))?;
    }

    #[test]
    fn conv2d_filter_grad_op((c, x, _, dy) in conv_data(), which in 1u8..4) {
        let args = [arg("image", &c.image, x, which & 1 != 0), arg("dy", &c.out, dy, which & 2 != 0)];
        let what = format!("conv2d_filter_grad {c:?}");
        check(&what, &args, |g, p| g.conv2d_filter_grad(p[0], p[1], c.attrs, c.filter.clone()))?;
    }

    #[test]
    fn maxpool2d_op(
        ((attrs, shape), x) in pool_case().prop_flat_map(|(a, s)| {
            let n = numel(&s);
            (Just((a, s)), distinct(n))
        }),
    ) {
        let what = format!("maxpool2d {attrs:?} on {shape:?}");
        check_guarded(&what, &[param("x", &shape, x)], |g, p| {
            let mut out = Out::new(g.maxpool2d(p[0], attrs)?);
            out.pools.push((p[0], attrs));
            Ok(out)
        })?;
    }
}
