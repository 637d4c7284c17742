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
    /// A train step whose loss, gradients or new state stopped being finite.
    #[error("training diverged: {} at epoch {epoch}, step {step}", describe(.cause, *.loss))]
    NonFinite {
        loss: f32,
        epoch: usize,
        step: usize,
        cause: Divergence,
    },
}

/// What a diverged step found not finite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// The loss (the step's updates were not applied).
    Loss,
    /// A gradient, with a finite loss (the updates were not applied).
    Gradient,
    /// A state entry after an update that overflowed although its gradient
    /// was finite; found at the end of the epoch.
    State { entry: String },
}

fn describe(cause: &Divergence, loss: f32) -> String {
    match cause {
        Divergence::Loss => format!("loss is {loss}"),
        Divergence::Gradient => format!("a gradient is not finite (loss {loss})"),
        Divergence::State { entry } => format!("`{entry}` is not finite"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
