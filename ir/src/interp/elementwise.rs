//! Elementwise ops. `max`, `min` and `relu` propagate NaN (like XLA), so a
//! diverging run shows NaN instead of hiding it behind a clamp, and order
//! -0 below +0 (`max(-0, +0) = +0` either way round), so a JIT can match
//! them bit for bit.

use ndarray::{ArrayD, ArrayViewD, Zip};

use super::Scalar;
use crate::op::{BinaryOp, CmpOp, UnaryOp};

pub fn unary<T: Scalar>(op: UnaryOp, x: &ArrayViewD<T>) -> ArrayD<T> {
    let zero = T::zero();
    let one = T::one();
    match op {
        UnaryOp::Neg => x.mapv(|v| -v),
        UnaryOp::Exp => x.mapv(T::exp),
        UnaryOp::Log => x.mapv(T::ln),
        UnaryOp::Sqrt => x.mapv(T::sqrt),
        UnaryOp::Rsqrt => x.mapv(|v| one / v.sqrt()),
        UnaryOp::Recip => x.mapv(|v| one / v),
        UnaryOp::Tanh => x.mapv(T::tanh),
        UnaryOp::Sigmoid => x.mapv(sigmoid),
        UnaryOp::Relu => x.mapv(|v| nan_max(v, zero)),
        UnaryOp::Abs => x.mapv(T::abs),
        UnaryOp::Square => x.mapv(|v| v * v),
    }
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
    let f: fn(T, T) -> T = match op {
        BinaryOp::Add => |x, y| x + y,
        BinaryOp::Sub => |x, y| x - y,
        BinaryOp::Mul => |x, y| x * y,
        BinaryOp::Div => |x, y| x / y,
        BinaryOp::Max => |x, y| if y.is_nan() { y } else { nan_max(x, y) },
        BinaryOp::Min => |x, y| if y.is_nan() { y } else { nan_min(x, y) },
    };
    Zip::from(a).and(b).map_collect(|&x, &y| f(x, y))
}

pub fn pow<T: Scalar>(x: &ArrayViewD<T>, exponent: f32) -> ArrayD<T> {
    let e = T::from_f32(exponent);
    x.mapv(|v| v.powf(e))
}

pub fn compare<T: Scalar>(op: CmpOp, a: &ArrayViewD<T>, b: &ArrayViewD<T>) -> ArrayD<T> {
    let f: fn(T, T) -> bool = match op {
        CmpOp::Gt => |x, y| x > y,
        CmpOp::Ge => |x, y| x >= y,
        CmpOp::Eq => |x, y| x == y,
    };
    Zip::from(a)
        .and(b)
        .map_collect(|&x, &y| if f(x, y) { T::one() } else { T::zero() })
}

pub fn select<T: Scalar>(
    mask: &ArrayViewD<T>,
    on_true: &ArrayViewD<T>,
    on_false: &ArrayViewD<T>,
) -> ArrayD<T> {
    Zip::from(mask)
        .and(on_true)
        .and(on_false)
        .map_collect(|&m, &t, &f| if m != T::zero() { t } else { f })
}
