//! A layered (Sugiyama-style) top-to-bottom drawing of a dataflow graph in
//! pure Rust: layers, virtual points for long edges, barycenter ordering,
//! and x placement by isotonic regression. No Graphviz: the page must be
//! built without external tools.

use super::report::{Dataflow, FlowEdge, FlowNode, Origin};

/// One value of the graph to draw; `operands` index earlier entries.
pub struct LayoutInput {
    pub name: String,
    pub label: String,
    pub origin: Origin,
    pub operands: Vec<usize>,
}

const CHAR_W: f64 = 7.0;
const PAD_W: f64 = 16.0;
const NODE_H: f64 = 22.0;
/// Vertical room between two layers' boxes (where edges run).
const LAYER_GAP: f64 = 38.0;
/// Horizontal room between neighbouring boxes; virtual points have no
/// width, so parallel long edges keep this distance too.
const NODE_GAP: f64 = 14.0;
const MARGIN: f64 = 10.0;
const ORDER_SWEEPS: usize = 4;
const PLACE_SWEEPS: usize = 6;

/// One slot of a layer: a real node or a virtual point of a long edge.
struct Item {
    layer: usize,
    width: f64,
    /// Neighbours in the layer above and below (item indices).
    up: Vec<usize>,
    down: Vec<usize>,
}

/// Lays out `nodes` (in topological order) top to bottom. Operand indices
/// that are not smaller than the user's are ignored (not a DAG order).
pub fn lay_out(nodes: &[LayoutInput]) -> Dataflow {
    // Operand -> user edges, deduplicated (`mul %7, %7` is one edge).
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (user, node) in nodes.iter().enumerate() {
        let mut ops: Vec<usize> = node
            .operands
            .iter()
            .copied()
            .filter(|&o| o < user)
            .collect();
        ops.sort_unstable();
        ops.dedup();
        edges.extend(ops.into_iter().map(|o| (o, user)));
    }
    let layer = assign_layers(nodes, &edges);

    let mut items: Vec<Item> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Item {
            layer: layer[i],
            width: node.label.chars().count() as f64 * CHAR_W + PAD_W,
            up: Vec::new(),
            down: Vec::new(),
        })
        .collect();
    // Each edge becomes a chain of items, one per layer it touches.
    let mut chains: Vec<Vec<usize>> = Vec::with_capacity(edges.len());
    for &(from, to) in &edges {
        let mut chain = vec![from];
        for l in layer[from] + 1..layer[to] {
            items.push(Item {
                layer: l,
                width: 0.0,
                up: Vec::new(),
                down: Vec::new(),
            });
            chain.push(items.len() - 1);
        }
        chain.push(to);
        for pair in chain.windows(2) {
            items[pair[0]].down.push(pair[1]);
            items[pair[1]].up.push(pair[0]);
        }
        chains.push(chain);
    }

    let layer_count = layer.iter().map(|&l| l + 1).max().unwrap_or(0);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (i, item) in items.iter().enumerate() {
        layers[item.layer].push(i);
    }
    order_layers(&items, &mut layers);
    let x = place_x(&items, &layers);

    let y_of = |l: usize| MARGIN + NODE_H / 2.0 + l as f64 * (NODE_H + LAYER_GAP);
    let min_left = (0..items.len())
        .map(|i| x[i] - items[i].width / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if min_left.is_finite() {
        MARGIN - min_left
    } else {
        0.0
    };
    let width = (0..items.len())
        .map(|i| x[i] + shift + items[i].width / 2.0)
        .fold(0.0, f64::max)
        + MARGIN;
    let height = if layer_count == 0 {
        0.0
    } else {
        y_of(layer_count - 1) + NODE_H / 2.0 + MARGIN
    };

    // A tenth of a pixel is plenty and keeps the page's JSON short.
    let r = |v: f64| (v * 10.0).round() / 10.0;
    let flow_nodes = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| FlowNode {
            name: node.name.clone(),
            label: node.label.clone(),
            x: r(x[i] + shift),
            y: r(y_of(layer[i])),
            width: items[i].width,
            height: NODE_H,
            origin: node.origin,
        })
        .collect();
    let flow_edges = edges
        .iter()
        .zip(&chains)
        .map(|(&(from, to), chain)| {
            let last = chain.len() - 1;
            let points = chain
                .iter()
                .enumerate()
                .map(|(k, &it)| {
                    // Ends leave the bottom of the operand's box and enter
                    // the top of the user's.
                    let dy = match k {
                        0 => NODE_H / 2.0,
                        k if k == last => -NODE_H / 2.0,
                        _ => 0.0,
                    };
                    (r(x[it] + shift), r(y_of(items[it].layer) + dy))
                })
                .collect();
            FlowEdge {
                from: nodes[from].name.clone(),
                to: nodes[to].name.clone(),
                points,
            }
        })
        .collect();
    Dataflow {
        width: r(width).ceil(),
        height: r(height).ceil(),
        nodes: flow_nodes,
        edges: flow_edges,
    }
}

