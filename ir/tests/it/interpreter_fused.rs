//! The interpreter runs `fused` kernels bit-identically to the same ops as
//! separate nodes: on a hand-fused optimizer update with several results,
//! on random expression bodies over broadcast operands, and on the random
//! graphs of the shared generator fused by `testing::fuse_elementwise` —
//! in f32 and f64, with NaN, infinities and signed zeros in the inputs.

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use proptest::prelude::*;
use triceratops_ir::interp::{evaluate, fused_element, Inputs, Scalar};
use triceratops_ir::op::{BodyBuilder, FusedKernel};
use triceratops_ir::testing::{arb_fused_graph, Rng};
use triceratops_ir::text::{parse, print};
use triceratops_ir::{verify, BinaryOp, CmpOp, Graph, Shape, UnaryOp, ValueId};

/// Values that catch a changed operation order or a lost sign.
const SPECIAL: [f32; 9] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1e-40,
    -3.4e38,
    1.0,
    -1.0,
];

fn random_array<T: Scalar>(shape: &[usize], r: &mut Rng) -> ArrayD<T> {
    let n = shape.iter().product();
    let v = (0..n)
        .map(|_| match r.below(6) {
            0 => r.pick(&SPECIAL),
            _ => (r.below(1 << 20) as f32 / (1 << 18) as f32) - 2.0,
        })
        .map(T::from_f32)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn random_inputs<T: Scalar>(g: &Graph, seed: u64) -> Inputs<T> {
    let mut r = Rng(seed);
    g.arguments()
        .map(|v| {
            let a = random_array::<T>(g.shape(v).dims(), &mut r);
            (g.value_name(v).to_string(), a)
        })
        .collect()
}

fn bits<T: Scalar>(v: T) -> u64 {
    v.to_f64().unwrap().to_bits()
}

#[track_caller]
fn assert_same_bits<T: Scalar>(a: ArrayViewD<T>, b: ArrayViewD<T>, what: &str) {
    assert_eq!(a.shape(), b.shape(), "{what}: shape");
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert_eq!(bits(*x), bits(*y), "{what}: element {i}: {x} vs {y}");
    }
}

// ------------------------------------------- a hand-fused optimizer update

/// Adam-like update of `p` with slots `m`, `v`, a scalar `lr` and a
/// per-column `scale` (a broadcast row), plus a masked relu: three
/// results, written once as separate nodes and once as one fused kernel.
fn adam_like() -> (Graph, [ValueId; 3], [ValueId; 3]) {
    let mut g = Graph::new("adam_like");
    let p = g.param("p", [3, 4]).unwrap();
    let grad = g.input("g", [3, 4]).unwrap();
    let m = g.state("m", [3, 4]).unwrap();
    let v = g.state("v", [3, 4]).unwrap();
    let lr = g.input("lr", Shape::scalar()).unwrap();
    let scale = g.input("scale", [4]).unwrap();

    // Unfused, with the builder's numpy broadcasting.
    let (b1, nb1) = (g.scalar(0.9).unwrap(), g.scalar(0.1).unwrap());
    let (b2, nb2) = (g.scalar(0.999).unwrap(), g.scalar(0.001).unwrap());
    let eps = g.scalar(1e-7).unwrap();
    let t = g.mul(b1, m).unwrap();
    let u = g.mul(nb1, grad).unwrap();
    let m2 = g.add(t, u).unwrap();
    let gg = g.square(grad).unwrap();
    let t = g.mul(b2, v).unwrap();
    let u = g.mul(nb2, gg).unwrap();
    let v2 = g.add(t, u).unwrap();
    let s = g.sqrt(v2).unwrap();
    let s = g.add(s, eps).unwrap();
    let step = g.div(m2, s).unwrap();
    let step = g.mul(lr, step).unwrap();
    let step = g.mul(step, scale).unwrap();
    let zero = g.scalar(0.0).unwrap();
    let pos = g.compare(CmpOp::Gt, step, zero).unwrap();
    let clipped = g.pow(step, 2.0).unwrap();
    let step = g.select(pos, step, clipped).unwrap();
    let p2 = g.sub(p, step).unwrap();
    let p2 = g.relu(p2).unwrap();
    let unfused = [p2, m2, v2];

    // The same arithmetic as one kernel.
    let mut b = BodyBuilder::new();
    let (ip, ig, im, iv, ilr, isc) = (
        b.input(0),
        b.input(1),
        b.input(2),
        b.input(3),
        b.input(4),
        b.input(5),
    );
    let (c1, cn1) = (b.constant(0.9), b.constant(0.1));
    let (c2, cn2) = (b.constant(0.999), b.constant(0.001));
    let ceps = b.constant(1e-7);
    let t = b.binary(BinaryOp::Mul, c1, im);
    let u = b.binary(BinaryOp::Mul, cn1, ig);
    let bm2 = b.binary(BinaryOp::Add, t, u);
    let gg = b.unary(UnaryOp::Square, ig);
    let t = b.binary(BinaryOp::Mul, c2, iv);
    let u = b.binary(BinaryOp::Mul, cn2, gg);
    let bv2 = b.binary(BinaryOp::Add, t, u);
    let s = b.unary(UnaryOp::Sqrt, bv2);
    let s = b.binary(BinaryOp::Add, s, ceps);
    let step = b.binary(BinaryOp::Div, bm2, s);
    let step = b.binary(BinaryOp::Mul, ilr, step);
    let step = b.binary(BinaryOp::Mul, step, isc);
    let zero = b.constant(0.0);
    let pos = b.compare(CmpOp::Gt, step, zero);
    let clipped = b.pow(step, 2.0);
    let step = b.select(pos, step, clipped);
    let bp2 = b.binary(BinaryOp::Sub, ip, step);
    let bp2 = b.unary(UnaryOp::Relu, bp2);
    let kernel = FusedKernel {
        shape: Shape::new([3, 4]),
        maps: vec![
            vec![0, 1],
            vec![0, 1],
            vec![0, 1],
            vec![0, 1],
            vec![],
            vec![1],
        ],
        body: b.finish(),
        results: vec![bp2, bm2, bv2],
    };
    let fused = g.fused(kernel, &[p, grad, m, v, lr, scale]).unwrap();
    let fused = [fused[0], fused[1], fused[2]];
    (g, unfused, fused)
}

