//! Max pooling in the JIT: the forward recording its winners and the
//! gradient scattering from them (the path a train step takes when the plan
//! pairs the two) against the recomputing gradient and the interpreter, bit
//! for bit on data full of ties, NaN and infinities; the same results for
//! any thread count; and the plan of the seed CNN giving each pool pair an
//! auxiliary arena buffer.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::plan::memory::Owner;
use triceratops::backend::jit::plan::Kernel;
use triceratops::backend::jit::runtime::{self, PoolDesc};
use triceratops::backend::jit::{kernels_text, plan_graph};
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::ir::interp::evaluate_args;
use triceratops::ir::{geometry, Graph, Layout, Op, Padding, PoolAttrs};
use triceratops::state::{StateLayout, StateStore};

use crate::jit_runtime::{from_palette, layouts, paddings, PALETTE};
use crate::jit_support::{builtin_plan, compiled};

/// Random gradients, so a different summation order would show.
fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-1.0..1.0))
}

fn data(x: &ArrayD<f32>) -> &[f32] {
    x.as_slice().expect("test arrays are row-major")
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

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

/// Every routine's result for one pool: y (plain and recording), dx
/// (recomputing and scattering), as bits.
struct Results {
    y: Vec<u32>,
    y_recorded: Vec<u32>,
    dx: Vec<u32>,
    dx_scattered: Vec<u32>,
}

/// Runs every routine for `d` on `x` and `dy` (buffers poisoned with NaN,
/// so an element a routine forgets shows).
fn routines(d: &PoolDesc, x: &[f32], dy: &[f32]) -> Results {
    let mut y = vec![f32::NAN; d.output_len()];
    runtime::maxpool2d(d, x, &mut y);
    let mut y_recorded = vec![f32::NAN; d.output_len()];
    // Poisoned too: every tap number must be written.
    let mut argmax = vec![0xa5u8; d.argmax_bytes()];
    runtime::maxpool2d_argmax(d, x, &mut y_recorded, &mut argmax);
    let mut dx = vec![f32::NAN; d.image_len()];
    runtime::maxpool2d_grad(d, x, dy, &mut dx);
    let mut dx_scattered = vec![f32::NAN; d.image_len()];
    runtime::maxpool2d_grad_argmax(d, &argmax, dy, &mut dx_scattered);
    Results {
        y: bits(&y),
        y_recorded: bits(&y_recorded),
        dx: bits(&dx),
        dx_scattered: bits(&dx_scattered),
    }
}

/// `routines` inside a rayon pool of `threads` threads, the descriptor
/// asking for as many.
fn routines_on(threads: usize, d: &PoolDesc, x: &[f32], dy: &[f32]) -> Results {
    let d = d.with_threads(threads);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| routines(&d, x, dy))
}

fn check(nhwc: [usize; 4], attrs: PoolAttrs, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shape = geometry::image_shape(nhwc, attrs.layout);
    let x = from_palette(&shape, &mut rng);
    let d = PoolDesc::new(&shape, attrs);
    let want_y = oracle(Op::MaxPool2d(attrs), &[&x]);
    // Random gradients show a different summation order; palette ones
    // (signed zeros, infinities, and the NaN `inf - inf` makes) what the
    // scatter adds where a tap did not win. No NaN in `dy` itself: which
    // payload `NaN + NaN` keeps is unspecified in Rust (LLVM may commute
    // the operands), in the interpreter as here.
    let dys = [
        random(want_y.shape(), &mut rng),
        ArrayD::from_shape_simple_fn(IxDyn(want_y.shape()), || {
            PALETTE[rng.random_range(0..PALETTE.len() - 2)]
        }),
    ];
    let want_y = bits(data(&want_y));
    for (k, dy) in dys.iter().enumerate() {
        let what = format!("{nhwc:?} {attrs:?} dy {k}");
        check_with(&d, &x, dy, &want_y, attrs, &what);
    }
}

