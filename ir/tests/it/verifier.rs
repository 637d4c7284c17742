//! The verifier behind `Graph::from_parts`: a pass that rebuilds a graph
//! from parts gets it back only if every invariant holds; each check has
//! a graph here that breaks exactly it.

use triceratops_ir::{
    ConstId, Constant, Graph, GraphParts, IrError, Node, NodeKind, Op, Role, TensorType, UnaryOp,
    Update, UpdateProblem, ValueId,
};

/// `x: input [2]`, `p: param [2]`, `c = [2, 3]`, `%3 = exp x`,
/// `%4 = mul %3, p`, `%5 = mul %4, c`; output `s = %5`, update `p <- %5`.
fn parts() -> GraphParts {
    let mut g = Graph::new("good");
    let x = g.input("x", [2]).unwrap();
    let p = g.param("p", [2]).unwrap();
    let c = g
        .constant("c", TensorType::f32([2]), vec![2.0, 3.0])
        .unwrap();
    let e = g.exp(x).unwrap();
    let s = g.mul(e, p).unwrap();
    let t = g.mul(s, c).unwrap();
    g.add_output("s", t).unwrap();
    g.add_update(p, t).unwrap();
    g.into_parts()
}

fn v(i: usize) -> ValueId {
    ValueId::new(i)
}

fn rejected(parts: GraphParts) -> IrError {
    Graph::from_parts(parts).expect_err("the verifier must reject this graph")
}

#[test]
fn a_well_formed_graph_round_trips_through_its_parts() {
    let p = parts();
    let g = Graph::from_parts(p.clone()).unwrap();
    assert_eq!(g.clone().into_parts(), p);
    assert_eq!(g.lookup("s"), None, "the output name is not a value name");
    assert_eq!(g.value_name(g.output("s").unwrap()), "5");
}

#[test]
fn bad_names_are_rejected() {
    let mut p = parts();
    p.name = "a graph".into();
    assert!(matches!(rejected(p), IrError::InvalidName { name } if name == "a graph"));

    let mut p = parts();
    p.nodes[3].name = "e x".into();
    assert!(matches!(rejected(p), IrError::InvalidName { name } if name == "e x"));

    let mut p = parts();
    p.nodes[3].name = "x".into();
    assert!(matches!(rejected(p), IrError::DuplicateName { name } if name == "x"));

    let mut p = parts();
    p.outputs[0].0 = "".into();
    assert!(matches!(rejected(p), IrError::InvalidName { .. }));

    let mut p = parts();
    p.outputs.push(("s".into(), v(3)));
    assert!(matches!(rejected(p), IrError::DuplicateOutput { name } if name == "s"));
}

#[test]
fn operands_must_be_defined_before_use() {
    let mut p = parts();
    // `e = exp x` reads itself.
    p.nodes[3].kind = NodeKind::Op {
        op: Op::Unary(UnaryOp::Exp),
        operands: vec![v(3)],
    };
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::Malformed { value, reason } if value == "3" && reason.contains("not defined before its use")),
        "{err}"
    );

    let mut p = parts();
    p.nodes[3].kind = NodeKind::Op {
        op: Op::Unary(UnaryOp::Exp),
        operands: vec![v(99)],
    };
    assert!(matches!(rejected(p), IrError::Malformed { .. }));
}

#[test]
fn declared_types_must_be_the_inferred_ones() {
    let mut p = parts();
    p.nodes[3].ty = TensorType::f32([3]);
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::Malformed { reason, .. } if reason.contains("declared type f32[3] but exp produces f32[2]")),
        "{err}"
    );

    let mut p = parts();
    p.nodes[3].kind = NodeKind::Op {
        op: Op::Unary(UnaryOp::Exp),
        operands: vec![v(0), v(1)],
    };
    assert!(matches!(rejected(p), IrError::Type { op, .. } if op == "exp"));

    let mut p = parts();
    p.nodes[3] = Node {
        name: "big".into(),
        ty: TensorType::f32([usize::MAX, 2]),
        kind: NodeKind::Arg(Role::Input),
    };
    assert!(matches!(rejected(p), IrError::TooLarge { name, .. } if name == "big"));
}

#[test]
fn constants_must_exist_and_fill_their_type() {
    let mut p = parts();
    p.nodes[2].kind = NodeKind::Const(ConstId::new(7));
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::Malformed { value, reason } if value == "c" && reason.contains("not in the pool")),
        "{err}"
    );

    let mut p = parts();
    p.constants[0] = Constant::from_values(&[1.0, 2.0, 3.0]);
    assert!(matches!(rejected(p), IrError::BadConstant { name, len: 3, .. } if name == "c"));

    // A splat fills any shape.
    let mut p = parts();
    p.constants[0] = Constant::splat(4.0);
    Graph::from_parts(p).unwrap();
}

#[test]
fn outputs_and_updates_must_refer_to_real_values() {
    let mut p = parts();
    p.outputs[0].1 = v(40);
    assert!(matches!(
        rejected(p),
        IrError::UnknownValue { index: 40, .. }
    ));

    let mut p = parts();
    p.updates[0].value = v(40);
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::BadUpdate { target, problem: UpdateProblem::MissingValue } if target == "p"),
        "{err}"
    );

    let mut p = parts();
    p.updates[0].target = v(41);
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::BadUpdate { target, problem: UpdateProblem::MissingValue } if target == "#41"),
        "{err}"
    );
}

#[test]
fn updates_must_write_params_or_state_once_with_their_type() {
    let mut p = parts();
    p.updates[0].target = v(0);
    let err = rejected(p);
    assert!(
        matches!(&err, IrError::BadUpdate { target, problem: UpdateProblem::NotParamOrState } if target == "x"),
        "{err}"
    );

    let mut p = parts();
    p.updates.push(Update {
        target: v(1),
        value: v(3),
    });
    assert!(matches!(
        rejected(p),
        IrError::BadUpdate {
            problem: UpdateProblem::Repeated,
            ..
        }
    ));

    let mut p = parts();
    p.nodes.push(Node {
        name: "q".into(),
        ty: TensorType::f32([3]),
        kind: NodeKind::Arg(Role::State),
    });
    p.updates.push(Update {
        target: v(6),
        value: v(3),
    });
    let err = rejected(p);
    assert!(
        matches!(
            &err,
            IrError::BadUpdate {
                problem: UpdateProblem::TypeMismatch { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "update %q <- %3: type f32[2] does not match f32[3]"
    );
}
