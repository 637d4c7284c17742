//! Graph nodes to kernels, one node (or one group of `fused` siblings) at a
//! time, in graph order.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ir::op::{FusedKernel, ScalarInstr};
use crate::ir::{BinaryOp, Graph, NodeKind, Op, ValueId};

use super::{
    contiguous_strides, Access, ConvKind, Kernel, MapKernel, ReduceKernel, ReduceOp, Strided,
};
use crate::backend::jit::runtime::{ConvDesc, MatMulDesc, PoolDesc};

/// The graph's kernels in graph order, and for each value the value whose
/// buffer it is (itself, or for a reshape the buffer it views).
#[derive(Debug)]
pub struct Lowered {
    pub kernels: Vec<Kernel>,
    pub buffer_of: Vec<ValueId>,
}

/// Lowers `graph` for an executable of `threads` threads (the runtime
/// descriptors carry it).
pub fn lower(graph: &Graph, threads: usize) -> Result<Lowered> {
    let mut kernels = Vec::new();
    let mut buffer_of: Vec<ValueId> = graph.ids().collect();
    let mut done = vec![false; graph.len()];
    for id in graph.ids() {
        let node = graph.node(id);
        let NodeKind::Op { op, operands } = &node.kind else {
            continue;
        };
        if done[id.index()] {
            continue;
        }
        let dims = node.ty.shape.dims();
        let shape_of = |v: ValueId| graph.shape(v).dims();
        match op {
            Op::Reshape { .. } => buffer_of[id.index()] = buffer_of[operands[0].index()],
            Op::Fused { kernel, .. } => {
                let siblings = fused_siblings(graph, id, kernel, operands);
                for &(s, _) in &siblings {
                    done[s.index()] = true;
                }
                let inputs = operands
                    .iter()
                    .zip(&kernel.maps)
                    .map(|(&v, map)| broadcast_access(v, shape_of(v), map, kernel.shape.dims()))
                    .collect();
                let outputs = siblings.iter().map(|&(s, _)| identity(s, dims)).collect();
                let results = siblings.iter().map(|&(_, r)| kernel.results[r]).collect();
                push_map(
                    graph,
                    &mut kernels,
                    dims,
                    inputs,
                    kernel.body.clone(),
                    outputs,
                    results,
                );
            }
            // Movement ops are copies through strided reads (pad: writes).
            Op::Broadcast { dims: map, .. } => {
                let input = broadcast_access(operands[0], shape_of(operands[0]), map, dims);
                push_copy(graph, &mut kernels, dims, input, identity(id, dims));
            }
            Op::Transpose { perm } => {
                let from = contiguous_strides(shape_of(operands[0]));
                let strides = perm.iter().map(|&p| from[p]).collect();
                let input = strided(operands[0], 0, strides);
                push_copy(graph, &mut kernels, dims, input, identity(id, dims));
            }
            Op::Slice { start, .. } => {
                let from = contiguous_strides(shape_of(operands[0]));
                let input = strided(operands[0], corner(start, &from), from);
                push_copy(graph, &mut kernels, dims, input, identity(id, dims));
            }
            Op::Pad { low, .. } => {
                kernels.push(Kernel::Fill {
                    out: id,
                    value: 0.0,
                });
                let inner = shape_of(operands[0]);
                let to = contiguous_strides(dims);
                let output = strided(id, corner(low, &to), to);
                push_copy(
                    graph,
                    &mut kernels,
                    inner,
                    identity(operands[0], inner),
                    output,
                );
            }
            Op::ReduceSum { axes, .. } => {
                lower_reduce(graph, &mut kernels, ReduceOp::Sum, operands[0], axes, id)
            }
            Op::ReduceMax { axes, .. } => {
                lower_reduce(graph, &mut kernels, ReduceOp::Max, operands[0], axes, id)
            }
            Op::MatMul(attrs) => kernels.push(Kernel::MatMul {
                desc: MatMulDesc::new(shape_of(operands[0]), shape_of(operands[1]), *attrs)
                    .with_threads(threads),
                a: operands[0],
                b: operands[1],
                out: id,
                epilogue: None,
            }),
            Op::Conv2d(conv) => {
                let desc = ConvDesc::new(shape_of(operands[0]), shape_of(operands[1]), *conv)
                    .with_threads(threads);
                kernels.push(conv_kernel(ConvKind::Forward, desc, operands, id));
            }
            Op::Conv2dInputGrad { conv, input_shape } => {
                let desc = ConvDesc::new(input_shape.dims(), shape_of(operands[1]), *conv)
                    .with_threads(threads);
                kernels.push(conv_kernel(ConvKind::InputGrad, desc, operands, id));
            }
            Op::Conv2dFilterGrad { conv, filter_shape } => {
                let desc = ConvDesc::new(shape_of(operands[0]), filter_shape.dims(), *conv)
                    .with_threads(threads);
                kernels.push(conv_kernel(ConvKind::FilterGrad, desc, operands, id));
            }
            Op::MaxPool2d(pool) => kernels.push(Kernel::MaxPool {
                desc: PoolDesc::new(shape_of(operands[0]), *pool).with_threads(threads),
                x: operands[0],
                out: id,
                argmax: None,
            }),
            Op::MaxPool2dGrad(pool) => kernels.push(Kernel::MaxPoolGrad {
                desc: PoolDesc::new(shape_of(operands[0]), *pool).with_threads(threads),
                x: operands[0],
                dy: operands[1],
                out: id,
                argmax: None,
                epilogue: None,
            }),
            elementwise => {
                let args: Vec<u32> = (0..operands.len() as u32).collect();
                let Some(instr) = ScalarInstr::from_op(elementwise, &args) else {
                    return Err(Error::Jit(format!(
                        "no kernel for op `{}` (%{})",
                        elementwise.name(),
                        node.name
                    )));
                };
                let mut body: Vec<ScalarInstr> =
                    args.iter().map(|&k| ScalarInstr::Input(k)).collect();
                body.push(instr);
                let inputs = operands.iter().map(|&v| identity(v, dims)).collect();
                let result = body.len() as u32 - 1;
                push_map(
                    graph,
                    &mut kernels,
                    dims,
                    inputs,
                    body,
                    vec![identity(id, dims)],
                    vec![result],
                );
            }
        }
    }
    // A reshape of a reshape views the first buffer.
    for i in 0..buffer_of.len() {
        buffer_of[i] = buffer_of[buffer_of[i].index()];
    }
    fuse_bias_grads(&mut kernels, &buffer_of);
    pair_pools(&mut kernels, &buffer_of);
    super::rows::fuse_rows(graph, &mut kernels, &buffer_of);
    super::fuse_epilogues(graph, &mut kernels, &buffer_of);
    Ok(Lowered { kernels, buffer_of })
}

