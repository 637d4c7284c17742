//! maxpool2d and its gradient against the interpreter, bit for bit.

use super::*;

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
