//! The runtime seam: a compiled graph's typed signature survives passes or
//! the pass is refused; a backend binds state once and batch arrays by
//! position, refuses another model's store and wrong batches, and writes
//! updates into the store in place — all of them as of the step's start
//! (swaps, one value for two targets, `p <- p`), and none when the `finite`
//! guard is not exactly 1.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use triceratops::backend::{Backend, Interpreter, Jit};

/// Every backend meets the same contract.
const BACKENDS: [&dyn Backend; 2] = [&Interpreter, &Jit::new()];
use triceratops::compile::{
    updated_args, ArgRole, ArgSpec, CompiledGraph, OutputRole, OutputSpec, Signature,
};
use triceratops::ir::{canonicalize, Graph, NodeKind, ValueId};
use triceratops::state::{StateKind, StateLayout, StateStore};
use triceratops::Error;

/// The signature of `g`, with `roles` for its arguments and `outputs` for
/// its outputs, in order.
fn signature(g: &Graph, roles: &[ArgRole], outputs: &[OutputRole]) -> Signature {
    let args: Vec<ValueId> = g.arguments().collect();
    assert_eq!(args.len(), roles.len(), "test bug: one role per argument");
    Signature {
        name: g.name().to_string(),
        args: args
            .iter()
            .zip(roles)
            .map(|(&v, &role)| ArgSpec {
                name: g.value_name(v).to_string(),
                role,
                ty: g.ty(v).clone(),
            })
            .collect(),
        outputs: g
            .outputs()
            .iter()
            .zip(outputs)
            .map(|((name, v), &role)| OutputSpec {
                name: name.clone(),
                role,
                ty: g.ty(*v).clone(),
            })
            .collect(),
        updated: updated_args(g),
    }
}

/// The store for the state arguments of `sig`, all zeros.
fn layout(sig: &Signature) -> Arc<StateLayout> {
    let entries = sig.state_args().map(|(_, a)| {
        let ArgRole::State(kind) = a.role else {
            unreachable!()
        };
        (a.name.clone(), kind, a.ty.shape.clone())
    });
    Arc::new(StateLayout::new(entries).unwrap())
}

const SLOT: ArgRole = ArgRole::State(StateKind::Slot);
const PARAM: ArgRole = ArgRole::State(StateKind::Param);

/// `x: input [2]`, `w: param [2]`, `m: state [2]`; `loss = sum(x * w)`,
/// `finite` from the test, updates `w <- w - x`, `m <- m + x`.
fn train_like(finite: f32) -> Graph {
    let mut g = Graph::new("step");
    let x = g.input("x", [2]).unwrap();
    let w = g.param("w", [2]).unwrap();
    let m = g.state("m", [2]).unwrap();
    let xw = g.mul(x, w).unwrap();
    let loss = g.reduce_sum(xw, &[0], false).unwrap();
    let flag = g.scalar(finite).unwrap();
    g.add_output("loss", loss).unwrap();
    g.add_output("finite", flag).unwrap();
    let w_new = g.sub(w, x).unwrap();
    let m_new = g.add(m, x).unwrap();
    g.add_update(w, w_new).unwrap();
    g.add_update(m, m_new).unwrap();
    g
}

fn train_sig(g: &Graph) -> Signature {
    signature(
        g,
        &[ArgRole::X, PARAM, SLOT],
        &[OutputRole::Loss, OutputRole::Finite],
    )
}

fn problem(err: Error) -> String {
    match err {
        Error::Signature { problem, .. } => problem,
        other => panic!("expected Error::Signature, got {other:?}"),
    }
}