/// Gives each maxpool gradient whose `x` an earlier forward of the same
/// pool reads an auxiliary buffer that the forward records its winners in
/// and the gradient scatters from: one buffer per forward (shared by all
/// its gradients), numbered in forward order.
fn pair_pools(kernels: &mut [Kernel], buffer_of: &[ValueId]) {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (g, kernel) in kernels.iter().enumerate() {
        let Kernel::MaxPoolGrad { desc, x, .. } = kernel else {
            continue;
        };
        let forward = kernels[..g].iter().position(|k| {
            matches!(k, Kernel::MaxPool { desc: d, x: fx, .. }
                if d == desc && buffer_of[fx.index()] == buffer_of[x.index()])
        });
        if let Some(f) = forward {
            pairs.push((f, g));
        }
    }
    let mut forwards: Vec<usize> = pairs.iter().map(|&(f, _)| f).collect();
    forwards.sort_unstable();
    forwards.dedup();
    for (f, g) in pairs {
        let a = forwards.binary_search(&f).expect("a paired forward");
        for k in [f, g] {
            if let Kernel::MaxPool { argmax, .. } | Kernel::MaxPoolGrad { argmax, .. } =
                &mut kernels[k]
            {
                *argmax = Some(a);
            }
        }
    }
}

/// The `fused` nodes computing results of `kernel` over `operands`: the
/// siblings a fusion pass made together (one `Arc`) or equal ones.
fn fused_siblings(
    graph: &Graph,
    first: ValueId,
    kernel: &Arc<FusedKernel>,
    operands: &[ValueId],
) -> Vec<(ValueId, usize)> {
    graph
        .ids()
        .skip(first.index())
        .filter_map(|s| match &graph.node(s).kind {
            NodeKind::Op {
                op: Op::Fused { kernel: k, result },
                operands: o,
            } if (Arc::ptr_eq(k, kernel) || k == kernel) && o == operands => Some((s, *result)),
            _ => None,
        })
        .collect()
}

/// `v` through `strides` from element `offset`.
fn strided(v: ValueId, offset: isize, strides: Vec<isize>) -> Access {
    Access {
        value: v,
        at: Strided { offset, strides },
    }
}

/// The element offset of the box corner `start` under `strides`.
fn corner(start: &[usize], strides: &[isize]) -> isize {
    start
        .iter()
        .zip(strides)
        .map(|(&s, &st)| s as isize * st)
        .sum()
}

