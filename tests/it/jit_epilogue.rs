//! Epilogue fusion (`backend/jit/plan/epilogue.rs`): which elementwise maps
//! the plan moves into the conv, matmul and pool-gradient calls that
//! produce their input, the relu masks recomputed from the relu output,
//! the cases it must leave alone, and the fused plans' results against the
//! interpreter (and across thread counts).

use crate::jit_support::compiled;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::jit::plan::{ConvKind, Epilogue, Kernel, RowStep};
use triceratops::backend::jit::{kernels_text, plan_graph, Planned};
use triceratops::backend::{Backend, Interpreter, Jit};
use triceratops::compile::{optimize, state_layout, train_step, CompileSpec, Passes};
use triceratops::ir::op::{BinaryOp, CmpOp, ScalarInstr, UnaryOp};
use triceratops::ir::{geometry, ConvAttrs, Graph, Layout, Op, Padding, PoolAttrs, Shape, ValueId};
use triceratops::state::{StateLayout, StateStore};

/// A built-in model's train step (or `seed-cnn-nchw`), optimized and
/// planned as `compile --emit kernels` plans it.
fn model_plan(model: &str, threads: usize) -> Planned {
    let (m, loss, metrics) = crate::passes_train_steps::recipe(model);
    let b = triceratops::models::builtin(model.trim_end_matches("-nchw"))
        .unwrap()
        .unwrap();
    let spec = CompileSpec::new(&m, b.optimizer, loss, &metrics, Passes::On);
    let train = train_step(&m, &spec, b.batch_size).unwrap().0;
    let (optimized, _) = optimize(train, Passes::On).unwrap();
    let layout = state_layout(&optimized).unwrap();
    plan_graph(optimized, &layout, threads).unwrap()
}

fn has(e: &Epilogue, instr: impl Fn(&ScalarInstr) -> bool) -> bool {
    e.map.body.iter().any(instr)
}

fn is_relu(i: &ScalarInstr) -> bool {
    matches!(i, ScalarInstr::Unary(UnaryOp::Relu, _))
}

fn is_select(i: &ScalarInstr) -> bool {
    matches!(i, ScalarInstr::Select(..))
}

fn is_gt(i: &ScalarInstr) -> bool {
    matches!(i, ScalarInstr::Compare(CmpOp::Gt, _, _))
}

/// No standalone map reads `v`.
fn no_map_reads(planned: &Planned, v: ValueId) -> bool {
    !planned
        .memory
        .kernels
        .iter()
        .any(|k| matches!(k, Kernel::Map(m) if m.inputs.iter().any(|a| a.value == v)))
}

/// The seed CNN, in both layouts: each conv's bias + relu runs per chunk
/// inside the conv and writes only the relu output (no mask buffer); each
/// pool gradient runs the backward mask select per image, recomputing the
/// mask from that relu output; no standalone map reads a conv's output.
#[test]
fn seed_cnn_convs_and_pool_gradients_carry_their_maps() {
    for model in ["seed-cnn", "seed-cnn-nchw"] {
        let planned = model_plan(model, 2);
        let kernels = &planned.memory.kernels;
        let text = kernels_text(&planned);
        let mut relu_outputs = Vec::new();
        for k in kernels {
            if let Kernel::Conv {
                kind: ConvKind::Forward,
                desc,
                out,
                epilogue,
                ..
            } = k
            {
                let e = epilogue.as_deref().unwrap_or_else(|| panic!("{text}"));
                assert_eq!(e.map.shape[0], desc.n, "one unit per image");
                assert_eq!(e.from_producer, vec![0], "reads the conv output");
                assert_eq!(e.map.inputs[0].value, *out);
                assert_eq!(e.map.inputs.len(), 2, "the output and the bias");
                assert!(e.map.inputs[1].at.strides.contains(&0), "a broadcast bias");
                assert!(has(e, is_relu), "{text}");
                assert_eq!(e.map.outputs.len(), 1, "only the relu output:\n{text}");
                assert!(no_map_reads(&planned, *out), "{text}");
                relu_outputs.push(e.map.outputs[0].value);
            }
        }
        assert_eq!(relu_outputs.len(), 2, "{model}: two convs");
        let mut selects = 0;
        for k in kernels {
            if let Kernel::MaxPoolGrad {
                desc,
                out,
                epilogue,
                ..
            } = k
            {
                let e = epilogue.as_deref().unwrap_or_else(|| panic!("{text}"));
                assert_eq!(e.map.shape[0], desc.n);
                assert!(has(e, is_select) && has(e, is_gt), "{text}");
                let read: Vec<ValueId> = e.map.inputs.iter().map(|a| a.value).collect();
                assert!(read.contains(out), "{text}");
                assert!(
                    relu_outputs.iter().any(|r| read.contains(r)),
                    "the mask comes from a relu output: {text}"
                );
                selects += 1;
            }
        }
        assert_eq!(selects, 2, "{model}: two pool gradients");
        // No relu map writes a mask (a gt result) any more.
        let maps = kernels.iter().filter_map(|k| match k {
            Kernel::Map(m) => Some(m),
            k => k.epilogue().map(|e| &e.map),
        });
        for m in maps.filter(|m| m.body.iter().any(is_relu)) {
            assert_eq!(m.results.len(), 1, "{text}");
            assert!(!m.body.iter().any(is_gt), "dead compare left: {text}");
        }
        assert!(text.contains("then per unit: map [128, "), "{text}");
    }
}

