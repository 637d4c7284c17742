//! Finite-difference checks of whole networks: a relu MLP and a
//! conv2d/relu/maxpool2d CNN (both layouts, valid/same padding), each with a
//! softmax cross-entropy loss written from primitive ops, differentiated with
//! respect to all their weights and biases at once. The method is described
//! in `grad_support`.

use crate::grad_support::{
    check_guarded, config, input, layout, numel, padding, param, uniform, Out,
};
use proptest::prelude::*;
use triceratops_ir::geometry::{image_shape, window};
use triceratops_ir::{ConvAttrs, Graph, Layout, Padding, PoolAttrs, Result, ValueId};

// -------------------------------------------------------- whole networks

/// Softmax cross-entropy of `logits [n, classes]` against one-hot `t`,
/// written from primitive ops: `-sum(t * log(softmax(logits))) / n`.
fn softmax_cross_entropy(g: &mut Graph, logits: ValueId, t: ValueId) -> Result<ValueId> {
    let n = g.shape(logits)[0];
    let max = g.reduce_max(logits, &[1], true)?;
    let shifted = g.sub(logits, max)?;
    let e = g.exp(shifted)?;
    let sum = g.reduce_sum(e, &[1], true)?;
    let p = g.div(e, sum)?;
    let logp = g.log(p)?;
    let tl = g.mul(t, logp)?;
    let total = g.reduce_sum(tl, &[0, 1], false)?;
    let total = g.neg(total)?;
    let scale = g.scalar(1.0 / n as f32)?;
    g.mul(total, scale)
}

fn one_hot(labels: &[usize], classes: usize) -> Vec<f64> {
    let mut t = vec![0.0; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        t[i * classes + l] = 1.0;
    }
    t
}

#[derive(Clone, Debug)]
struct MlpCase {
    n: usize,
    d: usize,
    h: usize,
    c: usize,
    x: Vec<f64>,
    w1: Vec<f64>,
    b1: Vec<f64>,
    w2: Vec<f64>,
    b2: Vec<f64>,
    labels: Vec<usize>,
}

fn mlp_case() -> impl Strategy<Value = MlpCase> {
    (1usize..4, 1usize..5, 1usize..5, 2usize..5).prop_flat_map(|(n, d, h, c)| {
        (
            uniform(n * d, -2.0, 2.0),
            uniform(d * h, -1.0, 1.0),
            uniform(h, -1.0, 1.0),
            uniform(h * c, -1.0, 1.0),
            uniform(c, -1.0, 1.0),
            prop::collection::vec(0..c, n),
        )
            .prop_map(move |(x, w1, b1, w2, b2, labels)| MlpCase {
                n,
                d,
                h,
                c,
                x,
                w1,
                b1,
                w2,
                b2,
                labels,
            })
    })
}

#[derive(Clone, Debug)]
struct CnnCase {
    layout: Layout,
    padding: Padding,
    image: Vec<usize>,
    filter: Vec<usize>,
    o: usize,
    features: usize,
    classes: usize,
    x: Vec<f64>,
    k: Vec<f64>,
    kb: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
    labels: Vec<usize>,
}

fn cnn_case() -> impl Strategy<Value = CnnCase> {
    (
        (layout(), padding()),
        (
            1usize..3,
            4usize..7,
            4usize..7,
            1usize..3,
            1usize..4,
            2usize..4,
        ),
    )
        .prop_flat_map(|((layout, padding), (n, h, w, c, o, classes))| {
            let conv_out = |e: usize| window(e, 3, 1, padding).expect("fits").out;
            let (ch, cw) = (conv_out(h), conv_out(w));
            let pool_out = |e: usize| window(e, 2, 2, Padding::Valid).expect("fits").out;
            let features = pool_out(ch) * pool_out(cw) * o;
            let image = image_shape([n, h, w, c], layout);
            let filter = match layout {
                Layout::Nhwc => vec![3, 3, c, o],
                Layout::Nchw => vec![o, c, 3, 3],
            };
            (
                uniform(numel(&image), -1.0, 1.0),
                uniform(numel(&filter), -1.0, 1.0),
                uniform(o, -0.5, 0.5),
                uniform(features * classes, -1.0, 1.0),
                uniform(classes, -1.0, 1.0),
                prop::collection::vec(0..classes, n),
            )
                .prop_map(move |(x, k, kb, w, b, labels)| CnnCase {
                    layout,
                    padding,
                    image: image.clone(),
                    filter: filter.clone(),
                    o,
                    features,
                    classes,
                    x,
                    k,
                    kb,
                    w,
                    b,
                    labels,
                })
        })
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn mlp_softmax_cross_entropy(m in mlp_case()) {
        let args = [
            input("x", &[m.n, m.d], m.x.clone()),
            input("t", &[m.n, m.c], one_hot(&m.labels, m.c)),
            param("w1", &[m.d, m.h], m.w1.clone()),
            param("b1", &[m.h], m.b1.clone()),
            param("w2", &[m.h, m.c], m.w2.clone()),
            param("b2", &[m.c], m.b2.clone()),
        ];
        check_guarded("mlp", &args, |g, p| {
            let [x, t, w1, b1, w2, b2] = [p[0], p[1], p[2], p[3], p[4], p[5]];
            let z = g.matmul(x, w1)?;
            let z = g.add(z, b1)?;
            let a = g.relu(z)?;
            let logits = g.matmul(a, w2)?;
            let logits = g.add(logits, b2)?;
            let mut out = Out::new(softmax_cross_entropy(g, logits, t)?);
            out.away_from_zero.push(z);
            Ok(out)
        })?;
    }

    #[test]
    fn cnn_softmax_cross_entropy(m in cnn_case()) {
        let n = m.labels.len();
        let args = [
            input("x", &m.image, m.x.clone()),
            input("t", &[n, m.classes], one_hot(&m.labels, m.classes)),
            param("kernel", &m.filter, m.k.clone()),
            param("kernel_bias", &[m.o], m.kb.clone()),
            param("dense", &[m.features, m.classes], m.w.clone()),
            param("dense_bias", &[m.classes], m.b.clone()),
        ];
        let conv = ConvAttrs { strides: [1, 1], padding: m.padding, layout: m.layout };
        let pool = PoolAttrs {
            window: [2, 2],
            strides: [2, 2],
            padding: Padding::Valid,
            layout: m.layout,
        };
        let channel_axis = match m.layout {
            Layout::Nhwc => 3,
            Layout::Nchw => 1,
        };
        let what = format!("cnn {:?} {:?} {:?}", m.layout, m.padding, m.image);
        check_guarded(&what, &args, |g, p| {
            let [x, t, k, kb, w, b] = [p[0], p[1], p[2], p[3], p[4], p[5]];
            let z = g.conv2d(x, k, conv)?;
            let shape = g.shape(z).clone();
            let bias = g.broadcast_in_dim(kb, shape, vec![channel_axis])?;
            let z = g.add(z, bias)?;
            let a = g.relu(z)?;
            let pooled = g.maxpool2d(a, pool)?;
            let flat = g.reshape(pooled, [n, m.features])?;
            let logits = g.matmul(flat, w)?;
            let logits = g.add(logits, b)?;
            let mut out = Out::new(softmax_cross_entropy(g, logits, t)?);
            out.away_from_zero.push(z);
            out.pools.push((a, pool));
            Ok(out)
        })?;
    }
}