fn adam_like_is_bit_identical<T: Scalar>() {
    let (g, unfused, fused) = adam_like();
    verify(&g).unwrap();
    for seed in 0..20 {
        let inputs = random_inputs::<T>(&g, seed);
        let eval = evaluate(&g, &inputs).unwrap();
        for (a, b) in unfused.iter().zip(&fused) {
            assert_same_bits(eval.value(*a), eval.value(*b), &format!("seed {seed}"));
        }
    }
}

#[test]
fn hand_fused_update_is_bit_identical_f32() {
    adam_like_is_bit_identical::<f32>();
}

#[test]
fn hand_fused_update_is_bit_identical_f64() {
    adam_like_is_bit_identical::<f64>();
}

#[test]
fn hand_fused_update_round_trips_as_text() {
    let (g, _, fused) = adam_like();
    let text = print(&g);
    assert!(text.contains("results=[28,13,17], result=2"), "{text}");
    assert!(text.contains("%25 = pow %22, exponent=2.0"), "{text}");
    assert!(text.contains("%26 = select %24, %22, %25"), "{text}");
    let parsed = parse(&text).unwrap();
    assert_eq!(parsed, g);
    assert_eq!(print(&parsed), text);
    // Siblings share one kernel and differ only in `result`.
    let ops: Vec<_> = fused.iter().map(|&v| g.node(v).op().unwrap()).collect();
    assert_ne!(ops[0], ops[1]);
    assert_eq!(g.node(fused[0]).operands(), g.node(fused[2]).operands());
}

// ------------------------------------------ random bodies over broadcasts

/// A random expression over 1-4 operands whose shapes broadcast (numpy
/// style) to a random iteration space: the graph built op by op with the
/// builder, the equivalent fused kernel, and the pair of values to compare.
fn random_expression(seed: u64) -> (Graph, ValueId, ValueId) {
    let mut r = Rng(seed);
    let rank = r.range(0, 3);
    let shape: Vec<usize> = (0..rank).map(|_| r.range(1, 4)).collect();
    let mut g = Graph::new("expr");
    let mut b = BodyBuilder::new();
    // (graph value, body instruction) pairs available as arguments.
    let mut vals: Vec<(ValueId, u32)> = Vec::new();
    let mut operands = Vec::new();
    let mut maps = Vec::new();
    for k in 0..r.range(1, 4) {
        let orank = r.range(0, rank);
        let oshape: Vec<usize> = shape[rank - orank..]
            .iter()
            .map(|&d| if r.below(3) == 0 { 1 } else { d })
            .collect();
        let x = g.input(&format!("x{k}"), oshape).unwrap();
        operands.push(x);
        maps.push((rank - orank..rank).collect::<Vec<_>>());
        vals.push((x, b.input(k as u32)));
    }
    for _ in 0..r.range(1, 12) {
        let (x, ix) = r.pick(&vals);
        let (y, iy) = r.pick(&vals);
        let (z, iz) = r.pick(&vals);
        let made = match r.below(7) {
            0 => {
                let op = r.pick(&UnaryOp::ALL);
                (g.unary(op, x).unwrap(), b.unary(op, ix))
            }
            1 | 2 => {
                let op = r.pick(&BinaryOp::ALL);
                (g.binary(op, x, y).unwrap(), b.binary(op, ix, iy))
            }
            3 => {
                let op = r.pick(&CmpOp::ALL);
                (g.compare(op, x, y).unwrap(), b.compare(op, ix, iy))
            }
            4 => (g.select(x, y, z).unwrap(), b.select(ix, iy, iz)),
            5 => {
                let e = r.pick(&[2.0, 0.5, -1.0, 3.0, -2.5]);
                (g.pow(x, e).unwrap(), b.pow(ix, e))
            }
            _ => {
                let c = r.pick(&SPECIAL);
                (g.scalar(c).unwrap(), b.constant(c))
            }
        };
        vals.push(made);
    }
    let (last, ilast) = *vals.last().unwrap();
    // The unfused value may have a lower rank than the iteration space.
    let unfused = g.broadcast_to(last, shape.clone()).unwrap();
    let kernel = FusedKernel {
        shape: Shape::new(shape),
        maps,
        body: b.finish(),
        results: vec![ilast],
    };
    let fused = g.fused(kernel, &operands).unwrap()[0];
    (g, unfused, fused)
}