/// Layer of each node: the longest path from a source, except that a source
/// (argument, constant) sits just above its first user. A training step has
/// dozens of parameters, slots and constants; at layer 0 they would all
/// share one very wide row with edges running the whole height of the
/// drawing to the optimizer updates that use them.
fn assign_layers(nodes: &[LayoutInput], edges: &[(usize, usize)]) -> Vec<usize> {
    let n = nodes.len();
    let mut layer = vec![0usize; n];
    let mut has_operand = vec![false; n];
    // Edges are sorted by user, and operands precede users.
    for &(from, to) in edges {
        layer[to] = layer[to].max(layer[from] + 1);
        has_operand[to] = true;
    }
    let mut first_use = vec![usize::MAX; n];
    for &(from, to) in edges {
        first_use[from] = first_use[from].min(layer[to]);
    }
    for i in 0..n {
        if !has_operand[i] && first_use[i] != usize::MAX {
            layer[i] = first_use[i] - 1;
        }
    }
    layer
}

/// Orders each layer by barycenter sweeps, down then up, to reduce
/// crossings. Items without neighbours on the swept side keep their place.
fn order_layers(items: &[Item], layers: &mut [Vec<usize>]) {
    let mut pos = vec![0usize; items.len()];
    let set_pos = |layer: &[usize], pos: &mut [usize]| {
        for (p, &it) in layer.iter().enumerate() {
            pos[it] = p;
        }
    };
    for layer in layers.iter() {
        set_pos(layer, &mut pos);
    }
    let reorder = |layer: &mut Vec<usize>, pos: &mut [usize], down: bool| {
        let mut keyed: Vec<(f64, usize, usize)> = layer
            .iter()
            .map(|&it| {
                let nb = if down { &items[it].up } else { &items[it].down };
                let key = if nb.is_empty() {
                    pos[it] as f64
                } else {
                    nb.iter().map(|&o| pos[o] as f64).sum::<f64>() / nb.len() as f64
                };
                (key, pos[it], it)
            })
            .collect();
        // Ties keep the current order, so the result is deterministic.
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *layer = keyed.into_iter().map(|k| k.2).collect();
        set_pos(layer, pos);
    };
    for _ in 0..ORDER_SWEEPS {
        for layer in layers.iter_mut().skip(1) {
            reorder(layer, &mut pos, true);
        }
        let below = layers.len().saturating_sub(1);
        for layer in layers[..below].iter_mut().rev() {
            reorder(layer, &mut pos, false);
        }
    }
}

