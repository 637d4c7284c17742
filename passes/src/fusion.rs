//! Rule set 4, fusion: a deterministic graph-level pass after the egg
//! phases (see the README for why it is not an e-graph rule set).
//!
//! Elementwise ops (unary, binary, `pow`, compare, select) are grouped by
//! producer/consumer edges over one iteration space, visiting nodes in
//! graph (topological) order: a node joins the group of each elementwise
//! operand producer unless that would make a cycle between kernels (a path
//! leaving the group through another op and coming back, e.g. `exp` ->
//! `reduce_sum` -> `div`). Groups that meet at a node merge, so the update
//! of one parameter — whose slots all feed the new parameter — becomes one
//! kernel whose results are every member read outside it (the new param and
//! each slot), i.e. sibling `fused` nodes sharing one kernel and operands.
//! A `broadcast` operand is read through the kernel's index map instead,
//! a splat constant becomes a body `const`. Reductions, contractions,
//! pools and movements stay their own ops: a group is one fused producer
//! of their input.
//!
//! Exact: a body applies the same scalar ops in the same order (no
//! reassociation), so every value is bit-identical. Deterministic (no hash
//! iteration decides anything) and bounded: one pass over the nodes; each
//! merge check is O(n * n / 64) bit operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use triceratops_ir::analysis::{eliminate_dead_code, live_values};
use triceratops_ir::op::{FusedKernel, ScalarInstr};
use triceratops_ir::{F32Bits, Graph, NodeKind, Op, ValueId};

use crate::lineage::Lineage;

/// A fixed-size bit set over node indices.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union_with(&mut self, o: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= b;
        }
    }
    fn intersects(&self, o: &Bits) -> bool {
        self.0.iter().zip(&o.0).any(|(a, b)| a & b != 0)
    }
    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
}

/// Whether `op` can be a body instruction.
fn is_elementwise(op: &Op, arity: usize) -> bool {
    let dummy: Vec<u32> = (0..arity as u32).collect();
    ScalarInstr::from_op(op, &dummy).is_some()
}

struct Group {
    /// Members in graph order.
    members: Vec<ValueId>,
    bits: Bits,
}

/// What the fusion pass did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FusionStats {
    /// Fused kernels made.
    pub kernels: usize,
    /// Elementwise ops that became body instructions.
    pub ops: usize,
    /// `broadcast` operands read through an index map instead.
    pub broadcasts: usize,
    /// Producer/consumer merges refused because they would make a cycle.
    pub refused: usize,
}

impl FusionStats {
    /// The report's "fired" entries.
    pub fn fired(&self) -> BTreeMap<String, usize> {
        [
            ("fuse-kernel", self.kernels),
            ("fuse-op", self.ops),
            ("broadcast-into-map", self.broadcasts),
            ("refused-cycle", self.refused),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_string(), n))
        .collect()
    }
}

/// `graph` with its elementwise chains fused into `fused` kernels, keeping
/// the calling convention (arguments in order, outputs, updates) and every
/// value bit for bit.
pub fn fuse(graph: &Graph) -> (Graph, FusionStats) {
    let (g, stats, _) = fuse_traced(graph);
    (g, stats)
}

