//! A [`RowsKernel`]: one loop over the rows and, per row, its phases
//! (`plan/rows.rs`). A pass computes its element steps F32X4 at a time
//! over the row's columns — 16 columns per trip when it reduces, with the
//! accumulators of `reduce.rs`, so a fused row reduction associates
//! exactly as a lone one does — and the last `cols % 4` one at a time.
//! Values a later step of the same pass reads stay in registers. A row
//! step runs once on row scalars (splat vectors, like a map's scalar
//! tail). Totals are carried across the row loop and added in row order,
//! the interpreter's.

use std::collections::{HashMap, HashSet};

use cranelift_codegen::ir::{types, FuncRef, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;

use super::body::{self, Hoisted};
use super::loops::counted;
use super::map::{data, Width};
use super::reduce::{add, combine, fold, init, ACCUMULATORS};
use super::Emit;
use crate::backend::jit::plan::memory::{Loc, Region};
use crate::backend::jit::plan::{Access, Phase, ReduceOp, RowStep, RowsKernel};
use crate::ir::op::ScalarInstr;
use crate::ir::ValueId;

/// What every row needs, computed before the row loop.
struct Ctx<'a> {
    k: &'a RowsKernel,
    /// Per step, for maps: live instructions and hoisted constants.
    bodies: Vec<Option<(Vec<bool>, Hoisted)>>,
    powf: Option<FuncRef>,
    /// Address of each access's first element, by (value, offset).
    bases: HashMap<(ValueId, isize), Value>,
    /// Scratch for stashed values.
    stash: Option<Value>,
    written: HashSet<ValueId>,
}

/// Where a pass reads an input from.
#[derive(Clone, Copy)]
enum Src {
    /// One value per row (a splat).
    Fixed(Value),
    /// Computed earlier in the same chunk.
    Chunk,
    /// Loaded at this row pointer plus the column.
    Ptr(Value),
}

pub fn emit_rows(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    p: usize,
    k: &RowsKernel,
) {
    let written: HashSet<ValueId> = k.writes().into_iter().collect();
    let mut needs_powf = false;
    let bodies = k
        .steps
        .iter()
        .map(|s| match s {
            RowStep::Map(m) | RowStep::RowMap(m) => {
                let live = body::live(&m.body, &m.results);
                needs_powf |= m.body.iter().zip(&live).any(|(i, &l)| {
                    l && matches!(i, ScalarInstr::Pow { exponent, .. } if exponent.get() != 1.0)
                });
                let hoisted = body::hoist(b, &m.body, &live);
                Some((live, hoisted))
            }
            _ => None,
        })
        .collect();
    let powf = needs_powf.then(|| emit.imports.func_ref(module, b, "tri_powf"));
    let mut bases = HashMap::new();
    for step in &k.steps {
        let outs = match step {
            RowStep::Map(m) | RowStep::RowMap(m) => m.outputs.iter().collect(),
            _ => vec![],
        };
        for a in step.inputs().into_iter().chain(outs) {
            if k.internal.contains(&a.value) {
                continue;
            }
            let key = (a.value, a.at.offset);
            if let std::collections::hash_map::Entry::Vacant(e) = bases.entry(key) {
                e.insert(emit.address(b, emit.loc(a.value), a.at.offset));
            }
        }
        if let RowStep::Reduce { out, .. } | RowStep::Total { out, .. } = step {
            if written.contains(out) {
                bases
                    .entry((*out, 0))
                    .or_insert_with(|| emit.address(b, emit.loc(*out), 0));
            }
        }
    }
    let stash = emit.plan.scratch[p].map(|offset| {
        let loc = Loc {
            region: Region::Arena,
            offset,
        };
        emit.address(b, loc, 0)
    });
    let ctx = Ctx {
        k,
        bodies,
        powf,
        bases,
        stash,
        written,
    };
    let phases = k.phases();
    let total_ops: Vec<(usize, ReduceOp, ValueId)> = k
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match s {
            RowStep::Total { op, out, .. } => Some((i, *op, *out)),
            _ => None,
        })
        .collect();
    let mut carried = vec![b.ins().iconst(types::I64, 0)];
    for &(_, op, _) in &total_ops {
        carried.push(b.ins().f32const(op.identity()));
    }
    let after = counted(b, k.rows, &carried, |b, c| {
        let r = c[0];
        let mut totals = c[1..].to_vec();
        let mut rowvals: HashMap<ValueId, Value> = HashMap::new();
        for phase in &phases {
            match phase {
                Phase::Pass(steps) => ctx.pass(b, steps, r, &mut rowvals),
                Phase::Row(i) => match &k.steps[*i] {
                    RowStep::RowMap(m) => {
                        let ins: Vec<Value> = m
                            .inputs
                            .iter()
                            .map(|a| ctx.row_scalar(b, a, r, &rowvals))
                            .collect();
                        let (live, hoisted) = ctx.bodies[*i].as_ref().expect("a map");
                        let values = body::emit(b, &m.body, live, hoisted, &ins, ctx.powf);
                        for (o, &res) in m.outputs.iter().zip(&m.results) {
                            let v = values[res as usize].expect("results are live");
                            if ctx.written.contains(&o.value) {
                                let at = ctx.at_row(b, o, r);
                                Width::Scalar.store(b, v, at);
                            }
                            rowvals.insert(o.value, v);
                        }
                    }
                    RowStep::Total { op, input, .. } => {
                        let t = total_ops.iter().position(|t| t.0 == *i).expect("a total");
                        let x = ctx.row_scalar(b, input, r, &rowvals);
                        let x = b.ins().extractlane(x, 0);
                        totals[t] = combine(b, *op, totals[t], x);
                    }
                    _ => unreachable!("row phases hold row steps"),
                },
            }
        }
        let mut next = vec![b.ins().iadd_imm_s(r, 1)];
        next.extend(totals);
        next
    });
    for (t, &(_, _, out)) in total_ops.iter().enumerate() {
        if ctx.written.contains(&out) {
            b.ins().store(data(), after[1 + t], ctx.bases[&(out, 0)], 0);
        }
    }
}