fn check_with(
    d: &PoolDesc,
    x: &ArrayD<f32>,
    dy: &ArrayD<f32>,
    want_y: &[u32],
    attrs: PoolAttrs,
    what: &str,
) {
    let want_dx = oracle(Op::MaxPool2dGrad(attrs), &[x, dy]);
    let want_dx = bits(data(&want_dx));
    let one = routines(d, data(x), data(dy));
    assert_eq!(one.y, want_y, "maxpool2d {what}");
    assert_eq!(one.y_recorded, want_y, "maxpool2d recording {what}");
    assert_eq!(one.dx, want_dx, "maxpool2d_grad {what}");
    assert_eq!(
        one.dx_scattered, want_dx,
        "maxpool2d_grad from argmax {what}"
    );
    for threads in [2, 3] {
        let many = routines_on(threads, d, data(x), data(dy));
        assert_eq!(many.y, want_y, "{threads} threads: maxpool2d {what}");
        assert_eq!(
            many.y_recorded, want_y,
            "{threads} threads: recording {what}"
        );
        assert_eq!(many.dx, want_dx, "{threads} threads: grad {what}");
        assert_eq!(
            many.dx_scattered, want_dx,
            "{threads} threads: grad from argmax {what}"
        );
    }
}

fn attrs(window: [usize; 2], strides: [usize; 2], padding: Padding, layout: Layout) -> PoolAttrs {
    PoolAttrs {
        window,
        strides,
        padding,
        layout,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn argmax_path_matches_recompute_and_the_interpreter(
        n in 1usize..=5,
        h in 3usize..=7,
        w in 3usize..=7,
        c in 1usize..=5,
        k in 1usize..=2,
        stride in 1usize..=2,
        padding in paddings(),
        layout in layouts(),
        seed: u64,
    ) {
        // k = 2, 3: windows of 4 or 9 taps; strides 1 (overlapping windows,
        // summed gradients) and 2; `same` puts taps in the padding.
        let k = k + 1;
        check([n, h, w, c], attrs([k, k], [stride, stride], padding, layout), seed);
    }
}

#[test]
fn argmax_path_covers_both_layouts_paddings_and_strides() {
    let mut seed = 0;
    for layout in [Layout::Nhwc, Layout::Nchw] {
        for padding in [Padding::Valid, Padding::Same] {
            for stride in [1, 2] {
                for window in [[2, 2], [3, 2], [1, 3]] {
                    seed += 1;
                    let a = attrs(window, [stride, stride], padding, layout);
                    check([7, 6, 5, 3], a, seed);
                }
            }
        }
    }
}

#[test]
fn wide_windows_record_taps_in_two_bytes() {
    // 17 x 16 = 272 taps do not fit a u8.
    let a = attrs([17, 16], [1, 1], Padding::Same, Layout::Nhwc);
    let d = PoolDesc::new(&[2, 17, 16, 2], a);
    assert_eq!(d.tap_bytes(), 2);
    assert_eq!(d.argmax_bytes(), 2 * 17 * 16 * 2 * 2);
    assert_eq!(d.argmax_len(), d.argmax_bytes().div_ceil(4));
    check([2, 17, 16, 2], a, 5);
    let small = PoolDesc::new(
        &[3, 5, 5, 1],
        attrs([2, 2], [2, 2], Padding::Same, Layout::Nhwc),
    );
    assert_eq!(small.tap_bytes(), 1);
    // 3 images x 3 x 3 outputs = 27 bytes: 7 f32 elements.
    assert_eq!(small.argmax_len(), 7);
}

#[test]
fn empty_extents_leave_nothing_to_record() {
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let a = attrs([2, 2], [1, 1], Padding::Same, layout);
        check([0, 3, 3, 2], a, 1);
        check([2, 3, 3, 0], a, 2);
    }
}

