//! The reference backend: the IR interpreter in f32.

use super::{Backend, Executable, RunResult, Tensors};
use crate::error::Result;
use crate::ir::interp::evaluate;
use crate::ir::{verify, Graph};

#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter;

struct Interpreted {
    graph: Graph,
}

impl Backend for Interpreter {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn compile(&self, graph: Graph) -> Result<Box<dyn Executable>> {
        verify(&graph)?;
        Ok(Box::new(Interpreted { graph }))
    }
}

impl Executable for Interpreted {
    fn run(&mut self, inputs: &Tensors) -> Result<RunResult> {
        let eval = evaluate(&self.graph, inputs)?;
        let outputs = self
            .graph
            .outputs()
            .iter()
            .map(|(name, v)| (name.clone(), eval.value(*v).clone()))
            .collect();
        let updates = eval
            .updates()
            .map(|(name, a)| (name.to_string(), a.clone()))
            .collect();
        Ok(RunResult { outputs, updates })
    }
}
