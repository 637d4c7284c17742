//! One error type for the IR crate: every failure is a value with a message a
//! user can act on, never a panic.

use crate::types::TensorType;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Error)]
pub enum IrError {
    /// An op applied to operands it cannot take (wrong shapes, bad attributes).
    #[error("{op}: cannot apply to ({}): {reason}", list_types(.operands))]
    Type {
        op: String,
        operands: Vec<TensorType>,
        reason: String,
    },
    /// A malformed graph: unknown or duplicate names, bad outputs or updates.
    #[error("{0}")]
    Graph(String),
    /// Text that is not a well-formed graph; line and column are 1-based.
    #[error("{line}:{col}: {message}")]
    Parse {
        line: usize,
        col: usize,
        message: String,
    },
    /// A gradient that cannot be built (non-scalar loss, non-differentiable op).
    #[error("gradient: {0}")]
    Grad(String),
    /// Wrong or missing inputs given to the interpreter.
    #[error("interpreter: {0}")]
    Interp(String),
}

fn list_types(types: &[TensorType]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub type Result<T, E = IrError> = std::result::Result<T, E>;
