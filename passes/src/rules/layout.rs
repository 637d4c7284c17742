//! Rule set 3, layout. Every rule here only moves data, so every f32 value
//! stays bit-identical (checked by the before/after interpreter tests):
//!
//! - a transpose that only moves extent-1 axes is a reshape (a free view);
//!   transpose∘transpose and reshape∘reshape are the algebra set's
//!   (`transpose-transpose`, `reshape-reshape`), which this phase runs too;
//! - a transpose of the last two axes feeding a matmul flips its
//!   `transpose_a`/`transpose_b` flag (the interpreter reads the operand
//!   transposed, with the same products in the same order);
//! - a transpose of a broadcast is a broadcast when the broadcast dims stay
//!   strictly increasing under the permutation;
//! - an elementwise op whose every operand is transposed by the same
//!   permutation, is a splat constant, or is a broadcast that permutes
//!   consistently, is the transpose of the op over the untransposed
//!   operands. A same-shaped operand that is not transposed blocks it:
//!   shapes alone do not prove the element correspondence (egg.md §0.7);
//! - conv2d, its two gradients, maxpool2d and its gradient in one layout
//!   equal the op in the other layout between transposes (the interpreter
//!   computes `nchw` exactly so: transpose in, NHWC kernel, transpose out).
//!
//! Transposes only sink (from operands to results) and conv/pool flip
//! layouts both ways; permutations compose and cancel, so the e-graph
//! closes after a few iterations. Which layout wins is the cost model's
//! (`cost::PREFERRED_LAYOUT`).

use egg::{PatternAst, Rewrite, Subst, Var};
use triceratops_ir::geometry::{
    filter_from_hwio_perm, filter_to_hwio_perm, from_nhwc_perm, to_nhwc_perm,
};
use triceratops_ir::{AttrValue, Constant, Layout, OpClass, OpKind};

use super::{built_rule, ints, rule, var, AstBuilder, Condition};
use crate::analysis::{TensorAnalysis, EG};
use crate::language::{Literal, Node};

type Rule = Rewrite<Node, TensorAnalysis>;

/// The exact layout rules.
pub fn rules() -> Vec<Rule> {
    let mut v = vec![built_rule(
        "transpose-as-reshape",
        "(transpose ?p ?x)",
        &["?x"],
        Box::new(transpose_as_reshape),
    )];
    for (a, b) in [("false", "true"), ("true", "false")] {
        v.push(rule(
            &format!("matmul-transpose-a-{b}"),
            &format!("(matmul {a} ?tb (transpose ?p ?x) ?y)"),
            &format!("(matmul {b} ?tb ?x ?y)"),
            Some(swaps_last_two("?p")),
        ));
        v.push(rule(
            &format!("matmul-transpose-b-{b}"),
            &format!("(matmul ?ta {a} ?x (transpose ?p ?y))"),
            &format!("(matmul ?ta {b} ?x ?y)"),
            Some(swaps_last_two("?p")),
        ));
    }
    v.push(built_rule(
        "reduce_sum-through-transpose",
        "(reduce_sum ?a ?k (transpose ?p ?x))",
        &["?x"],
        Box::new(reduce_sum_through_transpose),
    ));
    v.push(built_rule(
        "transpose-broadcast",
        "(transpose ?p (broadcast ?s ?d ?x))",
        &["?x"],
        Box::new(transpose_broadcast),
    ));
    for &kind in OpKind::ALL {
        if kind.class() != OpClass::Elementwise || kind == OpKind::Fused {
            continue;
        }
        let attrs = kind.attrs().len();
        let Some(n) = (1..=3).find(|&n| kind.arity().accepts(n)) else {
            continue;
        };
        let attr_vars: Vec<String> = (0..attrs).map(|i| format!("?a{i}")).collect();
        let operand_vars: Vec<String> = (0..n).map(|i| format!("?o{i}")).collect();
        let lhs = format!(
            "({} {})",
            kind.name(),
            attr_vars
                .iter()
                .chain(&operand_vars)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        let vars: Vec<&str> = attr_vars
            .iter()
            .chain(&operand_vars)
            .map(String::as_str)
            .collect();
        let (av, ov): (Vec<Var>, Vec<Var>) = (
            attr_vars.iter().map(|a| var(a)).collect(),
            operand_vars.iter().map(|o| var(o)).collect(),
        );
        v.push(built_rule(
            &format!("{}-sink-transpose", kind.name()),
            &lhs,
            &vars,
            Box::new(move |eg, s| sink_transpose(eg, s, kind, &av, &ov)),
        ));
    }
    for (from, to) in [(Layout::Nchw, Layout::Nhwc), (Layout::Nhwc, Layout::Nchw)] {
        for r in Relayout::ALL {
            v.push(r.rule(from, to));
        }
    }
    v
}

/// `?p` swaps the last two axes and keeps every other axis in place.
fn swaps_last_two(p: &str) -> Condition {
    let p = var(p);
    Box::new(move |eg, s| {
        ints(eg, s, p).is_some_and(|perm| {
            let n = perm.len();
            n >= 2
                && perm[n - 1] == n - 2
                && perm[n - 2] == n - 1
                && perm[..n - 2].iter().enumerate().all(|(i, &d)| i == d)
        })
    })
}

/// The shape of `?x`.
fn shape_of(eg: &EG, s: &Subst, v: Var) -> Option<Vec<usize>> {
    Some(eg[s[v]].data.ty.as_ref()?.shape.dims().to_vec())
}

fn inverse(p: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; p.len()];
    for (i, &d) in p.iter().enumerate() {
        inv[d] = i;
    }
    inv
}

