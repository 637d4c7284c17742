//! The Graph API: names, outputs, updates, renaming, automatic names and
//! the verifier on built graphs (dead-code elimination, liveness and
//! Graphviz are in `graph_dce_and_dot`).

use ndarray::{ArrayD, IxDyn};
use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::{
    verify, CmpOp, ConvAttrs, Graph, IrError, Layout, NodeKind, Op, Padding, PoolAttrs, Role,
    TensorType, Update, ValueId,
};

pub(crate) fn t(dims: &[usize]) -> TensorType {
    TensorType::f32(dims.to_vec())
}

#[track_caller]
fn graph_err<T: std::fmt::Debug>(r: triceratops_ir::Result<T>, needles: &[&str]) -> String {
    match r {
        Err(
            e @ (IrError::InvalidName { .. }
            | IrError::DuplicateName { .. }
            | IrError::DuplicateOutput { .. }
            | IrError::UnknownValue { .. }
            | IrError::BadConstant { .. }
            | IrError::TooLarge { .. }
            | IrError::BadUpdate { .. }
            | IrError::Malformed { .. }),
        ) => {
            let msg = e.to_string();
            for n in needles {
                assert!(msg.contains(n), "`{msg}` should contain `{n}`");
            }
            msg
        }
        other => panic!("expected a graph error, got {other:?}"),
    }
}

/// The elements of const node `v`.
fn const_data(g: &Graph, v: ValueId) -> Vec<f32> {
    g.const_value(v).unwrap().to_vec(g.ty(v).numel())
}

// -------------------------------------------------------------------- names

#[test]
fn graph_names_are_sanitized() {
    assert_eq!(Graph::new("mlp").name(), "mlp");
    assert_eq!(Graph::new("my net/v2").name(), "my_net_v2");
    assert_eq!(Graph::new("a.b-c_1").name(), "a.b-c_1");
    let g = Graph::new("x");
    assert!(g.is_empty());
    assert_eq!(g.len(), 0);
}

#[test]
fn duplicate_value_names_are_rejected() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    graph_err(g.input("x", [3]), &["duplicate", "%x"]);
    graph_err(g.param("x", [2]), &["duplicate", "%x"]);
    graph_err(g.state("x", [2]), &["duplicate"]);
    graph_err(g.constant("x", t(&[1]), vec![1.0]), &["duplicate", "%x"]);
    graph_err(
        g.push_named_op("x", Op::pow(2.0), &[x]),
        &["duplicate", "%x"],
    );
    // Nothing was added by the failures.
    assert_eq!(g.len(), 1);
    assert_eq!(g.lookup("x"), Some(x));
    assert_eq!(*g.ty(x), t(&[2]));
}

#[test]
fn invalid_names_are_rejected() {
    let mut g = Graph::new("g");
    for bad in ["", "a b", "x%", "%x", "é", "a,b", "a:b", "a\n", "(x)"] {
        graph_err(g.input(bad, [1]), &["invalid name"]);
    }
    assert!(g.is_empty());
    for good in ["x", "X9", "a.b-c_1", "0", "_", "-", ".", "layer1.weight"] {
        g.input(good, [1])
            .unwrap_or_else(|e| panic!("`{good}`: {e}"));
    }
    let x = g.lookup("x").unwrap();
    graph_err(
        g.push_named_op("bad name", Op::pow(1.0), &[x]),
        &["invalid name"],
    );
    graph_err(g.constant("", t(&[]), vec![0.0]), &["invalid name"]);
    graph_err(g.add_output("y y", x), &["invalid name"]);
    graph_err(g.add_output("", x), &["invalid name"]);
    graph_err(g.rename(x, "no way"), &["invalid name"]);
    verify(&g).unwrap();
}

#[test]
fn constants_must_match_their_type() {
    let mut g = Graph::new("g");
    graph_err(
        g.constant("k", t(&[2, 2]), vec![1.0, 2.0, 3.0]),
        &["%k", "f32[2,2]", "4", "3"],
    );
    graph_err(g.tensor([3], vec![]), &["3", "0"]);
    assert!(g.is_empty());
    let k = g
        .constant("k", t(&[2, 2]), vec![1.0, 2.0, 3.0, 4.0])
        .unwrap();
    assert_eq!(const_data(&g, k), vec![1.0, 2.0, 3.0, 4.0]);
    let s = g.scalar(2.5).unwrap();
    assert_eq!(*g.ty(s), t(&[]));
    assert_eq!(const_data(&g, s), vec![2.5]);
}

