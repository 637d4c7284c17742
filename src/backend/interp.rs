//! The reference backend: the IR interpreter in f32. It borrows the batch
//! and the state (no copies in), and copies each updated value into its
//! store entry after the run if the step was finite.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use super::{bind, check_run, Backend, Binding, Executable};
use crate::compile::{CompiledGraph, OutputRole, Signature};
use crate::error::Result;
use crate::ir::interp::evaluate_args;
use crate::ir::{verify, Graph, ValueId};
use crate::state::{StateLayout, StateStore};

#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter;

struct Interpreted {
    graph: Graph,
    signature: Signature,
    layout: Arc<StateLayout>,
    bindings: Vec<Binding>,
    /// Each update as (store entry, value), in graph order.
    updates: Vec<(usize, ValueId)>,
    /// The `finite` output's position, if the graph has a guard.
    guard: Option<usize>,
    /// The last run's outputs.
    outputs: Vec<ArrayD<f32>>,
}

impl Backend for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn compile(
        &self,
        compiled: CompiledGraph,
        layout: &Arc<StateLayout>,
    ) -> Result<Box<dyn Executable>> {
        let CompiledGraph { graph, signature } = compiled;
        verify(&graph)?;
        signature.check(&graph)?;
        let bindings = bind(&signature, layout)?;
        let args: Vec<ValueId> = graph.arguments().collect();
        let updates = graph
            .updates()
            .iter()
            .map(|u| {
                let pos = args
                    .iter()
                    .position(|&a| a == u.target)
                    .expect("an argument");
                match bindings[pos] {
                    Binding::State(index) => (index, u.value),
                    Binding::Batch(_) => unreachable!("checked: only state is updated"),
                }
            })
            .collect();
        let guard = signature.output(OutputRole::Finite);
        Ok(Box::new(Interpreted {
            graph,
            signature,
            layout: Arc::clone(layout),
            bindings,
            updates,
            guard,
            outputs: Vec::new(),
        }))
    }
}

impl Executable for Interpreted {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn outputs(&self) -> &[ArrayD<f32>] {
        &self.outputs
    }

    fn run_in_place(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<bool> {
        check_run(&self.signature, &self.layout, batch, state)?;
        let args: Vec<ArrayViewD<f32>> = self
            .bindings
            .iter()
            .map(|b| match *b {
                Binding::Batch(k) => batch[k].view(),
                Binding::State(index) => state.view_at(index),
            })
            .collect();
        let eval = evaluate_args(&self.graph, args)?;
        let outputs: Vec<_> = self
            .graph
            .outputs()
            .iter()
            .map(|&(_, v)| eval.value(v).to_owned())
            .collect();
        // Exactly 1 commits (0, or a NaN a pass might produce, does not).
        let committed = self
            .guard
            .is_none_or(|g| outputs[g].iter().all(|&f| f == 1.0));
        self.outputs = outputs;
        if !committed {
            return Ok(false);
        }
        // Take the new values out of the evaluation (moving computed arrays,
        // copying only values that alias the state), then write them.
        let mut values: Vec<Option<CowArray<f32, IxDyn>>> =
            eval.into_values().into_iter().map(Some).collect();
        let mut new = Vec::with_capacity(self.updates.len());
        for (i, &(index, v)) in self.updates.iter().enumerate() {
            let used_again = self.updates[i + 1..].iter().any(|u| u.1 == v);
            let slot = &mut values[v.index()];
            let value = if used_again {
                slot.as_ref().expect("taken at its last use").to_owned()
            } else {
                slot.take().expect("taken at its last use").into_owned()
            };
            new.push((index, value));
        }
        drop(values);
        for (index, value) in new {
            state.view_mut_at(index).assign(&value);
        }
        Ok(true)
    }
}
