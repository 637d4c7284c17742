//! Vectorized exp, log, tanh and sigmoid emitted as CLIF.
//!
//! Cranelift has no transcendental instructions, and calling an imported
//! function costs ~2.7 ns per call (research/cranelift.md §3), so each
//! function is a branch-free polynomial on F32X4 lanes: Cody-Waite range
//! reduction, an `fma` Horner polynomial, exponent arithmetic on the I32X4
//! view of the bits, and `fcmp` + `bitselect` for the special cases. Measured
//! accuracy against `std` is in ARCHITECTURE.md, "Vector math accuracy".
//!
//! Constants are `splat`s of scalar constants, emitted where they are used:
//! in a loop written in the exit-first or rotated form the egraph hoists them
//! into the preheader.

mod funcs;
mod kernel;

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, Endianness, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

pub use kernel::MapKernel;

/// A lane-wise function [`emit`] can generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathFn {
    Exp,
    Log,
    Tanh,
    Sigmoid,
}

impl MathFn {
    /// Every function, in declaration order.
    pub const ALL: [MathFn; 4] = [MathFn::Exp, MathFn::Log, MathFn::Tanh, MathFn::Sigmoid];

    /// The function's name (used for the symbol of its [`MapKernel`]).
    pub fn name(self) -> &'static str {
        match self {
            MathFn::Exp => "exp",
            MathFn::Log => "log",
            MathFn::Tanh => "tanh",
            MathFn::Sigmoid => "sigmoid",
        }
    }
}

/// Emits `f(x)` lane-wise for an F32X4 `x` at the builder's current
/// position; returns an F32X4 value.
pub fn emit(b: &mut FunctionBuilder, f: MathFn, x: Value) -> Value {
    debug_assert_eq!(b.func.dfg.value_type(x), types::F32X4);
    match f {
        MathFn::Exp => funcs::exp(b, x),
        MathFn::Log => funcs::log(b, x),
        MathFn::Tanh => funcs::tanh(b, x),
        MathFn::Sigmoid => funcs::sigmoid(b, x),
    }
}

// Small builders shared by the functions. Vectors are F32X4 unless the name
// says I32X4; comparison masks are I32X4 (all ones or all zeros per lane).

/// `c` in every lane (F32X4).
fn splat_f(b: &mut FunctionBuilder, c: f32) -> Value {
    let s = b.ins().f32const(c);
    b.ins().splat(types::F32X4, s)
}

/// `c` in every lane (I32X4).
fn splat_i(b: &mut FunctionBuilder, c: i32) -> Value {
    let s = b.ins().iconst(types::I32, i64::from(c));
    b.ins().splat(types::I32X4, s)
}

/// Vector bitcasts need an explicit byte order; lane count and size are
/// unchanged here, so the order has no effect on the result.
fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// The bits of an F32X4 as I32X4.
fn bits(b: &mut FunctionBuilder, x: Value) -> Value {
    b.ins().bitcast(types::I32X4, lanes(), x)
}

/// An I32X4 reinterpreted as F32X4.
fn float(b: &mut FunctionBuilder, i: Value) -> Value {
    b.ins().bitcast(types::F32X4, lanes(), i)
}

/// `a op b` lane-wise as an I32X4 mask (false wherever a lane is NaN, for
/// every ordered condition).
fn cmp(b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value) -> Value {
    b.ins().fcmp(cc, x, y)
}

/// `mask ? t : f` lane-wise. `bitselect` rather than `fmax`/`fmin`: it is
/// three instructions and keeps NaN lanes under our control (§3 of the
/// research notes).
fn select(b: &mut FunctionBuilder, mask: Value, t: Value, f: Value) -> Value {
    let m = float(b, mask);
    b.ins().bitselect(m, t, f)
}

/// Horner's scheme with `fma`: `coeffs[0] x^(k-1) + ... + coeffs[k-1]`,
/// highest degree first.
fn horner(b: &mut FunctionBuilder, x: Value, coeffs: &[f32]) -> Value {
    let (&first, rest) = coeffs
        .split_first()
        .expect("a polynomial has a coefficient");
    let mut acc = splat_f(b, first);
    for &c in rest {
        let cv = splat_f(b, c);
        acc = b.ins().fma(acc, x, cv);
    }
    acc
}
