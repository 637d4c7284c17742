//! Text-format round trips: printed graphs (every op kind, special floats,
//! empty and unnamed graphs, unusual names, and the reviewed print
//! snapshots in `tests/it/snapshots/`) parse back to the same graph and print
//! to the same text.

use triceratops_ir::text::{parse, print};
use triceratops_ir::{
    verify, BinaryOp, CmpOp, ConvAttrs, Graph, Layout, Padding, PoolAttrs, UnaryOp,
};

/// Parses the printed graph, checks the text is a fixed point and returns
/// the parsed graph.
fn round_trip(g: &Graph) -> Graph {
    let text = print(g);
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print(&parsed), text);
    verify(&parsed).unwrap();
    parsed
}

fn conv(strides: [usize; 2], padding: Padding, layout: Layout) -> ConvAttrs {
    ConvAttrs {
        strides,
        padding,
        layout,
    }
}

fn pool(window: [usize; 2], strides: [usize; 2], padding: Padding, layout: Layout) -> PoolAttrs {
    PoolAttrs {
        window,
        strides,
        padding,
        layout,
    }
}

/// A graph using every op kind (without NaN, so `==` applies).
fn every_op() -> Graph {
    let mut g = Graph::new("every_op");
    let x = g.input("x", [2, 3]).unwrap();
    let y = g.input("y", [2, 3]).unwrap();
    let s = g.param("s", [3]).unwrap();
    let w = g.param("w", [3, 4]).unwrap();
    let step = g.state("step", []).unwrap();
    for u in UnaryOp::ALL {
        g.unary(u, x).unwrap();
    }
    for b in BinaryOp::ALL {
        g.binary(b, x, y).unwrap();
    }
    for c in CmpOp::ALL {
        g.compare(c, x, y).unwrap();
    }
    let mask = g.compare(CmpOp::Gt, x, s).unwrap(); // broadcasts %s
    g.select(mask, x, y).unwrap();
    g.pow(x, 0.5).unwrap();
    g.pow(x, -1e-7).unwrap();
    g.broadcast_in_dim(s, [4, 2, 3], vec![2]).unwrap();
    g.reshape(x, [3, 1, 2]).unwrap();
    g.reshape(x, [6]).unwrap();
    g.transpose(x, &[1, 0]).unwrap();
    g.pad(x, &[0, 1], &[2, 0]).unwrap();
    g.slice(x, &[1, 0], &[2, 2]).unwrap();
    g.slice(x, &[1, 1], &[1, 3]).unwrap(); // empty
    for keepdims in [true, false] {
        g.reduce_sum(x, &[1], keepdims).unwrap();
        g.reduce_max(x, &[0, 1], keepdims).unwrap();
    }
    g.reduce_sum(x, &[], false).unwrap();
    let xw = g.matmul(x, w).unwrap();
    let a = g.input("a", [5, 2, 3]).unwrap();
    let bw = g.param("bw", [5, 3, 4]).unwrap();
    g.matmul(a, bw).unwrap();

    // conv2d and both gradients, in both layouts.
    let img = g.input("img", [2, 5, 5, 3]).unwrap();
    let hwio = g.param("hwio", [3, 3, 3, 4]).unwrap();
    let c = conv([2, 2], Padding::Same, Layout::Nhwc);
    let out = g.conv2d(img, hwio, c).unwrap();
    assert_eq!(g.shape(out).dims(), [2, 3, 3, 4]);
    g.conv2d_input_grad(out, hwio, c, [2, 5, 5, 3]).unwrap();
    g.conv2d_filter_grad(img, out, c, [3, 3, 3, 4]).unwrap();
    let img2 = g.input("img2", [2, 3, 6, 6]).unwrap();
    let oihw = g.param("oihw", [4, 3, 2, 2]).unwrap();
    let c = conv([2, 1], Padding::Valid, Layout::Nchw);
    let out = g.conv2d(img2, oihw, c).unwrap();
    assert_eq!(g.shape(out).dims(), [2, 4, 3, 5]);
    g.conv2d_input_grad(out, oihw, c, [2, 3, 6, 6]).unwrap();
    g.conv2d_filter_grad(img2, out, c, [4, 3, 2, 2]).unwrap();

    // maxpool2d and its gradient, in both layouts.
    let p = pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc);
    let pooled = g.maxpool2d(img, p).unwrap();
    g.maxpool2d_grad(img, pooled, p).unwrap();
    let p = pool([3, 3], [2, 2], Padding::Same, Layout::Nchw);
    let pooled = g.maxpool2d(img2, p).unwrap();
    assert_eq!(g.shape(pooled).dims(), [2, 3, 3, 3]);
    g.maxpool2d_grad(img2, pooled, p).unwrap();

    // Consts of the three literal forms, an empty one, outputs, updates.
    let one = g.scalar(1.0).unwrap();
    g.tensor([2, 2], vec![0.25; 4]).unwrap();
    g.tensor([1, 1], vec![3.0]).unwrap();
    g.tensor([3], vec![1.0, -0.0, 1e-7]).unwrap();
    g.tensor([0, 2], vec![]).unwrap();
    let next = g.add(step, one).unwrap();
    let lr = g.scalar(0.1).unwrap();
    let delta = g.mul(w, lr).unwrap();
    let new_w = g.sub(w, delta).unwrap();
    g.add_output("xw", xw).unwrap();
    g.add_output("loss", next).unwrap();
    g.add_output("mask", mask).unwrap();
    g.add_update(w, new_w).unwrap();
    g.add_update(step, next).unwrap();
    g
}

