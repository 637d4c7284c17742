//! One error type for the IR crate: every failure is a value with a message a
//! user can act on, never a panic. Variants are structured where callers
//! must tell causes apart (a pass, the parser, the runtime).

use std::fmt;

use crate::graph::Role;
use crate::types::{Shape, TensorType};
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
    /// Attribute values that do not fit the op's schema.
    #[error("{op}: {reason}")]
    Attribute { op: &'static str, reason: String },
    /// A value or output name outside `[A-Za-z0-9_.-]+`.
    #[error("invalid name `{name}`: use letters, digits, `_`, `.` and `-`")]
    InvalidName { name: String },
    #[error("duplicate value name %{name}")]
    DuplicateName { name: String },
    #[error("duplicate output name `{name}`")]
    DuplicateOutput { name: String },
    /// A value id that is not (or not yet) in the graph.
    #[error("value {index} does not exist in graph {graph}")]
    UnknownValue { index: usize, graph: String },
    /// A constant whose data does not fill its type.
    #[error("const %{name}: {ty} needs {} values, got {len}", numel(.ty))]
    BadConstant {
        name: String,
        ty: TensorType,
        len: usize,
    },
    /// A shape whose element count does not fit a `usize`.
    #[error("%{name}: shape {shape} has too many elements")]
    TooLarge { name: String, shape: Shape },
    /// An `update` that cannot be declared.
    #[error("update %{target} {problem}")]
    BadUpdate {
        target: String,
        problem: UpdateProblem,
    },
    /// A node that breaks a graph invariant (found by the verifier).
    #[error("%{value}: {reason}")]
    Malformed { value: String, reason: String },
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
    /// An argument the caller did not supply.
    #[error("interpreter: missing {} %{name}: {ty}", role.name())]
    MissingArgument {
        name: String,
        role: Role,
        ty: TensorType,
    },
    /// An argument supplied with the wrong shape.
    #[error("interpreter: {} %{name} has shape {found:?}, expected {expected}", role.name())]
    ArgumentMismatch {
        name: String,
        role: Role,
        expected: TensorType,
        found: Vec<usize>,
    },
    /// A name supplied as an argument that the graph does not declare.
    #[error("interpreter: `{name}` is not an argument of graph {graph}")]
    NotAnArgument { name: String, graph: String },
    /// Positional arguments of the wrong number.
    #[error("interpreter: graph {graph} takes {expected} arguments, got {found}")]
    ArgumentCount {
        graph: String,
        expected: usize,
        found: usize,
    },
}

/// Why an `update target <- value` is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateProblem {
    /// Only params and states can be written.
    NotParamOrState,
    /// The new value's type differs from the target's.
    TypeMismatch {
        value: String,
        value_ty: TensorType,
        target_ty: TensorType,
    },
    /// A target may be written once per run.
    Repeated,
    /// The target or the value is not in the graph.
    MissingValue,
}

impl IrError {
    pub(crate) fn bad_update(target: &str, problem: UpdateProblem) -> IrError {
        IrError::BadUpdate {
            target: target.to_string(),
            problem,
        }
    }
}

impl fmt::Display for UpdateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateProblem::NotParamOrState => f.write_str("is not a param or state"),
            UpdateProblem::TypeMismatch {
                value,
                value_ty,
                target_ty,
            } => write!(f, "<- %{value}: type {value_ty} does not match {target_ty}"),
            UpdateProblem::Repeated => f.write_str("is repeated: a target is written once per run"),
            UpdateProblem::MissingValue => f.write_str("refers to a missing value"),
        }
    }
}

fn numel(ty: &TensorType) -> String {
    ty.shape
        .checked_numel()
        .map_or("too many".to_string(), |n| n.to_string())
}

fn list_types(types: &[TensorType]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub type Result<T, E = IrError> = std::result::Result<T, E>;