fn is_identity(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, &d)| i == d)
}

/// `transpose(p, x)` is `reshape(shape, x)` when the axes of extent > 1
/// keep their relative order (the row-major element order is unchanged).
fn transpose_as_reshape(eg: &EG, s: &Subst) -> Option<PatternAst<Node>> {
    let p = ints(eg, s, var("?p"))?;
    let shape = shape_of(eg, s, var("?x"))?;
    if p.len() != shape.len() || is_identity(&p) {
        return None;
    }
    let moved: Vec<usize> = p.iter().copied().filter(|&a| shape[a] != 1).collect();
    if moved.windows(2).any(|w| w[0] > w[1]) {
        return None;
    }
    let out: Vec<usize> = p.iter().map(|&a| shape[a]).collect();
    let mut b = AstBuilder::default();
    let x = b.var(var("?x"));
    let sh = b.attr(AttrValue::Ints(out));
    b.op(OpKind::Reshape, vec![sh, x]);
    Some(b.finish())
}

/// The broadcast dims and shape that `transpose(q, broadcast(s, d, x))`
/// equals, or `None` when the dims do not stay strictly increasing.
fn permuted_broadcast(q: &[usize], s: &[usize], d: &[usize]) -> Option<(Vec<usize>, Vec<usize>)> {
    if q.len() != s.len() {
        return None;
    }
    let qi = inverse(q);
    let dims: Vec<usize> = d
        .iter()
        .map(|&k| qi.get(k).copied())
        .collect::<Option<_>>()?;
    if dims.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    Some((q.iter().map(|&a| s[a]).collect(), dims))
}

/// `reduce_sum(transpose(p, x), axes, k)` as a sum of `x` over the axes
/// `p[axes]`, with the kept axes put back in order by a transpose where `p`
/// reorders them. Exact only because the interpreter's sum order is defined
/// on logical indices (highest reduced axis first, each in index order):
/// so the rule declines unless `p` keeps the reduced axes in order.
fn reduce_sum_through_transpose(eg: &EG, s: &Subst) -> Option<PatternAst<Node>> {
    let p = ints(eg, s, var("?p"))?;
    let axes = ints(eg, s, var("?a"))?;
    let Some(AttrValue::Bool(keepdims)) = eg[s[var("?k")]].data.attr.clone() else {
        return None;
    };
    let mapped: Vec<usize> = axes
        .iter()
        .map(|&a| p.get(a).copied())
        .collect::<Option<_>>()?;
    if !mapped.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    // Where each output axis is in the sum of `x`.
    let q: Vec<usize> = if keepdims {
        p.clone()
    } else {
        let kept: Vec<usize> = (0..p.len())
            .filter(|i| !axes.contains(i))
            .map(|i| p[i])
            .collect();
        let mut sorted = kept.clone();
        sorted.sort_unstable();
        kept.iter()
            .map(|k| sorted.iter().position(|x| x == k))
            .collect::<Option<_>>()?
    };
    let mut b = AstBuilder::default();
    let x = b.var(var("?x"));
    let axes_attr = b.attr(AttrValue::Ints(mapped));
    let keep_attr = b.attr(AttrValue::Bool(keepdims));
    let sum = b.op(OpKind::ReduceSum, vec![axes_attr, keep_attr, x]);
    if q.iter().enumerate().any(|(i, &j)| i != j) {
        let perm = b.attr(AttrValue::Ints(q));
        b.op(OpKind::Transpose, vec![perm, sum]);
    }
    Some(b.finish())
}

