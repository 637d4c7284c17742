//! Helpers shared by the JIT test files that run small hand-built graphs.

use triceratops::compile::{
    updated_args, ArgRole, ArgSpec, CompiledGraph, OutputRole, OutputSpec, Signature,
};
use triceratops::ir::Graph;

/// `g` with its inputs as batch arrays and every output a metric.
pub fn compiled(g: &Graph) -> CompiledGraph {
    let args = g
        .arguments()
        .map(|v| ArgSpec {
            name: g.value_name(v).to_string(),
            role: ArgRole::Noise,
            ty: g.ty(v).clone(),
        })
        .collect();
    let outputs = g
        .outputs()
        .iter()
        .map(|(name, v)| OutputSpec {
            name: name.clone(),
            role: OutputRole::Metric,
            ty: g.ty(*v).clone(),
        })
        .collect();
    let sig = Signature {
        name: g.name().to_string(),
        args,
        outputs,
        updated: updated_args(g),
    };
    CompiledGraph::new(g.clone(), sig).expect("a consistent signature")
}