/// [`fuse`], with the lineage of the fused graph in `graph`: a `fused`
/// result stands for the members of its group it depends on (itself and
/// its ancestors in the group), the broadcasts they read through an index
/// map and the splat constants that became body constants; any other
/// value for itself.
pub fn fuse_traced(graph: &Graph) -> (Graph, FusionStats, Lineage) {
    let n = graph.len();
    let live = live_values(graph);
    let mut stats = FusionStats::default();
    let elementwise: Vec<bool> = graph
        .ids()
        .map(|v| {
            let node = graph.node(v);
            live[v.index()]
                && match &node.kind {
                    NodeKind::Op { op, operands } => is_elementwise(op, operands.len()),
                    _ => false,
                }
        })
        .collect();

    // Strict ancestors of every node.
    let mut anc: Vec<Bits> = Vec::with_capacity(n);
    for v in graph.ids() {
        let mut a = Bits::new(n);
        for &o in graph.node(v).operands() {
            a.union_with(&anc[o.index()]);
            a.insert(o.index());
        }
        anc.push(a);
    }

    // Grouping, in graph order.
    let mut group: Vec<Option<usize>> = vec![None; n];
    let mut groups: Vec<Option<Group>> = Vec::new();
    for v in graph.ids().filter(|v| elementwise[v.index()]) {
        let mut bits = Bits::new(n);
        bits.insert(v.index());
        let mut merged: Vec<usize> = Vec::new();
        for &o in graph.node(v).operands() {
            let Some(g) = group[o.index()] else { continue };
            if merged.contains(&g) || graph.shape(o) != graph.shape(v) {
                continue;
            }
            let mut candidate = bits.clone();
            candidate.union_with(&groups[g].as_ref().expect("a live group").bits);
            // A cycle: some op outside the candidate lies on a path between
            // two members (every such op is an ancestor of `v`).
            let cycle = anc[v.index()]
                .ones()
                .any(|x| !candidate.contains(x) && anc[x].intersects(&candidate));
            if cycle {
                stats.refused += 1;
                continue;
            }
            bits = candidate;
            merged.push(g);
        }
        let mut members = vec![v];
        for g in merged {
            members.extend(groups[g].take().expect("a live group").members);
        }
        members.sort();
        let id = groups.len();
        for m in &members {
            group[m.index()] = Some(id);
        }
        groups.push(Some(Group { members, bits }));
    }

    // Users outside each group decide its results.
    let mut used_outside = vec![false; n];
    for v in graph.ids().filter(|v| live[v.index()]) {
        for &o in graph.node(v).operands() {
            if group[o.index()].is_some() && group[o.index()] != group[v.index()] {
                used_outside[o.index()] = true;
            }
        }
    }
    for (_, v) in graph.outputs() {
        used_outside[v.index()] = true;
    }
    for u in graph.updates() {
        used_outside[u.value.index()] = true;
    }

    // The kernel of each fused group.
    let mut kernels: Vec<Option<Made>> = (0..groups.len()).map(|_| None).collect();
    for (gid, g) in groups.iter().enumerate() {
        let Some(g) = g else { continue };
        let built = build_kernel(graph, &group, gid, &g.members, &used_outside);
        // A lone op that folds no broadcast gains nothing from a kernel.
        if g.members.len() == 1 && built.broadcasts == 0 {
            group[g.members[0].index()] = None;
            continue;
        }
        stats.kernels += 1;
        stats.ops += g.members.len();
        stats.broadcasts += built.broadcasts;
        kernels[gid] = Some(Made {
            operands: built.operands,
            kernel: Arc::new(built.kernel),
            results: built.results,
        });
    }

    // Emission: arguments first (the convention), then every live node
    // or kernel after its operands, in graph order where possible.
    let ok = "a fused copy of a valid graph is valid";
    let mut out = Graph::new(graph.name());
    let mut remap: Vec<Option<ValueId>> = vec![None; n];
    // By `out`'s value index, before dead-code elimination renumbers.
    let mut from: Vec<Vec<ValueId>> = Vec::new();
    for v in graph.arguments() {
        let node = graph.node(v);
        let NodeKind::Arg(role) = node.kind else {
            unreachable!("arguments are args")
        };
        remap[v.index()] = Some(out.arg(role, &node.name, node.ty.clone()).expect(ok));
        from.push(vec![v]);
    }
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Unit {
        Node(ValueId),
        Kernel(usize),
    }
    let unit = |v: ValueId| match group[v.index()] {
        Some(g) if kernels[g].is_some() => Unit::Kernel(g),
        _ => Unit::Node(v),
    };
    let deps = |u: Unit| -> Vec<ValueId> {
        match u {
            Unit::Node(v) => graph.node(v).operands().to_vec(),
            Unit::Kernel(g) => kernels[g].as_ref().expect("a kernel").operands.clone(),
        }
    };
    let mut kernel_done = vec![false; groups.len()];
    for root in graph.ids().filter(|v| live[v.index()]) {
        let mut stack = vec![(unit(root), false)];
        while let Some((u, expanded)) = stack.pop() {
            let done = match u {
                Unit::Node(v) => remap[v.index()].is_some(),
                Unit::Kernel(g) => kernel_done[g],
            };
            if done {
                continue;
            }
            if !expanded {
                stack.push((u, true));
                for d in deps(u).into_iter().rev() {
                    stack.push((unit(d), false));
                }
                continue;
            }
            match u {
                Unit::Node(v) => {
                    let node = graph.node(v);
                    let new = match &node.kind {
                        NodeKind::Arg(_) => unreachable!("arguments come first"),
                        NodeKind::Const(_) => {
                            let data = graph.const_value(v).expect("const data").clone();
                            out.constant_from(&node.name, node.ty.clone(), data)
                        }
                        NodeKind::Op { op, operands } => {
                            let ops: Vec<ValueId> = operands
                                .iter()
                                .map(|o| remap[o.index()].expect(ok))
                                .collect();
                            out.push_named_op(&node.name, op.clone(), &ops)
                        }
                    };
                    remap[v.index()] = Some(new.expect(ok));
                    from.push(vec![v]);
                }
                Unit::Kernel(g) => {
                    let Made {
                        operands,
                        kernel,
                        results,
                    } = kernels[g].as_ref().expect("a kernel");
                    let ops: Vec<ValueId> = operands
                        .iter()
                        .map(|o| remap[o.index()].expect(ok))
                        .collect();
                    for (i, r) in results.iter().enumerate() {
                        let op = Op::Fused {
                            kernel: kernel.clone(),
                            result: i,
                        };
                        let new = out.push_named_op(graph.value_name(*r), op, &ops);
                        remap[r.index()] = Some(new.expect(ok));
                        from.push(result_lineage(graph, &group, g, &anc, *r));
                    }
                    kernel_done[g] = true;
                }
            }
        }
    }
    for (name, v) in graph.outputs() {
        out.add_output(name, remap[v.index()].expect(ok)).expect(ok);
    }
    for u in graph.updates() {
        out.add_update(
            remap[u.target.index()].expect(ok),
            remap[u.value.index()].expect(ok),
        )
        .expect(ok);
    }
    let live_out = eliminate_dead_code(&out);
    // Names are unique and DCE keeps them, so they carry the lineage over.
    let lineage = live_out
        .ids()
        .map(|v| {
            let before = out.lookup(live_out.value_name(v)).expect(ok);
            std::mem::take(&mut from[before.index()])
        })
        .collect();
    (live_out, stats, Lineage::from_sets(lineage))
}