/// `transpose(q, broadcast(s, d, x))` as `broadcast(s∘q, q⁻¹∘d, x)`.
fn transpose_broadcast(eg: &EG, s: &Subst) -> Option<PatternAst<Node>> {
    let q = ints(eg, s, var("?p"))?;
    let (shape, dims) = permuted_broadcast(&q, &ints(eg, s, var("?s"))?, &ints(eg, s, var("?d"))?)?;
    Some(super::algebra::broadcast_of_x(shape, dims))
}

/// The permutation of the first transpose node in `class`.
fn transposes(eg: &EG, class: egg::Id) -> impl Iterator<Item = Vec<usize>> + '_ {
    eg[class].nodes.iter().filter_map(move |n| match n {
        Node::Op(OpKind::Transpose, c) => match &eg[c[0]].data.attr {
            Some(AttrValue::Ints(p)) => Some(p.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// How an operand of a sunk elementwise op is rewritten.
enum Moved {
    /// `transpose(p⁻¹, operand)`: cancels against the operand's transpose.
    Untranspose,
    /// A splat literal of the untransposed shape.
    Splat(Literal),
    /// A broadcast that permutes consistently: `transpose(p⁻¹, operand)`,
    /// which `transpose-broadcast` re-aims.
    Broadcast,
}

/// `op(transpose(p, x), ...)` as `transpose(p, op(x, ...))` when every
/// operand is `transpose(p, _)`, a splat constant, or a broadcast that
/// permutes consistently; the operands become `transpose(p⁻¹, operand)`
/// (which composes away), splats of the new shape, or re-aimed
/// broadcasts. Declines when no operand is transposed, or when any operand
/// is some other tensor (same shape or not).
fn sink_transpose(
    eg: &EG,
    s: &Subst,
    kind: OpKind,
    attrs: &[Var],
    operands: &[Var],
) -> Option<PatternAst<Node>> {
    // The first permutation found on any operand (deterministic: operand
    // order, then the class' node order).
    let p = operands
        .iter()
        .find_map(|&o| transposes(eg, s[o]).find(|p| !is_identity(p)))?;
    let pi = inverse(&p);
    let mut moved = Vec::with_capacity(operands.len());
    for &o in operands {
        let class = &eg[s[o]];
        let ty = class.data.ty.as_ref()?;
        let dims = ty.shape.dims();
        if dims.len() != p.len() {
            return None;
        }
        let inner: Vec<usize> = pi.iter().map(|&a| dims[a]).collect();
        if transposes(eg, s[o]).any(|q| q == p) {
            moved.push(Moved::Untranspose);
        } else if let Some(Constant::Splat(v)) = &class.data.konst {
            moved.push(Moved::Splat(Literal::new(
                triceratops_ir::Shape::new(inner),
                Constant::Splat(*v),
            )));
        } else if class.nodes.iter().any(|n| match n {
            Node::Op(OpKind::Broadcast, c) => match (&eg[c[0]].data.attr, &eg[c[1]].data.attr) {
                (Some(AttrValue::Ints(sh)), Some(AttrValue::Ints(d))) => {
                    permuted_broadcast(&pi, sh, d).is_some()
                }
                _ => false,
            },
            _ => false,
        }) {
            moved.push(Moved::Broadcast);
        } else {
            return None;
        }
    }
    // Operands are rewritten as `transpose(p⁻¹, operand)`: the classes
    // they stand for (the untransposed tensor, the re-aimed broadcast) are
    // not bound by the pattern, and `transpose-transpose` /
    // `transpose-broadcast` union them in.
    let mut b = AstBuilder::default();
    let mut children: Vec<egg::Id> = attrs.iter().map(|&a| b.var(a)).collect();
    for (&o, m) in operands.iter().zip(moved) {
        let id = match m {
            Moved::Untranspose | Moved::Broadcast => {
                let x = b.var(o);
                let perm = b.attr(AttrValue::Ints(pi.clone()));
                b.op(OpKind::Transpose, vec![perm, x])
            }
            Moved::Splat(lit) => b.literal(lit),
        };
        children.push(id);
    }
    let inner = b.op(kind, children);
    let perm = b.attr(AttrValue::Ints(p));
    b.op(OpKind::Transpose, vec![perm, inner]);
    Some(b.finish())
}

/// What an operand or result of a layout-carrying op is.
#[derive(Clone, Copy)]
enum Role {
    Image,
    Filter,
}

/// A conv/pool op in one layout as the same op in the other, between
/// transposes.
#[derive(Clone, Copy)]
struct Relayout {
    kind: OpKind,
    /// Attribute variables, in schema order; the layout one is replaced.
    attrs: &'static [&'static str],
    layout_at: usize,
    /// The index of a shape attribute (of `result`'s role), if any.
    shape_at: Option<usize>,
    operands: &'static [Role],
    result: Role,
}

impl Relayout {
    const ALL: [Relayout; 5] = [
        Relayout {
            kind: OpKind::Conv2d,
            attrs: &["?s", "?pad", "?l"],
            layout_at: 2,
            shape_at: None,
            operands: &[Role::Image, Role::Filter],
            result: Role::Image,
        },
        Relayout {
            kind: OpKind::Conv2dInputGrad,
            attrs: &["?s", "?pad", "?l", "?shape"],
            layout_at: 2,
            shape_at: Some(3),
            operands: &[Role::Image, Role::Filter],
            result: Role::Image,
        },
        Relayout {
            kind: OpKind::Conv2dFilterGrad,
            attrs: &["?s", "?pad", "?l", "?shape"],
            layout_at: 2,
            shape_at: Some(3),
            operands: &[Role::Image, Role::Image],
            result: Role::Filter,
        },
        Relayout {
            kind: OpKind::MaxPool2d,
            attrs: &["?win", "?s", "?pad", "?l"],
            layout_at: 3,
            shape_at: None,
            operands: &[Role::Image],
            result: Role::Image,
        },
        Relayout {
            kind: OpKind::MaxPool2dGrad,
            attrs: &["?win", "?s", "?pad", "?l"],
            layout_at: 3,
            shape_at: None,
            operands: &[Role::Image, Role::Image],
            result: Role::Image,
        },
    ];

    /// `op[from](operands)` => `transpose(to->from, op[to](transpose(from->to, operands)))`.
    fn rule(self, from: Layout, to: Layout) -> Rule {
        let operand_vars = ["?x", "?y"];
        let mut lhs_attrs: Vec<&str> = self.attrs.to_vec();
        lhs_attrs[self.layout_at] = from.name();
        let lhs = format!(
            "({} {} {})",
            self.kind.name(),
            lhs_attrs.join(" "),
            operand_vars[..self.operands.len()].join(" ")
        );
        let mut vars: Vec<&str> = self
            .attrs
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != self.layout_at)
            .map(|(_, a)| *a)
            .collect();
        vars.extend(&operand_vars[..self.operands.len()]);
        let name = format!("{}-{}-to-{}", self.kind.name(), from.name(), to.name());
        built_rule(
            &name,
            &lhs,
            &vars,
            Box::new(move |eg, s| self.build(eg, s, from, to)),
        )
    }

    fn build(self, eg: &EG, s: &Subst, from: Layout, to: Layout) -> Option<PatternAst<Node>> {
        let mut b = AstBuilder::default();
        let mut children = Vec::new();
        for (i, a) in self.attrs.iter().enumerate() {
            let id = if i == self.layout_at {
                b.attr(AttrValue::Layout(to))
            } else if Some(i) == self.shape_at {
                let shape = ints(eg, s, var(a))?;
                let p = perm(self.result, from, to);
                if shape.len() != 4 {
                    return None;
                }
                b.attr(AttrValue::Ints(p.iter().map(|&k| shape[k]).collect()))
            } else {
                b.var(var(a))
            };
            children.push(id);
        }
        for (role, v) in self.operands.iter().zip(["?x", "?y"]) {
            let x = b.var(var(v));
            let p = b.attr(AttrValue::Ints(perm(*role, from, to).to_vec()));
            children.push(b.op(OpKind::Transpose, vec![p, x]));
        }
        let inner = b.op(self.kind, children);
        let back = b.attr(AttrValue::Ints(perm(self.result, to, from).to_vec()));
        b.op(OpKind::Transpose, vec![back, inner]);
        Some(b.finish())
    }
}

/// The permutation taking a `role` tensor from layout `from` to `to`
/// (result axis `i` is operand axis `perm[i]`).
fn perm(role: Role, from: Layout, to: Layout) -> [usize; 4] {
    let (a, b) = match role {
        Role::Image => (to_nhwc_perm(from), from_nhwc_perm(to)),
        Role::Filter => (filter_to_hwio_perm(from), filter_from_hwio_perm(to)),
    };
    // transpose(b, transpose(a, x)) = transpose(r, x), r[i] = a[b[i]].
    [a[b[0]], a[b[1]], a[b[2]], a[b[3]]]
}
