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
    /// An optimization pass failed (a bug of the passes; `--passes none`
    /// works around it).
    #[error("optimization passes: {0}")]
    Pass(#[from] triceratops_passes::PassError),
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
    /// A compiled graph that does not match its calling convention: a pass
    /// or a backend broke it, or an executable met another model's state.
    #[error("graph {graph}: {problem}")]
    Signature { graph: String, problem: String },
    /// A batch array that does not fit its graph argument.
    #[error("`{arg}` must have shape {expected:?}, got {found:?}")]
    BatchShape {
        arg: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// The JIT could not compile a graph (or set up the host target).
    #[error("JIT: {0}")]
    Jit(String),
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
    /// A state entry: an earlier update overflowed although its gradient
    /// was finite (the guard covers the loss and the gradients, so updates
    /// can be written in place). Found when a later step's guard trips, or
    /// at the end of the epoch; the state holds the overflow, so restore a
    /// checkpoint (which never holds one) rather than retry from it.
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
