//! Rule set 1, algebra. Every rule here keeps every f32 value bit-identical
//! (checked by the before/after interpreter tests): identities that hold
//! for all inputs including -0, infinities and NaN, data-movement
//! composition, and strength reduction that rounds identically. Constant
//! folding is the analysis' job and CSE is the e-graph's. Reassociation,
//! `x / c -> x * (1/c)` and `pow(x, 2) -> square(x)` (the interpreter's
//! `powf` is the platform libm's, not specified to equal `x * x`) may change
//! results: they are only in [`fast_math`].
//!
//! Not here on purpose: `x + 0 -> x` (wrong for x = -0, since -0 + +0 = +0),
//! `x * 0 -> 0` (NaN, infinities, -0), `x - x -> 0` (NaN, infinities),
//! `x * -1 -> -x` (the NaN's sign bit differs), commutativity and
//! associativity (blow-up; rules are written for both operand orders
//! instead).

use egg::{Rewrite, Subst};
use triceratops_ir::{AttrValue, BinaryOp, Constant, F32Bits, OpKind, Props, UnaryOp};

use super::{built_rule, ints, is_splat, rule, var, AstBuilder, Condition};
use crate::analysis::{TensorAnalysis, EG};
use crate::language::Literal;

type Rule = Rewrite<Node, TensorAnalysis>;
use crate::language::Node;

/// The exact algebra rules.
pub fn rules() -> Vec<Rule> {
    let mut v = vec![
        rule("mul-one", "(mul ?x ?c)", "?x", Some(is_splat("?c", 1.0))),
        rule("one-mul", "(mul ?c ?x)", "?x", Some(is_splat("?c", 1.0))),
        rule("div-one", "(div ?x ?c)", "?x", Some(is_splat("?c", 1.0))),
        // x - (+0) == x for every x (-0 - +0 = -0); x + (-0) == x likewise.
        rule("sub-zero", "(sub ?x ?c)", "?x", Some(is_splat("?c", 0.0))),
        rule(
            "add-neg-zero",
            "(add ?x ?c)",
            "?x",
            Some(is_splat("?c", -0.0)),
        ),
        rule(
            "neg-zero-add",
            "(add ?c ?x)",
            "?x",
            Some(is_splat("?c", -0.0)),
        ),
        // Strength reduction: both round the same real number once.
        rule(
            "mul-two",
            "(mul ?x ?c)",
            "(add ?x ?x)",
            Some(is_splat("?c", 2.0)),
        ),
        rule(
            "two-mul",
            "(mul ?c ?x)",
            "(add ?x ?x)",
            Some(is_splat("?c", 2.0)),
        ),
        rule("mul-self", "(mul ?x ?x)", "(square ?x)", None),
        built_rule(
            "div-pow2",
            "(div ?x ?c)",
            &["?x"],
            Box::new(|eg, s| reciprocal_mul(eg, s, true)),
        ),
        rule("select-same", "(select ?m ?x ?x)", "?x", None),
        // A comparison's result is exactly +1 or +0.
        rule(
            "select-mask",
            "(select ?m ?one ?zero)",
            "?m",
            Some(mask_one_zero()),
        ),
        // Views and movements.
        rule(
            "reshape-reshape",
            "(reshape ?s (reshape ?t ?x))",
            "(reshape ?s ?x)",
            None,
        ),
        // The typed applier admits these only when the shape is unchanged,
        // which makes each of them the identity.
        rule("reshape-noop", "(reshape ?s ?x)", "?x", None),
        rule("broadcast-noop", "(broadcast ?s ?d ?x)", "?x", None),
        // A same-shaped transpose is the identity only for the identity perm.
        rule(
            "transpose-id",
            "(transpose ?p ?x)",
            "?x",
            Some(identity_perm("?p")),
        ),
        built_rule(
            "transpose-transpose",
            "(transpose ?p (transpose ?q ?x))",
            &["?x"],
            Box::new(compose_transposes),
        ),
        built_rule(
            "broadcast-broadcast",
            "(broadcast ?s ?d (broadcast ?t ?e ?x))",
            &["?x"],
            Box::new(compose_broadcasts),
        ),
    ];
    // From the op table's properties.
    for u in UnaryOp::ALL {
        let k = u.kind();
        let n = k.name();
        if k.has(Props::INVOLUTION) {
            v.push(rule(
                &format!("{n}-{n}"),
                &format!("({n} ({n} ?x))"),
                "?x",
                None,
            ));
        }
        if k.has(Props::IDEMPOTENT) {
            v.push(rule(
                &format!("{n}-{n}"),
                &format!("({n} ({n} ?x))"),
                &format!("({n} ?x)"),
                None,
            ));
        }
    }
    for b in BinaryOp::ALL {
        let k = b.kind();
        if k.has(Props::IDEMPOTENT) {
            let n = k.name();
            v.push(rule(
                &format!("{n}-self"),
                &format!("({n} ?x ?x)"),
                "?x",
                None,
            ));
        }
    }
    v
}

