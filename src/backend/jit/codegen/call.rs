//! Kernels that call the runtime: GEMM, conv2d (im2col + GEMM) and its
//! gradients, maxpool2d and its gradient (recording, or reading, the
//! winners in an auxiliary arena buffer when the plan paired them). The
//! descriptors are computed at compile time and boxed, so their addresses
//! are constants in the code.

use cranelift_codegen::ir::{types, InstBuilder, Type};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::Emit;
use crate::backend::jit::plan::memory::{Loc, Region};
use crate::backend::jit::plan::{ConvKind, Kernel};
use crate::backend::jit::runtime::{ConvDesc, MatMulDesc, PoolDesc};

/// One boxed descriptor per calling kernel, alive as long as the code.
#[derive(Debug)]
enum Boxed {
    MatMul(Box<MatMulDesc>),
    Conv(Box<ConvDesc>),
    Pool(Box<PoolDesc>),
}

/// The descriptors of a plan's calls, by kernel position. Owned by the
/// executable next to the code that embeds their addresses.
#[derive(Debug, Default)]
pub struct Descriptors {
    by_kernel: Vec<Option<Boxed>>,
}

impl Descriptors {
    pub fn new(kernels: &[Kernel]) -> Descriptors {
        let by_kernel = kernels
            .iter()
            .map(|k| match k {
                Kernel::MatMul { desc, .. } => Some(Boxed::MatMul(Box::new(*desc))),
                Kernel::Conv { desc, .. } => Some(Boxed::Conv(Box::new(*desc))),
                Kernel::MaxPool { desc, .. } | Kernel::MaxPoolGrad { desc, .. } => {
                    Some(Boxed::Pool(Box::new(*desc)))
                }
                _ => None,
            })
            .collect();
        Descriptors { by_kernel }
    }

    fn address(&self, kernel: usize) -> i64 {
        match self.by_kernel[kernel].as_ref().expect("a calling kernel") {
            Boxed::MatMul(d) => &**d as *const MatMulDesc as i64,
            Boxed::Conv(d) => &**d as *const ConvDesc as i64,
            Boxed::Pool(d) => &**d as *const PoolDesc as i64,
        }
    }
}

/// Every runtime function generated code may call: name, parameter types,
/// result types.
pub fn import_signatures() -> Vec<(&'static str, Vec<Type>, Vec<Type>)> {
    let ptrs = |n| vec![types::I64; n];
    vec![
        ("tri_matmul", ptrs(5), vec![]),
        ("tri_conv2d", ptrs(5), vec![]),
        ("tri_conv2d_input_grad", ptrs(5), vec![]),
        ("tri_conv2d_filter_grad", ptrs(5), vec![]),
        ("tri_conv2d_filter_bias_grad", ptrs(6), vec![]),
        ("tri_maxpool2d", ptrs(3), vec![]),
        ("tri_maxpool2d_grad", ptrs(4), vec![]),
        ("tri_maxpool2d_argmax", ptrs(4), vec![]),
        ("tri_maxpool2d_grad_argmax", ptrs(4), vec![]),
        ("tri_matmul_epilogue", ptrs(7), vec![]),
        ("tri_conv2d_epilogue", ptrs(7), vec![]),
        ("tri_conv2d_input_grad_epilogue", ptrs(7), vec![]),
        ("tri_maxpool2d_grad_epilogue", ptrs(6), vec![]),
        ("tri_maxpool2d_grad_argmax_epilogue", ptrs(6), vec![]),
        ("tri_powf", vec![types::F32, types::F32], vec![types::F32]),
    ]
}

/// The runtime's `powf`: the interpreter's scalar function, for `pow`.
pub extern "C" fn tri_powf(x: f32, exponent: f32) -> f32 {
    x.powf(exponent)
}

/// Every imported symbol with its address, for the JIT module.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    let mut all = crate::backend::jit::runtime::symbols();
    all.push(("tri_powf", tri_powf as *const u8));
    all
}