/// Operand elements at a multi-index of the iteration space, through maps.
fn element_inputs<T: Scalar>(
    g: &Graph,
    kernel: &FusedKernel,
    operands: &[ValueId],
    inputs: &Inputs<T>,
    index: &[usize],
) -> Vec<T> {
    operands
        .iter()
        .zip(&kernel.maps)
        .map(|(&v, map)| {
            let a = &inputs[g.value_name(v)];
            let at: Vec<usize> = map
                .iter()
                .enumerate()
                .map(|(i, &d)| if a.shape()[i] == 1 { 0 } else { index[d] })
                .collect();
            a[IxDyn(&at)]
        })
        .collect()
}

fn random_expression_is_bit_identical<T: Scalar>(seed: u64) -> Result<(), TestCaseError> {
    let (g, unfused, fused) = random_expression(seed);
    let inputs = random_inputs::<T>(&g, seed ^ 0x5eed);
    let eval = evaluate(&g, &inputs).unwrap();
    let (a, b) = (eval.value(unfused), eval.value(fused));
    prop_assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b.iter()) {
        prop_assert_eq!(bits(*x), bits(*y), "{}", print(&g));
    }
    // The per-element meaning agrees with the array evaluation.
    let node = g.node(fused);
    let Some(triceratops_ir::Op::Fused { kernel, .. }) = node.op() else {
        unreachable!()
    };
    for (index, y) in b.indexed_iter() {
        let ins = element_inputs(&g, kernel, node.operands(), &inputs, index.slice());
        let e = fused_element(kernel, &ins)[0];
        prop_assert_eq!(bits(e), bits(*y));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bodies_are_bit_identical_f32(seed in any::<u64>()) {
        random_expression_is_bit_identical::<f32>(seed)?;
    }

    #[test]
    fn random_bodies_are_bit_identical_f64(seed in any::<u64>()) {
        random_expression_is_bit_identical::<f64>(seed)?;
    }

    /// Every value of a random graph, fused by the shared helper, equals
    /// the unfused value; the fused graph verifies and round-trips.
    #[test]
    fn fused_random_graphs_are_bit_identical((g, fused) in arb_fused_graph(), seed in any::<u64>()) {
        verify(&fused).unwrap();
        let text = print(&fused);
        prop_assert_eq!(print(&parse(&text).unwrap()), text);
        let inputs32 = random_inputs::<f32>(&g, seed);
        let (a, b) = (evaluate(&g, &inputs32).unwrap(), evaluate(&fused, &inputs32).unwrap());
        for v in g.ids() {
            for (x, y) in a.value(v).iter().zip(b.value(v).iter()) {
                prop_assert_eq!(x.to_bits(), y.to_bits(), "%{}", g.value_name(v));
            }
        }
        let inputs64 = random_inputs::<f64>(&g, seed);
        let (a, b) = (evaluate(&g, &inputs64).unwrap(), evaluate(&fused, &inputs64).unwrap());
        for v in g.ids() {
            for (x, y) in a.value(v).iter().zip(b.value(v).iter()) {
                prop_assert_eq!(x.to_bits(), y.to_bits(), "%{}", g.value_name(v));
            }
        }
    }
}

/// Guards the property test above: the helper does inline producers and
/// read broadcasts through maps, so the bodies it checks are not trivial.
#[test]
fn the_fusing_helper_makes_multi_instruction_kernels() {
    use triceratops_ir::testing::{build_graph, fuse_elementwise};
    let (mut long_bodies, mut broadcast_maps, mut fused_nodes) = (0, 0, 0);
    let mut r = Rng(99);
    for _ in 0..200 {
        let args: Vec<(usize, Vec<usize>)> = (0..r.range(1, 4))
            .map(|_| {
                (
                    r.below(3),
                    (0..r.range(0, 3)).map(|_| r.range(1, 3)).collect(),
                )
            })
            .collect();
        let steps: Vec<u64> = (0..r.range(4, 15)).map(|_| r.next_u64()).collect();
        let g = fuse_elementwise(&build_graph(&args, &steps, r.next_u64()));
        for node in g.nodes() {
            if let Some(triceratops_ir::Op::Fused { kernel, .. }) = node.op() {
                fused_nodes += 1;
                long_bodies += usize::from(kernel.body.len() > 4);
                broadcast_maps +=
                    usize::from(kernel.maps.iter().any(|m| m.len() < kernel.shape.rank()));
            }
        }
    }
    assert!(fused_nodes > 200, "{fused_nodes}");
    assert!(long_bodies > 20, "{long_bodies}");
    assert!(broadcast_maps > 20, "{broadcast_maps}");
}