#[test]
fn a_pass_must_keep_the_calling_convention() {
    let g = train_like(1.0);
    let compiled = CompiledGraph::new(g.clone(), train_sig(&g)).unwrap();
    // canonicalize keeps it.
    let c = compiled
        .clone()
        .rewrite("canonicalize", canonicalize)
        .unwrap();
    assert_eq!(c.signature, compiled.signature);

    // Arguments declared in another order.
    let reordered = |_: &Graph| {
        let mut h = Graph::new("step");
        let w = h.param("w", [2]).unwrap();
        let x = h.input("x", [2]).unwrap();
        let m = h.state("m", [2]).unwrap();
        let xw = h.mul(x, w).unwrap();
        let loss = h.reduce_sum(xw, &[0], false).unwrap();
        let one = h.scalar(1.0).unwrap();
        h.add_output("loss", loss).unwrap();
        h.add_output("finite", one).unwrap();
        h.add_update(w, xw).unwrap();
        h.add_update(m, xw).unwrap();
        h
    };
    let p = problem(compiled.clone().rewrite("reorder", reordered).unwrap_err());
    assert!(
        p.contains("pass `reorder` broke the calling convention"),
        "{p}"
    );
    assert!(p.contains("argument 0 is param %w"), "{p}");

    // An update dropped.
    let drop_update = |g: &Graph| {
        let mut parts = g.clone().into_parts();
        parts.updates.pop();
        Graph::from_parts(parts).unwrap()
    };
    let p = problem(compiled.clone().rewrite("drop", drop_update).unwrap_err());
    assert!(
        p.contains("updates arguments [1], the signature says [1, 2]"),
        "{p}"
    );

    // An output renamed, and the guard made a vector.
    let rename = |g: &Graph| {
        let mut parts = g.clone().into_parts();
        parts.outputs[0].0 = "cost".into();
        Graph::from_parts(parts).unwrap()
    };
    let p = problem(compiled.clone().rewrite("rename", rename).unwrap_err());
    assert!(p.contains("output 0 is cost"), "{p}");
    let mut wide = train_like(1.0);
    let x = wide.lookup("x").unwrap();
    let mut parts = wide.clone().into_parts();
    parts.outputs[1].1 = x;
    wide = Graph::from_parts(parts).unwrap();
    let mut sig = train_sig(&wide);
    sig.outputs[1].ty = wide.ty(x).clone();
    let p = problem(CompiledGraph::new(wide, sig).unwrap_err());
    assert!(p.contains("`finite` is not a scalar"), "{p}");

    // An unused argument removed (a naive DCE would).
    let mut unused = Graph::new("u");
    let x = unused.input("x", [2]).unwrap();
    unused.param("spare", [3]).unwrap();
    let y = unused.neg(x).unwrap();
    unused.add_output("y_pred", y).unwrap();
    let sig = signature(&unused, &[ArgRole::X, PARAM], &[OutputRole::Prediction]);
    let without = |g: &Graph| {
        let mut parts = g.clone().into_parts();
        parts.nodes.remove(1);
        for node in &mut parts.nodes {
            if let NodeKind::Op { operands, .. } = &mut node.kind {
                for v in operands.iter_mut().filter(|v| v.index() > 1) {
                    *v = ValueId::new(v.index() - 1);
                }
            }
        }
        parts.outputs[0].1 = ValueId::new(1);
        Graph::from_parts(parts).unwrap()
    };
    let c = CompiledGraph::new(unused, sig).unwrap();
    let p = problem(c.rewrite("dce", without).unwrap_err());
    assert!(p.contains("1 arguments, the signature has 2"), "{p}");
}

#[test]
fn state_is_bound_once_by_name_kind_and_shape() {
    let g = train_like(1.0);
    let sig = train_sig(&g);
    let compile = |layout: &Arc<StateLayout>| {
        for backend in BACKENDS {
            let other =
                backend.compile(CompiledGraph::new(g.clone(), sig.clone()).unwrap(), layout);
            assert_eq!(
                other.is_ok(),
                Interpreter
                    .compile(CompiledGraph::new(g.clone(), sig.clone()).unwrap(), layout)
                    .is_ok(),
                "{}",
                backend.name()
            );
        }
        Jit::default().compile(CompiledGraph::new(g.clone(), sig.clone()).unwrap(), layout)
    };
    assert!(compile(&layout(&sig)).is_ok());
    let missing = Arc::new(StateLayout::new([("w".into(), StateKind::Param, [2].into())]).unwrap());
    let p = problem(compile(&missing).err().unwrap());
    assert!(p.contains("no entry `m`"), "{p}");
    let wrong_kind = Arc::new(
        StateLayout::new([
            ("w".into(), StateKind::Param, [2].into()),
            ("m".into(), StateKind::Param, [2].into()),
        ])
        .unwrap(),
    );
    let p = problem(compile(&wrong_kind).err().unwrap());
    assert!(
        p.contains("state `m` is Param [2], the graph needs Slot [2]"),
        "{p}"
    );
    let wrong_shape = Arc::new(
        StateLayout::new([
            ("w".into(), StateKind::Param, [3].into()),
            ("m".into(), StateKind::Slot, [2].into()),
        ])
        .unwrap(),
    );
    assert!(compile(&wrong_shape).is_err());
}

#[test]
fn runs_check_the_store_and_the_batch_before_computing() {
    for backend in BACKENDS {
        runs_check_before_computing(backend);
    }
}

fn runs_check_before_computing(backend: &dyn Backend) {
    let g = train_like(1.0);
    let sig = train_sig(&g);
    let layout = layout(&sig);
    let mut exe = backend
        .compile(CompiledGraph::new(g, sig.clone()).unwrap(), &layout)
        .unwrap();
    let x = ArrayD::from_elem(IxDyn(&[2]), 1.0f32);
    // Another model's store, even of the same layout.
    let mut foreign = StateStore::zeros(
        StateLayout::new(
            layout
                .entries()
                .iter()
                .map(|e| (e.name.clone(), e.kind, e.shape.clone())),
        )
        .unwrap(),
    );
    let p = problem(exe.run(&[x.view()], &mut foreign).unwrap_err());
    assert!(p.contains("another model's state"), "{p}");
    // The executable's own layout: batch count and shapes are checked.
    let mut own = own_store(&layout);
    let p = problem(exe.run(&[], &mut own).unwrap_err());
    assert!(p.contains("takes 1 batch arrays (x), got 0"), "{p}");
    let wrong = ArrayD::zeros(IxDyn(&[3]));
    match exe.run(&[wrong.view()], &mut own).unwrap_err() {
        Error::BatchShape {
            arg,
            expected,
            found,
        } => assert_eq!((arg.as_str(), expected, found), ("x", vec![2], vec![3])),
        other => panic!("expected Error::BatchShape, got {other:?}"),
    }
    assert!(
        own.as_slice().iter().all(|&v| v == 0.0),
        "nothing was written"
    );
}

