//! The egg passes on real train steps: interpreter(before) and
//! interpreter(after) agree bit for bit over several steps (each step's
//! updates fed back as the next step's state) for linreg, mnist-mlp and
//! seed-cnn (channels_last and channels_first) with every optimizer variant
//! in both conventions; each parameter's update (new param and every slot)
//! produced by exactly one multi-result fused kernel; the layout pass
//! transposes no weight and leaves mnist-mlp no transpose; training with
//! passes on and off; the optimized mnist-mlp Adam, seed-cnn RMSprop and
//! channels_first seed-CNN SGD steps as snapshots; the CLI's `--emit
//! optimized` and `--passes none`.

use std::collections::HashMap;
use std::sync::Arc;

use triceratops::compile::{optimize, train_step, CompileSpec, CompiledGraph, Passes};
use triceratops::ir::interp::{evaluate, Inputs};
use triceratops::ir::testing::random_inputs;
use triceratops::ir::text::print;
use triceratops::ir::{Graph, Op, Role};
use triceratops::keras::layers::DataFormat;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Conv2D, Dense, Flatten, MaxPooling2D, Sequential};
use triceratops::models::builtin;

use crate::cli_support::ok;

/// Every optimizer variant the front end builds.
pub(crate) fn optimizers(c: Convention) -> Vec<(&'static str, Optimizer)> {
    vec![
        ("sgd", Optimizer::sgd(c)),
        ("momentum", Optimizer::momentum(c, 0.9)),
        ("nesterov", Optimizer::nesterov(c, 0.9)),
        ("adagrad", Optimizer::adagrad(c)),
        ("rmsprop", Optimizer::rmsprop(c)),
        (
            "rmsprop-centered",
            Optimizer::rmsprop(c).with_centered(true),
        ),
        ("rmsprop-momentum", Optimizer::rmsprop(c).with_momentum(0.9)),
        ("adam", Optimizer::adam(c)),
        ("amsgrad", Optimizer::adam(c).with_amsgrad(true)),
        ("adamw", Optimizer::adamw(c)),
    ]
}

/// A built-in model, or `seed-cnn-nchw`: the seed CNN in channels_first.
pub(crate) fn recipe(model: &str) -> (Sequential, Loss, Vec<Metric>) {
    if model == "seed-cnn-nchw" {
        let first = DataFormat::ChannelsFirst;
        let mut m = Sequential::new("seed_cnn_nchw", &[3, 32, 32]);
        m.add(
            Conv2D::new(32, (3, 3))
                .activation(Activation::Relu)
                .data_format(first),
        )
        .unwrap();
        m.add(MaxPooling2D::new((2, 2)).data_format(first)).unwrap();
        m.add(
            Conv2D::new(16, (3, 3))
                .activation(Activation::Relu)
                .data_format(first),
        )
        .unwrap();
        m.add(MaxPooling2D::new((2, 2)).data_format(first)).unwrap();
        m.add(Flatten::new()).unwrap();
        m.add(Dense::new(10).activation(Activation::Softmax))
            .unwrap();
        let b = builtin("seed-cnn").unwrap().unwrap();
        return (m, b.loss, b.metrics);
    }
    let b = builtin(model).unwrap().unwrap();
    (b.model, b.loss, b.metrics)
}

fn compiled(model: &str, optimizer: Optimizer, batch: usize) -> CompiledGraph {
    let (model, loss, metrics) = recipe(model);
    let spec = CompileSpec::new(&model, optimizer, loss, &metrics, Passes::None);
    train_step(&model, &spec, batch).unwrap().0
}

