//! Helpers shared by the JIT test files that run small hand-built graphs.

use triceratops::backend::jit::{plan_graph, Planned};
use triceratops::compile::{
    optimize, state_layout, train_step, updated_args, ArgRole, ArgSpec, CompileSpec, CompiledGraph,
    OutputRole, OutputSpec, Passes, Signature,
};
use triceratops::ir::{Graph, Role};
use triceratops::state::StateKind;

/// `g` with its inputs as batch arrays and every output a metric.
pub fn compiled(g: &Graph) -> CompiledGraph {
    signed(g, |_| ArgRole::Noise)
}

/// `g` with its params and state as state entries, its inputs as batch
/// arrays, and every output a metric.
pub fn compiled_with_state(g: &Graph) -> CompiledGraph {
    signed(g, |role| match role {
        Some(Role::Input) => ArgRole::Noise,
        Some(Role::Param) => ArgRole::State(StateKind::Param),
        _ => ArgRole::State(StateKind::Slot),
    })
}

/// `g` with each argument's role given by `role` of its graph role.
fn signed(g: &Graph, role: impl Fn(Option<Role>) -> ArgRole) -> CompiledGraph {
    let args = g
        .arguments()
        .map(|v| ArgSpec {
            name: g.value_name(v).to_string(),
            role: role(g.node(v).role()),
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

/// The built-in `name`'s train step (its own recipe), planned for
/// `threads` threads as `compile --emit kernels` plans it.
pub fn builtin_plan(name: &str, threads: usize) -> Planned {
    let b = triceratops::models::builtin(name).unwrap().unwrap();
    let spec = CompileSpec::new(&b.model, b.optimizer, b.loss, &b.metrics, Passes::On);
    let train = train_step(&b.model, &spec, b.batch_size).unwrap().0;
    let (optimized, _) = optimize(train, Passes::On).unwrap();
    let layout = state_layout(&optimized).unwrap();
    plan_graph(optimized, &layout, threads).unwrap()
}
