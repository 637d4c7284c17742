//! The `fused` op: builder, text form, shape errors, autodiff's refusal.

use triceratops_ir::op::{BodyBuilder, FusedKernel};
use triceratops_ir::text::{parse, print};
use triceratops_ir::{BinaryOp, Graph, Shape};

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
