//! `--emit kernels`: the kernel plan and the memory plan as text.

use std::fmt::Write;

use crate::ir::Graph;

use super::memory::{MemoryPlan, Owner, Region};
use super::{Access, Buf, Kernel, MapKernel, ReduceOp, RowStep};

pub fn print_plan(graph: &Graph, plan: &MemoryPlan) -> String {
    let name = |v| format!("%{}", graph.value_name(v));
    let place = |v: crate::ir::ValueId| match plan.locs[v.index()] {
        Some(loc) => match loc.region {
            Region::Arena => format!("{}@arena+{}", name(v), loc.offset * 4),
            Region::State => format!("{}@state+{}", name(v), loc.offset * 4),
            Region::Const => format!("{}@const+{}", name(v), loc.offset * 4),
            Region::Batch(k) => format!("{}@batch{k}", name(v)),
        },
        None => name(v),
    };
    let access = |a: &Access| {
        let at = &a.at;
        if at.offset == 0 {
            format!("{}{:?}", place(a.value), at.strides)
        } else {
            format!("{}[+{}]{:?}", place(a.value), at.offset, at.strides)
        }
    };
    let map_text = |m: &MapKernel| {
        let ins: Vec<String> = m.inputs.iter().map(access).collect();
        let outs: Vec<String> = m.outputs.iter().map(access).collect();
        let body: Vec<String> = m
            .body
            .iter()
            .enumerate()
            .map(|(i, instr)| format!("%{i} = {instr}"))
            .collect();
        format!(
            "({}) -> ({}) {{ {} }} results={:?}",
            ins.join(", "),
            outs.join(", "),
            body.join("; "),
            m.results
        )
    };
    let aux = |a: usize| format!("argmax{a}@arena+{}", plan.aux_at[a] * 4);
    let mut out = String::new();
    let _ = writeln!(out, "kernels of {} ({}):", graph.name(), plan.kernels.len());
    for (p, kernel) in plan.kernels.iter().enumerate() {
        if plan.commit_at == Some(p) {
            let guard = plan.guard.map(name).unwrap_or_default();
            let _ = writeln!(out, "  -- commit: the rest runs only if {guard} == 1 --");
        }
        let line = match kernel {
            Kernel::Map(m) => format!("map {:?} {}", m.shape, map_text(m)),
            Kernel::Rows(r) => {
                let stash = match plan.scratch[p] {
                    Some(at) => format!(" (stash {} B at arena+{})", kernel.scratch() * 4, at * 4),
                    None => String::new(),
                };
                let mut text = format!("rows [{}, {}]{stash}", r.rows, r.cols);
                for step in &r.steps {
                    let line = match step {
                        RowStep::Map(m) => format!("map {}", map_text(m)),
                        RowStep::RowMap(m) => format!("row map {}", map_text(m)),
                        RowStep::Reduce { op, input, out } => {
                            format!(
                                "reduce_{} {} -> {}",
                                op_name(*op),
                                access(input),
                                place(*out)
                            )
                        }
                        RowStep::Total { op, input, out } => {
                            format!(
                                "total_{} {} -> {}",
                                op_name(*op),
                                access(input),
                                place(*out)
                            )
                        }
                    };
                    let _ = write!(text, "\n      {}", line);
                }
                text
            }
            Kernel::Fill { out, value } => format!("fill {} = {value:?}", place(*out)),
            Kernel::Reduce(r) => format!(
                "{} {} {:?} reduced={:?} -> {}",
                kernel.kind_name(),
                place(r.input),
                r.extents,
                r.reduced,
                place(r.out)
            ),
            Kernel::MatMul {
                desc, a, b, out, ..
            } => format!(
                "matmul {} x {} -> {} (batch {}, m {}, k {}, n {}; scratch {} B at arena+{})",
                place(*a),
                place(*b),
                place(*out),
                desc.batch,
                desc.m,
                desc.k,
                desc.n,
                kernel.scratch() * 4,
                plan.scratch[p].unwrap_or(0) * 4
            ),
            Kernel::Conv {
                a, b, out, bias, ..
            } => format!(
                "{} {}, {} -> {}{} (scratch {} B at arena+{})",
                kernel.kind_name(),
                place(*a),
                place(*b),
                place(*out),
                bias.map_or(String::new(), |db| format!(", bias grad {}", place(db))),
                kernel.scratch() * 4,
                plan.scratch[p].unwrap_or(0) * 4
            ),
            Kernel::MaxPool { x, out, argmax, .. } => match argmax {
                Some(a) => format!(
                    "maxpool2d {} -> {}, winners {}",
                    place(*x),
                    place(*out),
                    aux(*a)
                ),
                None => format!("maxpool2d {} -> {}", place(*x), place(*out)),
            },
            Kernel::MaxPoolGrad {
                x, dy, out, argmax, ..
            } => {
                let winners = match argmax {
                    Some(a) => format!("winners {}", aux(*a)),
                    None => place(*x),
                };
                format!(
                    "maxpool2d_grad {winners}, {} -> {}",
                    place(*dy),
                    place(*out)
                )
            }
            Kernel::Copy { from, to, len } => {
                let buf = |b: &Buf| match *b {
                    Buf::Value(v) => place(v),
                    Buf::Stage(s) => format!("stage{s}@arena+{}", plan.stage_at[s] * 4),
                };
                format!("copy {} -> {} ({len} elements)", buf(from), buf(to))
            }
        };
        let _ = writeln!(out, "  k{p}: {line}");
        if let Some(e) = kernel.epilogue() {
            let _ = writeln!(
                out,
                "        then per unit: map {:?} {}",
                e.map.shape,
                map_text(&e.map)
            );
        }
    }
    let _ = writeln!(out, "arena: {} bytes", plan.arena_len * 4);
    let mut buffers = plan.arena.clone();
    buffers.sort_by_key(|b| (b.live.0, b.offset));
    for b in &buffers {
        let what = match b.owner {
            Owner::Value(v) => name(v),
            Owner::Scratch(p) => format!("scratch of k{p}"),
            Owner::Stage(s) => format!("stage{s}"),
            Owner::Aux(a) => format!("argmax{a}"),
        };
        let _ = writeln!(
            out,
            "  {what}: {} bytes at +{}, live k{}..k{}",
            b.len * 4,
            b.offset * 4,
            b.live.0,
            b.live.1
        );
    }
    let _ = writeln!(out, "constants: {} bytes", plan.consts.len() * 4);
    let _ = writeln!(out, "updates in place: {}", plan.in_place.len());
    for (target, value) in &plan.in_place {
        let _ = writeln!(out, "  {} <- {}", name(*target), name(*value));
    }
    out
}

fn op_name(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Max => "max",
    }
}
