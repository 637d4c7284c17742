//! Epilogue fusion: an elementwise map that consumes a runtime kernel's
//! output (a conv forward or input gradient, a matmul, a maxpool
//! gradient) moves into that kernel and runs on each chunk of the output
//! right after the chunk is computed, while it is still in cache (conv1's
//! bias + relu, the backward relu-mask select after a pool gradient, a
//! dense layer's bias + relu).
//!
//! # When a map `C` at plan position `c` may run inside producer `P` at `p`
//!
//! Running `C` at `p` instead of `c` is legal when it reads and writes the
//! same bits there:
//!
//! 1. `C` reads `P`'s output `out` only element for element: every access
//!    of `out`'s buffer is the identity over `C`'s iteration space (offset
//!    0, row-major strides, as many elements as `out`). So when `P` has
//!    finished a range of `out`, the iterations of `C` that read it are
//!    the same range of `C`'s flat iteration space.
//! 2. Every other buffer `C` reads is final at `p`: no kernel at positions
//!    `p..c` (`P` included) writes it. (Plan order is a topological order
//!    of the graph, so those buffers were written before `p` or are
//!    arguments and constants.) Broadcasts (a bias read with stride 0) are
//!    just such reads.
//! 3. No kernel at `p..c` reads or writes a buffer `C` writes, so writing
//!    it earlier clobbers nothing and is not clobbered (a pad's zero fill
//!    between them would be).
//! 4. `C` writes no update of the train step: updates written by maps may
//!    go straight into the state store in phase 2 (`memory.rs`), which only
//!    a standalone map can.
//! 5. `P`'s chunks are contiguous ranges of whole units (images: `n *
//!    unit` elements of `out`, `unit` per image; matmul rows, or the whole
//!    product when it runs the epilogue on one thread), so `C`'s
//!    iteration space must split into `[units, ...]` at unit boundaries:
//!    its outer axis is split in two (`[d0, rest] -> [units, d0 / units,
//!    rest]`), which needs the inner axes to cover at most one unit and
//!    divide it. When they do not (an outer axis whose rows hold several
//!    images, or a read of `out` that is not the identity, as a transposed
//!    one), `C` stays a separate kernel.
//!
//! Every element of `C` is computed independently by the same scalar body
//! from the same inputs, so it makes no difference which thread runs which
//! range or in what order: the results are the bits of the separate map,
//! for any thread count. The runtime calls the epilogue on disjoint unit
//! ranges (codegen/epilogue.rs, runtime/epilogue.rs).
//!
//! # Relu masks from the relu output
//!
//! Autodiff's relu rule keeps `gt(z, 0)` for the backward select, which the
//! forward map writes as its own buffer next to `relu(z)` (for seed-cnn
//! conv1, a second 14.7 MB stream). `relu(z) > 0` exactly when `z > 0`, for
//! every f32: the JIT's (and interpreter's) relu is `z` where `z > 0` or
//! `z` is NaN, else `+0`; so for `z > 0` both compare `z > 0`; for NaN both
//! compare a NaN (false); otherwise `+0 > 0` and `z > 0` (`z <= 0`, `-0`
//! included) are both false. So a map reading the mask reads the relu
//! output instead and recomputes `gt(in, 0)` in its body, and the forward
//! map no longer writes the mask. This is done here, on the plan, because
//! the fusion pass puts the compare into the forward kernel (it shares `z`
//! with relu), and only the plan sees which buffers are written.

use crate::ir::op::{CmpOp, ScalarInstr, UnaryOp};
use crate::ir::{Graph, ValueId};

use super::{contiguous_strides, Access, ConvKind, Epilogue, Kernel, MapKernel};

