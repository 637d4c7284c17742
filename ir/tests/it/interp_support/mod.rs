//! Helpers shared by the split interpreter and shape-inference tests
//! (`interpreter_*.rs`, `shape_inference_*.rs`, `builder_*.rs`), used as
//! `crate::interp_support`.
//!
//! - [`eval`]: build a tiny graph, run it in the reference interpreter and
//!   check the values (used by the `interpreter_*` files);
//! - [`types`]: assert what shape inference accepts or rejects (used by the
//!   `shape_inference_*` and `builder_*` files);
//! - [`conv`] / [`pool`]: attribute shorthands used by both families.
//!
//! Every test file uses only part of this module, so the items some of
//! them leave unused carry `#[allow(dead_code)]`.

use triceratops_ir::{ConvAttrs, Layout, Padding, PoolAttrs};

/// Interpreter runners and value checks; unused by the shape-inference files.
#[allow(dead_code)]
pub mod eval;
/// Shape-inference assertions; unused by the interpreter files.
#[allow(dead_code)]
pub mod types;

#[allow(dead_code)]
pub fn conv(strides: [usize; 2], padding: Padding, layout: Layout) -> ConvAttrs {
    ConvAttrs {
        strides,
        padding,
        layout,
    }
}

#[allow(dead_code)]
pub fn pool(
    window: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    layout: Layout,
) -> PoolAttrs {
    PoolAttrs {
        window,
        strides,
        padding,
        layout,
    }
}
