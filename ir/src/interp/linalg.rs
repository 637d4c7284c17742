//! Matrix products through ndarray's GEMM (matrixmultiply for f32/f64).

use ndarray::{Array3, ArrayD, ArrayViewD, Axis, CowArray, Ix2, IxDyn};

use super::shape_ops::transpose;
use super::Scalar;
use crate::op::MatMulAttrs;

/// `op(a) x op(b)`. A transposed operand is first materialized in row-major
/// order, exactly as a separate `transpose` node would be, so folding a
/// transpose into the attributes changes no bit of the result.
pub fn matmul<T: Scalar>(a: &ArrayViewD<T>, b: &ArrayViewD<T>, attrs: &MatMulAttrs) -> ArrayD<T> {
    let a = read(a, attrs.transpose_a);
    let b = read(b, attrs.transpose_b);
    plain(&a.view(), &b.view())
}

/// `x`, or `x` with its last two axes swapped.
fn read<'a, T: Scalar>(x: &ArrayViewD<'a, T>, transposed: bool) -> CowArray<'a, T, IxDyn> {
    if !transposed {
        return CowArray::from(x.clone());
    }
    let r = x.ndim();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    CowArray::from(transpose(x, &perm))
}

/// `[.., m, k] x [.., k, n]`: a 2-D GEMM per batch element.
fn plain<T: Scalar>(a: &ArrayViewD<T>, b: &ArrayViewD<T>) -> ArrayD<T> {
    let r = a.ndim();
    let (m, k, n) = (a.shape()[r - 2], a.shape()[r - 1], b.shape()[r - 1]);
    if r == 2 {
        let a2 = a.view().into_dimensionality::<Ix2>().expect("rank 2");
        let b2 = b.view().into_dimensionality::<Ix2>().expect("rank 2");
        return a2.dot(&b2).into_dyn();
    }
    let batch: usize = a.shape()[..r - 2].iter().product();
    let a3 = a.to_shape((batch, m, k)).expect("contiguous batch");
    let b3 = b.to_shape((batch, k, n)).expect("contiguous batch");
    let mut out = Array3::zeros((batch, m, n));
    for i in 0..batch {
        let c = a3.index_axis(Axis(0), i).dot(&b3.index_axis(Axis(0), i));
        out.index_axis_mut(Axis(0), i).assign(&c);
    }
    let mut shape = a.shape()[..r - 1].to_vec();
    shape.push(n);
    out.into_shape_with_order(IxDyn(&shape))
        .expect("batched matmul result shape")
}