#[test]
fn args_by_role_in_declaration_order() {
    let mut g = Graph::new("g");
    let x = g.input("x", [1]).unwrap();
    let w = g.param("w", [1]).unwrap();
    let m = g.state("m", [1]).unwrap();
    let y = g.input("y", [1]).unwrap();
    let b = g.param("b", [1]).unwrap();
    let s = g.add(x, y).unwrap();
    assert_eq!(g.args(Role::Input).collect::<Vec<_>>(), [x, y]);
    assert_eq!(g.args(Role::Param).collect::<Vec<_>>(), [w, b]);
    assert_eq!(g.args(Role::State).collect::<Vec<_>>(), [m]);
    assert_eq!(g.node(w).kind, NodeKind::Arg(Role::Param));
    assert_eq!(g.node(s).operands(), &[x, y]);
    assert_eq!(g.node(x).operands(), &[] as &[ValueId]);
    assert_eq!(g.node(x).op(), None);
    assert_eq!(
        g.ids().collect::<Vec<_>>(),
        (0..6).map(ValueId::new).collect::<Vec<_>>()
    );
    assert_eq!(Role::Input.name(), "input");
    assert_eq!(Role::Param.name(), "param");
    assert_eq!(Role::State.name(), "state");
}

// ---------------------------------------------------------- automatic names

#[test]
fn automatic_op_names_are_node_indices() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    let a = g.neg(x).unwrap();
    let b = g.exp(a).unwrap();
    assert_eq!(g.value_name(a), "1");
    assert_eq!(g.value_name(b), "2");
    assert_eq!(g.lookup("2"), Some(b));
    // A user-taken index name makes the next automatic name unique.
    let _user = g.push_named_op("4", Op::pow(2.0), &[x]).unwrap(); // index 3
    let c = g.neg(x).unwrap(); // index 4, "4" is taken
    assert_eq!(g.value_name(c), "4_1");
    let _user2 = g.push_named_op("7", Op::pow(2.0), &[x]).unwrap(); // index 5
    let _user3 = g.push_named_op("7_1", Op::pow(2.0), &[x]).unwrap(); // index 6
    let d = g.neg(x).unwrap(); // index 7: "7" and "7_1" are taken
    assert_eq!(g.value_name(d), "7_2");
    let e = g.neg(x).unwrap(); // index 8
    assert_eq!(g.value_name(e), "8");
    verify(&g).unwrap();
}

#[test]
fn automatic_names_never_collide() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    // Take "2", "2_1" and "2_2" by hand, then index 2 needs a fresh name.
    g.rename(x, "2").unwrap();
    g.push_named_op("2_1", Op::pow(1.0), &[x]).unwrap();
    let y = g.neg(x).unwrap();
    assert_eq!(g.len(), 3);
    assert_ne!(g.value_name(y), "2");
    assert_ne!(g.value_name(y), "2_1");
    verify(&g).unwrap();
}

#[test]
fn automatic_constant_names_never_collide() {
    // Literals are named `c<index>`; if a user took that name (and the
    // first fallback), the builder must still find a free name.
    let mut g = Graph::new("g");
    let c0 = g.scalar(1.0).unwrap();
    assert_eq!(g.value_name(c0), "c0");
    let t1 = g.tensor([2], vec![1.0, 2.0]).unwrap();
    assert_eq!(g.value_name(t1), "c1");

    let mut g = Graph::new("g");
    g.input("c2", [1]).unwrap(); // index 0
    g.input("c2_1", [1]).unwrap(); // index 1
    let s = g
        .scalar(3.0)
        .expect("an automatic name is always available");
    let name = g.value_name(s).to_string();
    assert!(name != "c2" && name != "c2_1", "{name}");
    let v = g
        .tensor([2], vec![1.0, 2.0])
        .expect("an automatic name is always available");
    assert_ne!(g.value_name(v), name);
    verify(&g).unwrap();
    // And the constants are really there with their data.
    assert_eq!(const_data(&g, s), vec![3.0]);
    assert_eq!(const_data(&g, v), vec![1.0, 2.0]);
}

#[test]
fn push_op_with_unknown_operand_is_a_graph_error() {
    let mut g = Graph::new("net");
    let x = g.input("x", [2]).unwrap();
    let err = g.push_op(Op::MATMUL, &[x, ValueId::new(7)]).unwrap_err();
    assert_eq!(
        err,
        IrError::UnknownValue {
            index: 7,
            graph: "net".into()
        }
    );
    assert_eq!(err.to_string(), "value 7 does not exist in graph net");
    graph_err(g.neg(ValueId::new(1)), &["1"]);
    graph_err(g.select(x, x, ValueId::new(3)), &["3"]);
    assert_eq!(g.len(), 1);
}