/// Rewrites relu-mask readers (see the module docs), then moves each
/// eligible map into the kernel producing its input as an epilogue.
pub fn fuse_epilogues(graph: &Graph, kernels: &mut Vec<Kernel>, buffer_of: &[ValueId]) {
    recompute_relu_masks(graph, kernels, buffer_of);
    let root = |v: ValueId| buffer_of[v.index()];
    let updates: Vec<ValueId> = graph.updates().iter().map(|u| root(u.value)).collect();
    let mut p = 0;
    while p < kernels.len() {
        let Some((out, units, unit)) = producer(&kernels[p]) else {
            p += 1;
            continue;
        };
        let found = (p + 1..kernels.len()).find_map(|c| {
            let epilogue = fit(&kernels[c], root(out), units, unit, &root, &updates)?;
            window_is_clear(&kernels[p..c], &kernels[c], &root).then_some((c, epilogue))
        });
        if let Some((c, epilogue)) = found {
            kernels.remove(c);
            if let Kernel::MatMul { epilogue: e, .. }
            | Kernel::Conv { epilogue: e, .. }
            | Kernel::MaxPoolGrad { epilogue: e, .. } = &mut kernels[p]
            {
                *e = Some(Box::new(epilogue));
            }
        }
        p += 1;
    }
}

/// A kernel that can run an epilogue, with no epilogue yet: its output,
/// and that output as `units` contiguous units of `unit` elements (the
/// granularity of the ranges it finishes).
fn producer(kernel: &Kernel) -> Option<(ValueId, usize, usize)> {
    let (out, units, unit) = match kernel {
        Kernel::Conv {
            kind: ConvKind::Forward,
            desc,
            out,
            bias: None,
            epilogue: None,
            ..
        } => (*out, desc.n, desc.y_n),
        Kernel::Conv {
            kind: ConvKind::InputGrad,
            desc,
            out,
            epilogue: None,
            ..
        } => (*out, desc.n, desc.x_n),
        Kernel::MatMul {
            desc,
            out,
            epilogue: None,
            ..
        } => {
            let (units, unit) = crate::backend::jit::runtime::matmul_units(desc);
            (*out, units, unit)
        }
        Kernel::MaxPoolGrad {
            desc,
            out,
            epilogue: None,
            ..
        } => (*out, desc.n, desc.x_n),
        _ => return None,
    };
    (units > 0 && unit > 0).then_some((out, units, unit))
}

/// `kernel` as an epilogue of a producer of `out` (a root buffer of
/// `units * unit` elements): conditions 1, 4 and 5 of the module docs.
fn fit(
    kernel: &Kernel,
    out: ValueId,
    units: usize,
    unit: usize,
    root: &impl Fn(ValueId) -> ValueId,
    updates: &[ValueId],
) -> Option<Epilogue> {
    let Kernel::Map(m) = kernel else {
        return None;
    };
    let numel: usize = m.shape.iter().product();
    let from_producer: Vec<usize> = (0..m.inputs.len())
        .filter(|&k| root(m.inputs[k].value) == out)
        .collect();
    if from_producer.is_empty()
        || numel != units * unit
        || !from_producer
            .iter()
            .all(|&k| is_identity(&m.inputs[k], &m.shape))
        || m.outputs
            .iter()
            .any(|o| root(o.value) == out || updates.contains(&root(o.value)))
    {
        return None;
    }
    // Condition 5: the inner axes cover a divisor of one unit.
    let inner: usize = m.shape[1..].iter().product();
    if inner > unit || !unit.is_multiple_of(inner) {
        return None;
    }
    // The outer axis becomes `[units, split]` (kept as two axes when the
    // map has one, so that a unit is always a whole map of its own).
    let split = unit / inner;
    let two = split > 1 || m.shape.len() == 1;
    let mut map = m.clone();
    map.shape[0] = units;
    if two {
        map.shape.insert(1, split);
    }
    for a in map.inputs.iter_mut().chain(map.outputs.iter_mut()) {
        let s0 = a.at.strides[0];
        if two {
            a.at.strides[0] = s0 * split as isize;
            a.at.strides.insert(1, s0);
        }
    }
    Some(Epilogue { map, from_producer })
}

