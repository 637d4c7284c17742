//! The op table drives the text format and autodiff's refusals, its
//! properties hold, and ops are `Eq + Ord + Hash` with floats compared by
//! bits.

use std::collections::HashSet;

use triceratops_ir::interp::{evaluate, Inputs};
use triceratops_ir::op::{BodyBuilder, FusedKernel};
use triceratops_ir::text::{parse, print};
use triceratops_ir::{
    grad, AttrValue, BinaryOp, ConvAttrs, F32Bits, Graph, Layout, Op, OpKind, Padding, PoolAttrs,
    Props, Shape, TensorType, UnaryOp, ValueId,
};

/// One instance of `kind` on params of fitting shapes, as output `y`.
fn instance(kind: OpKind) -> (Graph, Vec<ValueId>) {
    let mut g = Graph::new("one");
    let param = |g: &mut Graph, dims: &[usize]| {
        let name = format!("p{}", g.len());
        g.param(&name, dims.to_vec()).unwrap()
    };
    let conv = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let pool = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let (op, shapes): (Op, Vec<&[usize]>) = match kind {
        OpKind::Pow => (Op::pow(2.0), vec![&[2, 3]]),
        OpKind::Select => (Op::Select, vec![&[2, 3], &[2, 3], &[2, 3]]),
        OpKind::Broadcast => (
            Op::Broadcast {
                shape: Shape::new([2, 3]),
                dims: vec![1],
            },
            vec![&[3]],
        ),
        OpKind::Reshape => (
            Op::Reshape {
                shape: Shape::new([3, 2]),
            },
            vec![&[2, 3]],
        ),
        OpKind::Transpose => (Op::Transpose { perm: vec![1, 0] }, vec![&[2, 3]]),
        OpKind::Pad => (
            Op::Pad {
                low: vec![1, 0],
                high: vec![0, 1],
            },
            vec![&[2, 3]],
        ),
        OpKind::Slice => (
            Op::Slice {
                start: vec![0, 1],
                end: vec![2, 3],
            },
            vec![&[2, 3]],
        ),
        OpKind::ReduceSum => (
            Op::ReduceSum {
                axes: vec![1],
                keepdims: false,
            },
            vec![&[2, 3]],
        ),
        OpKind::ReduceMax => (
            Op::ReduceMax {
                axes: vec![1],
                keepdims: true,
            },
            vec![&[2, 3]],
        ),
        OpKind::MatMul => (Op::MATMUL, vec![&[2, 3], &[3, 4]]),
        OpKind::Conv2d => (Op::Conv2d(conv), vec![&[1, 4, 4, 2], &[3, 3, 2, 2]]),
        OpKind::Conv2dInputGrad => (
            Op::Conv2dInputGrad {
                conv,
                input_shape: Shape::new([1, 4, 4, 2]),
            },
            vec![&[1, 2, 2, 2], &[3, 3, 2, 2]],
        ),
        OpKind::Conv2dFilterGrad => (
            Op::Conv2dFilterGrad {
                conv,
                filter_shape: Shape::new([3, 3, 2, 2]),
            },
            vec![&[1, 4, 4, 2], &[1, 2, 2, 2]],
        ),
        OpKind::MaxPool2d => (Op::MaxPool2d(pool), vec![&[1, 4, 4, 2]]),
        OpKind::MaxPool2dGrad => (Op::MaxPool2dGrad(pool), vec![&[1, 4, 4, 2], &[1, 2, 2, 2]]),
        OpKind::Fused => {
            // relu(a * b) with b a row broadcast over [2,3].
            let mut body = BodyBuilder::new();
            let (a, b) = (body.input(0), body.input(1));
            let m = body.binary(BinaryOp::Mul, a, b);
            let r = body.unary(UnaryOp::Relu, m);
            let kernel = FusedKernel {
                shape: Shape::new([2, 3]),
                maps: vec![vec![0, 1], vec![1]],
                body: body.finish(),
                results: vec![r],
            };
            let op = Op::Fused {
                kernel: std::sync::Arc::new(kernel),
                result: 0,
            };
            (op, vec![&[2, 3], &[3]])
        }
        grouped => {
            let op = Op::from_attrs(grouped, vec![]).unwrap();
            let shapes = vec![&[2usize, 3][..]; op.arity()];
            (op, shapes)
        }
    };
    let operands: Vec<ValueId> = shapes.iter().map(|s| param(&mut g, s)).collect();
    let y = g.push_op(op, &operands).unwrap();
    assert_eq!(g.node(y).op().unwrap().kind(), kind);
    g.add_output("y", y).unwrap();
    (g, operands)
}

#[test]
fn every_op_kind_prints_and_parses_by_its_table_row() {
    let names: HashSet<&str> = OpKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), OpKind::ALL.len(), "names are unique");
    for &kind in OpKind::ALL {
        assert_eq!(OpKind::from_name(kind.name()), Some(kind));
        let (g, _) = instance(kind);
        let text = print(&g);
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{kind}: {e}\n{text}"));
        assert_eq!(parsed, g, "{kind}");
        let y = parsed.output("y").unwrap();
        assert_eq!(parsed.node(y).op().unwrap().kind(), kind);
    }
}

