//! Snapshots of printed graphs: the text format as a reader sees it. Each
//! snapshot was read and checked by hand when accepted.

use triceratops_ir::analysis::{eliminate_dead_code, to_dot};
use triceratops_ir::text::print;
use triceratops_ir::{ConvAttrs, Graph, Layout, Padding, PoolAttrs, Result};

/// A two-layer perceptron forward pass with a bias broadcast and a softmax
/// written out of primitive ops, as the front end will lower it.
fn mlp() -> Result<Graph> {
    let mut g = Graph::new("mlp.forward");
    let x = g.input("x", [8, 784])?;
    let w1 = g.param("dense.kernel", [784, 32])?;
    let b1 = g.param("dense.bias", [32])?;
    let w2 = g.param("dense_1.kernel", [32, 10])?;
    let b2 = g.param("dense_1.bias", [10])?;
    let h = g.matmul(x, w1)?;
    let h = g.add(h, b1)?;
    let h = g.relu(h)?;
    let logits = g.matmul(h, w2)?;
    let logits = g.add(logits, b2)?;
    let max = g.reduce_max(logits, &[1], true)?;
    let shifted = g.sub(logits, max)?;
    let e = g.exp(shifted)?;
    let sum = g.reduce_sum(e, &[1], true)?;
    let probs = g.div(e, sum)?;
    g.rename(probs, "probs")?;
    g.add_output("probs", probs)?;
    Ok(g)
}

/// The lecture's CNN trunk (channels-last), with an optimizer-like update so
/// every argument role, a const and an update line appear.
fn cnn_with_update() -> Result<Graph> {
    let mut g = Graph::new("seed_cnn.trunk");
    let x = g.input("x", [2, 32, 32, 3])?;
    let k = g.param("conv2d.kernel", [3, 3, 3, 32])?;
    let lr = g.state("lr", [])?;
    let conv = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let y = g.conv2d(x, k, conv)?;
    let y = g.relu(y)?;
    let pool = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout: Layout::Nhwc,
    };
    let p = g.maxpool2d(y, pool)?;
    let flat = g.reshape(p, [2, 15 * 15 * 32])?;
    let loss = g.mean(flat, &[0, 1], false)?;
    g.add_output("loss", loss)?;
    // A fake "gradient" so the update line is exercised: k - lr * k^2 / 2.
    let sq = g.square(k)?;
    let half = g.tensor([], vec![0.5])?;
    let step = g.mul(sq, half)?;
    let step = g.mul(step, lr)?;
    let new_k = g.sub(k, step)?;
    g.add_update(k, new_k)?;
    let unused = g.exp(loss)?;
    let _ = g.neg(unused)?;
    Ok(g)
}

#[test]
fn mlp_forward_prints_readably() {
    insta::assert_snapshot!(print(&mlp().unwrap()));
}

#[test]
fn cnn_with_update_prints_readably() {
    insta::assert_snapshot!(print(&cnn_with_update().unwrap()));
}

#[test]
fn dead_code_elimination_drops_only_unused_ops() {
    let g = cnn_with_update().unwrap();
    let dce = eliminate_dead_code(&g);
    assert_eq!(dce.len() + 2, g.len(), "exactly the exp and neg are dead");
    insta::assert_snapshot!(print(&dce));
}

#[test]
fn dot_export() {
    let mut g = Graph::new("tiny");
    let a = g.input("a", [2]).unwrap();
    let b = g.param("b", [2]).unwrap();
    let c = g.add(a, b).unwrap();
    g.add_output("c", c).unwrap();
    g.add_update(b, c).unwrap();
    insta::assert_snapshot!(to_dot(&g));
}
