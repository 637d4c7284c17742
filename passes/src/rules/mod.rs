//! Rewrite rules and the one applier every rule goes through: [`Typed`],
//! which checks an optional semantic condition and then type-checks the
//! right-hand side with the IR's shape inference before adding anything.
//! It also refuses to rewrite inside constant classes (their literals come
//! from folding; rewriting them mints endless new literals).

pub mod algebra;
pub mod layout;
pub mod numerics;

use egg::{Applier, ENodeOrVar, Id, Pattern, PatternAst, RecExpr, Rewrite, Subst, Symbol, Var};
use triceratops_ir::{AttrValue, Constant, F32Bits, OpKind};

use crate::analysis::{node_data, Data, TensorAnalysis, EG};
use crate::language::{Literal, Node};

/// A rule's semantic precondition.
pub type Condition = Box<dyn Fn(&EG, &Subst) -> bool + Send + Sync>;

/// A right-hand side computed from the match (composed permutations, new
/// literals); `None` declines the match.
pub type Build = Box<dyn Fn(&EG, &Subst) -> Option<PatternAst<Node>> + Send + Sync>;

/// The right-hand side of a rule.
pub enum Rhs {
    Pattern(PatternAst<Node>),
    Build(Build),
}

/// The applier of every rule: condition, then type check, then add.
pub struct Typed {
    pub rhs: Rhs,
    pub condition: Option<Condition>,
    pub vars: Vec<Var>,
}

impl Typed {
    /// Whether `ast` instantiated with `subst` is well typed and has the
    /// type of `eclass`, which must not be a constant class.
    pub fn check(egraph: &EG, eclass: Id, subst: &Subst, ast: &PatternAst<Node>) -> bool {
        let want = &egraph[eclass].data;
        if want.konst.is_some() {
            return false;
        }
        let mut datas: Vec<Data> = Vec::with_capacity(ast.len());
        for node in ast.iter() {
            let d = match node {
                ENodeOrVar::Var(v) => egraph[subst[*v]].data.clone(),
                ENodeOrVar::ENode(n) => {
                    match node_data(n, &egraph.analysis.args, |c| &datas[usize::from(c)], false) {
                        Ok(d) => d,
                        Err(_) => return false,
                    }
                }
            };
            datas.push(d);
        }
        let root = datas.last().expect("a pattern has a root");
        root.ty.is_some() && root.ty == want.ty
    }
}

impl Applier<Node, TensorAnalysis> for Typed {
    fn apply_one(
        &self,
        egraph: &mut EG,
        eclass: Id,
        subst: &Subst,
        _searcher_ast: Option<&PatternAst<Node>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        if let Some(cond) = &self.condition {
            if !cond(egraph, subst) {
                return vec![];
            }
        }
        let built;
        let ast = match &self.rhs {
            Rhs::Pattern(ast) => ast,
            Rhs::Build(f) => match f(egraph, subst) {
                Some(ast) => {
                    built = ast;
                    &built
                }
                None => return vec![],
            },
        };
        if !Typed::check(egraph, eclass, subst, ast) {
            return vec![];
        }
        let new = egraph.add_instantiation(ast, subst);
        if egraph.union_trusted(eclass, new, rule_name) {
            vec![eclass]
        } else {
            vec![]
        }
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }
}

/// A pattern from its text; rules are written by this crate, so a typo is
/// a bug caught by every test run.
pub fn pat(text: &str) -> Pattern<Node> {
    text.parse()
        .unwrap_or_else(|e| panic!("bad pattern `{text}`: {e}"))
}

pub fn var(name: &str) -> Var {
    name.parse().expect("a pattern variable")
}

/// `lhs => rhs`, typed, with an optional condition.
pub fn rule(
    name: &str,
    lhs: &str,
    rhs: &str,
    condition: Option<Condition>,
) -> Rewrite<Node, TensorAnalysis> {
    let rhs = pat(rhs);
    let vars = rhs.vars();
    let applier = Typed {
        rhs: Rhs::Pattern(rhs.ast),
        condition,
        vars,
    };
    Rewrite::new(name, pat(lhs), applier).unwrap_or_else(|e| panic!("bad rule {name}: {e}"))
}

/// `lhs => build(match)`, typed.
pub fn built_rule(
    name: &str,
    lhs: &str,
    vars: &[&str],
    build: Build,
) -> Rewrite<Node, TensorAnalysis> {
    let applier = Typed {
        rhs: Rhs::Build(build),
        condition: None,
        vars: vars.iter().map(|v| var(v)).collect(),
    };
    Rewrite::new(name, pat(lhs), applier).unwrap_or_else(|e| panic!("bad rule {name}: {e}"))
}

/// The condition "`v` is a constant whose every element has the bits of `value`".
pub fn is_splat(v: &str, value: f32) -> Condition {
    let v = var(v);
    Box::new(move |eg, s| eg[s[v]].data.konst == Some(Constant::Splat(F32Bits::new(value))))
}

/// The integer-list attribute bound to `v`.
pub fn ints(eg: &EG, s: &Subst, v: Var) -> Option<Vec<usize>> {
    match &eg[s[v]].data.attr {
        Some(AttrValue::Ints(l)) => Some(l.clone()),
        _ => None,
    }
}

/// A pattern AST under construction, for computed right-hand sides.
#[derive(Default)]
pub struct AstBuilder {
    ast: RecExpr<ENodeOrVar<Node>>,
}

impl AstBuilder {
    pub fn var(&mut self, v: Var) -> Id {
        self.ast.add(ENodeOrVar::Var(v))
    }

    pub fn leaf(&mut self, node: Node) -> Id {
        self.ast.add(ENodeOrVar::ENode(node))
    }

    pub fn attr(&mut self, v: AttrValue) -> Id {
        self.leaf(Node::Attr(v))
    }

    pub fn literal(&mut self, lit: Literal) -> Id {
        self.leaf(Node::Const(lit))
    }

    pub fn op(&mut self, kind: OpKind, children: Vec<Id>) -> Id {
        self.ast.add(ENodeOrVar::ENode(Node::op(kind, children)))
    }

    pub fn finish(self) -> PatternAst<Node> {
        self.ast
    }
}