/// Rules that change rounding: on only with `fast_math`.
pub fn fast_math() -> Vec<Rule> {
    vec![
        built_rule(
            "div-const",
            "(div ?x ?c)",
            &["?x"],
            Box::new(|eg, s| reciprocal_mul(eg, s, false)),
        ),
        rule("pow-two", "(pow 2.0 ?x)", "(square ?x)", None),
        rule(
            "add-add-const",
            "(add (add ?x ?a) ?b)",
            "(add ?x (add ?a ?b))",
            Some(both_const("?a", "?b")),
        ),
        rule(
            "mul-mul-const",
            "(mul (mul ?x ?a) ?b)",
            "(mul ?x (mul ?a ?b))",
            Some(both_const("?a", "?b")),
        ),
    ]
}

fn both_const(a: &str, b: &str) -> Condition {
    let (a, b) = (var(a), var(b));
    Box::new(move |eg, s| eg[s[a]].data.konst.is_some() && eg[s[b]].data.konst.is_some())
}

/// `?m` is a 0/1 mask (made by an op with the MASK property), `?one` is
/// all +1 and `?zero` all +0.
fn mask_one_zero() -> Condition {
    let (m, one, zero) = (var("?m"), var("?one"), var("?zero"));
    Box::new(move |eg, s| {
        let bits = |v| eg[s[v]].data.splat().map(f32::to_bits);
        bits(one) == Some(1.0f32.to_bits())
            && bits(zero) == Some(0.0f32.to_bits())
            && eg[s[m]]
                .nodes
                .iter()
                .any(|n| n.kind().is_some_and(|k| k.has(Props::MASK)))
    })
}

fn identity_perm(p: &str) -> Condition {
    let p = var(p);
    Box::new(move |eg, s| {
        ints(eg, s, p).is_some_and(|perm| perm.iter().enumerate().all(|(i, &d)| i == d))
    })
}

/// `x / c` as `x * (1/c)` for a splat `c`: with `exact`, only when `c` is a
/// power of two whose reciprocal is a finite f32 power of two (then both
/// round the same real number); otherwise for any finite nonzero `c`.
fn reciprocal_mul(eg: &EG, s: &Subst, exact: bool) -> Option<egg::PatternAst<Node>> {
    let c = &eg[s[var("?c")]].data;
    let value = c.splat()?;
    let shape = c.ty.as_ref()?.shape.clone();
    let r = 1.0 / value;
    let ok = if exact {
        is_power_of_two(value) && is_power_of_two(r)
    } else {
        value.is_finite() && value != 0.0 && r.is_finite() && r != 0.0
    };
    if !ok {
        return None;
    }
    let mut b = AstBuilder::default();
    let x = b.var(var("?x"));
    let lit = b.literal(Literal::new(shape, Constant::Splat(F32Bits::new(r))));
    b.op(OpKind::Mul, vec![x, lit]);
    Some(b.finish())
}

/// A finite nonzero power of two (normal or subnormal), of either sign.
fn is_power_of_two(v: f32) -> bool {
    if !v.is_finite() || v == 0.0 {
        return false;
    }
    let bits = v.abs().to_bits();
    let (exp, mant) = (bits >> 23, bits & 0x7f_ffff);
    if exp == 0 {
        mant.is_power_of_two()
    } else {
        mant == 0
    }
}

/// `transpose(p, transpose(q, x))` is `transpose(r, x)` with `r[i] = q[p[i]]`,
/// or `x` when `r` is the identity.
fn compose_transposes(eg: &EG, s: &Subst) -> Option<egg::PatternAst<Node>> {
    let p = ints(eg, s, var("?p"))?;
    let q = ints(eg, s, var("?q"))?;
    if p.len() != q.len() || p.iter().any(|&i| i >= q.len()) {
        return None;
    }
    let r: Vec<usize> = p.iter().map(|&i| q[i]).collect();
    let mut b = AstBuilder::default();
    let x = b.var(var("?x"));
    if !r.iter().enumerate().all(|(i, &d)| i == d) {
        let perm = b.attr(AttrValue::Ints(r));
        b.op(OpKind::Transpose, vec![perm, x]);
    }
    Some(b.finish())
}

/// `broadcast(s, d, broadcast(t, e, x))` is `broadcast(s, d∘e, x)`: operand
/// axis `i` lands on inner axis `e[i]`, which lands on outer axis `d[e[i]]`.
fn compose_broadcasts(eg: &EG, s: &Subst) -> Option<egg::PatternAst<Node>> {
    let d = ints(eg, s, var("?d"))?;
    let e = ints(eg, s, var("?e"))?;
    let dims: Vec<usize> = e
        .iter()
        .map(|&i| d.get(i).copied())
        .collect::<Option<_>>()?;
    let shape = ints(eg, s, var("?s"))?;
    Some(broadcast_of_x(shape, dims))
}

/// `broadcast(shape, dims, ?x)` as a right-hand side.
pub(crate) fn broadcast_of_x(shape: Vec<usize>, dims: Vec<usize>) -> egg::PatternAst<Node> {
    let mut b = AstBuilder::default();
    let x = b.var(var("?x"));
    let sa = b.attr(AttrValue::Ints(shape));
    let da = b.attr(AttrValue::Ints(dims));
    b.op(OpKind::Broadcast, vec![sa, da, x]);
    b.finish()
}
