//! Backends run compiled graphs. The trainer talks only to this interface,
//! so the JIT plugs in beside the interpreter without changing `fit`.

mod interp;

use std::collections::HashMap;

use ndarray::ArrayD;

pub use interp::Interpreter;

use crate::error::Result;
use crate::ir::Graph;

/// Arrays by graph argument or output name.
pub type Tensors = HashMap<String, ArrayD<f32>>;

/// What one run of a graph produced.
#[derive(Debug, Default)]
pub struct RunResult {
    /// Named outputs.
    pub outputs: Tensors,
    /// New values of updated params and states, by target name.
    pub updates: Tensors,
}

/// A graph prepared by a backend, ready to run many times.
pub trait Executable {
    /// Runs on `inputs` (every argument of the graph, by name).
    fn run(&mut self, inputs: &Tensors) -> Result<RunResult>;
}

pub trait Backend {
    fn name(&self) -> &'static str;
    fn compile(&self, graph: Graph) -> Result<Box<dyn Executable>>;
}
