//! Assertions on shape inference: the type an op infers for given operand
//! shapes, and the `IrError::Type` (op, operands, reason, Display text) it
//! reports when it rejects them.

use triceratops_ir::infer::infer_type;
use triceratops_ir::{IrError, Op, TensorType};

pub fn t(dims: &[usize]) -> TensorType {
    TensorType::f32(dims.to_vec())
}

pub fn infer(op: &Op, shapes: &[&[usize]]) -> Result<TensorType, IrError> {
    let types: Vec<TensorType> = shapes.iter().map(|s| t(s)).collect();
    let refs: Vec<&TensorType> = types.iter().collect();
    infer_type(op, &refs)
}

/// Asserts that `op` accepts operands of `shapes` and returns `f32[expected]`.
#[track_caller]
pub fn ok(op: &Op, shapes: &[&[usize]], expected: &[usize]) {
    match infer(op, shapes) {
        Ok(ty) => assert_eq!(ty, t(expected), "{} on {shapes:?}", op.name()),
        Err(e) => panic!("{} on {shapes:?} should be accepted, got: {e}", op.name()),
    }
}

/// Asserts that `op` rejects operands of `shapes` with an `IrError::Type`
/// naming the op and listing the operand types, whose reason contains every
/// string of `reason_has`; also checks the Display text. Returns the reason.
#[track_caller]
pub fn rejects(op: &Op, shapes: &[&[usize]], reason_has: &[&str]) -> String {
    let err = match infer(op, shapes) {
        Ok(ty) => panic!("{} on {shapes:?} should be rejected, got {ty}", op.name()),
        Err(e) => e,
    };
    check_type_error(&err, op.name(), shapes, reason_has)
}

#[track_caller]
pub fn check_type_error(
    err: &IrError,
    op_name: &str,
    shapes: &[&[usize]],
    reason_has: &[&str],
) -> String {
    let IrError::Type {
        op,
        operands,
        reason,
    } = err
    else {
        panic!("expected IrError::Type, got {err:?}");
    };
    assert_eq!(op, op_name);
    let expected: Vec<TensorType> = shapes.iter().map(|s| t(s)).collect();
    assert_eq!(operands, &expected, "operand types of the error");
    assert!(!reason.trim().is_empty(), "empty reason");
    for needle in reason_has {
        assert!(
            reason.contains(needle),
            "reason `{reason}` should contain `{needle}`"
        );
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{op_name}: ")),
        "`{text}` should start with the op name"
    );
    for ty in &expected {
        assert!(
            text.contains(&ty.to_string()),
            "`{text}` should list operand type {ty}"
        );
    }
    assert!(text.contains(reason.as_str()));
    reason.clone()
}
