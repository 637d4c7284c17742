//! Triceratops: a deep-learning compiler for static computation graphs.
//!
//! - [`ir`]: the typed graph IR, its text format, autodiff and the reference
//!   interpreter (the `triceratops-ir` crate);
//! - [`keras`]: the Keras-style front end (layers, Sequential, losses,
//!   optimizers as IR, metrics);
//! - [`compile`]: model -> train-step, eval and predict graphs;
//! - [`backend`]: what runs graphs (the interpreter today);
//! - [`train`]: `fit`, `evaluate`, `predict`;
//! - [`data`]: data-set loaders.

pub mod backend;
pub mod checkpoint;
pub mod cli;
pub mod compile;
pub mod data;
pub mod error;
pub mod keras;
pub mod models;
pub mod plot;
pub mod train;

pub use error::{Error, Result};
pub use train::{FitOptions, History, Model, Validation};
pub use triceratops_ir as ir;
