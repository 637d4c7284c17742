//! A map kernel's scalar body as F32X4 arithmetic: each IR elementwise op
//! becomes the CLIF instruction with the interpreter's semantics (NaN
//! propagating `max`/`min`/`relu` with `-0 < +0`; comparisons as 0/1;
//! `select` on `mask != 0`), and exp/log/tanh/sigmoid the polynomials of
//! [`crate::backend::jit::vmath`].

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, Endianness, FuncRef, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::FunctionBuilder;

use crate::backend::jit::vmath::{self, MathFn};
use crate::ir::op::ScalarInstr;
use crate::ir::{BinaryOp, CmpOp, UnaryOp};

/// Values computed once, before the loops: the body's constants as splats.
pub struct Hoisted {
    consts: Vec<Option<Value>>,
    zero: Value,
    one: Value,
}

/// Which body instructions the results need.
pub fn live(body: &[ScalarInstr], results: &[u32]) -> Vec<bool> {
    let mut live = vec![false; body.len()];
    for &r in results {
        live[r as usize] = true;
    }
    for i in (0..body.len()).rev() {
        if live[i] {
            for a in body[i].args() {
                live[a as usize] = true;
            }
        }
    }
    live
}

pub fn hoist(b: &mut FunctionBuilder, body: &[ScalarInstr], live: &[bool]) -> Hoisted {
    let splat = |b: &mut FunctionBuilder, v: f32| {
        let s = b.ins().f32const(v);
        b.ins().splat(types::F32X4, s)
    };
    let consts = body
        .iter()
        .zip(live)
        .map(|(instr, &l)| match instr {
            ScalarInstr::Const(c) if l => Some(splat(b, c.get())),
            _ => None,
        })
        .collect();
    Hoisted {
        consts,
        zero: splat(b, 0.0),
        one: splat(b, 1.0),
    }
}

/// The body over one F32X4 of inputs; entry `i` is instruction `i`'s value
/// if it is live. `powf` is the runtime's scalar `powf` (for `pow`).
pub fn emit(
    b: &mut FunctionBuilder,
    body: &[ScalarInstr],
    live: &[bool],
    hoisted: &Hoisted,
    inputs: &[Value],
    powf: Option<FuncRef>,
) -> Vec<Option<Value>> {
    let mut values: Vec<Option<Value>> = Vec::with_capacity(body.len());
    for (i, instr) in body.iter().enumerate() {
        if !live[i] {
            values.push(None);
            continue;
        }
        let arg = |k: u32| values[k as usize].expect("operands precede and are live");
        let v = match *instr {
            ScalarInstr::Input(k) => inputs[k as usize],
            ScalarInstr::Const(_) => hoisted.consts[i].expect("hoisted"),
            ScalarInstr::Unary(op, x) => unary(b, hoisted, op, arg(x)),
            ScalarInstr::Binary(op, x, y) => binary(b, op, arg(x), arg(y)),
            ScalarInstr::Pow { exponent, x } => pow(b, powf, arg(x), exponent.get()),
            ScalarInstr::Compare(op, x, y) => {
                let cc = match op {
                    CmpOp::Gt => FloatCC::GreaterThan,
                    CmpOp::Ge => FloatCC::GreaterThanOrEqual,
                    CmpOp::Eq => FloatCC::Equal,
                };
                let mask = mask(b, cc, arg(x), arg(y));
                b.ins().bitselect(mask, hoisted.one, hoisted.zero)
            }
            ScalarInstr::Select(m, t, f) => {
                // `mask != 0`, true for NaN as in the interpreter.
                let mask = mask(b, FloatCC::NotEqual, arg(m), hoisted.zero);
                b.ins().bitselect(mask, arg(t), arg(f))
            }
        };
        values.push(Some(v));
    }
    values
}

/// `x cc y` lane-wise as an all-ones/all-zeros F32X4.
fn mask(b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value) -> Value {
    let m = b.ins().fcmp(cc, x, y);
    b.ins().bitcast(
        types::F32X4,
        MemFlagsData::new().with_endianness(Endianness::Little),
        m,
    )
}

fn unary(b: &mut FunctionBuilder, hoisted: &Hoisted, op: UnaryOp, x: Value) -> Value {
    match op {
        UnaryOp::Neg => b.ins().fneg(x),
        UnaryOp::Exp => vmath::emit(b, MathFn::Exp, x),
        UnaryOp::Log => vmath::emit(b, MathFn::Log, x),
        UnaryOp::Tanh => vmath::emit(b, MathFn::Tanh, x),
        UnaryOp::Sigmoid => vmath::emit(b, MathFn::Sigmoid, x),
        UnaryOp::Sqrt => b.ins().sqrt(x),
        // `1 / sqrt(x)`, two roundings as in the interpreter (no rsqrtps).
        UnaryOp::Rsqrt => {
            let s = b.ins().sqrt(x);
            b.ins().fdiv(hoisted.one, s)
        }
        UnaryOp::Recip => b.ins().fdiv(hoisted.one, x),
        // `x` where `x > 0` or NaN, else +0 (so relu(-0) = +0).
        UnaryOp::Relu => {
            let keep = mask(b, FloatCC::UnorderedOrGreaterThan, x, hoisted.zero);
            b.ins().bitselect(keep, x, hoisted.zero)
        }
        UnaryOp::Abs => b.ins().fabs(x),
        UnaryOp::Square => b.ins().fmul(x, x),
    }
}

fn binary(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    match op {
        BinaryOp::Add => b.ins().fadd(x, y),
        BinaryOp::Sub => b.ins().fsub(x, y),
        BinaryOp::Mul => b.ins().fmul(x, y),
        BinaryOp::Div => b.ins().fdiv(x, y),
        // IEEE 754-2019 maximum/minimum: NaN wins, -0 < +0.
        BinaryOp::Max => b.ins().fmax(x, y),
        BinaryOp::Min => b.ins().fmin(x, y),
    }
}

/// `x ^ exponent`: `x` itself for exponent 1, else the runtime's `powf`
/// lane by lane (the interpreter's function, so every bit agrees; `pow`
/// is rare in training graphs).
fn pow(b: &mut FunctionBuilder, powf: Option<FuncRef>, x: Value, exponent: f32) -> Value {
    if exponent == 1.0 {
        return x;
    }
    let powf = powf.expect("kernels with pow import powf");
    let e = b.ins().f32const(exponent);
    let mut out = None;
    for lane in 0..4u8 {
        let xl = b.ins().extractlane(x, lane);
        let call = b.ins().call(powf, &[xl, e]);
        let r = b.inst_results(call)[0];
        out = Some(match out {
            None => b.ins().splat(types::F32X4, r),
            Some(v) => b.ins().insertlane(v, r, lane),
        });
    }
    out.expect("four lanes")
}