/// X centres: each sweep pulls every item towards the mean x of its
/// neighbours in the layer swept from, keeping the layer's order and the
/// gaps. The closest such placement (least squares) is an isotonic
/// regression, solved exactly in linear time by pooling adjacent violators.
fn place_x(items: &[Item], layers: &[Vec<usize>]) -> Vec<f64> {
    let mut x = vec![0.0; items.len()];
    for layer in layers {
        let mut left = 0.0;
        for &it in layer {
            x[it] = left + items[it].width / 2.0;
            left += items[it].width + NODE_GAP;
        }
    }
    for sweep in 0..PLACE_SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (1..layers.len()).collect()
        } else {
            (0..layers.len().saturating_sub(1)).rev().collect()
        };
        for l in order {
            let layer = &layers[l];
            let desired: Vec<f64> = layer
                .iter()
                .map(|&it| {
                    let nb = if down { &items[it].up } else { &items[it].down };
                    if nb.is_empty() {
                        x[it]
                    } else {
                        nb.iter().map(|&o| x[o]).sum::<f64>() / nb.len() as f64
                    }
                })
                .collect();
            let widths: Vec<f64> = layer.iter().map(|&it| items[it].width).collect();
            for (&it, v) in layer.iter().zip(fit_ordered(&desired, &widths)) {
                x[it] = v;
            }
        }
    }
    x
}

