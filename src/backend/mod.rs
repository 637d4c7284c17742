//! Backends run compiled graphs. The trainer talks only to this interface,
//! so the JIT plugs in beside the interpreter without changing `fit`.
//!
//! The seam is positional and typed: an executable is compiled for one
//! [`CompiledGraph`] and one state layout; it binds every state argument to
//! its store entry once, at compile time, takes the batch arguments by
//! position at each run, and writes the graph's updates into the store in
//! place — unless the graph's `finite` output says the step diverged, in
//! which case the store is left untouched.

mod interp;
pub mod jit;

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD};

pub use interp::Interpreter;
pub use jit::Jit;

use crate::compile::{ArgRole, CompiledGraph, Signature};
use crate::error::{Error, Result};
use crate::state::{StateLayout, StateStore};

/// What one run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The graph's outputs, in signature order.
    pub outputs: Vec<ArrayD<f32>>,
    /// Whether the updates were written (false when `finite` was 0).
    pub committed: bool,
}

/// A graph prepared by a backend, ready to run many times.
pub trait Executable {
    fn signature(&self) -> &Signature;

    /// Runs once on `batch` (one array per non-state argument, in signature
    /// order) and the state in `state`, which must have the layout the
    /// executable was compiled for. Returns whether the updates were
    /// written; the outputs stay in the executable ([`Executable::outputs`])
    /// until the next run, so a JIT step allocates nothing.
    fn run_in_place(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<bool>;

    /// The outputs of the last run, in signature order.
    fn outputs(&self) -> &[ArrayD<f32>];

    /// [`Executable::run_in_place`], with the outputs copied out.
    fn run(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<RunOutput> {
        let committed = self.run_in_place(batch, state)?;
        Ok(RunOutput {
            outputs: self.outputs().to_vec(),
            committed,
        })
    }

    /// Per-kernel times over the runs so far, for executables compiled to
    /// keep them (the JIT's `with_profile`).
    fn profile(&self) -> Option<jit::Profile> {
        None
    }

    /// How long each phase of this executable's compilation took, in order
    /// (empty for backends without phases).
    fn compile_phases(&self) -> Vec<(&'static str, std::time::Duration)> {
        Vec::new()
    }
}

pub trait Backend {
    fn name(&self) -> &'static str;

    /// Prepares `compiled` to run against stores of `layout`.
    fn compile(
        &self,
        compiled: CompiledGraph,
        layout: &Arc<StateLayout>,
    ) -> Result<Box<dyn Executable>>;
}

/// Where each argument of a signature comes from, resolved once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// The `k`-th batch array of a run.
    Batch(usize),
    /// Entry `index` of the state store.
    State(usize),
}

/// Resolves every state argument of `signature` to its entry in `layout`
/// (by name, checking kind and shape) and numbers the batch arguments.
pub fn bind(signature: &Signature, layout: &StateLayout) -> Result<Vec<Binding>> {
    let fail = |problem: String| Error::Signature {
        graph: signature.name.clone(),
        problem,
    };
    let mut batch = 0;
    signature
        .args
        .iter()
        .map(|arg| match arg.role {
            ArgRole::State(kind) => {
                let Some(index) = layout.index_of(&arg.name) else {
                    return Err(fail(format!(
                        "the model's state has no entry `{}`",
                        arg.name
                    )));
                };
                let entry = &layout.entries()[index];
                if entry.kind != kind || entry.shape != arg.ty.shape {
                    return Err(fail(format!(
                        "state `{}` is {:?} {}, the graph needs {kind:?} {}",
                        arg.name, entry.kind, entry.shape, arg.ty.shape
                    )));
                }
                Ok(Binding::State(index))
            }
            _ => {
                batch += 1;
                Ok(Binding::Batch(batch - 1))
            }
        })
        .collect()
}

/// Checks a run's batch arrays against the signature and the store against
/// the layout the executable was compiled for.
pub fn check_run(
    signature: &Signature,
    layout: &Arc<StateLayout>,
    batch: &[ArrayViewD<f32>],
    state: &StateStore,
) -> Result<()> {
    let fail = |problem: String| Error::Signature {
        graph: signature.name.clone(),
        problem,
    };
    if !Arc::ptr_eq(layout, state.layout()) {
        return Err(fail(
            "this executable was compiled for another model's state".into(),
        ));
    }
    // Runs every step: no allocation unless there is an error to report.
    let expected = signature.batch_args().count();
    if batch.len() != expected {
        let names: Vec<&str> = signature
            .batch_args()
            .map(|(_, a)| a.name.as_str())
            .collect();
        return Err(fail(format!(
            "takes {expected} batch arrays ({}), got {}",
            names.join(", "),
            batch.len()
        )));
    }
    for ((_, arg), array) in signature.batch_args().zip(batch) {
        if array.shape() != arg.ty.shape.dims() {
            return Err(Error::BatchShape {
                arg: arg.name.clone(),
                expected: arg.ty.shape.dims().to_vec(),
                found: array.shape().to_vec(),
            });
        }
    }
    Ok(())
}