#[test]
fn every_op_round_trips() {
    let g = every_op();
    let text = print(&g);
    for name in [
        "conv2d_input_grad",
        "maxpool2d_grad",
        "select",
        "splat(0.25)",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert_eq!(round_trip(&g), g);
}

#[test]
fn special_floats_round_trip() {
    let mut g = Graph::new("floats");
    let special = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        1e-7,
        -3.25e10,
        f32::MIN_POSITIVE,
        f32::MAX,
        0.1,
    ];
    g.tensor([2, 5], special.clone()).unwrap();
    g.tensor([3], vec![f32::NAN; 3]).unwrap();
    g.scalar(f32::NEG_INFINITY).unwrap();
    g.scalar(-0.0).unwrap();
    let x = g.input("x", [2]).unwrap();
    g.pow(x, f32::NAN).unwrap();
    g.pow(x, f32::INFINITY).unwrap();
    let text = print(&g);
    assert!(
        text.contains(
            "[NaN, inf, -inf, -0.0, 0.0, 1e-7, -32500000000.0, 1.1754944e-38, 3.4028235e38, 0.1]"
        ),
        "{text}"
    );
    assert!(text.contains("splat(NaN)"));
    assert!(text.contains("exponent=NaN"));
    // NaN != NaN, so compare texts and bits.
    let parsed = round_trip(&g);
    let data = parsed
        .const_value(parsed.ids().next().unwrap())
        .expect("a const")
        .to_vec(special.len());
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert!(data[0].is_nan());
    assert_eq!(bits(&data[1..]), bits(&special[1..]));
}

#[test]
fn empty_and_unnamed_graphs_round_trip() {
    let g = Graph::new("empty");
    assert_eq!(print(&g), "graph empty {\n}\n");
    assert_eq!(round_trip(&g), g);
    let mut g = Graph::new("");
    g.input("x", []).unwrap();
    assert_eq!(print(&g), "graph  {\n  input %x: f32[]\n}\n");
    assert_eq!(round_trip(&g), g);
}

#[test]
fn unusual_names_round_trip() {
    let mut g = Graph::new("net-1.2_b");
    let x = g.input("-1", [2]).unwrap();
    let y = g.neg(x).unwrap();
    g.rename(y, "3_1").unwrap();
    let z = g.abs(y).unwrap();
    g.rename(z, ".").unwrap();
    g.add_output("-", z).unwrap();
    g.add_output("graph", y).unwrap();
    let text = print(&g);
    assert!(text.contains("%.: f32[2] = abs %3_1"));
    assert_eq!(round_trip(&g), g);
}

/// Every printed graph among the reviewed snapshots parses back to itself.
#[test]
fn snapshot_graphs_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let mut graphs = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let snap = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // An insta snapshot: a `---` header block, then the content.
        let Some((_, content)) = snap
            .strip_prefix("---\n")
            .and_then(|s| s.split_once("---\n"))
        else {
            continue;
        };
        if content.starts_with("graph ") {
            let text = format!("{}\n", content.trim_end());
            let g = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(print(&g), text);
            graphs += 1;
        }
    }
    assert!(graphs >= 2, "found only {graphs} graph snapshots");
}
