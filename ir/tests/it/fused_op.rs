//! The `fused` op: builder, text form and its parse errors, shape errors,
//! autodiff's refusal, the verifier and canonicalize on sibling results.

use std::sync::Arc;

use triceratops_ir::op::{BodyBuilder, FusedKernel, ScalarInstr};
use triceratops_ir::text::{parse, print};
use triceratops_ir::{
    canonicalize, grad, verify, BinaryOp, Graph, IrError, NodeKind, Op, Shape, TensorType, UnaryOp,
    ValueId,
};

/// `p - g * lr` over `[784,128]` with a scalar learning rate.
fn sgd_kernel() -> FusedKernel {
    let mut b = BodyBuilder::new();
    let (p, g, lr) = (b.input(0), b.input(1), b.input(2));
    let step = b.binary(BinaryOp::Mul, g, lr);
    let new_p = b.binary(BinaryOp::Sub, p, step);
    FusedKernel {
        shape: Shape::new([784, 128]),
        maps: vec![vec![0, 1], vec![0, 1], vec![]],
        body: b.finish(),
        results: vec![new_p],
    }
}

#[test]
fn prints_the_documented_syntax() {
    let mut g = Graph::new("sgd");
    let p = g.param("p", [784, 128]).unwrap();
    let grad = g.input("g", [784, 128]).unwrap();
    let lr = g.input("lr", Shape::scalar()).unwrap();
    let out = g.fused(sgd_kernel(), &[p, grad, lr]).unwrap();
    g.add_update(p, out[0]).unwrap();
    let text = print(&g);
    println!("{text}");
    assert!(text.contains("%3: f32[784,128] = fused %p, %g, %lr, shape=[784,128], maps=[[0,1],[0,1],[]], body={ %0 = in 0; %1 = in 1; %2 = in 2; %3 = mul %1, %2; %4 = sub %0, %3 }, results=[4], result=0"), "{text}");
    assert_eq!(parse(&text).unwrap(), g);
}

/// A graph `x: [2,3]`, `b: [3]` and a fused op over them made from `kernel`.
fn try_fused(kernel: FusedKernel, operands: usize) -> Result<Vec<ValueId>, IrError> {
    let mut g = Graph::new("f");
    let x = g.input("x", [2, 3]).unwrap();
    let b = g.input("b", [3]).unwrap();
    let before = g.len();
    let r = g.fused(kernel, &[x, b][..operands]);
    if r.is_err() {
        assert_eq!(g.len(), before, "a failed fused leaves the graph unchanged");
    }
    r
}

fn kernel(maps: Vec<Vec<usize>>, body: Vec<ScalarInstr>, results: Vec<u32>) -> FusedKernel {
    FusedKernel {
        shape: Shape::new([2, 3]),
        maps,
        body,
        results,
    }
}

