//! Data movement and reductions.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Slice};

use super::elementwise::nan_max;
use super::Scalar;
use crate::types::Shape;

pub fn broadcast<T: Scalar>(x: &ArrayViewD<T>, shape: &Shape, dims: &[usize]) -> ArrayD<T> {
    // Place operand axes at `dims`, extent 1 elsewhere, then let ndarray repeat.
    let mut aligned = vec![1; shape.rank()];
    for (i, &d) in dims.iter().enumerate() {
        aligned[d] = x.shape()[i];
    }
    let view = x
        .to_shape(IxDyn(&aligned))
        .expect("broadcast operand reshapes to its aligned shape");
    view.broadcast(IxDyn(shape.dims()))
        .expect("shape inference admitted this broadcast")
        .to_owned()
}

pub fn reshape<T: Scalar>(x: &ArrayViewD<T>, shape: &Shape) -> ArrayD<T> {
    x.to_shape(IxDyn(shape.dims()))
        .expect("shape inference admitted this reshape")
        .into_owned()
}

pub fn transpose<T: Scalar>(x: &ArrayViewD<T>, perm: &[usize]) -> ArrayD<T> {
    x.view()
        .permuted_axes(IxDyn(perm))
        .as_standard_layout()
        .into_owned()
}

pub fn pad<T: Scalar>(x: &ArrayViewD<T>, low: &[usize], high: &[usize]) -> ArrayD<T> {
    let shape: Vec<usize> = (0..x.ndim())
        .map(|i| x.shape()[i] + low[i] + high[i])
        .collect();
    let mut out = ArrayD::zeros(IxDyn(&shape));
    out.slice_each_axis_mut(|ax| {
        let i = ax.axis.index();
        Slice::from(low[i]..low[i] + x.shape()[i])
    })
    .assign(x);
    out
}

pub fn slice<T: Scalar>(x: &ArrayViewD<T>, start: &[usize], end: &[usize]) -> ArrayD<T> {
    x.slice_each_axis(|ax| {
        let i = ax.axis.index();
        Slice::from(start[i]..end[i])
    })
    .to_owned()
}

/// Sums over `axes`, highest axis first, each axis in index order from
/// zero. The order is defined on logical indices, never on memory layout
/// (ndarray's `sum_axis` unrolls a contiguous axis into several
/// accumulators), so summing a transposed array over the permuted axes
/// gives the same bits whenever the permutation keeps the reduced axes in
/// order — which the layout pass relies on, and a JIT must reproduce.
pub fn reduce_sum<T: Scalar>(x: &ArrayViewD<T>, axes: &[usize], keepdims: bool) -> ArrayD<T> {
    reduce(x, axes, keepdims, |a, axis| {
        a.fold_axis(axis, T::zero(), |&acc, &v| acc + v)
    })
}

pub fn reduce_max<T: Scalar>(x: &ArrayViewD<T>, axes: &[usize], keepdims: bool) -> ArrayD<T> {
    reduce(x, axes, keepdims, |a, axis| {
        a.fold_axis(axis, T::neg_infinity(), |&m, &v| nan_max(v, m))
    })
}

/// Reduces `axes` one at a time (highest first, so lower indices stay valid),
/// then reinserts them as extent-1 axes if `keepdims`.
fn reduce<T: Scalar>(
    x: &ArrayViewD<T>,
    axes: &[usize],
    keepdims: bool,
    f: impl Fn(&ArrayViewD<T>, Axis) -> ArrayD<T>,
) -> ArrayD<T> {
    let mut rest = axes.iter().rev();
    let mut out = match rest.next() {
        Some(&a) => f(x, Axis(a)),
        None => x.to_owned(),
    };
    for &a in rest {
        out = f(&out.view(), Axis(a));
    }
    if keepdims {
        for &a in axes {
            out.insert_axis_inplace(Axis(a));
        }
    }
    out
}