#[test]
fn argmax_shims_agree_with_the_safe_routines() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let a = attrs([3, 2], [2, 2], Padding::Same, Layout::Nchw);
    let d = PoolDesc::new(&[2, 3, 5, 4], a);
    let x = from_palette(&[2, 3, 5, 4], &mut rng);
    let dy = random(&[2, 3, 3, 2], &mut rng);
    assert_eq!(dy.len(), d.output_len());
    let safe = routines(&d, data(&x), data(&dy));
    let mut y = vec![f32::NAN; d.output_len()];
    let mut argmax = vec![f32::NAN; d.argmax_len()];
    let mut dx = vec![f32::NAN; d.image_len()];
    // SAFETY: each buffer holds exactly the extent `d` gives it (the argmax
    // in f32 elements), and the outputs are distinct vectors.
    unsafe {
        runtime::tri_maxpool2d_argmax(&d, data(&x).as_ptr(), y.as_mut_ptr(), argmax.as_mut_ptr());
        runtime::tri_maxpool2d_grad_argmax(
            &d,
            argmax.as_ptr(),
            data(&dy).as_ptr(),
            dx.as_mut_ptr(),
        );
    }
    assert_eq!(bits(&y), safe.y);
    assert_eq!(bits(&dx), safe.dx);
    let symbols = runtime::symbols();
    for name in ["tri_maxpool2d_argmax", "tri_maxpool2d_grad_argmax"] {
        assert!(
            symbols.iter().any(|(n, p)| *n == name && !p.is_null()),
            "{name}"
        );
    }
}

// ------------------------------------------------------- graphs and plans

/// A pool of `x` and, when `forward`, its output; the gradient of the pool
/// at `dy`. Outputs: `y` (when `forward`), `dx`.
fn pool_graph(shape: &[usize], dy_shape: &[usize], a: PoolAttrs, forward: bool) -> Graph {
    let mut g = Graph::new("pool");
    let x = g.input("x", shape.to_vec()).unwrap();
    let dy = g.input("dy", dy_shape.to_vec()).unwrap();
    if forward {
        let y = g.push_op(Op::MaxPool2d(a), &[x]).unwrap();
        g.add_output("y", y).unwrap();
    }
    let dx = g.push_op(Op::MaxPool2dGrad(a), &[x, dy]).unwrap();
    g.add_output("dx", dx).unwrap();
    g
}

fn run(backend: &dyn Backend, g: &Graph, batch: &[&ArrayD<f32>]) -> Vec<Vec<u32>> {
    let layout = Arc::new(StateLayout::new(Vec::new()).unwrap());
    let mut store = StateStore::with_layout(Arc::clone(&layout));
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
    let mut exe = backend.compile(compiled(g), &layout).unwrap();
    let out = exe.run(&views, &mut store).unwrap();
    out.outputs
        .iter()
        .map(|o| bits(o.as_slice().unwrap()))
        .collect()
}

#[test]
fn jit_pools_match_the_interpreter_with_and_without_a_forward() {
    let mut seed = 100;
    for layout in [Layout::Nhwc, Layout::Nchw] {
        for (padding, stride) in [(Padding::Same, 1), (Padding::Valid, 2), (Padding::Same, 2)] {
            seed += 1;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let a = attrs([2, 3], [stride, stride], padding, layout);
            let shape = geometry::image_shape([3, 7, 6, 4], layout);
            let x = from_palette(&shape, &mut rng);
            let d = PoolDesc::new(&shape, a);
            let dy_shape = geometry::image_shape([3, d.oh, d.ow, 4], layout);
            let dy = random(&dy_shape, &mut rng);
            for forward in [true, false] {
                let g = pool_graph(&shape, &dy_shape, a, forward);
                let want = run(&Interpreter, &g, &[&x, &dy]);
                for threads in [1, 2] {
                    let got = run(&Jit::default().with_threads(threads), &g, &[&x, &dy]);
                    assert_eq!(got, want, "{a:?}, forward {forward}, {threads} threads");
                }
                // The plan records winners exactly when a forward exists.
                let layout = StateLayout::new(Vec::new()).unwrap();
                let planned = plan_graph(compiled(&g), &layout, 1).unwrap();
                let text = kernels_text(&planned);
                assert_eq!(text.contains("winners argmax0"), forward, "{text}");
            }
        }
    }
}