/// A store that shares the executable's layout (what `Model` does).
fn own_store(layout: &Arc<StateLayout>) -> StateStore {
    StateStore::with_layout(Arc::clone(layout))
}

/// Runs `g` once on every backend; they must leave identical stores and
/// agree on committing. Returns the interpreter's.
fn run_once(
    g: Graph,
    roles: &[ArgRole],
    outputs: &[OutputRole],
    init: &[(&str, &[f32])],
) -> (StateStore, bool) {
    let runs: Vec<(StateStore, bool)> = BACKENDS
        .iter()
        .map(|&backend| run_once_on(backend, g.clone(), roles, outputs, init))
        .collect();
    for (backend, (state, committed)) in BACKENDS.iter().zip(&runs).skip(1) {
        let name = backend.name();
        assert_eq!(*committed, runs[0].1, "{name} commits as the interpreter");
        let same = state
            .as_slice()
            .iter()
            .zip(runs[0].0.as_slice())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "{name} leaves the store as the interpreter: {:?} vs {:?}",
            state.as_slice(),
            runs[0].0.as_slice()
        );
    }
    runs.into_iter().next().expect("the interpreter ran")
}

fn run_once_on(
    backend: &dyn Backend,
    g: Graph,
    roles: &[ArgRole],
    outputs: &[OutputRole],
    init: &[(&str, &[f32])],
) -> (StateStore, bool) {
    let sig = signature(&g, roles, outputs);
    let layout = layout(&sig);
    let mut exe = backend
        .compile(CompiledGraph::new(g, sig.clone()).unwrap(), &layout)
        .unwrap();
    let mut state = own_store(&layout);
    for (name, values) in init {
        let i = state.index_of(name).unwrap();
        state.slice_mut(i).copy_from_slice(values);
    }
    let batch: Vec<ArrayD<f32>> = sig
        .batch_args()
        .map(|(_, a)| ArrayD::from_elem(IxDyn(a.ty.shape.dims()), 1.0))
        .collect();
    let views: Vec<ArrayViewD<f32>> = batch.iter().map(|a| a.view()).collect();
    let out = exe.run(&views, &mut state).unwrap();
    (state, out.committed)
}

#[test]
fn updates_read_the_state_as_of_the_step_start() {
    // a <- b, b <- a, c <- c, d <- a + 1 (also an output), e <- a + 1.
    let mut g = Graph::new("swap");
    let a = g.state("a", [2]).unwrap();
    let b = g.state("b", [2]).unwrap();
    let c = g.state("c", [2]).unwrap();
    let d = g.state("d", [2]).unwrap();
    let e = g.state("e", [2]).unwrap();
    let one = g.scalar(1.0).unwrap();
    let a1 = g.add(a, one).unwrap();
    g.add_output("a1", a1).unwrap();
    for (target, value) in [(a, b), (b, a), (c, c), (d, a1), (e, a1)] {
        g.add_update(target, value).unwrap();
    }
    let roles = [SLOT; 5];
    let (state, committed) = run_once(
        g,
        &roles,
        &[OutputRole::Metric],
        &[("a", &[1.0, 2.0]), ("b", &[3.0, 4.0]), ("c", &[5.0, 6.0])],
    );
    assert!(committed);
    let get = |n: &str| {
        state
            .view(n)
            .unwrap()
            .to_owned()
            .into_raw_vec_and_offset()
            .0
    };
    assert_eq!(get("a"), [3.0, 4.0]);
    assert_eq!(get("b"), [1.0, 2.0], "the old a, not the new one");
    assert_eq!(get("c"), [5.0, 6.0]);
    assert_eq!(get("d"), [2.0, 3.0]);
    assert_eq!(get("e"), [2.0, 3.0]);
}

#[test]
fn only_an_exact_one_commits_the_updates() {
    for (flag, commits) in [(1.0, true), (0.0, false), (f32::NAN, false), (0.5, false)] {
        let g = train_like(flag);
        let (state, committed) = run_once(
            g,
            &[ArgRole::X, PARAM, SLOT],
            &[OutputRole::Loss, OutputRole::Finite],
            &[("w", &[5.0, 5.0])],
        );
        assert_eq!(committed, commits, "finite = {flag}");
        let w = state.view("w").unwrap().to_owned();
        let expected = if commits { 4.0 } else { 5.0 };
        assert!(w.iter().all(|&v| v == expected), "finite = {flag}: w = {w}");
        let m = state.view("m").unwrap().to_owned();
        assert!(m.iter().all(|&v| v == if commits { 1.0 } else { 0.0 }));
    }
}
