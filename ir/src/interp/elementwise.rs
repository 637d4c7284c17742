//! Elementwise ops. `max`, `min` and `relu` propagate NaN (like XLA), so a
//! diverging run shows NaN instead of hiding it behind a clamp, and order
//! -0 below +0 (`max(-0, +0) = +0` either way round), so a JIT can match
//! them bit for bit.

use ndarray::{ArrayD, ArrayViewD, Zip};

use super::Scalar;
use crate::op::{BinaryOp, CmpOp, UnaryOp};

// Each op is one scalar function: the array kernels below and the fused
// kernel (`fused.rs`) both apply these, so fusing never changes a bit.

/// Evaluates `$body` with `$f` bound to the scalar function of unary op
/// `$op` (a fn item, so array kernels keep static dispatch).
macro_rules! with_unary_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            UnaryOp::Neg => {
                let $f = neg::<$T>;
                $body
            }
            UnaryOp::Exp => {
                let $f = <$T>::exp;
                $body
            }
            UnaryOp::Log => {
                let $f = <$T>::ln;
                $body
            }
            UnaryOp::Sqrt => {
                let $f = <$T>::sqrt;
                $body
            }
            UnaryOp::Rsqrt => {
                let $f = rsqrt::<$T>;
                $body
            }
            UnaryOp::Recip => {
                let $f = recip::<$T>;
                $body
            }
            UnaryOp::Tanh => {
                let $f = <$T>::tanh;
                $body
            }
            UnaryOp::Sigmoid => {
                let $f = sigmoid::<$T>;
                $body
            }
            UnaryOp::Relu => {
                let $f = relu::<$T>;
                $body
            }
            UnaryOp::Abs => {
                let $f = <$T>::abs;
                $body
            }
            UnaryOp::Square => {
                let $f = square::<$T>;
                $body
            }
        }
    };
}

fn neg<T: Scalar>(v: T) -> T {
    -v
}

fn rsqrt<T: Scalar>(v: T) -> T {
    T::one() / v.sqrt()
}

fn recip<T: Scalar>(v: T) -> T {
    T::one() / v
}

fn relu<T: Scalar>(v: T) -> T {
    nan_max(v, T::zero())
}

fn square<T: Scalar>(v: T) -> T {
    v * v
}

/// The scalar function of a unary op.
pub fn unary_fn<T: Scalar>(op: UnaryOp) -> fn(T) -> T {
    with_unary_fn!(op, T, f => f as fn(T) -> T)
}

/// The scalar function of a binary op.
pub fn binary_fn<T: Scalar>(op: BinaryOp) -> fn(T, T) -> T {
    match op {
        BinaryOp::Add => |x, y| x + y,
        BinaryOp::Sub => |x, y| x - y,
        BinaryOp::Mul => |x, y| x * y,
        BinaryOp::Div => |x, y| x / y,
        BinaryOp::Max => |x, y| if y.is_nan() { y } else { nan_max(x, y) },
        BinaryOp::Min => |x, y| if y.is_nan() { y } else { nan_min(x, y) },
    }
}

/// The scalar function of a comparison, as a 0/1 mask value.
pub fn compare_fn<T: Scalar>(op: CmpOp) -> fn(T, T) -> T {
    fn mask<T: Scalar>(b: bool) -> T {
        if b {
            T::one()
        } else {
            T::zero()
        }
    }
    match op {
        CmpOp::Gt => |x, y| mask(x > y),
        CmpOp::Ge => |x, y| mask(x >= y),
        CmpOp::Eq => |x, y| mask(x == y),
    }
}

/// `x ^ exponent`, the exponent widened from its f32 attribute.
pub fn pow_scalar<T: Scalar>(x: T, exponent: f32) -> T {
    x.powf(T::from_f32(exponent))
}

/// `mask != 0 ? on_true : on_false`.
pub fn select_scalar<T: Scalar>(mask: T, on_true: T, on_false: T) -> T {
    if mask != T::zero() {
        on_true
    } else {
        on_false
    }
}

pub fn unary<T: Scalar>(op: UnaryOp, x: &ArrayViewD<T>) -> ArrayD<T> {
    with_unary_fn!(op, T, f => x.mapv(f))
}

/// The logistic function without overflow for large |v|.
fn sigmoid<T: Scalar>(v: T) -> T {
    if v >= T::zero() {
        T::one() / (T::one() + (-v).exp())
    } else {
        let e = v.exp();
        e / (T::one() + e)
    }
}

/// IEEE 754-2019 `maximum`: NaN wins, and -0 < +0.
pub(super) fn nan_max<T: Scalar>(a: T, b: T) -> T {
    if a.is_nan() || a > b || (a == b && b.is_sign_negative()) {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `minimum`: NaN wins, and -0 < +0.
fn nan_min<T: Scalar>(a: T, b: T) -> T {
    if a.is_nan() || a < b || (a == b && b.is_sign_positive()) {
        a
    } else {
        b
    }
}

pub fn binary<T: Scalar>(op: BinaryOp, a: &ArrayViewD<T>, b: &ArrayViewD<T>) -> ArrayD<T> {
    let f = binary_fn(op);
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

pub fn pow<T: Scalar>(x: &ArrayViewD<T>, exponent: f32) -> ArrayD<T> {
    x.mapv(|v| pow_scalar(v, exponent))
}

pub fn compare<T: Scalar>(op: CmpOp, a: &ArrayViewD<T>, b: &ArrayViewD<T>) -> ArrayD<T> {
    let f = compare_fn(op);
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

pub fn select<T: Scalar>(
    mask: &ArrayViewD<T>,
    on_true: &ArrayViewD<T>,
    on_false: &ArrayViewD<T>,
) -> ArrayD<T> {
    Zip::from(mask)
        .and(on_true)
        .and(on_false)
        .map_collect(|&m, &t, &f| select_scalar(m, t, f))
}