#[test]
fn seed_cnn_pool_pairs_get_an_aux_buffer() {
    let planned = builtin_plan("seed-cnn", 1);
    let plan = &planned.memory;
    let mut forwards = Vec::new();
    let mut grads = Vec::new();
    for (p, k) in plan.kernels.iter().enumerate() {
        match k {
            Kernel::MaxPool { argmax, desc, .. } => forwards.push((p, *argmax, *desc)),
            Kernel::MaxPoolGrad { argmax, desc, .. } => grads.push((p, *argmax, *desc)),
            _ => {}
        }
    }
    assert_eq!(forwards.len(), 2, "two pools");
    assert_eq!(grads.len(), 2, "two pool gradients");
    for &(p, argmax, desc) in &forwards {
        let a = argmax.unwrap_or_else(|| panic!("k{p} records its winners"));
        let (g, _, _) = grads
            .iter()
            .find(|g| g.1 == Some(a))
            .unwrap_or_else(|| panic!("a gradient reads argmax{a}"));
        assert!(p < *g, "the forward runs before its gradient");
        assert_eq!(desc.tap_bytes(), 1, "2x2 windows: one byte per tap");
        let buffer = plan
            .arena
            .iter()
            .find(|b| b.owner == Owner::Aux(a))
            .expect("the aux buffer is in the arena");
        assert_eq!(buffer.len, desc.argmax_len());
        assert_eq!(
            buffer.live,
            (p, *g),
            "live from the forward to the gradient"
        );
        assert_eq!(buffer.offset, plan.aux_at[a]);
        assert!(buffer.offset + buffer.len <= plan.arena_len);
    }
    // Every buffer live at once has its own bytes, aux buffers included.
    for (i, a) in plan.arena.iter().enumerate() {
        for b in &plan.arena[i + 1..] {
            let meet = a.live.0 <= b.live.1 && b.live.0 <= a.live.1;
            let overlap = a.offset < b.offset + b.len && b.offset < a.offset + a.len;
            assert!(
                !(meet && overlap && a.len > 0 && b.len > 0),
                "{a:?} and {b:?}"
            );
        }
    }
    let text = kernels_text(&planned);
    for a in 0..2 {
        assert!(text.contains(&format!("  argmax{a}: ")), "listed:\n{text}");
        assert!(
            text.contains(&format!("winners argmax{a}@arena+")),
            "{text}"
        );
    }
}

#[test]
fn the_plan_carries_the_thread_count_to_the_pools() {
    let planned = builtin_plan("seed-cnn", 3);
    for k in &planned.memory.kernels {
        if let Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } = k {
            assert_eq!(desc.threads, 3);
        }
    }
}

// Each conv layer's bias gradient is summed inside its filter gradient
// (one pass over the layer's dy instead of two): no reduction of a conv's
// dy is left in the plan, and both filter gradients name their bias.
#[test]
fn seed_cnn_bias_gradients_fold_into_the_filter_gradients() {
    let planned = builtin_plan("seed-cnn", 1);
    let kernels = &planned.memory.kernels;
    let filter_grads: Vec<_> = kernels
        .iter()
        .filter_map(|k| match k {
            Kernel::Conv {
                kind: triceratops::backend::jit::plan::ConvKind::FilterGrad,
                b,
                bias,
                ..
            } => Some((*b, *bias)),
            _ => None,
        })
        .collect();
    assert_eq!(filter_grads.len(), 2);
    for (dy, bias) in filter_grads {
        let db = bias.expect("the bias gradient is fused");
        assert!(planned.graph.value_name(db).starts_with("grad.conv2d"));
        assert!(
            !kernels
                .iter()
                .any(|k| matches!(k, Kernel::Reduce(r) if r.input == dy)),
            "a reduction of the conv's dy is left"
        );
    }
    let text = kernels_text(&planned);
    assert!(text.contains("bias grad %grad.conv2d.bias"), "{text}");
    assert!(text.contains("bias grad %grad.conv2d_1.bias"), "{text}");
}
