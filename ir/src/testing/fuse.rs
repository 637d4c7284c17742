//! A naive elementwise fuser for tests: graphs with `fused` nodes whose
//! values must equal the unfused graph's bit for bit. It is a test oracle
//! for the IR, the passes and the JIT, not the optimizer's fusion pass.

use std::collections::HashMap;
use std::sync::Arc;

use crate::graph::{Graph, NodeKind, ValueId};
use crate::op::{FusedKernel, Op, ScalarInstr};

/// The most instructions an inlined body may reach.
const MAX_BODY: usize = 24;

/// A copy of `graph` with every elementwise op turned into a one-result
/// `fused` node: an operand made by a `broadcast` is read through the
/// broadcast's map instead, and an operand made by an elementwise op is
/// inlined into the body (recomputed) while the body stays small. Node `i`
/// of the copy computes what node `i` of `graph` computes, bit for bit;
/// names, arguments, outputs and updates are kept.
pub fn fuse_elementwise(graph: &Graph) -> Graph {
    let ok = "a fused copy of a valid graph is valid";
    let mut out = Graph::new(graph.name());
    let mut kernels: HashMap<ValueId, Kernel> = HashMap::new();
    for id in graph.ids() {
        let node = graph.node(id);
        let new = match (&node.kind, out.copy_leaf(graph, id)) {
            (_, Some(leaf)) => leaf,
            (NodeKind::Op { op, operands }, None) => {
                let dummy: Vec<u32> = (0..operands.len() as u32).collect();
                if ScalarInstr::from_op(op, &dummy).is_some() {
                    let k = Kernel::for_node(graph, op, operands, &kernels);
                    let fused = Op::Fused {
                        kernel: Arc::new(k.kernel(graph.shape(id))),
                        result: 0,
                    };
                    let v = out.push_named_op(&node.name, fused, &k.operands);
                    kernels.insert(id, k);
                    v
                } else {
                    out.push_named_op(&node.name, op.clone(), operands)
                }
            }
            (_, None) => unreachable!("copy_leaf copies every non-op node"),
        };
        assert_eq!(new.expect(ok), id, "one node per node");
    }
    for (name, v) in graph.outputs() {
        out.add_output(name, *v).expect(ok);
    }
    for u in graph.updates() {
        out.add_update(u.target, u.value).expect(ok);
    }
    out
}

/// A kernel under construction: operands with their maps, and the body.
#[derive(Default)]
struct Kernel {
    operands: Vec<ValueId>,
    maps: Vec<Vec<usize>>,
    body: Vec<ScalarInstr>,
    /// The `in` instruction of each distinct `(operand, map)`.
    inputs: HashMap<(ValueId, Vec<usize>), u32>,
}

impl Kernel {
    fn push(&mut self, instr: ScalarInstr) -> u32 {
        self.body.push(instr);
        (self.body.len() - 1) as u32
    }

    fn input(&mut self, value: ValueId, map: Vec<usize>) -> u32 {
        if let Some(&r) = self.inputs.get(&(value, map.clone())) {
            return r;
        }
        self.operands.push(value);
        self.maps.push(map.clone());
        let r = self.push(ScalarInstr::Input((self.operands.len() - 1) as u32));
        self.inputs.insert((value, map), r);
        r
    }

    /// Appends `inner`'s body (its operands merged into ours); returns the
    /// instruction holding its result.
    fn inline(&mut self, inner: &Kernel) -> u32 {
        let mut regs = Vec::with_capacity(inner.body.len());
        for instr in &inner.body {
            let r = match instr {
                ScalarInstr::Input(k) => {
                    let k = *k as usize;
                    self.input(inner.operands[k], inner.maps[k].clone())
                }
                other => {
                    let args: Vec<u32> = other.args().iter().map(|&a| regs[a as usize]).collect();
                    let instr = match other.op() {
                        Some(op) => ScalarInstr::from_op(&op, &args).expect("an elementwise op"),
                        None => other.clone(),
                    };
                    self.push(instr)
                }
            };
            regs.push(r);
        }
        *regs.last().expect("a kernel body is not empty")
    }

    fn for_node(
        graph: &Graph,
        op: &Op,
        operands: &[ValueId],
        made: &HashMap<ValueId, Kernel>,
    ) -> Kernel {
        let mut k = Kernel::default();
        let mut args = Vec::with_capacity(operands.len());
        for &o in operands {
            let rank = graph.shape(o).rank();
            let reg = match (made.get(&o), graph.node(o).op()) {
                (Some(inner), _) if k.body.len() + inner.body.len() < MAX_BODY => k.inline(inner),
                (_, Some(Op::Broadcast { dims, .. })) => {
                    let x = graph.node(o).operands()[0];
                    k.input(x, dims.clone())
                }
                _ => k.input(o, (0..rank).collect()),
            };
            args.push(reg);
        }
        k.push(ScalarInstr::from_op(op, &args).expect("an elementwise op"));
        k
    }

    fn kernel(&self, shape: &crate::types::Shape) -> FusedKernel {
        FusedKernel {
            shape: shape.clone(),
            maps: self.maps.clone(),
            body: self.body.clone(),
            results: vec![(self.body.len() - 1) as u32],
        }
    }
}