/// mnist-mlp: the first dense layer's bias + relu runs after its product,
/// the backward select after the product that computes its `dy`, reading
/// the relu output; the second layer's bias add after its product.
#[test]
fn mnist_mlp_products_carry_their_maps() {
    let planned = model_plan("mnist-mlp", 1);
    let kernels = &planned.memory.kernels;
    let text = kernels_text(&planned);
    let products: Vec<(&Epilogue, usize)> = kernels
        .iter()
        .filter_map(|k| match k {
            Kernel::MatMul { desc, epilogue, .. } => epilogue.as_deref().map(|e| (e, desc.n)),
            _ => None,
        })
        .collect();
    let (first, n) = products[0];
    assert_eq!(n, 128);
    // Small products run their epilogue whole, on one thread.
    assert_eq!(first.map.shape, vec![1, 128, 128], "the whole product");
    assert!(
        has(first, is_relu) && first.map.outputs.len() == 1,
        "{text}"
    );
    let hidden = first.map.outputs[0].value;
    let select = products
        .iter()
        .find(|(e, _)| has(e, is_select))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        select.0.map.inputs.iter().any(|a| a.value == hidden),
        "the mask is recomputed from the hidden layer: {text}"
    );
    assert!(has(select.0, is_gt), "{text}");
    // The output layer's bias add is not an epilogue: row fusion runs
    // first and opens the loss's rows kernel with it, so the logits stay in
    // the row loop.
    assert!(
        products.iter().all(|(_, n)| *n != 10),
        "the output layer's bias: {text}"
    );
    let rows = kernels.iter().find_map(|k| match k {
        Kernel::Rows(r) if (r.rows, r.cols) == (128, 10) => Some(r),
        _ => None,
    });
    let opens_with_bias = rows.is_some_and(|r| match r.steps.first() {
        Some(RowStep::Map(m)) => m
            .body
            .iter()
            .any(|i| matches!(i, ScalarInstr::Binary(BinaryOp::Add, ..))),
        _ => false,
    });
    assert!(opens_with_bias, "the loss's rows kernel: {text}");
}

// ---------------------------------------------------------- small graphs

fn empty_layout() -> Arc<StateLayout> {
    Arc::new(StateLayout::new(Vec::new()).unwrap())
}

/// `g` planned, with the fusion passes or without.
fn plan(g: &Graph, passes: Passes) -> Planned {
    let (optimized, _) = optimize(compiled(g), passes).unwrap();
    plan_graph(optimized, &empty_layout(), 2).unwrap()
}

fn epilogues(planned: &Planned) -> usize {
    planned
        .memory
        .kernels
        .iter()
        .filter(|k| k.epilogue().is_some())
        .count()
}

fn random(shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-1.0..1.0))
}

