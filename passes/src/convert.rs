//! Graph -> e-graph: arguments become `Arg` leaves by position, constants
//! `Const` leaves by pool value (canonical), attributes `Attr` leaves, and
//! each op node one `Op` node. The e-graph hash-conses, so this is CSE.

use egg::Id;
use triceratops_ir::{AttrValue, Graph, NodeKind};

use crate::analysis::{TensorAnalysis, EG};
use crate::language::{Literal, Node};

/// A graph in an e-graph: the class of every value, by `ValueId` index.
pub struct Converted {
    pub egraph: EG,
    pub classes: Vec<Id>,
    /// The e-node added for every value (children as added).
    pub nodes: Vec<Node>,
}

pub fn to_egraph(graph: &Graph) -> Converted {
    let args = graph.arguments().map(|v| graph.ty(v).clone()).collect();
    let mut egraph = EG::new(TensorAnalysis::new(args));
    let mut classes = Vec::with_capacity(graph.len());
    let mut nodes = Vec::with_capacity(graph.len());
    let mut arg_index = 0u32;
    for id in graph.ids() {
        let node = graph.node(id);
        let enode = match &node.kind {
            NodeKind::Arg(_) => {
                arg_index += 1;
                Node::Arg(arg_index - 1)
            }
            NodeKind::Const(_) => {
                let data = graph.const_value(id).expect("a const node has data");
                Node::Const(Literal::new(node.ty.shape.clone(), data.clone()))
            }
            NodeKind::Op { op, operands } => {
                let mut children: Vec<Id> = op
                    .attrs()
                    .into_iter()
                    .map(|v: AttrValue| egraph.add(Node::Attr(v)))
                    .collect();
                children.extend(operands.iter().map(|v| classes[v.index()]));
                Node::op(op.kind(), children)
            }
        };
        classes.push(egraph.add(enode.clone()));
        nodes.push(enode);
    }
    egraph.rebuild();
    Converted {
        egraph,
        classes,
        nodes,
    }
}
