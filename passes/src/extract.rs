//! Extraction: a deterministic greedy choice of one e-node per class by
//! tree cost (integer, so ties are exact and broken by the e-nodes' own
//! order, never by iteration order), then a `Graph` rebuilt around the
//! original calling convention: every argument in its original order with
//! its name and role, outputs by name, updates by target. A value keeps an
//! original name when its class holds an original value (preferring the
//! one whose node was extracted); other values get automatic names.

use std::collections::{HashMap, HashSet};

use egg::{Id, Language};
use triceratops_ir::{
    ConstId, Constant, Graph, GraphParts, Node as IrNode, NodeKind, Update, ValueId,
};

use crate::analysis::{node_op, EG};
use crate::cost::{op_cost, Operand};
use crate::language::Node;
use crate::lineage::Lineage;

/// Added to the cost of a `log(exp(t) / sum(exp(t)))` node when the
/// numerics rules ran, so extraction takes the stable form they added.
pub const UNSTABLE_PENALTY: u128 = 1 << 60;

/// The extraction cost of `node` alone (at least 1, so a parent always
/// costs more than each child and the choice has no cycles).
pub fn own_cost(eg: &EG, node: &Node, penalize_unstable: bool) -> u128 {
    let Node::Op(kind, _) = node else {
        return 1;
    };
    let Ok(op) = node_op(*kind, node, |c| &eg[c].data) else {
        return u128::MAX;
    };
    let operands: Vec<Operand> = node
        .operands()
        .iter()
        .map(|&c| Operand {
            ty: eg[c].data.ty.as_ref().expect("operands are tensors"),
            splat: eg[c].data.splat().is_some(),
        })
        .collect();
    let Some(out) = operands_out(eg, node) else {
        return u128::MAX;
    };
    let mut cost = 1 + op_cost(&op, &operands, &out).total();
    if penalize_unstable && is_unstable_log_softmax(eg, node) {
        cost = cost.saturating_add(UNSTABLE_PENALTY);
    }
    cost
}

fn operands_out(eg: &EG, node: &Node) -> Option<triceratops_ir::TensorType> {
    let types: Vec<&triceratops_ir::TensorType> = node
        .operands()
        .iter()
        .map(|&c| eg[c].data.ty.as_ref())
        .collect::<Option<_>>()?;
    let op = node_op(node.kind()?, node, |c| &eg[c].data).ok()?;
    triceratops_ir::infer::infer_type(&op, &types).ok()
}

/// `log(div(exp(_), _))`: the naive log-softmax.
fn is_unstable_log_softmax(eg: &EG, node: &Node) -> bool {
    use triceratops_ir::OpKind::{Div, Exp, Log};
    let has = |class: Id, kind| {
        eg[class]
            .nodes
            .iter()
            .find(|n| n.kind() == Some(kind))
            .cloned()
    };
    if node.kind() != Some(Log) {
        return false;
    }
    let Some(div) = has(node.operands()[0], Div) else {
        return false;
    };
    has(div.operands()[0], Exp).is_some()
}

/// The chosen node of every class with its tree cost.
pub fn choose(eg: &EG, penalize_unstable: bool) -> HashMap<Id, (u128, Node)> {
    let mut ids: Vec<Id> = eg.classes().map(|c| c.id).collect();
    ids.sort_unstable();
    let own: HashMap<Id, Vec<(u128, Node)>> = ids
        .iter()
        .map(|&id| {
            let nodes = eg[id]
                .nodes
                .iter()
                .map(|n| (own_cost(eg, n, penalize_unstable), n.clone()))
                .collect();
            (id, nodes)
        })
        .collect();
    let mut best: HashMap<Id, (u128, Node)> = HashMap::new();
    let mut changed = true;
    while changed {
        changed = false;
        for id in &ids {
            for (own, node) in &own[id] {
                let mut total = *own;
                let mut ready = true;
                for c in node.children() {
                    match best.get(&eg.find(*c)) {
                        Some((cost, _)) => total = total.saturating_add(*cost),
                        None => {
                            ready = false;
                            break;
                        }
                    }
                }
                if !ready {
                    continue;
                }
                let better = match best.get(id) {
                    None => true,
                    Some((cost, current)) => total < *cost || (total == *cost && node < current),
                };
                if better {
                    best.insert(*id, (total, node.clone().map_children(|c| eg.find(c))));
                    changed = true;
                }
            }
        }
    }
    best
}

/// Rebuilds `graph` from the e-graph's chosen nodes.
pub fn extract(
    graph: &Graph,
    classes: &[Id],
    original_nodes: &[Node],
    eg: &EG,
    best: &HashMap<Id, (u128, Node)>,
) -> Result<Graph, String> {
    extract_traced(graph, classes, original_nodes, eg, best).map(|(g, _)| g)
}

