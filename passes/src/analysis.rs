//! The e-class analysis: each class's type, from the IR's own shape
//! inference ([`triceratops_ir::infer::infer_type`], one rule for the whole
//! compiler), and its value when it is a constant, folded by the IR's own
//! interpreter so a folded value is bit-identical to what the graph
//! computed. Folding adds the literal in [`Analysis::modify`], never in
//! `make`.

use egg::{Analysis, DidMerge, EGraph, Id, Language};
use triceratops_ir::infer::infer_type;
use triceratops_ir::interp::evaluate_args;
use triceratops_ir::{AttrValue, Constant, Graph, Op, OpClass, OpKind, Shape, TensorType, ValueId};

use crate::language::{Literal, Node};

/// The e-graph of this crate.
pub type EG = EGraph<Node, TensorAnalysis>;

/// Folding evaluates constants with at most this many elements, and only
/// into results no larger than their operands (splats of any size fold
/// through their one value).
pub const FOLD_LIMIT: usize = 4096;

/// What is known about an e-class.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// The tensor type; `None` for attribute classes.
    pub ty: Option<TensorType>,
    /// The value, for attribute classes.
    pub attr: Option<AttrValue>,
    /// The value, for classes known to be constant (canonical form).
    pub konst: Option<Constant>,
}

impl Data {
    /// The splat value of a constant class, if it is one.
    pub fn splat(&self) -> Option<f32> {
        self.konst.as_ref().and_then(Constant::as_splat)
    }
}

/// The analysis: the graph's argument types (by position), and a count of
/// merges whose data disagreed (always 0 unless a rule is unsound).
#[derive(Clone, Debug, Default)]
pub struct TensorAnalysis {
    pub args: Vec<TensorType>,
    pub conflicts: usize,
    /// Constants folded (literals added by `modify`).
    pub folds: usize,
}

impl TensorAnalysis {
    pub fn new(args: Vec<TensorType>) -> TensorAnalysis {
        TensorAnalysis {
            args,
            conflicts: 0,
            folds: 0,
        }
    }
}

/// The data of `node` given its children's, or why it is ill-typed. With
/// `fold`, constant operands are folded into the result's value. The
/// analysis (`make`) and the typed applier both call this.
pub fn node_data<'a>(
    node: &Node,
    args: &[TensorType],
    child: impl Fn(Id) -> &'a Data,
    fold: bool,
) -> Result<Data, String> {
    Ok(match node {
        Node::Arg(i) => Data {
            ty: Some(
                args.get(*i as usize)
                    .ok_or_else(|| format!("no argument {i}"))?
                    .clone(),
            ),
            attr: None,
            konst: None,
        },
        Node::Const(lit) => {
            if !lit.shape.checked_numel().is_some_and(|n| lit.data.fits(n)) {
                return Err(format!("literal does not fill {}", lit.shape));
            }
            Data {
                ty: Some(TensorType::f32(lit.shape.clone())),
                attr: None,
                konst: Some(lit.data.clone()),
            }
        }
        Node::Attr(v) => Data {
            ty: None,
            attr: Some(v.clone()),
            konst: None,
        },
        Node::Op(kind, _) => {
            let op = node_op(*kind, node, &child)?;
            let operands: Vec<&Data> = node.operands().iter().map(|&c| child(c)).collect();
            let types = operands
                .iter()
                .map(|d| d.ty.as_ref().ok_or("an attribute used as an operand"))
                .collect::<Result<Vec<_>, _>>()?;
            let ty = infer_type(&op, &types).map_err(|e| e.to_string())?;
            let konst = if fold {
                fold_op(&op, &operands, &ty)
            } else {
                None
            };
            Data {
                ty: Some(ty),
                attr: None,
                konst,
            }
        }
    })
}

/// The IR op an op node stands for, its attributes read from its children.
pub fn node_op<'a>(
    kind: OpKind,
    node: &Node,
    child: impl Fn(Id) -> &'a Data,
) -> Result<Op, String> {
    if !crate::language::children_fit(kind, node.children().len()) {
        return Err(format!(
            "{kind} takes {} attributes and {:?} operands",
            kind.attrs().len(),
            kind.arity()
        ));
    }
    let attrs = node
        .attr_children()
        .iter()
        .map(|&c| {
            child(c)
                .attr
                .clone()
                .ok_or("an operand used as an attribute")
        })
        .collect::<Result<Vec<_>, _>>()?;
    Op::from_attrs(kind, attrs).map_err(|e| e.to_string())
}