impl Ctx<'_> {
    /// The address of row `r` of access `a`.
    fn at_row(&self, b: &mut FunctionBuilder, a: &Access, r: Value) -> Value {
        let base = self.bases[&(a.value, a.at.offset)];
        match a.at.strides[0] {
            0 => base,
            s => {
                let bytes = b.ins().imul_imm_s(r, s as i64 * 4);
                b.ins().iadd(base, bytes)
            }
        }
    }

    /// Row `r`'s scalar of `a`, as a splat.
    fn row_scalar(
        &self,
        b: &mut FunctionBuilder,
        a: &Access,
        r: Value,
        rowvals: &HashMap<ValueId, Value>,
    ) -> Value {
        if let Some(&v) = rowvals.get(&a.value) {
            return v;
        }
        let at = self.at_row(b, a, r);
        Width::Scalar.load(b, at)
    }

    /// Where an element value is kept for later passes, or written.
    fn element_ptr(&self, b: &mut FunctionBuilder, a: &Access, r: Value) -> Option<Value> {
        if let Some(i) = self.k.stashed.iter().position(|&v| v == a.value) {
            let stash = self.stash.expect("stashed values have scratch");
            return Some(b.ins().iadd_imm_s(stash, (i * self.k.cols * 4) as i64));
        }
        (!self.k.internal.contains(&a.value)).then(|| self.at_row(b, a, r))
    }

    /// One pass over row `r`'s columns: its element steps, its row
    /// reductions (into `rowvals`).
    fn pass(
        &self,
        b: &mut FunctionBuilder,
        steps: &[usize],
        r: Value,
        rowvals: &mut HashMap<ValueId, Value>,
    ) {
        let k = self.k;
        let mut here: Vec<ValueId> = Vec::new();
        let mut srcs: Vec<Vec<Src>> = Vec::new();
        let mut dsts: Vec<Vec<Option<Value>>> = Vec::new();
        for &i in steps {
            let step = &k.steps[i];
            let mut s = Vec::new();
            for a in step.inputs() {
                s.push(if a.at.strides[1] == 0 {
                    Src::Fixed(self.row_scalar(b, a, r, rowvals))
                } else if here.contains(&a.value) {
                    Src::Chunk
                } else {
                    Src::Ptr(self.element_ptr(b, a, r).expect("read before, so kept"))
                });
            }
            srcs.push(s);
            let mut d = Vec::new();
            if let RowStep::Map(m) = step {
                for o in &m.outputs {
                    d.push(self.element_ptr(b, o, r));
                    here.push(o.value);
                }
            }
            dsts.push(d);
        }
        let reduces: Vec<(usize, ReduceOp)> = steps
            .iter()
            .enumerate()
            .filter_map(|(n, &i)| match k.steps[i] {
                RowStep::Reduce { op, .. } => Some((n, op)),
                _ => None,
            })
            .collect();
        let sizes: Vec<usize> = reduces
            .iter()
            .map(|&(_, op)| match op {
                ReduceOp::Sum => ACCUMULATORS,
                ReduceOp::Max => 3 * ACCUMULATORS,
            })
            .collect();
        let unflatten = |flat: &[Value]| -> Vec<Vec<Value>> {
            let mut at = 0;
            sizes
                .iter()
                .map(|&n| {
                    at += n;
                    flat[at - n..at].to_vec()
                })
                .collect()
        };
        let mut accs: Vec<Vec<Value>> = reduces.iter().map(|&(_, op)| init(b, op)).collect();
        let per_trip = if reduces.is_empty() {
            4
        } else {
            4 * ACCUMULATORS
        };
        let cols = k.cols;
        let mut cb = b.ins().iconst(types::I64, 0);
        let chunk = |b: &mut FunctionBuilder,
                     cb: Value,
                     width: Width,
                     slot: Option<usize>,
                     accs: &mut [Vec<Value>],
                     totals: &mut [Value]| {
            let mut vals: HashMap<ValueId, Value> = HashMap::new();
            let mut reduced = 0;
            for (n, &i) in steps.iter().enumerate() {
                let step = &k.steps[i];
                let ins: Vec<Value> = step
                    .inputs()
                    .iter()
                    .zip(&srcs[n])
                    .map(|(a, src)| match *src {
                        Src::Fixed(v) => v,
                        Src::Chunk => vals[&a.value],
                        Src::Ptr(p) => {
                            let at = b.ins().iadd(p, cb);
                            width.load(b, at)
                        }
                    })
                    .collect();
                match step {
                    RowStep::Map(m) => {
                        let (live, hoisted) = self.bodies[i].as_ref().expect("a map");
                        let values = body::emit(b, &m.body, live, hoisted, &ins, self.powf);
                        for ((o, &res), dst) in m.outputs.iter().zip(&m.results).zip(&dsts[n]) {
                            let v = values[res as usize].expect("results are live");
                            if let Some(p) = *dst {
                                let at = b.ins().iadd(p, cb);
                                width.store(b, v, at);
                            }
                            vals.insert(o.value, v);
                        }
                    }
                    RowStep::Reduce { op, .. } => {
                        match slot {
                            Some(s) => add(b, *op, &mut accs[reduced], s, ins[0]),
                            None => {
                                let x = b.ins().extractlane(ins[0], 0);
                                totals[reduced] = combine(b, *op, totals[reduced], x);
                            }
                        }
                        reduced += 1;
                    }
                    _ => unreachable!("passes hold element steps"),
                }
            }
        };
        if cols >= per_trip {
            let mut carried = vec![cb];
            carried.extend(accs.concat());
            let out = counted(b, cols / per_trip, &carried, |b, c| {
                let mut accs = unflatten(&c[1..]);
                for u in 0..per_trip / 4 {
                    let at = b.ins().iadd_imm_s(c[0], 16 * u as i64);
                    chunk(b, at, Width::Vector, Some(u), &mut accs, &mut []);
                }
                let mut next = vec![b.ins().iadd_imm_s(c[0], 4 * per_trip as i64)];
                next.extend(accs.concat());
                next
            });
            cb = out[0];
            accs = unflatten(&out[1..]);
        }
        for _ in 0..(cols % per_trip) / 4 {
            chunk(b, cb, Width::Vector, Some(0), &mut accs, &mut []);
            cb = b.ins().iadd_imm_s(cb, 16);
        }
        let mut totals: Vec<Value> = reduces
            .iter()
            .zip(&accs)
            .map(|(&(_, op), a)| fold(b, op, a, cols >= 4))
            .collect();
        for _ in 0..cols % 4 {
            chunk(b, cb, Width::Scalar, None, &mut accs, &mut totals);
            cb = b.ins().iadd_imm_s(cb, 4);
        }
        for (&(n, op), total) in reduces.iter().zip(totals) {
            let RowStep::Reduce { out, .. } = &k.steps[steps[n]] else {
                unreachable!("found above")
            };
            // `identity op total`, as the fill-then-accumulate it replaces.
            let identity = b.ins().f32const(op.identity());
            let value = combine(b, op, identity, total);
            if self.written.contains(out) {
                let base = self.bases[&(*out, 0)];
                let at = match k.rows {
                    1 => base,
                    _ => {
                        let bytes = b.ins().imul_imm_s(r, 4);
                        b.ins().iadd(base, bytes)
                    }
                };
                b.ins().store(data(), value, at, 0);
            }
            rowvals.insert(*out, b.ins().splat(types::F32X4, value));
        }
    }
}
