//! Rule set 2, numerics: rewrites whose point is stability, so they change
//! results on purpose (checked against the f64 interpreter, not bit for
//! bit). `exp(log(x))` is deliberately absent: it is not `x` for x < 0.

use egg::{Rewrite, Subst};

use super::{built_rule, pat, rule};
use crate::analysis::{TensorAnalysis, EG};
use crate::language::Node;

type Rule = Rewrite<Node, TensorAnalysis>;

/// `log(softmax(t))` as the front end's softmax writes it.
const LOG_SOFTMAX: &str = "(log (div (exp ?t) (broadcast ?sh ?bd (reduce_sum ?ax ?kd (exp ?t)))))";

/// `t - logsumexp(t)` when `t` is already max-shifted.
const SHIFTED: &str = "(sub ?t (broadcast ?sh ?bd (log (reduce_sum ?ax ?kd (exp ?t)))))";

/// `s - logsumexp(s)` with `s = t - max(t)` over the softmax's axes.
const UNSHIFTED: &str = "(sub (sub ?t (broadcast ?sh ?bd (reduce_max ?ax ?kd ?t))) \
    (broadcast ?sh ?bd (log (reduce_sum ?ax ?kd (exp (sub ?t (broadcast ?sh ?bd (reduce_max ?ax ?kd ?t))))))))";

pub fn rules() -> Vec<Rule> {
    vec![
        rule("log-exp", "(log (exp ?x))", "?x", None),
        rule("sqrt-square", "(sqrt (square ?x))", "(abs ?x)", None),
        rule("sqrt-mul-self", "(sqrt (mul ?x ?x))", "(abs ?x)", None),
        built_rule(
            "log-softmax",
            LOG_SOFTMAX,
            &["?t", "?sh", "?bd", "?ax", "?kd"],
            Box::new(|eg, s| {
                let text = if is_max_shifted(eg, s) {
                    SHIFTED
                } else {
                    UNSHIFTED
                };
                Some(pat(text).ast)
            }),
        ),
    ]
}

/// Whether `?t`'s class holds `x - broadcast(reduce_max(x))`.
fn is_max_shifted(eg: &EG, s: &Subst) -> bool {
    let t = s[super::var("?t")];
    let shift = pat("(sub ?x (broadcast ?s ?d (reduce_max ?a ?k ?x)))");
    egg::Searcher::search_eclass(&shift, eg, t).is_some()
}