// -------------------------------------------------------- outputs and updates

#[test]
fn outputs() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    let y = g.neg(x).unwrap();
    g.add_output("y", y).unwrap();
    g.add_output("x_again", x).unwrap();
    g.add_output("y2", y).unwrap(); // one value under two names is fine
    graph_err(g.add_output("y", x), &["duplicate output", "y"]);
    graph_err(g.add_output("z", ValueId::new(9)), &["9", "does not exist"]);
    assert_eq!(
        g.outputs(),
        &[
            ("y".to_string(), y),
            ("x_again".to_string(), x),
            ("y2".to_string(), y)
        ]
    );
    assert_eq!(g.output("y"), Some(y));
    assert_eq!(g.output("x_again"), Some(x));
    assert_eq!(g.output("nope"), None);
    // Output names live in their own namespace: an output may share a value's name.
    g.add_output("x", y).unwrap();
    assert_eq!(g.output("x"), Some(y));
    assert_eq!(g.lookup("x"), Some(x));
    verify(&g).unwrap();
}

#[test]
fn updates() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    let w = g.param("w", [2]).unwrap();
    let m = g.state("m", [2]).unwrap();
    let k = g.constant("k", t(&[2]), vec![1.0, 1.0]).unwrap();
    let step = g.state("step", [0usize; 0]).unwrap();
    let nw = g.sub(w, x).unwrap();
    let nm = g.add(m, x).unwrap();
    let one = g.scalar(1.0).unwrap();
    let nstep = g.add(step, one).unwrap();
    // Targets must be params or states.
    graph_err(g.add_update(x, nw), &["%x", "not a param or state"]);
    graph_err(g.add_update(k, nw), &["%k", "not a param or state"]);
    graph_err(g.add_update(nw, nm), &["not a param or state"]);
    // Types must match.
    graph_err(g.add_update(w, nstep), &["%w", "f32[]", "f32[2]"]);
    graph_err(g.add_update(step, nw), &["%step"]);
    // Missing values.
    graph_err(g.add_update(ValueId::new(99), nw), &["99"]);
    graph_err(g.add_update(w, ValueId::new(99)), &["99"]);
    assert!(g.updates().is_empty(), "failed updates are not recorded");
    g.add_update(w, nw).unwrap();
    g.add_update(m, nm).unwrap();
    g.add_update(step, nstep).unwrap();
    // At most one update per target.
    graph_err(g.add_update(w, nm), &["%w", "repeated"]);
    graph_err(g.add_update(w, nw), &["repeated"]);
    // An update may write a target's own value (a no-op) and one value may
    // feed two targets.
    let mut h = Graph::new("h");
    let a = h.param("a", [1]).unwrap();
    let b = h.state("b", [1]).unwrap();
    h.add_update(a, a).unwrap();
    h.add_update(b, a).unwrap();
    verify(&h).unwrap();
    assert_eq!(
        g.updates(),
        &[
            Update {
                target: w,
                value: nw
            },
            Update {
                target: m,
                value: nm
            },
            Update {
                target: step,
                value: nstep
            },
        ]
    );
    verify(&g).unwrap();
}

// -------------------------------------------------------------------- rename

#[test]
fn rename() {
    let mut g = Graph::new("g");
    let x = g.input("x", [2]).unwrap();
    let y = g.neg(x).unwrap();
    g.add_output("out", y).unwrap();
    g.rename(y, "negated").unwrap();
    assert_eq!(g.value_name(y), "negated");
    assert_eq!(g.node(y).name, "negated");
    assert_eq!(g.lookup("negated"), Some(y));
    assert_eq!(g.lookup("1"), None, "the old name is freed");
    // The freed name can be reused.
    let z = g.push_named_op("1", Op::pow(3.0), &[x]).unwrap();
    assert_eq!(g.lookup("1"), Some(z));
    // Renaming to the current name is a no-op; to another value's name fails.
    g.rename(y, "negated").unwrap();
    graph_err(g.rename(y, "x"), &["duplicate", "%x"]);
    assert_eq!(g.value_name(y), "negated");
    assert_eq!(g.lookup("x"), Some(x));
    graph_err(g.rename(ValueId::new(42), "q"), &["42"]);
    // Outputs refer to values, not names.
    assert_eq!(g.output("out"), Some(y));
    verify(&g).unwrap();
    // The interpreter takes inputs by the new name.
    g.rename(x, "input0").unwrap();
    let inputs: Inputs<f64> = [(
        "input0".to_string(),
        ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0, -2.0]).unwrap(),
    )]
    .into_iter()
    .collect();
    let eval = evaluate::<f64>(&g, &inputs).unwrap();
    assert_eq!(
        eval.output("out").unwrap().as_slice().unwrap(),
        &[-1.0, 2.0]
    );
}