fn run(
    backend: &dyn Backend,
    g: &Graph,
    passes: Passes,
    batch: &[&ArrayD<f32>],
) -> Vec<ArrayD<f32>> {
    let layout = empty_layout();
    let mut store = StateStore::with_layout(Arc::clone(&layout));
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
    let (optimized, _) = optimize(compiled(g), passes).unwrap();
    let mut exe = backend.compile(optimized, &layout).unwrap();
    exe.run(&views, &mut store).unwrap().outputs.to_vec()
}

/// The JIT on 1 and 2 threads gives the same bits, within rounding of the
/// interpreter (contractions reassociate sums).
fn check_results(g: &Graph, passes: Passes, batch: &[&ArrayD<f32>]) {
    let want = run(&Interpreter, g, passes, batch);
    let one = run(&Jit::default(), g, passes, batch);
    let two = run(&Jit::default().with_threads(2), g, passes, batch);
    for ((w, a), b) in want.iter().zip(&one).zip(&two) {
        let bits = |x: &ArrayD<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b), "1 and 2 threads differ");
        for (&w, &a) in w.iter().zip(a.iter()) {
            assert!((w - a).abs() <= 1e-4 * (1.0 + w.abs()), "{a} vs {w}");
        }
    }
}

fn conv_attrs(layout: Layout) -> ConvAttrs {
    ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout,
    }
}

/// `relu(conv2d(x, w) + bias)` in `layout`, 5 images of 6x6x3, 4 output
/// channels.
fn conv_bias_relu(layout: Layout) -> (Graph, Vec<usize>, Vec<usize>) {
    let mut g = Graph::new("conv_bias_relu");
    let x_shape = geometry::image_shape([5, 6, 6, 3], layout);
    let w_shape = match layout {
        Layout::Nhwc => vec![3, 3, 3, 4],
        Layout::Nchw => vec![4, 3, 3, 3],
    };
    let x = g.input("x", x_shape.clone()).unwrap();
    let w = g.input("w", w_shape.clone()).unwrap();
    let bias = g.input("bias", vec![4]).unwrap();
    let y = g.push_op(Op::Conv2d(conv_attrs(layout)), &[x, w]).unwrap();
    let y_shape = g.shape(y).dims().to_vec();
    let channel = match layout {
        Layout::Nhwc => 3,
        Layout::Nchw => 1,
    };
    let b = g
        .push_op(
            Op::Broadcast {
                shape: Shape::new(y_shape),
                dims: vec![channel],
            },
            &[bias],
        )
        .unwrap();
    let z = g.add(y, b).unwrap();
    let r = g.relu(z).unwrap();
    g.add_output("r", r).unwrap();
    (g, x_shape, w_shape)
}

#[test]
fn a_conv_takes_its_bias_and_relu_in_both_layouts() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let (g, x_shape, w_shape) = conv_bias_relu(layout);
        let planned = plan(&g, Passes::On);
        let text = kernels_text(&planned);
        assert!(
            matches!(&planned.memory.kernels[0], Kernel::Conv { epilogue: Some(e), .. }
                if e.map.shape[0] == 5),
            "{layout:?}:\n{text}"
        );
        assert_eq!(planned.memory.kernels.len(), 1, "{text}");
        let (x, w, bias) = (
            random(&x_shape, &mut rng),
            random(&w_shape, &mut rng),
            random(&[4], &mut rng),
        );
        check_results(&g, Passes::On, &[&x, &w, &bias]);
    }
}

/// A pad of a conv's output: its copy map reads the output element for
/// element, but the pad's zero fill runs between the conv and the copy and
/// writes the copy's output, so moving the copy into the conv would have
/// the fill wipe it.
#[test]
fn no_epilogue_across_a_writer_of_its_output() {
    let mut g = Graph::new("conv_pad");
    let x = g.input("x", vec![2, 5, 5, 3]).unwrap();
    let w = g.input("w", vec![3, 3, 3, 4]).unwrap();
    let y = g
        .push_op(Op::Conv2d(conv_attrs(Layout::Nhwc)), &[x, w])
        .unwrap();
    let p = g
        .push_op(
            Op::Pad {
                low: vec![0, 1, 1, 0],
                high: vec![0, 1, 1, 0],
            },
            &[y],
        )
        .unwrap();
    g.add_output("p", p).unwrap();
    let planned = plan(&g, Passes::None);
    let text = kernels_text(&planned);
    assert!(
        matches!(planned.memory.kernels[1], Kernel::Fill { .. }),
        "{text}"
    );
    assert_eq!(epilogues(&planned), 0, "{text}");
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (x, w) = (
        random(&[2, 5, 5, 3], &mut rng),
        random(&[3, 3, 3, 4], &mut rng),
    );
    check_results(&g, Passes::None, &[&x, &w]);
}