/// The value of `op` over constant operands, computed by the interpreter,
/// when every operand is constant and the work is small.
fn fold_op(op: &Op, operands: &[&Data], ty: &TensorType) -> Option<Constant> {
    let values: Vec<(&TensorType, &Constant)> = operands
        .iter()
        .map(|d| Some((d.ty.as_ref()?, d.konst.as_ref()?)))
        .collect::<Option<_>>()?;
    let all_splat = values.iter().all(|(_, c)| c.as_splat().is_some());
    match op.class() {
        // Elementwise over splats: the op on one element of each.
        OpClass::Elementwise if all_splat => {
            let scalars: Vec<(TensorType, Constant)> = values
                .iter()
                .map(|(_, c)| (TensorType::f32(Shape::scalar()), (*c).clone()))
                .collect();
            return evaluate(op, &scalars);
        }
        // Movement of a splat is the splat (padding adds +0s).
        OpClass::View | OpClass::Movement if all_splat => {
            let v = values[0].1.clone();
            let pads_other = matches!(op, Op::Pad { .. })
                && v.as_splat().map(f32::to_bits) != Some(0.0f32.to_bits());
            if !pads_other {
                return Some(v);
            }
        }
        _ => {}
    }
    // Dense results only when small and no larger than the operands
    // together: a broadcast of a dense constant stays a broadcast.
    let inputs: usize = values.iter().map(|(t, _)| t.numel()).sum();
    let small = ty.numel() <= FOLD_LIMIT && inputs <= FOLD_LIMIT;
    if !small || ty.numel() > inputs.max(1) {
        return None;
    }
    let owned: Vec<(TensorType, Constant)> = values
        .iter()
        .map(|(t, c)| ((*t).clone(), (*c).clone()))
        .collect();
    evaluate(op, &owned)
}

/// Runs `op` on literal operands in the f32 interpreter.
fn evaluate(op: &Op, operands: &[(TensorType, Constant)]) -> Option<Constant> {
    let mut g = Graph::new("fold");
    let ids: Vec<ValueId> = operands
        .iter()
        .enumerate()
        .map(|(i, (ty, c))| g.constant_from(&format!("k{i}"), ty.clone(), c.clone()))
        .collect::<Result<_, _>>()
        .ok()?;
    let out = g.push_op(op.clone(), &ids).ok()?;
    let run = evaluate_args::<f32>(&g, Vec::new()).ok()?;
    let values: Vec<f32> = run.value(out).iter().copied().collect();
    Some(Constant::from_values(&values))
}

impl Analysis<Node> for TensorAnalysis {
    type Data = Data;

    fn make(egraph: &mut EG, enode: &Node, _id: Id) -> Data {
        let analysis = &egraph.analysis;
        node_data(enode, &analysis.args, |c| &egraph[c].data, true).unwrap_or_else(|why| {
            // Conversion adds verified graphs and every rule goes through
            // the typed applier, so this is a bug of this crate.
            panic!("bug: ill-typed e-node {enode:?} entered the e-graph: {why}")
        })
    }

    fn merge(&mut self, a: &mut Data, b: Data) -> DidMerge {
        if a.ty != b.ty || a.attr != b.attr {
            self.conflicts += 1;
        }
        match (&a.konst, b.konst) {
            (None, Some(k)) => {
                a.konst = Some(k);
                DidMerge(true, false)
            }
            (Some(_), None) => DidMerge(false, true),
            (Some(x), Some(y)) => {
                if *x != y {
                    self.conflicts += 1;
                }
                DidMerge(false, false)
            }
            (None, None) => DidMerge(false, false),
        }
    }

    fn modify(egraph: &mut EG, id: Id) {
        let data = &egraph[id].data;
        let (Some(konst), Some(ty)) = (data.konst.clone(), data.ty.clone()) else {
            return;
        };
        if egraph[id].nodes.iter().any(|n| matches!(n, Node::Const(_))) {
            return;
        }
        let lit = egraph.add(Node::Const(Literal::new(ty.shape, konst)));
        if egraph.union_trusted(id, lit, "const-fold") {
            egraph.analysis.folds += 1;
        }
    }
}
