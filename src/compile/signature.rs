//! The typed calling convention of a compiled graph: what each argument and
//! output is, by position. Argument order is the ABI a backend binds; every
//! pass must keep it, and [`Signature::check`] proves that after each one.

use std::fmt;

use crate::error::{Error, Result};
use crate::ir::{Graph, Role, TensorType};
use crate::keras::optimizers::StepScalar;
use crate::state::StateKind;

/// What the caller supplies for an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgRole {
    /// The batch of samples.
    X,
    /// The batch's targets.
    Y,
    /// A scalar the trainer computes on the host before each step from the
    /// step counter and the optimizer's settings (the learning rate, Adam's
    /// bias-corrected step size, …), bound by kind.
    StepScalar(StepScalar),
    /// Uniform [0, 1) noise for one dropout layer, drawn by the trainer.
    Noise,
    /// An entry of the model's state store, bound by name once.
    State(StateKind),
}

impl ArgRole {
    /// Whether this argument comes from the state store (else from the batch).
    pub fn is_state(self) -> bool {
        matches!(self, ArgRole::State(_))
    }

    /// The graph role an argument of this kind is declared with.
    fn graph_role(self) -> Role {
        match self {
            ArgRole::State(StateKind::Param) => Role::Param,
            ArgRole::State(_) => Role::State,
            _ => Role::Input,
        }
    }
}

/// What an output means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputRole {
    /// The scalar loss.
    Loss,
    /// A scalar metric, logged under the output's name.
    Metric,
    /// The model's outputs for the batch.
    Prediction,
    /// 1 when the loss and every gradient are finite, else 0; the graph's
    /// updates take effect only when it is 1.
    Finite,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    pub name: String,
    pub role: ArgRole,
    pub ty: TensorType,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub name: String,
    pub role: OutputRole,
    pub ty: TensorType,
}

/// The arguments (in the graph's declaration order), the outputs (in the
/// graph's order) and which state arguments the graph updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The graph's name, for messages.
    pub name: String,
    pub args: Vec<ArgSpec>,
    pub outputs: Vec<OutputSpec>,
    /// Positions in `args` of the state entries the graph writes, ascending.
    pub updated: Vec<usize>,
}

impl Signature {
    /// The positions of the arguments the caller passes per run (everything
    /// but state), in order.
    pub fn batch_args(&self) -> impl Iterator<Item = (usize, &ArgSpec)> {
        self.args
            .iter()
            .enumerate()
            .filter(|(_, a)| !a.role.is_state())
    }

    /// The state arguments, in order.
    pub fn state_args(&self) -> impl Iterator<Item = (usize, &ArgSpec)> {
        self.args
            .iter()
            .enumerate()
            .filter(|(_, a)| a.role.is_state())
    }

    /// The position of the first output with `role`.
    pub fn output(&self, role: OutputRole) -> Option<usize> {
        self.outputs.iter().position(|o| o.role == role)
    }

    /// The position of the output with `role` called `name`.
    pub fn output_named(&self, role: OutputRole, name: &str) -> Option<usize> {
        self.outputs
            .iter()
            .position(|o| o.role == role && o.name == name)
    }

    /// Checks that `graph` has exactly this calling convention: the same
    /// arguments in the same order (names, roles, types), the same outputs
    /// in the same order, updates of exactly the `updated` state arguments,
    /// and a scalar `Finite` output if there is one.
    pub fn check(&self, graph: &Graph) -> Result<()> {
        let fail = |what: String| Error::Signature {
            graph: graph.name().to_string(),
            problem: format!("does not match its signature: {what}"),
        };
        let args: Vec<_> = graph.arguments().collect();
        if args.len() != self.args.len() {
            return Err(fail(format!(
                "{} arguments, the signature has {}",
                args.len(),
                self.args.len()
            )));
        }
        for (i, (&v, spec)) in args.iter().zip(&self.args).enumerate() {
            let node = graph.node(v);
            if node.name != spec.name
                || node.role() != Some(spec.role.graph_role())
                || node.ty != spec.ty
            {
                return Err(fail(format!(
                    "argument {i} is {} %{}: {}, expected {} %{}: {} ({:?})",
                    node.role().map_or("?", |r| r.name()),
                    node.name,
                    node.ty,
                    spec.role.graph_role().name(),
                    spec.name,
                    spec.ty,
                    spec.role
                )));
            }
        }
        let outputs = graph.outputs();
        if outputs.len() != self.outputs.len() {
            return Err(fail(format!(
                "{} outputs, the signature has {}",
                outputs.len(),
                self.outputs.len()
            )));
        }
        for (i, ((name, v), spec)) in outputs.iter().zip(&self.outputs).enumerate() {
            if *name != spec.name || *graph.ty(*v) != spec.ty {
                return Err(fail(format!(
                    "output {i} is {name}: {}, expected {}: {}",
                    graph.ty(*v),
                    spec.name,
                    spec.ty
                )));
            }
            if spec.role == OutputRole::Finite && spec.ty.rank() != 0 {
                return Err(fail(format!("the finite flag `{name}` is not a scalar")));
            }
        }
        let updated = updated_args(graph);
        if updated != self.updated {
            return Err(fail(format!(
                "it updates arguments {updated:?}, the signature says {:?}",
                self.updated
            )));
        }
        Ok(())
    }
}

/// The positions (among `graph`'s arguments) of the update targets,
/// ascending: what `Signature::updated` must say.
pub fn updated_args(graph: &Graph) -> Vec<usize> {
    let args: Vec<_> = graph.arguments().collect();
    let mut updated: Vec<usize> = graph
        .updates()
        .iter()
        .map(|u| {
            args.iter()
                .position(|&a| a == u.target)
                .expect("update targets are arguments")
        })
        .collect();
    updated.sort_unstable();
    updated
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            let updated = if self.updated.contains(&i) {
                " (updated)"
            } else {
                ""
            };
            writeln!(f, "arg {i}: %{}: {} as {:?}{updated}", a.name, a.ty, a.role)?;
        }
        for (i, o) in self.outputs.iter().enumerate() {
            writeln!(f, "output {i}: {}: {} as {:?}", o.name, o.ty, o.role)?;
        }
        Ok(())
    }
}
