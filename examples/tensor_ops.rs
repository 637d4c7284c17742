//! The lecture's tensor examples as IR graphs, run on the reference
//! interpreter: vector-matrix and matrix products, reshape and transpose, and
//! a conv2d + maxpool2d in channels-last (NHWC) and channels-first (NCHW).
//!
//! Run with `cargo run --release --example tensor_ops`.

use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::{evaluate, Inputs};
use triceratops::ir::text::print;
use triceratops::ir::{ConvAttrs, Graph, Layout, Padding, PoolAttrs, Result};

fn array(shape: &[usize], data: &[f32]) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).expect("data fits the shape")
}

/// Prints the graph, runs it, prints every output, and returns the outputs.
fn run(graph: &Graph, inputs: Inputs<f32>) -> Result<Vec<ArrayD<f32>>> {
    println!("{}", print(graph));
    let eval = evaluate(graph, &inputs)?;
    let mut outs = Vec::new();
    for (name, _) in graph.outputs() {
        let value = eval.output(name).expect("declared output").to_owned();
        println!("{name} {:?} =\n{value}\n", value.shape());
        outs.push(value);
    }
    Ok(outs)
}

fn matmul_example(name: &str, a: ArrayD<f32>, b: ArrayD<f32>) -> Result<()> {
    let mut g = Graph::new(name);
    let x = g.input("a", a.shape().to_vec())?;
    let w = g.input("b", b.shape().to_vec())?;
    let y = g.matmul(x, w)?;
    g.add_output("ab", y)?;
    run(&g, Inputs::from([("a".into(), a), ("b".into(), b)]))?;
    Ok(())
}

fn reshape_transpose() -> Result<()> {
    let mut g = Graph::new("reshape_transpose");
    let x = g.input("x", [4, 3])?;
    let r = g.reshape(x, [2, 6])?;
    let t = g.transpose(r, &[1, 0])?;
    g.add_output("reshaped", r)?;
    g.add_output("transposed", t)?;
    let x = array(&[4, 3], &[0., 1., 2., 2., 3., 4., 4., 5., 6., 7., 8., 9.]);
    run(&g, Inputs::from([("x".into(), x)]))?;
    Ok(())
}

/// conv2d (3x3, 2 -> 2 channels, valid) then 2x2 maxpool, in `layout`.
fn conv_pool(layout: Layout, image: ArrayD<f32>, filter: ArrayD<f32>) -> Result<ArrayD<f32>> {
    let mut g = Graph::new(&format!("conv_pool_{}", layout.name()));
    let x = g.input("image", image.shape().to_vec())?;
    let w = g.param("filter", filter.shape().to_vec())?;
    let conv = ConvAttrs {
        strides: [1, 1],
        padding: Padding::Valid,
        layout,
    };
    let y = g.conv2d(x, w, conv)?;
    let y = g.relu(y)?;
    let pool = PoolAttrs {
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
        layout,
    };
    let p = g.maxpool2d(y, pool)?;
    g.add_output("pooled", p)?;
    let inputs = Inputs::from([("image".into(), image), ("filter".into(), filter)]);
    Ok(run(&g, inputs)?.remove(0))
}

fn main() -> Result<()> {
    println!("== (1 2) x [[1 2 3],[4 5 6]] ==");
    matmul_example(
        "vector_matrix",
        array(&[1, 2], &[1., 2.]),
        array(&[2, 3], &[1., 2., 3., 4., 5., 6.]),
    )?;
    println!("== [[1,3],[2,4]] x [[5,7],[6,8]] ==");
    matmul_example(
        "matrix_2x2",
        array(&[2, 2], &[1., 3., 2., 4.]),
        array(&[2, 2], &[5., 7., 6., 8.]),
    )?;
    println!("== [[1,2,1],[0,1,0],[2,3,4]] x [[2,5],[6,7],[1,8]] ==");
    matmul_example(
        "matrix_3x3_3x2",
        array(&[3, 3], &[1., 2., 1., 0., 1., 0., 2., 3., 4.]),
        array(&[3, 2], &[2., 5., 6., 7., 1., 8.]),
    )?;
    println!("== reshape (4,3) -> (2,6), then transpose -> (6,2) ==");
    reshape_transpose()?;

    // One 6x6 image with 2 channels (integers scrambled in -8..8, NHWC order),
    // and a 3x3 filter 2 -> 2 channels (HWIO) with small alternating weights.
    let image_nhwc = array(
        &[1, 6, 6, 2],
        &(0..72)
            .map(|v| ((v * 37) % 17) as f32 - 8.0)
            .collect::<Vec<_>>(),
    );
    let filter_hwio = array(
        &[3, 3, 2, 2],
        &(0..36)
            .map(|v| if v % 3 == 0 { -0.5 } else { 0.25 } * (1 + v % 4) as f32)
            .collect::<Vec<_>>(),
    );
    println!("== conv2d + relu + maxpool2d, channels-last (NHWC / HWIO) ==");
    let nhwc = conv_pool(Layout::Nhwc, image_nhwc.clone(), filter_hwio.clone())?;

    println!("== the same in channels-first (NCHW / OIHW) ==");
    let image_nchw = image_nhwc
        .view()
        .permuted_axes(IxDyn(&[0, 3, 1, 2]))
        .to_owned();
    let filter_oihw = filter_hwio
        .view()
        .permuted_axes(IxDyn(&[3, 2, 0, 1]))
        .to_owned();
    let nchw = conv_pool(Layout::Nchw, image_nchw, filter_oihw)?;

    let nchw_as_nhwc = nchw.view().permuted_axes(IxDyn(&[0, 2, 3, 1])).to_owned();
    println!(
        "NCHW result transposed to NHWC equals the NHWC result: {}",
        nchw_as_nhwc == nhwc
    );
    Ok(())
}