/// Conditions 2 and 3: no kernel of `window` (the producer and every
/// kernel after it, before `map`) writes a buffer `map` reads or writes,
/// nor reads one it writes — except the producer's own output, which is
/// what the epilogue consumes.
fn window_is_clear(window: &[Kernel], map: &Kernel, root: &impl Fn(ValueId) -> ValueId) -> bool {
    let producer_out = producer(&window[0]).map(|(out, _, _)| root(out));
    let written: Vec<ValueId> = map.writes().into_iter().map(root).collect();
    let read: Vec<ValueId> = map.reads().into_iter().map(root).collect();
    window.iter().enumerate().all(|(i, k)| {
        let reads_written = k.reads().into_iter().any(|v| written.contains(&root(v)));
        // The producer writes the output the map consumes: that is the
        // point. Nothing else in the window may write what the map touches.
        let clobbers = k.writes().into_iter().map(root).any(|v| {
            (i > 0 || Some(v) != producer_out) && (written.contains(&v) || read.contains(&v))
        });
        !reads_written && !clobbers
    })
}

/// Whether `a` reads element `i` at flat iteration index `i` of `shape`.
fn is_identity(a: &Access, shape: &[usize]) -> bool {
    a.at.offset == 0 && a.at.strides == contiguous_strides(shape)
}

/// The relu-mask rewrite of the module docs: for a map writing both
/// `relu(z)` and `gt(z, 0)` as whole buffers, each reader of the mask (all
/// maps) reads the relu output and recomputes the compare; the forward map
/// then drops the mask output.
fn recompute_relu_masks(graph: &Graph, kernels: &mut [Kernel], buffer_of: &[ValueId]) {
    let root = |v: ValueId| buffer_of[v.index()];
    let kept: Vec<ValueId> = graph
        .outputs()
        .iter()
        .map(|(_, v)| root(*v))
        .chain(
            graph
                .updates()
                .iter()
                .flat_map(|u| [root(u.target), root(u.value)]),
        )
        .collect();
    for p in 0..kernels.len() {
        let Kernel::Map(m) = &kernels[p] else {
            continue;
        };
        let Some((mask, relu)) = relu_mask_pair(m) else {
            continue;
        };
        let (mask, relu) = (m.outputs[mask].value, m.outputs[relu].value);
        if root(mask) != mask || root(relu) != relu || kept.contains(&mask) {
            continue;
        }
        let touches = |k: &Kernel, v: ValueId| {
            k.reads()
                .into_iter()
                .chain(k.writes())
                .any(|r| root(r) == v)
        };
        let readers: Vec<usize> = (0..kernels.len())
            .filter(|&k| k != p && touches(&kernels[k], mask))
            .collect();
        let only_maps = readers.iter().all(|&k| {
            matches!(&kernels[k], Kernel::Map(r) if !r.outputs.iter().any(|o| root(o.value) == mask))
        });
        let relu_written_once = (0..kernels.len())
            .all(|k| k == p || !kernels[k].writes().into_iter().any(|v| root(v) == relu));
        if readers.is_empty() || !only_maps || !relu_written_once {
            continue;
        }
        for k in readers {
            if let Kernel::Map(r) = &mut kernels[k] {
                read_mask_from_relu(r, mask, relu, &root);
            }
        }
        if let Kernel::Map(m) = &mut kernels[p] {
            let at = m
                .outputs
                .iter()
                .position(|o| o.value == mask)
                .expect("found");
            m.outputs.remove(at);
            m.results.remove(at);
            drop_dead(m);
        }
    }
}

/// Output indices `(mask, relu)` of a map writing `gt(z, 0)` and `relu(z)`
/// of the same `z`, both as whole contiguous buffers.
fn relu_mask_pair(m: &MapKernel) -> Option<(usize, usize)> {
    let is_zero = |i: u32| matches!(m.body[i as usize], ScalarInstr::Const(c) if c.get() == 0.0);
    for (mi, &mr) in m.results.iter().enumerate() {
        let ScalarInstr::Compare(CmpOp::Gt, z, zero) = m.body[mr as usize] else {
            continue;
        };
        if !is_zero(zero) || !is_identity(&m.outputs[mi], &m.shape) {
            continue;
        }
        let relu = m.results.iter().enumerate().position(|(ri, &rr)| {
            m.body[rr as usize] == ScalarInstr::Unary(UnaryOp::Relu, z)
                && is_identity(&m.outputs[ri], &m.shape)
        });
        if let Some(ri) = relu {
            return Some((mi, ri));
        }
    }
    None
}