/// A map copying `input` to `output` over `dims`.
fn push_copy(
    graph: &Graph,
    kernels: &mut Vec<Kernel>,
    dims: &[usize],
    input: Access,
    output: Access,
) {
    let body = vec![ScalarInstr::Input(0)];
    push_map(
        graph,
        kernels,
        dims,
        vec![input],
        body,
        vec![output],
        vec![0],
    );
}

/// `v` read at the iteration index itself (its shape is the iteration's).
fn identity(v: ValueId, dims: &[usize]) -> Access {
    Access {
        value: v,
        at: Strided {
            offset: 0,
            strides: contiguous_strides(dims),
        },
    }
}

/// `v` read through a broadcast map: operand axis `i` is iteration axis
/// `map[i]`, and an extent-1 operand axis repeats (stride 0).
fn broadcast_access(v: ValueId, dims: &[usize], map: &[usize], space: &[usize]) -> Access {
    let own = contiguous_strides(dims);
    let mut strides = vec![0isize; space.len()];
    for (i, &axis) in map.iter().enumerate() {
        if dims[i] != 1 {
            strides[axis] = own[i];
        }
    }
    Access {
        value: v,
        at: Strided { offset: 0, strides },
    }
}

fn conv_kernel(kind: ConvKind, desc: ConvDesc, operands: &[ValueId], out: ValueId) -> Kernel {
    Kernel::Conv {
        kind,
        scratch: desc.scratch_len(),
        desc,
        a: operands[0],
        b: operands[1],
        out,
        bias: None,
        epilogue: None,
    }
}

/// Folds each bias gradient — `dy` of a conv filter gradient summed over
/// every axis but the channel — into that filter gradient, which sums it
/// per chunk while the chunk's `dy` is in cache (the conv layer's backward
/// reads its 15 MB `dy` once instead of twice). The sum's fill and reduce
/// kernels go; the conv writes the value instead, earlier in the plan,
/// which is safe because nothing reads it before the reduce did.
fn fuse_bias_grads(kernels: &mut Vec<Kernel>, buffer_of: &[ValueId]) {
    let mut c = 0;
    while c < kernels.len() {
        let Kernel::Conv {
            kind: ConvKind::FilterGrad,
            desc,
            b: dy,
            bias: None,
            ..
        } = kernels[c]
        else {
            c += 1;
            continue;
        };
        let dy = buffer_of[dy.index()];
        let pattern: &[(usize, bool)] = if desc.y_c == 1 {
            // NHWC: [pixels, o], pixels summed.
            &[(desc.n * desc.oh * desc.ow, true), (desc.o, false)]
        } else {
            // NCHW: [n, o, pixels], images and pixels summed.
            &[(desc.n, true), (desc.o, false), (desc.oh * desc.ow, true)]
        };
        let sums_dy = |k: &Kernel| match k {
            Kernel::Reduce(r) => {
                r.op == ReduceOp::Sum
                    && buffer_of[r.input.index()] == dy
                    && r.extents.len() == pattern.len()
                    && r.extents
                        .iter()
                        .zip(&r.reduced)
                        .eq(pattern.iter().map(|(e, r)| (e, r)))
            }
            _ => false,
        };
        let Some(r) = (c + 1..kernels.len()).find(|&r| sums_dy(&kernels[r])) else {
            c += 1;
            continue;
        };
        let Kernel::Reduce(ReduceKernel { out: db, .. }) = kernels[r] else {
            unreachable!("found above")
        };
        if let Kernel::Conv { bias, .. } = &mut kernels[c] {
            *bias = Some(db);
        }
        kernels.remove(r);
        // Its identity fill, which precedes it.
        if let Some(f) = kernels[..r]
            .iter()
            .rposition(|k| matches!(k, Kernel::Fill { out, .. } if *out == db))
        {
            kernels.remove(f);
        }
        c += 1;
    }
}

/// Appends a map kernel, with splat constants folded into its body and its
/// axes collapsed; nothing when the iteration space is empty.
fn push_map(
    graph: &Graph,
    kernels: &mut Vec<Kernel>,
    dims: &[usize],
    inputs: Vec<Access>,
    body: Vec<ScalarInstr>,
    outputs: Vec<Access>,
    results: Vec<u32>,
) {
    if dims.contains(&0) {
        return;
    }
    let (inputs, body) = fold_splats(graph, inputs, body);
    let mut map = MapKernel {
        shape: dims.to_vec(),
        inputs,
        body,
        outputs,
        results,
    };
    collapse(&mut map);
    kernels.push(Kernel::Map(map));
}