#[test]
fn autodiff_refuses_exactly_the_ops_the_table_marks_not_differentiable() {
    for &kind in OpKind::ALL {
        let (mut g, params) = instance(kind);
        let y = g.output("y").unwrap();
        let axes: Vec<usize> = (0..g.shape(y).rank()).collect();
        let loss = g.reduce_sum(y, &axes, false).unwrap();
        let result = grad(&mut g, loss, &params);
        if kind.has(Props::NOT_DIFFERENTIABLE) {
            let err = result.expect_err(kind.name());
            assert!(
                err.to_string().contains("is not differentiable"),
                "{kind}: {err}"
            );
        } else {
            assert_eq!(result.unwrap().len(), params.len(), "{kind}");
        }
    }
}

#[test]
fn zero_preserving_ops_map_plus_zero_to_plus_zero() {
    for &kind in OpKind::ALL {
        if !kind.has(Props::ZERO_PRESERVING) {
            continue;
        }
        let (g, params) = instance(kind);
        let inputs: Inputs<f32> = params
            .iter()
            .map(|&p| {
                let zeros = ndarray::ArrayD::zeros(ndarray::IxDyn(g.shape(p).dims()));
                (g.value_name(p).to_string(), zeros)
            })
            .collect();
        let eval = evaluate(&g, &inputs).unwrap();
        let y = eval.output("y").unwrap();
        assert!(
            y.iter().all(|v| v.to_bits() == 0),
            "{kind} maps +0 to {y:?}"
        );
    }
}

#[test]
fn printed_attributes_follow_the_schema() {
    let mut g = Graph::new("attrs");
    let x = g.input("x", [1, 4, 4, 2]).unwrap();
    let p = g.pow(x, 1.5).unwrap();
    let r = g.reduce_max(p, &[1, 2], true).unwrap();
    g.add_output("r", r).unwrap();
    let text = print(&g);
    assert!(text.contains("pow %x, exponent=1.5"), "{text}");
    assert!(
        text.contains("reduce_max %1, axes=[1,2], keepdims=true"),
        "{text}"
    );
    let op = g.node(r).op().unwrap();
    let keys: Vec<&str> = op.kind().attrs().iter().map(|a| a.key).collect();
    assert_eq!(keys, ["axes", "keepdims"]);
    assert_eq!(
        op.attrs(),
        [AttrValue::Ints(vec![1, 2]), AttrValue::Bool(true)]
    );
}

#[test]
fn ops_hash_and_compare_floats_by_bits() {
    let set: HashSet<Op> = [
        Op::pow(0.0),
        Op::pow(-0.0),
        Op::pow(f32::NAN),
        Op::pow(f32::NAN),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.len(), 3, "+0 and -0 differ; a NaN equals itself");
    assert_ne!(F32Bits::new(0.0), F32Bits::new(-0.0));
    assert_eq!(F32Bits::new(f32::NAN), F32Bits::new(f32::NAN));
    assert_eq!(F32Bits::new(1.5).get(), 1.5);
    // A total order: sorting any permutation gives one sequence.
    let mut a = [Op::MATMUL, Op::pow(2.0), Op::Select, Op::pow(-0.0)];
    let mut b = [Op::pow(-0.0), Op::Select, Op::pow(2.0), Op::MATMUL];
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn properties_rules_need_are_in_the_table() {
    assert!(OpKind::Add.has(Props::COMMUTATIVE.union(Props::ASSOCIATIVE)));
    assert!(OpKind::Max.has(Props::IDEMPOTENT));
    assert!(OpKind::Neg.has(Props::INVOLUTION));
    assert!(OpKind::Gt.has(Props::MASK.union(Props::NOT_DIFFERENTIABLE)));
    assert!(!OpKind::Div.has(Props::COMMUTATIVE));
    assert!(OpKind::Broadcast.class().is_data_movement());
    assert!(OpKind::Reshape.class().is_data_movement());
}

#[test]
fn constants_live_in_an_interned_pool() {
    let mut g = Graph::new("pool");
    let a = g.constant("a", TensorType::f32([3]), vec![1.0; 3]).unwrap();
    let b = g.scalar(1.0).unwrap();
    let c = g
        .constant("c", TensorType::f32([2]), vec![1.0, 2.0])
        .unwrap();
    let d = g
        .constant("d", TensorType::f32([2]), vec![1.0, 2.0])
        .unwrap();
    // All-equal data is a splat, shared with the scalar; equal dense data
    // is stored once.
    assert_eq!(g.constants().len(), 2);
    assert_eq!(g.const_value(a), g.const_value(b));
    assert_eq!(g.const_value(c), g.const_value(d));
    assert_eq!(g.const_value(a).unwrap().as_splat(), Some(1.0));
    let text = print(&g);
    assert!(text.contains("const %a: f32[3] = splat(1.0)"), "{text}");
    assert!(text.contains("const %c: f32[2] = [1.0, 2.0]"), "{text}");
    assert_eq!(print(&parse(&text).unwrap()), text);
}