/// `r` with every read of `mask` turned into a read of `relu` (same
/// access: both are whole contiguous buffers of one shape) followed by
/// `gt(in, 0)`, which the rest of the body uses in place of the mask.
fn read_mask_from_relu(
    r: &mut MapKernel,
    mask: ValueId,
    relu: ValueId,
    root: &impl Fn(ValueId) -> ValueId,
) {
    let masked: Vec<bool> = r.inputs.iter().map(|a| root(a.value) == mask).collect();
    for (a, &m) in r.inputs.iter_mut().zip(&masked) {
        if m {
            a.value = relu;
        }
    }
    rebuild(r, |instr, body| match *instr {
        ScalarInstr::Input(k) if masked[k as usize] => {
            body.push(ScalarInstr::Input(k));
            body.push(ScalarInstr::Const(crate::ir::F32Bits::new(0.0)));
            let n = body.len() as u32;
            Some(ScalarInstr::Compare(CmpOp::Gt, n - 2, n - 1))
        }
        _ => Some(instr.clone()),
    });
}

/// `m` without the body instructions no result needs.
fn drop_dead(m: &mut MapKernel) {
    let mut live = vec![false; m.body.len()];
    for &r in &m.results {
        live[r as usize] = true;
    }
    for i in (0..m.body.len()).rev() {
        if live[i] {
            for a in m.body[i].args() {
                live[a as usize] = true;
            }
        }
    }
    let mut at = 0;
    rebuild(m, |instr, _| {
        at += 1;
        live[at - 1].then(|| instr.clone())
    });
}

/// Rebuilds `m`'s body instruction by instruction: `f` returns each one's
/// replacement (its arguments still in old numbers, which are renumbered;
/// except what replaces an `in`, which `f` may build from instructions it
/// pushes first, in new numbers) or `None` to drop it.
fn rebuild(
    m: &mut MapKernel,
    mut f: impl FnMut(&ScalarInstr, &mut Vec<ScalarInstr>) -> Option<ScalarInstr>,
) {
    let mut renumber: Vec<u32> = Vec::with_capacity(m.body.len());
    let mut body: Vec<ScalarInstr> = Vec::with_capacity(m.body.len() + 2);
    for instr in &m.body {
        let Some(new) = f(instr, &mut body) else {
            renumber.push(u32::MAX);
            continue;
        };
        let at = |i: u32| renumber[i as usize];
        // What replaces an input (the recomputed mask) is in new numbers.
        let new = match (instr, new) {
            (ScalarInstr::Input(_), n) => n,
            (_, ScalarInstr::Input(k)) => ScalarInstr::Input(k),
            (_, ScalarInstr::Const(c)) => ScalarInstr::Const(c),
            (_, ScalarInstr::Unary(op, x)) => ScalarInstr::Unary(op, at(x)),
            (_, ScalarInstr::Binary(op, x, y)) => ScalarInstr::Binary(op, at(x), at(y)),
            (_, ScalarInstr::Pow { exponent, x }) => ScalarInstr::Pow { exponent, x: at(x) },
            (_, ScalarInstr::Compare(op, x, y)) => ScalarInstr::Compare(op, at(x), at(y)),
            (_, ScalarInstr::Select(c, t, e)) => ScalarInstr::Select(at(c), at(t), at(e)),
        };
        body.push(new);
        renumber.push(body.len() as u32 - 1);
    }
    m.results = m.results.iter().map(|&i| renumber[i as usize]).collect();
    m.body = body;
}
