//! Triceratops: a deep-learning compiler for static computation graphs.
//!
//! - [`ir`]: the typed graph IR, its text format, autodiff and the reference
//!   interpreter (the `triceratops-ir` crate);
//! - [`keras`]: the Keras-style front end (layers, Sequential, losses,
//!   optimizers as IR, metrics);
//! - [`compile`]: model -> train-step, eval and predict graphs, each with
//!   its typed [`compile::Signature`];
//! - [`state`]: the model's resident state store (params, slots, step);
//! - [`backend`]: what runs graphs (the interpreter today), bound by
//!   position and updating the state store in place;
//! - [`train`]: `fit`, `evaluate`, `predict`; [`checkpoint`]: save/load;
//! - [`data`]: data-set loaders; [`output`]: safe writes of output files;
//! - [`passes`]: the egg passes run on every compiled graph (the
//!   `triceratops-passes` crate).
//!
//! Features: `cli` (default; the `triceratops` binary, with `plot`) and
//! `plot` (loss curves). `default-features = false` keeps the library free
//! of clap, indicatif and plotters.

pub mod backend;
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compile;
pub mod data;
pub mod error;
pub mod explore;
pub mod keras;
pub mod models;
pub mod output;
#[cfg(feature = "plot")]
pub mod plot;
pub mod state;
pub mod train;

pub use error::{Error, Result};
pub use train::{FitOptions, History, Model, Validation};
pub use triceratops_ir as ir;
pub use triceratops_passes as passes;
