//! The error type of the user-facing crate. Every failure a user can cause —
//! a bad layer stack, a corrupt data file, a diverging run — is a value with a
//! message that names what went wrong and where.

use std::path::PathBuf;

use thiserror::Error;

use crate::ir::IrError;

#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Ir(#[from] IrError),
    /// A layer that cannot be applied to its input (names layer and shapes).
    #[error("layer `{layer}` ({kind}): {message}")]
    Layer {
        layer: String,
        kind: &'static str,
        message: String,
    },
    /// A malformed or unreadable data file.
    #[error("{}: {message}", path.display())]
    Data { path: PathBuf, message: String },
    /// Arguments that do not fit together (model, compile, fit).
    #[error("{0}")]
    Config(String),
    /// A loss that stopped being a finite number.
    #[error("training diverged: loss is {loss} at epoch {epoch}, step {step}")]
    NonFinite {
        loss: f32,
        epoch: usize,
        step: usize,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
