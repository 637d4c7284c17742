//! Random well-typed graphs and inputs for property tests, shared by the
//! IR's own tests, the passes' before/after tests and the JIT's
//! differential tests (feature `testing`).
//!
//! A graph is generated as a list of random seeds, one per construction step;
//! each step deterministically turns its seed into an op whose operands fit
//! (choosing among existing values, or adding a param or const that fits).
//! Every construction is valid by design, so a builder error is a bug of
//! this generator or of the IR and panics loudly.

mod fuse;

pub use fuse::fuse_elementwise;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

use crate::builder::broadcast_shape;
use crate::geometry::image_dims;
use crate::interp::{Inputs, Scalar};
use crate::op::MatMulAttrs;
use crate::{
    BinaryOp, CmpOp, ConvAttrs, Graph, Layout, Padding, PoolAttrs, Role, Shape, TensorType,
    UnaryOp, ValueId,
};

/// Random well-typed graphs: 1-4 args (rank 0-4, extents 1-4), 1-15 random
/// construction steps (each adds one op, sometimes with helper consts,
/// params or broadcasts; matmuls sometimes with transposed operands),
/// random consts, 1-3 outputs and maybe an update. No value has a zero
/// extent and there are no `fused` ops (see [`arb_fused_graph`]).
pub fn arb_graph() -> impl Strategy<Value = Graph> {
    let arg = (0..3usize, prop::collection::vec(1..=4usize, 0..=4));
    (
        prop::collection::vec(arg, 1..=4),
        prop::collection::vec(any::<u64>(), 1..=15),
        any::<u64>(),
    )
        .prop_map(|(args, steps, finish)| build_graph(&args, &steps, finish))
}

/// [`arb_graph`] with every elementwise op made a `fused` node by
/// [`fuse_elementwise`]: value `i` of the fused graph equals value `i` of
/// the graph it came from, bit for bit.
pub fn arb_fused_graph() -> impl Strategy<Value = (Graph, Graph)> {
    arb_graph().prop_map(|g| {
        let fused = fuse_elementwise(&g);
        (g, fused)
    })
}

/// The graph for one draw of [`arb_graph`].
pub fn build_graph(args: &[(usize, Vec<usize>)], steps: &[u64], finish: u64) -> Graph {
    let mut r = Rng(finish);
    let name = r.pick(&["random", "g", "my-net.v2", "", "3d_conv"]);
    let mut g = Graph::new(name);
    for (i, (role, dims)) in args.iter().enumerate() {
        let role = [Role::Input, Role::Param, Role::State][role % 3];
        g.arg(role, &format!("a{i}"), TensorType::f32(dims.clone()))
            .expect("fresh arg");
    }
    for &seed in steps {
        step(&mut g, &mut Rng(seed));
    }
    finish_graph(&mut g, &mut r);
    g
}

/// A small deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn coin(&mut self) -> bool {
        self.below(2) == 0
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Floats worth round-tripping: signed zeros, tiny and huge magnitudes,
/// non-finite values. (Only the canonical NaN: the printer shows every NaN
/// as `NaN`.)
const FLOATS: [f32; 12] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    0.1,
    1e-7,
    -3.25e10,
    123456.79,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

const STEP_KINDS: usize = 16;