/// The x centres closest (least squares) to `desired` such that the boxes
/// (of `widths`) stay in order without overlap. With `c[i]` the least
/// offset of box i from box 0, `y = x - c` must be non-decreasing: an
/// isotonic regression of `desired - c`.
fn fit_ordered(desired: &[f64], widths: &[f64]) -> Vec<f64> {
    let mut c = Vec::with_capacity(desired.len());
    let mut acc = 0.0;
    for i in 0..desired.len() {
        if i > 0 {
            acc += (widths[i - 1] + widths[i]) / 2.0 + NODE_GAP;
        }
        c.push(acc);
    }
    // Blocks of (sum, count) whose means increase.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (d, ci) in desired.iter().zip(&c) {
        blocks.push((d - ci, 1));
        while blocks.len() > 1 {
            let (s1, n1) = blocks[blocks.len() - 1];
            let (s0, n0) = blocks[blocks.len() - 2];
            if s0 / n0 as f64 <= s1 / n1 as f64 {
                break;
            }
            blocks.pop();
            *blocks.last_mut().expect("two blocks") = (s0 + s1, n0 + n1);
        }
    }
    let mut out = Vec::with_capacity(desired.len());
    for (s, k) in blocks {
        let mean = s / k as f64;
        out.extend(std::iter::repeat_n(mean, k));
    }
    out.iter_mut().zip(&c).for_each(|(y, ci)| *y += ci);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, label: &str, operands: &[usize]) -> LayoutInput {
        LayoutInput {
            name: name.to_string(),
            label: label.to_string(),
            origin: if operands.is_empty() {
                Origin::Input
            } else {
                Origin::Forward
            },
            operands: operands.to_vec(),
        }
    }

    /// A deterministic pseudo-random DAG (xorshift; no rand in unit tests).
    fn random_dag(n: usize, seed: u64) -> Vec<LayoutInput> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        (0..n)
            .map(|i| {
                let k = if i < 5 { 0 } else { 1 + (next() % 3) as usize };
                let ops: Vec<usize> = (0..k).map(|_| (next() as usize) % i.max(1)).collect();
                let ops = if i == 0 { Vec::new() } else { ops };
                node(
                    &format!("v{i}"),
                    &"x".repeat(1 + (next() % 12) as usize),
                    &ops,
                )
            })
            .collect()
    }

    fn check(nodes: &[LayoutInput], d: &Dataflow) {
        assert_eq!(d.nodes.len(), nodes.len());
        for (n, f) in nodes.iter().zip(&d.nodes) {
            assert_eq!(n.name, f.name);
            assert!(f.x - f.width / 2.0 >= 0.0 && f.x + f.width / 2.0 <= d.width + 1e-9);
            assert!(f.y - f.height / 2.0 >= 0.0 && f.y + f.height / 2.0 <= d.height + 1e-9);
        }
        let idx: std::collections::HashMap<&str, &FlowNode> =
            d.nodes.iter().map(|f| (f.name.as_str(), f)).collect();
        for e in &d.edges {
            let (a, b) = (idx[e.from.as_str()], idx[e.to.as_str()]);
            assert!(a.y < b.y, "edge {} -> {} goes up", e.from, e.to);
            assert!(e.points.len() >= 2);
            assert!(
                e.points.windows(2).all(|p| p[0].1 < p[1].1),
                "polyline goes down"
            );
            assert_eq!(e.points[0].0, a.x);
            assert_eq!(e.points[e.points.len() - 1].0, b.x);
        }
        // No two boxes of a layer (same y) overlap.
        let mut rows: std::collections::BTreeMap<i64, Vec<&FlowNode>> = Default::default();
        for f in &d.nodes {
            rows.entry(f.y.round() as i64).or_default().push(f);
        }
        for row in rows.values_mut() {
            row.sort_by(|a, b| a.x.total_cmp(&b.x));
            for p in row.windows(2) {
                let gap = (p[1].x - p[1].width / 2.0) - (p[0].x + p[0].width / 2.0);
                assert!(
                    gap >= NODE_GAP - 0.2,
                    "{} and {} overlap",
                    p[0].name,
                    p[1].name
                );
            }
        }
    }

    #[test]
    fn small_graph_edges_go_down_and_sources_sit_above_their_user() {
        let nodes = vec![
            node("x", "x", &[]),
            node("w", "w", &[]),
            node("1", "matmul", &[0, 1]),
            node("2", "relu", &[2]),
            node("b", "b", &[]),
            node("3", "add", &[3, 4, 4]),
            node("4", "mul", &[3, 5]),
        ];
        let d = lay_out(&nodes);
        check(&nodes, &d);
        assert_eq!(d.edges.len(), 7, "duplicate operand drawn once");
        // `b` is used only by `3` (layer 2), so it sits in layer 1.
        assert_eq!(d.nodes[4].y, d.nodes[3].y);
        // The long edge 2 -> 4 (layers 1 -> 3) has a virtual point.
        let long = d
            .edges
            .iter()
            .find(|e| e.from == "2" && e.to == "4")
            .unwrap();
        assert_eq!(long.points.len(), 3);
    }

    #[test]
    fn barycenter_sweeps_uncross_swapped_chains() {
        // Input order crosses: s0 feeds u1, s1 feeds u0.
        let nodes = vec![
            node("s0", "s0", &[]),
            node("s1", "s1", &[]),
            node("u0", "u0", &[1]),
            node("u1", "u1", &[0]),
            node("w0", "w0", &[2]),
            node("w1", "w1", &[3]),
        ];
        let d = lay_out(&nodes);
        check(&nodes, &d);
        let x = |name: &str| d.nodes.iter().find(|n| n.name == name).unwrap().x;
        // Each pair of edges between two layers keeps the same left-right
        // order at both ends.
        assert_eq!(x("s0") < x("s1"), x("u1") < x("u0"));
        assert_eq!(x("u0") < x("u1"), x("w0") < x("w1"));
    }

    #[test]
    fn empty_and_single() {
        let d = lay_out(&[]);
        assert!(d.nodes.is_empty() && d.edges.is_empty());
        let one = vec![node("a", "abc", &[])];
        let d = lay_out(&one);
        check(&one, &d);
        assert!(d.width > 0.0 && d.height > 0.0);
    }

    #[test]
    fn deterministic() {
        let nodes = random_dag(300, 7);
        let a = serde_json::to_string(&lay_out(&nodes)).unwrap();
        let b = serde_json::to_string(&lay_out(&nodes)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn random_dags_lay_out_validly() {
        for seed in 1..6 {
            let nodes = random_dag(200, seed);
            check(&nodes, &lay_out(&nodes));
        }
    }

    #[test]
    fn thousand_nodes() {
        let nodes = random_dag(1000, 42);
        check(&nodes, &lay_out(&nodes));
    }
}
