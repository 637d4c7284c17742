//! The `fused` op: its body evaluated one instruction at a time over the
//! whole iteration space, with the same array kernels (hence the same
//! scalar functions) as the separate elementwise nodes it replaces, so a
//! fused kernel gives bit-identical results to the unfused graph. Only the
//! instructions the wanted results depend on are computed; the evaluator
//! computes a multi-result kernel once for all its sibling nodes.

use ndarray::{ArrayD, ArrayViewD, Axis, CowArray, IxDyn};

use super::elementwise;
use super::Scalar;
use crate::op::{FusedKernel, ScalarInstr};

/// Result `result` of `kernel` over operands `args` (shapes already checked
/// by shape inference).
pub fn fused<T: Scalar>(kernel: &FusedKernel, result: usize, args: &[ArrayViewD<T>]) -> ArrayD<T> {
    with_body_values(kernel, &kernel.live(result), args, |values| {
        values[kernel.results[result] as usize]
            .take()
            .expect("the result is live")
            .into_owned()
    })
}

/// Every result of `kernel` over `args`, the body evaluated once: what a
/// multi-result kernel's sibling nodes share.
pub fn fused_all<T: Scalar>(kernel: &FusedKernel, args: &[ArrayViewD<T>]) -> Vec<ArrayD<T>> {
    let mut live = vec![false; kernel.body.len()];
    for r in 0..kernel.results.len() {
        for (all, one) in live.iter_mut().zip(kernel.live(r)) {
            *all |= one;
        }
    }
    with_body_values(kernel, &live, args, |values| {
        kernel
            .results
            .iter()
            .map(|&i| {
                values[i as usize]
                    .as_ref()
                    .expect("every result is live")
                    .to_owned()
            })
            .collect()
    })
}

/// `read` applied to the values of the `live` body instructions over the
/// iteration space (inputs are broadcast views, so they cannot outlive it).
fn with_body_values<T: Scalar, R>(
    kernel: &FusedKernel,
    live: &[bool],
    args: &[ArrayViewD<T>],
    read: impl FnOnce(&mut [Option<CowArray<T, IxDyn>>]) -> R,
) -> R {
    let shape = IxDyn(kernel.shape.dims());
    // Each operand with extent-1 axes where its map skips an iteration axis,
    // ready to broadcast.
    let aligned: Vec<ArrayViewD<T>> = args
        .iter()
        .zip(&kernel.maps)
        .map(|(a, map)| {
            let mut v = a.view();
            for j in (0..kernel.shape.rank()).filter(|j| !map.contains(j)) {
                v.insert_axis_inplace(Axis(j));
            }
            v
        })
        .collect();
    let mut values: Vec<Option<CowArray<T, IxDyn>>> = vec![None; kernel.body.len()];
    for (i, instr) in kernel.body.iter().enumerate() {
        if !live[i] {
            continue;
        }
        let get = |j: u32| {
            values[j as usize]
                .as_ref()
                .expect("checked: arguments precede their use")
                .view()
        };
        let value = match instr {
            ScalarInstr::Input(k) => CowArray::from(
                aligned[*k as usize]
                    .broadcast(shape.clone())
                    .expect("shape inference checked the map"),
            ),
            ScalarInstr::Const(c) => {
                CowArray::from(ArrayD::from_elem(shape.clone(), T::from_f32(c.get())))
            }
            ScalarInstr::Unary(op, x) => CowArray::from(elementwise::unary(*op, &get(*x))),
            ScalarInstr::Binary(op, a, b) => {
                CowArray::from(elementwise::binary(*op, &get(*a), &get(*b)))
            }
            ScalarInstr::Pow { exponent, x } => {
                CowArray::from(elementwise::pow(&get(*x), exponent.get()))
            }
            ScalarInstr::Compare(op, a, b) => {
                CowArray::from(elementwise::compare(*op, &get(*a), &get(*b)))
            }
            ScalarInstr::Select(m, t, f) => {
                CowArray::from(elementwise::select(&get(*m), &get(*t), &get(*f)))
            }
        };
        values[i] = Some(value);
    }
    read(&mut values)
}

/// One element of a kernel: the value of every result given the element of
/// each operand (already read through its map). The per-element meaning
/// of `fused`, with the interpreter's scalar functions, for backends that
/// check their generated loops element by element. `kernel` must have
/// passed shape inference and `inputs` hold one element per operand.
pub fn fused_element<T: Scalar>(kernel: &FusedKernel, inputs: &[T]) -> Vec<T> {
    let mut regs: Vec<T> = Vec::with_capacity(kernel.body.len());
    for instr in &kernel.body {
        let r = |j: u32| regs[j as usize];
        let v = match *instr {
            ScalarInstr::Input(k) => inputs[k as usize],
            ScalarInstr::Const(c) => T::from_f32(c.get()),
            ScalarInstr::Unary(op, x) => elementwise::unary_fn(op)(r(x)),
            ScalarInstr::Binary(op, a, b) => elementwise::binary_fn(op)(r(a), r(b)),
            ScalarInstr::Pow { exponent, x } => elementwise::pow_scalar(r(x), exponent.get()),
            ScalarInstr::Compare(op, a, b) => elementwise::compare_fn(op)(r(a), r(b)),
            ScalarInstr::Select(m, t, f) => elementwise::select_scalar(r(m), r(t), r(f)),
        };
        regs.push(v);
    }
    kernel.results.iter().map(|&i| regs[i as usize]).collect()
}