/// A map whose other operand is computed after the conv cannot run inside
/// the conv (the operand is not there yet).
#[test]
fn no_epilogue_before_its_operands_exist() {
    let mut g = Graph::new("conv_late_operand");
    let x = g.input("x", vec![2, 5, 5, 3]).unwrap();
    let w = g.input("w", vec![3, 3, 3, 4]).unwrap();
    let u = g.input("u", vec![2, 3, 3, 4]).unwrap();
    let y = g
        .push_op(Op::Conv2d(conv_attrs(Layout::Nhwc)), &[x, w])
        .unwrap();
    let e = g.exp(u).unwrap();
    let z = g.add(y, e).unwrap();
    g.add_output("z", z).unwrap();
    let planned = plan(&g, Passes::None);
    let text = kernels_text(&planned);
    assert_eq!(planned.memory.kernels.len(), 3, "{text}");
    assert_eq!(epilogues(&planned), 0, "{text}");
}

/// Reading the conv output transposed (NHWC into NCHW order) is not
/// element for element: a chunk of images is not a contiguous range of
/// the transposing map's iteration space.
#[test]
fn no_epilogue_for_a_transposed_read() {
    let mut g = Graph::new("conv_transpose");
    let x = g.input("x", vec![2, 5, 5, 3]).unwrap();
    let w = g.input("w", vec![3, 3, 3, 4]).unwrap();
    let y = g
        .push_op(Op::Conv2d(conv_attrs(Layout::Nhwc)), &[x, w])
        .unwrap();
    let t = g
        .push_op(
            Op::Transpose {
                perm: vec![0, 3, 1, 2],
            },
            &[y],
        )
        .unwrap();
    let r = g.relu(t).unwrap();
    g.add_output("r", r).unwrap();
    let planned = plan(&g, Passes::On);
    assert_eq!(epilogues(&planned), 0, "{}", kernels_text(&planned));
}

/// A pool gradient's images are 16 elements; a map over `[2, 32]` (each
/// row two images, a per-row operand broadcast along it) cannot be cut at
/// image boundaries into whole rows, so it stays a separate kernel. The
/// same map per image fuses.
#[test]
fn no_epilogue_when_a_row_spans_several_images() {
    let a = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    for (rows, fused) in [(2, false), (4, true)] {
        let mut g = Graph::new("pool_grad_rows");
        let x = g.input("x", vec![4, 2, 2, 4]).unwrap();
        let dy = g.input("dy", vec![4, 1, 1, 4]).unwrap();
        let v = g.input("v", vec![rows, 1]).unwrap();
        let dx = g.push_op(Op::MaxPool2dGrad(a), &[x, dy]).unwrap();
        let flat = g
            .push_op(
                Op::Reshape {
                    shape: Shape::new(vec![rows, 64 / rows]),
                },
                &[dx],
            )
            .unwrap();
        let vb = g
            .push_op(
                Op::Broadcast {
                    shape: Shape::new(vec![rows, 64 / rows]),
                    dims: vec![0, 1],
                },
                &[v],
            )
            .unwrap();
        let z = g.mul(flat, vb).unwrap();
        g.add_output("z", z).unwrap();
        let planned = plan(&g, Passes::On);
        let text = kernels_text(&planned);
        assert_eq!(epilogues(&planned) == 1, fused, "{rows} rows:\n{text}");
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let batch = [
            random(&[4, 2, 2, 4], &mut rng),
            random(&[4, 1, 1, 4], &mut rng),
            random(&[rows, 1], &mut rng),
        ];
        let refs: Vec<&ArrayD<f32>> = batch.iter().collect();
        check_results(&g, Passes::On, &refs);
    }
}