/// Inputs that are splat constants become `const` instructions, so a
/// `select(mask, dy, splat(0))` reads no buffer of zeros.
fn fold_splats(
    graph: &Graph,
    inputs: Vec<Access>,
    body: Vec<ScalarInstr>,
) -> (Vec<Access>, Vec<ScalarInstr>) {
    let splat = |a: &Access| graph.const_value(a.value).and_then(|c| c.as_splat());
    let mut kept = Vec::new();
    let mut renumber = Vec::new();
    for a in &inputs {
        renumber.push(match splat(a) {
            Some(_) => None,
            None => {
                kept.push(a.clone());
                Some(kept.len() as u32 - 1)
            }
        });
    }
    let body = body
        .into_iter()
        .map(|instr| match instr {
            ScalarInstr::Input(k) => match (renumber[k as usize], splat(&inputs[k as usize])) {
                (Some(n), _) => ScalarInstr::Input(n),
                (None, Some(v)) => ScalarInstr::Const(crate::ir::F32Bits::new(v)),
                (None, None) => unreachable!("an input is kept or a splat"),
            },
            other => other,
        })
        .collect();
    (kept, body)
}

/// Drops extent-1 axes and merges axis `i` into `i + 1` wherever every
/// access steps through them as one axis, so most kernels become one loop
/// (or two, for a bias broadcast).
fn collapse(map: &mut MapKernel) {
    let mut shape = Vec::new();
    let mut accesses: Vec<&mut Strided> = map
        .inputs
        .iter_mut()
        .chain(map.outputs.iter_mut())
        .map(|a| &mut a.at)
        .collect();
    let mut kept: Vec<Vec<isize>> = vec![Vec::new(); accesses.len()];
    for (axis, &extent) in map.shape.iter().enumerate() {
        if extent == 1 {
            continue;
        }
        let mergeable = !shape.is_empty()
            && accesses.iter().zip(&kept).all(|(a, k)| {
                *k.last().expect("same length as shape") == a.strides[axis] * extent as isize
            });
        if mergeable {
            *shape.last_mut().expect("not empty") *= extent;
            for (a, k) in accesses.iter().zip(kept.iter_mut()) {
                *k.last_mut().expect("not empty") = a.strides[axis];
            }
        } else {
            shape.push(extent);
            for (a, k) in accesses.iter().zip(kept.iter_mut()) {
                k.push(a.strides[axis]);
            }
        }
    }
    if shape.is_empty() {
        shape.push(1);
        kept.iter_mut().for_each(|k| k.push(0));
    }
    for (a, k) in accesses.iter_mut().zip(kept) {
        a.strides = k;
    }
    map.shape = shape;
}

/// A reduction: the identity fill, then `out op= x` over the input with
/// adjacent axes of equal kind merged; a reduction over extent-1 axes only
/// is the map `identity op x` (so `-0` sums to `+0`, as in the interpreter).
fn lower_reduce(
    graph: &Graph,
    kernels: &mut Vec<Kernel>,
    op: ReduceOp,
    input: ValueId,
    axes: &[usize],
    out: ValueId,
) {
    let dims = graph.shape(input).dims();
    let out_dims = graph.shape(out).dims();
    if out_dims.contains(&0) {
        return;
    }
    kernels.push(Kernel::Fill {
        out,
        value: op.identity(),
    });
    if dims.contains(&0) {
        return;
    }
    let mut extents: Vec<usize> = Vec::new();
    let mut reduced: Vec<bool> = Vec::new();
    for (axis, &extent) in dims.iter().enumerate() {
        if extent == 1 {
            continue;
        }
        let r = axes.contains(&axis);
        if reduced.last() == Some(&r) {
            *extents.last_mut().expect("not empty") *= extent;
        } else {
            extents.push(extent);
            reduced.push(r);
        }
    }
    if reduced.iter().any(|&r| r) {
        kernels.push(Kernel::Reduce(ReduceKernel {
            op,
            input,
            extents,
            reduced,
            out,
        }));
        return;
    }
    // Nothing left to reduce: the fill was not needed after all.
    kernels.pop();
    let binary = match op {
        ReduceOp::Sum => BinaryOp::Add,
        ReduceOp::Max => BinaryOp::Max,
    };
    let n = graph.shape(out).numel();
    let body = vec![
        ScalarInstr::Input(0),
        ScalarInstr::Const(crate::ir::F32Bits::new(op.identity())),
        ScalarInstr::Binary(binary, 1, 0),
    ];
    push_map(
        graph,
        kernels,
        &[n],
        vec![identity(input, &[n])],
        body,
        vec![identity(out, &[n])],
        vec![2],
    );
}