fn step(g: &mut Graph, r: &mut Rng) {
    let kind = r.below(STEP_KINDS);
    let eligible: Vec<ValueId> = g
        .ids()
        .filter(|&v| {
            let rank = g.shape(v).rank();
            match kind {
                5 => rank <= 3,
                12 => rank >= 2,
                13 | 14 => rank == 4,
                _ => true,
            }
        })
        .collect();
    // Without a fitting operand, fall back to a unary op on any value.
    let (kind, x) = match eligible.is_empty() {
        true => (0, r.pick(&g.ids().collect::<Vec<_>>())),
        false => (kind, r.pick(&eligible)),
    };
    let dims = g.shape(x).dims().to_vec();
    let ok = "the generator builds well-typed ops";
    match kind {
        0 => {
            g.unary(r.pick(&UnaryOp::ALL), x).expect(ok);
        }
        1 => {
            let y = partner(g, r, &dims);
            g.binary(r.pick(&BinaryOp::ALL), x, y).expect(ok);
        }
        2 => {
            let y = partner(g, r, &dims);
            g.compare(r.pick(&CmpOp::ALL), x, y).expect(ok);
        }
        3 => {
            let y = partner(g, r, &dims);
            let common = broadcast_shape(&[g.shape(x), g.shape(y)]).expect(ok);
            let z = partner(g, r, &common);
            let (mask, a, b) = match r.below(3) {
                0 => (x, y, z),
                1 => (y, z, x),
                _ => (z, x, y),
            };
            g.select(mask, a, b).expect(ok);
        }
        4 => {
            g.pow(x, r.pick(&[2.0, 0.5, -1.0, 3.0, 1e-7, -2.5]))
                .expect(ok);
        }
        5 => {
            let rank = r.range(dims.len(), 4);
            let mut axes: Vec<usize> = (0..rank).collect();
            r.shuffle(&mut axes);
            let mut bdims = axes[..dims.len()].to_vec();
            bdims.sort_unstable();
            let mut shape: Vec<usize> = (0..rank).map(|_| r.range(1, 4)).collect();
            for (i, &d) in bdims.iter().enumerate() {
                if dims[i] != 1 || r.coin() {
                    shape[d] = dims[i];
                }
            }
            g.broadcast_in_dim(x, shape, bdims).expect(ok);
        }
        6 => {
            let numel: usize = dims.iter().product();
            let rank = if numel == 1 {
                r.range(0, 4)
            } else {
                r.range(1, 4)
            };
            let mut shape = vec![1; rank];
            for p in prime_factors(numel) {
                let i = r.below(rank);
                shape[i] *= p;
            }
            g.reshape(x, shape).expect(ok);
        }
        7 => {
            let mut perm: Vec<usize> = (0..dims.len()).collect();
            r.shuffle(&mut perm);
            g.transpose(x, &perm).expect(ok);
        }
        8 | 9 => {
            let axes: Vec<usize> = (0..dims.len()).filter(|_| r.coin()).collect();
            let keepdims = r.coin();
            if kind == 8 {
                g.reduce_sum(x, &axes, keepdims).expect(ok);
            } else {
                g.reduce_max(x, &axes, keepdims).expect(ok);
            }
        }
        10 => {
            let low: Vec<usize> = dims.iter().map(|_| r.range(0, 2)).collect();
            let high: Vec<usize> = dims.iter().map(|_| r.range(0, 2)).collect();
            g.pad(x, &low, &high).expect(ok);
        }
        11 => {
            let start: Vec<usize> = dims.iter().map(|&d| r.range(0, d - 1)).collect();
            let end: Vec<usize> = dims
                .iter()
                .zip(&start)
                .map(|(&d, &s)| r.range(s + 1, d))
                .collect();
            g.slice(x, &start, &end).expect(ok);
        }
        12 => {
            // Sometimes with transposed operands: `x` read transposed, or a
            // new `y` stored `[.., n, k]` and read transposed.
            let rank = dims.len();
            let transpose_a = r.below(4) == 0;
            let k = dims[rank - if transpose_a { 2 } else { 1 }];
            let fits: Vec<ValueId> = g
                .ids()
                .filter(|&v| {
                    let s = g.shape(v).dims();
                    s.len() == rank && s[..rank - 2] == dims[..rank - 2] && s[rank - 2] == k
                })
                .collect();
            let (y, transpose_b) = if !fits.is_empty() && r.coin() {
                (r.pick(&fits), false)
            } else {
                let transpose_b = r.coin();
                let mut shape = dims[..rank - 2].to_vec();
                let n = r.range(1, 4);
                shape.extend(if transpose_b { [n, k] } else { [k, n] });
                (new_param(g, shape), transpose_b)
            };
            g.matmul_with(x, y, MatMulAttrs::new(transpose_a, transpose_b))
                .expect(ok);
        }
        13 => {
            let attrs = ConvAttrs {
                strides: [r.range(1, 2), r.range(1, 2)],
                padding: r.pick(&[Padding::Valid, Padding::Same]),
                layout: r.pick(&[Layout::Nhwc, Layout::Nchw]),
            };
            let [_, h, w, c] = image_dims(&dims, attrs.layout);
            let (kh, kw) = window_extents(r, attrs.padding, h, w);
            let co = r.range(1, 3);
            let filter_shape = match attrs.layout {
                Layout::Nhwc => vec![kh, kw, c, co],
                Layout::Nchw => vec![co, c, kh, kw],
            };
            let filter = new_param(g, filter_shape.clone());
            let y = g.conv2d(x, filter, attrs).expect(ok);
            if r.coin() {
                g.conv2d_input_grad(y, filter, attrs, dims.clone())
                    .expect(ok);
            }
            if r.coin() {
                g.conv2d_filter_grad(x, y, attrs, filter_shape).expect(ok);
            }
        }
        14 => {
            let padding = r.pick(&[Padding::Valid, Padding::Same]);
            let layout = r.pick(&[Layout::Nhwc, Layout::Nchw]);
            let [_, h, w, _] = image_dims(&dims, layout);
            let (kh, kw) = window_extents(r, padding, h, w);
            let attrs = PoolAttrs {
                window: [kh, kw],
                strides: [r.range(1, 2), r.range(1, 2)],
                padding,
                layout,
            };
            let y = g.maxpool2d(x, attrs).expect(ok);
            if r.coin() {
                g.maxpool2d_grad(x, y, attrs).expect(ok);
            }
        }
        _ => {
            let rank = r.range(0, 4);
            let shape: Vec<usize> = (0..rank).map(|_| r.range(1, 4)).collect();
            new_const(g, r, shape);
        }
    }
}