/// [`extract`], with the lineage of the rebuilt graph in `graph`: a value
/// stands for every original value of its class (none for a class the
/// rules made), an argument for itself.
pub fn extract_traced(
    graph: &Graph,
    classes: &[Id],
    original_nodes: &[Node],
    eg: &EG,
    best: &HashMap<Id, (u128, Node)>,
) -> Result<(Graph, Lineage), String> {
    let find = |id: Id| eg.find(id);
    // Original values by class, in graph order.
    let mut originals: HashMap<Id, Vec<usize>> = HashMap::new();
    for (i, &class) in classes.iter().enumerate() {
        originals.entry(find(class)).or_default().push(i);
    }
    let mut nodes: Vec<IrNode> = Vec::new();
    let mut names: Vec<Option<String>> = Vec::new();
    let mut constants: Vec<Constant> = Vec::new();
    let mut pool: HashMap<Constant, ConstId> = HashMap::new();
    let mut value_of: HashMap<Id, ValueId> = HashMap::new();
    let mut lineage: Vec<Vec<ValueId>> = Vec::new();
    let mut arg_ids = Vec::new();
    for v in graph.arguments() {
        let id = ValueId::new(nodes.len());
        nodes.push(graph.node(v).clone());
        lineage.push(vec![v]);
        names.push(Some(graph.value_name(v).to_string()));
        value_of.entry(find(classes[v.index()])).or_insert(id);
        arg_ids.push(v);
    }
    let roots: Vec<Id> = graph
        .outputs()
        .iter()
        .map(|(_, v)| *v)
        .chain(graph.updates().iter().map(|u| u.value))
        .map(|v| find(classes[v.index()]))
        .collect();
    // Iterative post-order over the chosen nodes.
    let mut on_stack: HashSet<Id> = HashSet::new();
    for root in roots {
        let mut stack: Vec<(Id, bool)> = vec![(root, false)];
        while let Some((class, expanded)) = stack.pop() {
            if value_of.contains_key(&class) {
                continue;
            }
            let (_, node) = best
                .get(&class)
                .ok_or_else(|| format!("no extractable node for class {class}"))?;
            if !expanded {
                if !on_stack.insert(class) {
                    return Err(format!("extraction found a cycle through class {class}"));
                }
                stack.push((class, true));
                for &c in node.operands().iter().rev() {
                    if !value_of.contains_key(&find(c)) {
                        stack.push((find(c), false));
                    }
                }
                continue;
            }
            on_stack.remove(&class);
            let ty = eg[class]
                .data
                .ty
                .clone()
                .ok_or("an attribute class as a value")?;
            let kind = match node {
                Node::Arg(i) => return Err(format!("argument {i} without its value")),
                Node::Attr(_) => return Err("an attribute as a value".into()),
                Node::Const(lit) => {
                    let next = ConstId::new(constants.len());
                    let cid = *pool.entry(lit.data.clone()).or_insert_with(|| {
                        constants.push(lit.data.clone());
                        next
                    });
                    NodeKind::Const(cid)
                }
                Node::Op(kind, _) => {
                    let op = node_op(*kind, node, |c| &eg[c].data)?;
                    let operands = node
                        .operands()
                        .iter()
                        .map(|&c| value_of[&find(c)])
                        .collect();
                    NodeKind::Op { op, operands }
                }
            };
            let id = ValueId::new(nodes.len());
            names.push(original_name(
                graph,
                original_nodes,
                eg,
                originals.get(&class),
                node,
            ));
            nodes.push(IrNode {
                name: String::new(),
                ty,
                kind,
            });
            lineage.push(
                originals
                    .get(&class)
                    .map(|vs| vs.iter().map(|&v| ValueId::new(v)).collect())
                    .unwrap_or_default(),
            );
            value_of.insert(class, id);
        }
    }
    // Automatic names for the rest, clear of every kept one.
    let mut taken: HashSet<String> = names.iter().flatten().cloned().collect();
    for (i, (node, name)) in nodes.iter_mut().zip(names).enumerate() {
        node.name = match name {
            Some(n) => n,
            None => {
                let base = match node.kind {
                    NodeKind::Const(_) => format!("c{i}"),
                    _ => i.to_string(),
                };
                let mut name = base.clone();
                let mut k = 1;
                while taken.contains(&name) {
                    name = format!("{base}_{k}");
                    k += 1;
                }
                taken.insert(name.clone());
                name
            }
        };
    }
    let value = |v: ValueId| value_of[&find(classes[v.index()])];
    let outputs = graph
        .outputs()
        .iter()
        .map(|(n, v)| (n.clone(), value(*v)))
        .collect();
    let updates = graph
        .updates()
        .iter()
        .map(|u| Update {
            target: ValueId::new(
                arg_ids
                    .iter()
                    .position(|&a| a == u.target)
                    .expect("update targets are arguments"),
            ),
            value: value(u.value),
        })
        .collect();
    let out = Graph::from_parts(GraphParts {
        name: graph.name().to_string(),
        nodes,
        constants,
        outputs,
        updates,
    })
    .map_err(|e| format!("the extracted graph does not verify: {e}"))?;
    Ok((out, Lineage::from_sets(lineage)))
}

/// The name of an original value in `class`: the one whose own node was
/// extracted, else the first.
fn original_name(
    graph: &Graph,
    original_nodes: &[Node],
    eg: &EG,
    originals: Option<&Vec<usize>>,
    chosen: &Node,
) -> Option<String> {
    let originals = originals?;
    let same = originals
        .iter()
        .find(|&&v| original_nodes[v].clone().map_children(|c| eg.find(c)) == *chosen);
    let v = same.or(originals.first())?;
    Some(graph.value_name(ValueId::new(*v)).to_string())
}