pub fn emit_call(
    module: &mut JITModule,
    b: &mut FunctionBuilder,
    emit: &Emit,
    p: usize,
    kernel: &Kernel,
    epilogue: Option<FuncId>,
) {
    let desc = b.ins().iconst(types::I64, emit.descriptors.address(p));
    let at = |b: &mut FunctionBuilder, v| emit.address(b, emit.loc(v), 0);
    // The kernel's scratch in the arena (any address when it has none:
    // the callee then reads nothing there).
    let scratch = |b: &mut FunctionBuilder| {
        let loc = Loc {
            region: Region::Arena,
            offset: emit.plan.scratch[p].unwrap_or(0),
        };
        emit.address(b, loc, 0)
    };
    let (name, mut args) = match *kernel {
        Kernel::MatMul { a, b: rhs, out, .. } => {
            let ws = scratch(b);
            ("tri_matmul", vec![at(b, a), at(b, rhs), at(b, out), ws])
        }
        Kernel::Conv {
            kind,
            a,
            b: rhs,
            out,
            bias,
            ..
        } => {
            let name = match (kind, bias) {
                (ConvKind::Forward, _) => "tri_conv2d",
                (ConvKind::InputGrad, _) => "tri_conv2d_input_grad",
                (ConvKind::FilterGrad, None) => "tri_conv2d_filter_grad",
                (ConvKind::FilterGrad, Some(_)) => "tri_conv2d_filter_bias_grad",
            };
            let mut args = vec![at(b, a), at(b, rhs), at(b, out)];
            args.extend(bias.map(|db| at(b, db)));
            args.push(scratch(b));
            (name, args)
        }
        Kernel::MaxPool {
            x,
            out,
            argmax: None,
            ..
        } => ("tri_maxpool2d", vec![at(b, x), at(b, out)]),
        Kernel::MaxPool {
            x,
            out,
            argmax: Some(a),
            ..
        } => {
            let winners = aux_address(b, emit, a);
            ("tri_maxpool2d_argmax", vec![at(b, x), at(b, out), winners])
        }
        Kernel::MaxPoolGrad {
            x,
            dy,
            out,
            argmax: None,
            ..
        } => ("tri_maxpool2d_grad", vec![at(b, x), at(b, dy), at(b, out)]),
        Kernel::MaxPoolGrad {
            dy,
            out,
            argmax: Some(a),
            ..
        } => {
            let winners = aux_address(b, emit, a);
            (
                "tri_maxpool2d_grad_argmax",
                vec![winners, at(b, dy), at(b, out)],
            )
        }
        _ => unreachable!("only calling kernels reach emit_call"),
    };
    args.insert(0, desc);
    // With an epilogue: the variant that calls it, given its address and
    // the run's base-pointer table.
    let name = match epilogue {
        Some(id) => {
            let epi = module.declare_func_in_func(id, b.func);
            let addr = b.ins().func_addr(types::I64, epi);
            args.extend([addr, emit.bases]);
            match name {
                "tri_matmul" => "tri_matmul_epilogue",
                "tri_conv2d" => "tri_conv2d_epilogue",
                "tri_conv2d_input_grad" => "tri_conv2d_input_grad_epilogue",
                "tri_maxpool2d_grad" => "tri_maxpool2d_grad_epilogue",
                "tri_maxpool2d_grad_argmax" => "tri_maxpool2d_grad_argmax_epilogue",
                other => unreachable!("{other} has no epilogue variant"),
            }
        }
        None => name,
    };
    let f = emit.imports.func_ref(module, b, name);
    b.ins().call(f, &args);
}

/// The address of auxiliary buffer `a` (a pool's recorded winners).
fn aux_address(b: &mut FunctionBuilder, emit: &Emit, a: usize) -> cranelift_codegen::ir::Value {
    let loc = Loc {
        region: Region::Arena,
        offset: emit.plan.aux_at[a],
    };
    emit.address(b, loc, 0)
}