// ------------------------------------------------------------------ verifier

/// A graph using every op, built with the builder.
pub(crate) fn every_op_graph() -> Graph {
    let mut g = Graph::new("every_op");
    let x = g.input("x", [1, 4, 4, 2]).unwrap();
    let w = g.param("w", [2, 2, 2, 3]).unwrap();
    let m = g.state("m", [2, 2, 2, 3]).unwrap();
    let conv = ConvAttrs {
        strides: [2, 2],
        padding: Padding::Same,
        layout: Layout::Nhwc,
    };
    let pool = PoolAttrs {
        window: [2, 2],
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let y = g.conv2d(x, w, conv).unwrap(); // [1,2,2,3]
    let r = g.relu(y).unwrap();
    let sg = g.sigmoid(r).unwrap();
    let dx = g.conv2d_input_grad(sg, w, conv, [1, 4, 4, 2]).unwrap();
    let dw = g.conv2d_filter_grad(x, sg, conv, [2, 2, 2, 3]).unwrap();
    let p = g.maxpool2d(dx, pool).unwrap(); // [1,3,3,2]
    let pg = g.maxpool2d_grad(dx, p, pool).unwrap();
    let flat = g.reshape(pg, [16, 2]).unwrap();
    let tr = g.transpose(flat, &[1, 0]).unwrap(); // [2,16]
    let mm = g.matmul(tr, flat).unwrap(); // [2,2]
    let pd = g.pad(mm, &[1, 0], &[0, 1]).unwrap(); // [3,3]
    let sl = g.slice(pd, &[0, 0], &[2, 2]).unwrap(); // [2,2]
    let sq = g.square(sl).unwrap();
    let sm = g.reduce_sum(sq, &[1], true).unwrap(); // [2,1]
    let mx = g.reduce_max(sq, &[0, 1], false).unwrap(); // []
    let mxb = g.broadcast_to(mx, [2, 1]).unwrap();
    let ratio = g.div(sm, mxb).unwrap();
    let half = g.scalar(0.5).unwrap();
    let cmp = g.compare(CmpOp::Gt, ratio, half).unwrap();
    let sel = g.select(cmp, ratio, half).unwrap();
    let pw = g.pow(sel, 1.5).unwrap();
    let ex = g.exp(pw).unwrap();
    let lg = g.log(ex).unwrap();
    let tn = g.tanh(lg).unwrap();
    let ab = g.abs(tn).unwrap();
    let sq2 = g.sqrt(ab).unwrap();
    let rs = g.rsqrt(ex).unwrap();
    let rc = g.recip(ex).unwrap();
    let ng = g.neg(rc).unwrap();
    let mn = g.minimum(ng, rs).unwrap();
    let mxm = g.maximum(mn, sq2).unwrap();
    let out = g.mul(mxm, sq2).unwrap();
    let lr = g.scalar(0.1).unwrap();
    let step = g.mul(dw, lr).unwrap();
    let nw = g.sub(w, step).unwrap();
    let nm = g.add(m, dw).unwrap();
    g.add_output("out", out).unwrap();
    g.add_update(w, nw).unwrap();
    g.add_update(m, nm).unwrap();
    g
}

#[test]
fn verify_accepts_built_graphs() {
    let g = every_op_graph();
    verify(&g).unwrap();
    // Every op kind is present.
    let mut names: Vec<&str> = g
        .nodes()
        .iter()
        .filter_map(|n| n.op())
        .map(Op::name)
        .collect();
    names.sort_unstable();
    names.dedup();
    for op in [
        "conv2d",
        "conv2d_input_grad",
        "conv2d_filter_grad",
        "maxpool2d",
        "maxpool2d_grad",
        "reshape",
        "transpose",
        "matmul",
        "pad",
        "slice",
        "reduce_sum",
        "reduce_max",
        "broadcast",
        "gt",
        "select",
        "pow",
        "exp",
        "log",
        "tanh",
        "abs",
        "sqrt",
        "rsqrt",
        "recip",
        "neg",
        "relu",
        "sigmoid",
        "square",
        "min",
        "max",
        "mul",
        "sub",
        "add",
        "div",
    ] {
        assert!(names.contains(&op), "missing {op}");
    }
    verify(&Graph::new("empty")).unwrap();
    // A clone is equal and verifies.
    let c = g.clone();
    assert_eq!(c, g);
    verify(&c).unwrap();
}
