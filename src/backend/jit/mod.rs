//! The Cranelift JIT backend: the optimized graph lowered to a kernel plan
//! and a memory plan, each kernel emitted as CLIF and compiled to native
//! code for the host.

pub mod isa;
pub mod runtime;
pub mod vmath;