#[track_caller]
fn rejects(k: FusedKernel, operands: usize, fragment: &str) {
    let err = try_fused(k, operands).unwrap_err();
    assert!(matches!(err, IrError::Type { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("fused: cannot apply to"), "{msg}");
    assert!(msg.contains(fragment), "{msg} lacks {fragment:?}");
}

#[test]
fn shape_inference_checks_maps_body_and_results() {
    use ScalarInstr::{Binary, Input, Unary};
    let add = || vec![Input(0), Input(1), Binary(BinaryOp::Add, 0, 1)];
    let good = || vec![vec![0, 1], vec![1]];
    assert_eq!(
        try_fused(kernel(good(), add(), vec![2]), 2).unwrap().len(),
        1
    );
    // Maps.
    rejects(
        kernel(vec![vec![0, 1], vec![0]], add(), vec![2]),
        2,
        "operand 1: operand axis 0 (extent 3) cannot broadcast to axis 0 of [2,3]",
    );
    rejects(
        kernel(vec![vec![0, 1], vec![]], add(), vec![2]),
        2,
        "operand 1: dims has 0 entries for an operand of rank 1",
    );
    rejects(
        kernel(vec![vec![0, 1], vec![2]], add(), vec![2]),
        2,
        "operand 1: dims[0] = 2 is out of range for [2,3]",
    );
    // Operand count is the number of maps.
    rejects(
        kernel(good(), add(), vec![2]),
        1,
        "takes 2 operand(s), got 1",
    );
    // Body.
    rejects(
        kernel(good(), vec![Unary(UnaryOp::Neg, 1), Input(0)], vec![0]),
        2,
        "body %0 reads %1, which is not defined before it",
    );
    rejects(
        kernel(good(), vec![Unary(UnaryOp::Neg, 0)], vec![0]),
        2,
        "body %0 reads %0, which is not defined before it",
    );
    rejects(
        kernel(good(), vec![Input(2)], vec![0]),
        2,
        "body %0 reads operand 2 of 2",
    );
    rejects(kernel(good(), add(), vec![]), 2, "at least one result");
    rejects(
        kernel(good(), add(), vec![3]),
        2,
        "result %3 is not a body instruction",
    );
    // The result index.
    let mut g = Graph::new("f");
    let x = g.input("x", [2, 3]).unwrap();
    let k = Arc::new(kernel(vec![vec![0, 1]], vec![Input(0)], vec![0]));
    let err = g.fused_result(k, &[x], 1).unwrap_err().to_string();
    assert!(
        err.contains("result 1 is out of range for a kernel with 1 result(s)"),
        "{err}"
    );
}

#[test]
fn a_kernel_with_only_constants_or_a_scalar_space_is_fine() {
    let mut g = Graph::new("c");
    let x = g.input("x", Shape::scalar()).unwrap();
    let mut b = BodyBuilder::new();
    let c = b.constant(-0.0);
    let i = b.input(0);
    let s = b.binary(BinaryOp::Add, c, i);
    let k = FusedKernel {
        shape: Shape::scalar(),
        maps: vec![vec![]],
        body: b.finish(),
        results: vec![s, c],
    };
    let ys = g.fused(k, &[x]).unwrap();
    assert_eq!(ys.len(), 2);
    let k = FusedKernel {
        shape: Shape::new([2]),
        maps: vec![],
        body: vec![ScalarInstr::Const(1.5.into())],
        results: vec![0],
    };
    let z = g.fused(k, &[]).unwrap()[0];
    assert_eq!(*g.ty(z), TensorType::f32([2]));
    let text = print(&g);
    assert!(
        text.contains("= fused shape=[2], maps=[], body={ %0 = const 1.5 }, results=[0], result=0"),
        "{text}"
    );
    assert_eq!(parse(&text).unwrap(), g);
}

#[test]
fn siblings_are_distinct_values_that_canonicalize_keeps_apart() {
    let mut g = Graph::new("siblings");
    let x = g.input("x", [2, 3]).unwrap();
    let mut b = BodyBuilder::new();
    let i = b.input(0);
    let e = b.unary(UnaryOp::Exp, i);
    let n = b.unary(UnaryOp::Neg, i);
    let k = Arc::new(FusedKernel {
        shape: Shape::new([2, 3]),
        maps: vec![vec![0, 1]],
        body: b.finish(),
        results: vec![e, n],
    });
    let first = g.fused_result(k.clone(), &[x], 0).unwrap();
    let second = g.fused_result(k.clone(), &[x], 1).unwrap();
    let again = g.fused_result(k, &[x], 0).unwrap();
    let unused = g
        .fused(
            FusedKernel {
                shape: Shape::new([2, 3]),
                maps: vec![vec![0, 1]],
                body: vec![ScalarInstr::Input(0)],
                results: vec![0],
            },
            &[x],
        )
        .unwrap()[0];
    g.add_output("a", first).unwrap();
    g.add_output("b", second).unwrap();
    g.add_output("c", again).unwrap();
    let c = canonicalize(&g);
    // x, one node per distinct result; the duplicate merged, the dead one gone.
    assert_eq!(c.len(), 3, "{}", print(&c));
    assert_eq!(c.output("a"), c.output("c"));
    assert_ne!(c.output("a"), c.output("b"));
    assert!(c.lookup(g.value_name(unused)).is_none());
    verify(&c).unwrap();
}

#[test]
fn autodiff_refuses_fused_and_says_to_fuse_after_differentiation() {
    let mut g = Graph::new("grad");
    let w = g.param("w", [3]).unwrap();
    let mut b = BodyBuilder::new();
    let i = b.input(0);
    let t = b.unary(UnaryOp::Tanh, i);
    let y = g
        .fused(
            FusedKernel {
                shape: Shape::new([3]),
                maps: vec![vec![0]],
                body: b.finish(),
                results: vec![t],
            },
            &[w],
        )
        .unwrap()[0];
    let loss = g.reduce_sum(y, &[0], false).unwrap();
    let before = g.clone();
    let err = grad(&mut g, loss, &[w]).unwrap_err();
    assert!(matches!(err, IrError::Grad(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("fuse after differentiation"), "{msg}");
    assert!(msg.contains("fused"), "{msg}");
    assert_eq!(g, before, "the graph is unchanged");
}

#[test]
fn the_verifier_rechecks_fused_nodes() {
    let mut g = Graph::new("v");
    let x = g.input("x", [2, 3]).unwrap();
    let y = g
        .fused(
            kernel(vec![vec![0, 1]], vec![ScalarInstr::Input(0)], vec![0]),
            &[x],
        )
        .unwrap()[0];
    g.add_output("y", y).unwrap();
    let mut parts = g.clone().into_parts();
    // A body that reads a later instruction, smuggled in through the parts.
    let NodeKind::Op { op, .. } = &mut parts.nodes[1].kind else {
        unreachable!()
    };
    *op = Op::Fused {
        kernel: Arc::new(kernel(
            vec![vec![0, 1]],
            vec![ScalarInstr::Unary(UnaryOp::Exp, 1), ScalarInstr::Input(0)],
            vec![0],
        )),
        result: 0,
    };
    let err = Graph::from_parts(parts).unwrap_err().to_string();
    assert!(err.contains("body %0 reads %1"), "{err}");
    // A declared type the kernel does not produce.
    let mut parts = g.into_parts();
    parts.nodes[1].ty = TensorType::f32([3, 2]);
    let err = Graph::from_parts(parts).unwrap_err().to_string();
    assert!(
        err.contains("declared type f32[3,2] but fused produces f32[2,3]"),
        "{err}"
    );
}

/// The position and message of a parse error.
#[track_caller]
fn parse_error(body: &str, line: usize, col: usize, fragment: &str) {
    let text = format!("graph g {{\n  input %x: f32[2,3]\n{body}\n}}\n");
    match parse(&text) {
        Err(IrError::Parse {
            line: l,
            col: c,
            message,
        }) => {
            assert!(
                message.contains(fragment),
                "message {message:?} lacks {fragment:?}"
            );
            assert_eq!((l, c), (line, col), "position of {message:?}");
        }
        other => panic!("expected a parse error for\n{text}\ngot {other:?}"),
    }
}

#[test]
fn body_parse_errors_have_positions() {
    let line = |body: &str| {
        format!("  %y: f32[2,3] = fused %x, shape=[2,3], maps=[[0,1]], body={body}, results=[1], result=0")
    };
    parse_error(
        &line("{ %1 = in 0 }"),
        3,
        62,
        "expected `%0` (body instructions are numbered in order)",
    );
    parse_error(
        &line("{ %0 = in 0; %1 = neg %1 }"),
        3,
        82,
        "body value %1 is not defined before %1",
    );
    parse_error(
        &line("{ %0 = in 0; %1 = matmul %0, %0 }"),
        3,
        78,
        "`matmul` cannot be part of a fused body",
    );
    parse_error(
        &line("{ %0 = in 0; %1 = fused %0 }"),
        3,
        78,
        "`fused` cannot be part of a fused body",
    );
    parse_error(
        &line("{ %0 = in 0; %1 = frob %0 }"),
        3,
        78,
        "unknown op `frob`",
    );
    parse_error(
        &line("{ %0 = in 0 %1 = neg %0 }"),
        3,
        72,
        "expected `;` or `}`",
    );
    parse_error(&line("{ %0 = in 0; %1 = add %0 }"), 3, 85, "expected `,`");
    parse_error(&line("{ %0 = in 0; %1 = pow %0 }"), 3, 85, "expected `,`");
    parse_error(
        &line("{ %0 = in 0; %1 = pow %0, exp=2.0 }"),
        3,
        86,
        "expected `exponent`",
    );
    parse_error(
        &line("{ %0 = in 0; %1 = neg %x }"),
        3,
        82,
        "expected a body value like `%0`",
    );
    parse_error(&line("{ %0 = const x }"), 3, 73, "expected a number");
    parse_error(
        &line("{ %0 = in 0; %1 = neg %0"),
        3,
        84,
        "expected `;` or `}`",
    );
    // Semantic errors come from shape inference, at the op name.
    parse_error(
        &line("{ %0 = in 3; %1 = neg %0 }"),
        3,
        18,
        "body %0 reads operand 3 of 1",
    );
    parse_error(
        "  %y: f32[2,3] = fused %x, shape=[2,3], maps=[[0,1]], body={ %0 = in 0 }, results=[0]",
        3,
        18,
        "missing attribute `result` for `fused`",
    );
    parse_error(
        "  %y: f32[2,3] = fused %x, shape=[2,3], maps=[[0,1],[1], body={ %0 = in 0 }, results=[0], result=0",
        3, 58, "expected `[`",
    );
    parse_error(
        "  %y: f32[2,3] = fused %x, %x, shape=[2,3], maps=[[0,1]], body={ %0 = in 0 }, results=[0], result=0",
        3, 28, "`fused` takes 1 operand, got 2",
    );
}
