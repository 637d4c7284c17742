//! TEMPORARY stand-in until the vmath branch lands (replaced on merge).
use cranelift_codegen::ir::Value;
use cranelift_frontend::FunctionBuilder;
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathFn {
    Exp,
    Log,
    Tanh,
    Sigmoid,
}
pub fn emit(_b: &mut FunctionBuilder, f: MathFn, _x: Value) -> Value {
    unimplemented!("{f:?}")
}
