//! Triceratops: a deep-learning compiler for static computation graphs.
//!
//! - [`ir`]: the typed graph IR, its text format, autodiff and the reference
//!   interpreter (the `triceratops-ir` crate);
//! - [`keras`]: the Keras-style front end (losses so far).

pub mod keras;

pub use triceratops_ir as ir;
