//! The host target for generated code. Built with `cranelift_native` so the
//! ISA has the host's FMA/AVX encodings: without `has_fma`, a vector `fma`
//! lowers to four `fmaf` libcalls (research/cranelift.md).

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};

use crate::error::{Error, Result};

/// The host ISA: `opt_level=speed`, verifier off (it costs 30-40% of
/// compile time; the tests compile with it on through [`host_isa_checked`]).
pub fn host_isa() -> Result<OwnedTargetIsa> {
    build(false)
}

/// The host ISA with Cranelift's IR verifier on, for tests.
pub fn host_isa_checked() -> Result<OwnedTargetIsa> {
    build(true)
}

fn build(verify: bool) -> Result<OwnedTargetIsa> {
    let fail = |what: String| Error::Jit(format!("cannot set up the host target: {what}"));
    let mut flags = settings::builder();
    for (name, value) in [
        ("opt_level", "speed"),
        ("enable_verifier", if verify { "true" } else { "false" }),
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
    ] {
        flags.set(name, value).map_err(|e| fail(e.to_string()))?;
    }
    let isa = cranelift_native::builder()
        .map_err(|e| fail(e.to_string()))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| fail(e.to_string()))?;
    Ok(isa)
}

/// A JIT module for `isa` with the runtime's imported functions
/// (`symbols`: name and address) registered.
pub fn module(isa: OwnedTargetIsa, symbols: &[(&str, *const u8)]) -> JITModule {
    let mut builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    for &(name, address) in symbols {
        builder.symbol(name, address);
    }
    JITModule::new(builder)
}