/// Window extents that fit an `h x w` image under `padding`.
fn window_extents(r: &mut Rng, padding: Padding, h: usize, w: usize) -> (usize, usize) {
    match padding {
        Padding::Valid => (r.range(1, h.min(3)), r.range(1, w.min(3))),
        Padding::Same => (r.range(1, 3), r.range(1, 3)),
    }
}

/// A value whose shape broadcasts with `dims`: an existing one, or a new
/// const whose shape is a suffix of `dims` with some extents set to 1.
fn partner(g: &mut Graph, r: &mut Rng, dims: &[usize]) -> ValueId {
    let target = Shape::from(dims);
    let fits: Vec<ValueId> = g
        .ids()
        .filter(|&v| broadcast_shape(&[&target, g.shape(v)]).is_some())
        .collect();
    if !fits.is_empty() && r.below(3) > 0 {
        return r.pick(&fits);
    }
    let rank = r.range(0, dims.len());
    let shape: Vec<usize> = dims[dims.len() - rank..]
        .iter()
        .map(|&d| if r.below(3) == 0 { 1 } else { d })
        .collect();
    new_const(g, r, shape)
}

fn new_param(g: &mut Graph, shape: Vec<usize>) -> ValueId {
    let name = format!("p{}", g.len());
    g.param(&name, shape).expect("fresh param")
}

/// A const of all three literal forms: one value, a splat or a list.
fn new_const(g: &mut Graph, r: &mut Rng, shape: Vec<usize>) -> ValueId {
    let numel: usize = shape.iter().product();
    let data = if r.coin() {
        vec![r.pick(&FLOATS); numel]
    } else {
        (0..numel).map(|_| r.pick(&FLOATS)).collect()
    };
    g.tensor(shape, data).expect("fresh const")
}

fn prime_factors(mut n: usize) -> Vec<usize> {
    let mut factors = Vec::new();
    let mut p = 2;
    while n > 1 {
        while n.is_multiple_of(p) {
            factors.push(p);
            n /= p;
        }
        p += 1;
    }
    factors
}

/// Outputs, maybe an update, and a few values renamed to unusual names.
fn finish_graph(g: &mut Graph, r: &mut Rng) {
    let values: Vec<ValueId> = g.ids().collect();
    const NAME_CHARS: &[u8] = b"abcXYZ019_.-";
    for _ in 0..r.range(0, 2) {
        let len = r.range(1, 5);
        let name: String = (0..len).map(|_| r.pick(NAME_CHARS) as char).collect();
        // A clash with an existing name is fine: the rename is just skipped.
        let _ = g.rename(r.pick(&values), &name);
    }
    for i in 0..r.range(1, 3) {
        g.add_output(&format!("out{i}"), r.pick(&values))
            .expect("fresh output");
    }
    let targets: Vec<ValueId> = values
        .iter()
        .copied()
        .filter(|&v| {
            g.args(Role::Param)
                .chain(g.args(Role::State))
                .any(|a| a == v)
        })
        .collect();
    if !targets.is_empty() && r.coin() {
        let target = r.pick(&targets);
        let same: Vec<ValueId> = values
            .iter()
            .copied()
            .filter(|&v| v != target && g.ty(v) == g.ty(target))
            .collect();
        let value = if same.is_empty() {
            g.neg(target).expect("unary op")
        } else {
            r.pick(&same)
        };
        g.add_update(target, value).expect("valid update");
    }
}

/// An array for every argument of `graph`, by name, with values drawn from
/// `seed`: mostly in [-2, 2], with exact zeros and small integers mixed in
/// so masks, maxima and ties are exercised.
pub fn random_inputs<T: Scalar>(graph: &Graph, seed: u64) -> Inputs<T> {
    let mut r = Rng(seed);
    graph
        .arguments()
        .map(|v| {
            let dims = graph.shape(v).dims();
            let data = (0..graph.shape(v).numel())
                .map(|_| {
                    let x = match r.below(8) {
                        0 => 0.0,
                        1 => r.range(0, 4) as f32 - 2.0,
                        _ => (r.below(1 << 20) as f32 / (1 << 18) as f32) - 2.0,
                    };
                    T::from_f32(x)
                })
                .collect();
            let array = ArrayD::from_shape_vec(IxDyn(dims), data).expect("numel elements");
            (graph.value_name(v).to_string(), array)
        })
        .collect()
}
