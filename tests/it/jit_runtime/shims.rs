//! The C-ABI shims: every symbol once, the same results as the safe
//! routines, null pointers for empty buffers.

use super::*;

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
    let mut ws = poisoned(d.workspace_len());
    runtime::matmul(&d, data(&a), data(&b), &mut c1, &mut ws);
    let (a_at, b_at) = (data(&a).as_ptr(), data(&b).as_ptr());
    // SAFETY: each buffer holds exactly the extent `d` gives it.
    unsafe { runtime::tri_matmul(&d, a_at, b_at, c2.as_mut_ptr(), ws.as_mut_ptr()) };
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
    unsafe { runtime::tri_matmul(&d, null, null, null, null) };
}