/// What result `r` of group `gid`'s kernel stands for: the members it
/// depends on, the broadcasts they read through an index map and the splat
/// constants they read as body constants.
fn result_lineage(
    graph: &Graph,
    group: &[Option<usize>],
    gid: usize,
    anc: &[Bits],
    r: ValueId,
) -> Vec<ValueId> {
    let mut from = Vec::new();
    let members = graph
        .ids()
        .filter(|m| group[m.index()] == Some(gid))
        .filter(|m| *m == r || anc[r.index()].contains(m.index()));
    let splat = |v: ValueId| graph.const_value(v).and_then(|c| c.as_splat()).is_some();
    for m in members {
        from.push(m);
        for &o in graph.node(m).operands() {
            if group[o.index()] == Some(gid) {
                continue;
            }
            // What the body absorbs: a broadcast read through its map and a
            // splat constant (possibly under it) that became a body `const`.
            // The constants the egg phases folded stand for the ops they
            // replaced, so they must not drop out here.
            let read = match graph.node(o).op() {
                Some(Op::Broadcast { .. }) => {
                    from.push(o);
                    graph.node(o).operands()[0]
                }
                _ => o,
            };
            if splat(read) {
                from.push(read);
            }
        }
    }
    from
}

/// A fused group's kernel, its operands and the members it yields.
struct Made {
    operands: Vec<ValueId>,
    kernel: Arc<FusedKernel>,
    results: Vec<ValueId>,
}

struct Built {
    operands: Vec<ValueId>,
    kernel: FusedKernel,
    results: Vec<ValueId>,
    broadcasts: usize,
}

/// The kernel of group `gid`: members in graph order become instructions;
/// operands outside the group are inputs (a broadcast through its map, a
/// splat constant as a body constant).
fn build_kernel(
    graph: &Graph,
    group: &[Option<usize>],
    gid: usize,
    members: &[ValueId],
    used_outside: &[bool],
) -> Built {
    let shape = graph.shape(members[0]).clone();
    let mut body: Vec<ScalarInstr> = Vec::new();
    let mut operands: Vec<ValueId> = Vec::new();
    let mut maps: Vec<Vec<usize>> = Vec::new();
    let mut inputs: HashMap<(ValueId, Vec<usize>), u32> = HashMap::new();
    let mut consts: HashMap<F32Bits, u32> = HashMap::new();
    let mut regs: HashMap<ValueId, u32> = HashMap::new();
    let mut broadcasts = 0;
    let push = |body: &mut Vec<ScalarInstr>, i: ScalarInstr| {
        body.push(i);
        (body.len() - 1) as u32
    };
    for &m in members {
        let NodeKind::Op { op, operands: args } = &graph.node(m).kind else {
            unreachable!("members are ops")
        };
        let mut regs_of = Vec::with_capacity(args.len());
        for &o in args {
            if group[o.index()] == Some(gid) {
                regs_of.push(regs[&o]);
                continue;
            }
            // The value read and its map.
            let (value, map) = match graph.node(o).op() {
                Some(Op::Broadcast { dims, .. }) => {
                    broadcasts += 1;
                    (graph.node(o).operands()[0], dims.clone())
                }
                _ => (o, (0..graph.shape(o).rank()).collect()),
            };
            if let Some(c) = graph.const_value(value).and_then(|c| c.as_splat()) {
                let bits = F32Bits::new(c);
                let r = match consts.get(&bits) {
                    Some(&r) => r,
                    None => {
                        let r = push(&mut body, ScalarInstr::Const(bits));
                        consts.insert(bits, r);
                        r
                    }
                };
                regs_of.push(r);
                continue;
            }
            let r = match inputs.get(&(value, map.clone())) {
                Some(&r) => r,
                None => {
                    operands.push(value);
                    maps.push(map.clone());
                    let r = push(&mut body, ScalarInstr::Input((operands.len() - 1) as u32));
                    inputs.insert((value, map), r);
                    r
                }
            };
            regs_of.push(r);
        }
        let instr = ScalarInstr::from_op(op, &regs_of).expect("an elementwise op");
        let r = push(&mut body, instr);
        regs.insert(m, r);
    }
    let results: Vec<ValueId> = members
        .iter()
        .copied()
        .filter(|m| used_outside[m.index()])
        .collect();
    let kernel = FusedKernel {
        shape,
        maps,
        body,
        results: results.iter().map(|m| regs[m]).collect(),
    };
    Built {
        operands,
        kernel,
        results,
        broadcasts,
    }
}