/// Runs `steps` steps of both graphs from the same random inputs, feeding
/// each graph's updates back, and compares every output and update bits.
fn same_steps(before: &CompiledGraph, after: &CompiledGraph, seed: u64, steps: usize, what: &str) {
    let mut a: Inputs<f32> = random_inputs(&before.graph, seed);
    let mut b = a.clone();
    for step in 0..steps {
        let (ra, rb) = (
            evaluate(&before.graph, &a).unwrap(),
            evaluate(&after.graph, &b).unwrap(),
        );
        for (name, _) in before.graph.outputs() {
            let (x, y) = (ra.output(name).unwrap(), rb.output(name).unwrap());
            let same = x
                .iter()
                .zip(y.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{what}, step {step}: output {name} differs");
        }
        let ua: HashMap<&str, _> = ra.updates().map(|(n, v)| (n, v.to_owned())).collect();
        let ub: HashMap<&str, _> = rb.updates().map(|(n, v)| (n, v.to_owned())).collect();
        assert_eq!(ua.len(), ub.len(), "{what}");
        for (name, x) in &ua {
            let y = &ub[name];
            let same = x
                .iter()
                .zip(y.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{what}, step {step}: update of {name} differs");
        }
        for (name, x) in ua {
            a.insert(name.to_string(), x);
        }
        for (name, y) in ub {
            b.insert(name.to_string(), y);
        }
    }
}

fn check_model(model: &str, batch: usize, steps: usize) {
    for c in [Convention::Keras, Convention::PyTorch] {
        for (name, opt) in optimizers(c) {
            let before = compiled(model, opt, batch);
            let (after, report) = optimize(before.clone(), Passes::On).unwrap();
            let report = report.unwrap();
            assert!(!report.hit_limit(), "{model} {name}: {report}");
            assert!(
                report.phases.iter().all(|p| p.conflicts == 0),
                "{model} {name}: {report}"
            );
            assert!(
                report.phases.iter().any(|p| p.rule_set == "layout"),
                "{report}"
            );
            let last = report.phases.last().unwrap();
            assert!(
                last.cost_after.total() <= report.phases[0].cost_before.total(),
                "{report}"
            );
            let what = format!("{model} {name} {c:?}");
            assert_one_update_kernel_per_param(&after.graph, &what);
            same_steps(&before, &after, 11, steps, &what);
        }
    }
}

/// Every parameter's update and the updates of its slots (state arguments
/// named `<param>.<slot>`) are sibling nodes of one fused kernel — same
/// kernel, same operands, distinct results — whose results are exactly
/// those values, and the parameter's gradient is one of its operands,
/// materialized once and also read by the `finite` guard.
fn assert_one_update_kernel_per_param(g: &Graph, what: &str) {
    for p in g.args(Role::Param) {
        let name = g.value_name(p);
        let prefix = format!("{name}.");
        let mut targets = vec![p];
        targets.extend(
            g.args(Role::State)
                .filter(|&s| g.value_name(s).starts_with(&prefix)),
        );
        let mut kernel = None;
        let mut results = Vec::new();
        for &t in &targets {
            let v = g.update_of(t).unwrap();
            let node = g.node(v);
            let Some(Op::Fused { kernel: k, result }) = node.op() else {
                panic!(
                    "{what}: the update of {} is not fused:\n{}",
                    g.value_name(t),
                    print(g)
                );
            };
            let (k0, ops0) = kernel.get_or_insert((k, node.operands()));
            assert!(
                Arc::ptr_eq(k0, k) && *ops0 == node.operands(),
                "{what}: {name}'s updates come from different kernels:\n{}",
                print(g)
            );
            results.push(*result);
        }
        let (k, operands) = kernel.unwrap();
        results.sort();
        results.dedup();
        assert_eq!(results.len(), targets.len(), "{what}: {name}");
        assert_eq!(k.results.len(), targets.len(), "{what}: {name}: {k:?}");
        let grad = g.lookup(&format!("grad.{name}"));
        assert!(
            grad.is_some_and(|gr| operands.contains(&gr)),
            "{what}: {name}'s update kernel does not read grad.{name}:\n{}",
            print(g)
        );
        // The gradient is materialized once (a contraction or reduction,
        // not a kernel result) and the `finite` guard reads it too.
        let grad = grad.unwrap();
        assert!(
            !matches!(g.node(grad).op(), Some(Op::Fused { .. })),
            "{what}: grad.{name}"
        );
        let guard_reads = g.ids().any(|v| {
            g.node(v).operands().contains(&grad)
                && !matches!(g.node(v).op(), Some(Op::Fused { kernel, .. }) if Arc::ptr_eq(kernel, k))
        });
        assert!(
            guard_reads,
            "{what}: nothing but the update reads grad.{name}"
        );
    }
}

#[test]
fn linreg_steps_are_bit_identical() {
    check_model("linreg", 8, 4);
}

#[test]
fn mnist_mlp_steps_are_bit_identical() {
    check_model("mnist-mlp", 4, 3);
}

#[test]
fn seed_cnn_steps_are_bit_identical() {
    check_model("seed-cnn", 2, 2);
}

#[test]
fn seed_cnn_channels_first_steps_are_bit_identical() {
    check_model("seed-cnn-nchw", 2, 2);
}

#[test]
fn optimized_mnist_mlp_adam_train_step() {
    let before = compiled("mnist-mlp", Optimizer::adam(Convention::Keras), 4);
    let (after, _) = optimize(before, Passes::On).unwrap();
    insta::assert_snapshot!(print(&after.graph));
}

#[test]
fn optimized_seed_cnn_rmsprop_train_step() {
    let before = compiled("seed-cnn", Optimizer::rmsprop(Convention::Keras), 2);
    let (after, _) = optimize(before, Passes::On).unwrap();
    insta::assert_snapshot!(print(&after.graph));
}

#[test]
fn emit_optimized_prints_graph_and_report() {
    let out = ok(&["compile", "--model", "linreg", "--emit", "optimized"]);
    assert!(out.contains("graph linreg.train_step {"), "{out}");
    assert!(out.contains("%loss"), "{out}");
    assert!(out.contains("algebra"), "{out}");
    assert!(out.contains("numerics"), "{out}");
    assert!(out.contains("fusion"), "{out}");
    assert!(out.contains("fused"), "{out}");
    assert!(out.contains("saturated"), "{out}");
    let off = ok(&[
        "compile",
        "--model",
        "linreg",
        "--emit",
        "optimized",
        "--passes",
        "none",
    ]);
    assert!(off.contains("passes: none"), "{off}");
}

#[test]
fn training_with_passes_on_and_off_is_bit_identical() {
    use ndarray::{ArrayD, IxDyn};
    use triceratops::backend::Interpreter;
    use triceratops::Model;

    let b = builtin("mnist-mlp").unwrap().unwrap();
    let train = |passes: Passes| {
        let mut m = Model::new(
            b.model.clone(),
            Optimizer::adam(Convention::Keras),
            b.loss,
            &b.metrics,
            Box::new(Interpreter),
            3,
        )
        .unwrap();
        m.set_passes(passes);
        let mut logs = Vec::new();
        for step in 0..3u64 {
            let inputs = random_inputs::<f32>(
                &compiled("mnist-mlp", Optimizer::adam(Convention::Keras), 8).graph,
                step,
            );
            let x = inputs["x"].mapv(f32::abs);
            let mut y = ArrayD::zeros(IxDyn(&[8, 10]));
            for i in 0..8 {
                y[[i, (i * 7 + step as usize) % 10]] = 1.0;
            }
            let l = m.train_on_batch(x, y).unwrap();
            logs.push(l.loss.to_bits());
        }
        let state: Vec<u32> = (0..m.state().len())
            .flat_map(|i| {
                m.state()
                    .slice(i)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            })
            .collect();
        (logs, state)
    };
    assert_eq!(train(Passes::On), train(Passes::None));
}

/// The live `transpose` ops of `g`, and how many of them read a value
/// computed only from params (and literals).
fn transposes(g: &triceratops::ir::Graph) -> (usize, usize) {
    use triceratops::ir::analysis::live_values;
    use triceratops::ir::{NodeKind, Op, Role};
    let live = live_values(g);
    // Whether each value depends on a param and on no input or state.
    let mut from_params: Vec<Option<bool>> = Vec::new();
    let mut all = 0;
    let mut of_params = 0;
    for id in g.ids() {
        let node = g.node(id);
        let p = match &node.kind {
            NodeKind::Arg(Role::Param) => Some(true),
            NodeKind::Arg(_) => Some(false),
            NodeKind::Op { operands, .. } => {
                let ps: Vec<Option<bool>> =
                    operands.iter().map(|v| from_params[v.index()]).collect();
                if ps.contains(&Some(false)) {
                    Some(false)
                } else if ps.contains(&Some(true)) {
                    Some(true)
                } else {
                    None
                }
            }
            _ => None,
        };
        from_params.push(p);
        if let NodeKind::Op {
            op: Op::Transpose { .. },
            operands,
        } = &node.kind
        {
            if live[id.index()] {
                all += 1;
                if from_params[operands[0].index()] == Some(true) {
                    of_params += 1;
                }
            }
        }
    }
    (all, of_params)
}

#[test]
fn layout_moves_no_weight_and_folds_dense_transposes() {
    for (model, batch) in [("mnist-mlp", 4), ("seed-cnn", 2), ("seed-cnn-nchw", 2)] {
        for (name, opt) in [
            ("sgd", Optimizer::sgd(Convention::Keras)),
            ("rmsprop", Optimizer::rmsprop(Convention::Keras)),
            ("adam", Optimizer::adam(Convention::PyTorch)),
        ] {
            let before = compiled(model, opt, batch);
            let (after, report) = optimize(before.clone(), Passes::On).unwrap();
            let report = report.unwrap();
            let (b, bp) = transposes(&before.graph);
            let (a, ap) = transposes(&after.graph);
            eprintln!("{model} {name}: transposes {b} ({bp} of params) -> {a} ({ap} of params)");
            assert_eq!(ap, 0, "{model} {name}: a weight is transposed\n{report}");
            // channels_first keeps the input's transpose, the one before
            // the Flatten (its NCHW feature order) and that one's gradient;
            // the bias gradients sum the NHWC activation gradient.
            let most = if model == "seed-cnn-nchw" { 3 } else { 0 };
            assert!(a <= most, "{model} {name}: {}", print(&after.graph));
        }
    }
}

#[test]
fn optimized_seed_cnn_channels_first_train_step() {
    let before = compiled("seed-cnn-nchw", Optimizer::sgd(Convention::Keras), 2);
    let (after, _) = optimize(before, Passes::On).unwrap();
    insta::assert_snapshot!(print(&after.graph));
}
