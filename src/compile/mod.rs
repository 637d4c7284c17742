//! The driver: a model, an optimizer, a loss and metrics become static
//! graphs — the train step (forward, loss, backward, update), the eval step
//! and the predict step — for one batch size, each with its typed
//! [`Signature`] and canonicalized before any backend sees it.
//!
//! The train step's arguments are `x` `[batch, input...]`, `y` (targets),
//! one `param` per layer parameter (`<layer>.kernel`) and one noise input
//! per active dropout layer, in model order, then the optimizer's step
//! scalars (`lr`, `alpha`, `step_size`, …: see
//! [`Optimizer::step_scalars`]), `state %step` (steps taken) and one
//! `state` per optimizer slot (`<param>.<slot>`); its outputs are `loss`, one per metric, and `finite`
//! (the NaN/inf guard). Eval takes `x`, `y` and the params; predict takes
//! `x` and the params and returns `y_pred`.
//!
//! Every graph is canonicalized and then, unless [`Passes::None`], run
//! through the egg passes ([`optimize`], the `triceratops-passes` crate) by
//! [`CompiledGraph::try_rewrite`], which re-checks the signature. The
//! default passes are exact (every f32 value bit-identical), so a run
//! trains identically with them on or off; the numerics rule set changes
//! values only where a graph computes `log` of a softmax or of an `exp`,
//! which the built-in front end never emits (it builds log-softmax stably).

mod guard;
mod signature;
pub mod trace;

use std::collections::HashMap;

pub use signature::{updated_args, ArgRole, ArgSpec, OutputRole, OutputSpec, Signature};

use crate::error::{Error, Result};
use crate::ir::autodiff::grad_traced;
use crate::ir::{canonicalize, Graph, ValueId};
use crate::keras::layers::Mode;
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Optimizer, SlotInit};
use crate::keras::sequential::Forward;
use crate::keras::Sequential;
use crate::state::{StateKind, StateLayout};

use trace::Marks;
pub use trace::{Origin, TrainTrace, ValueOrigin};
pub use triceratops_passes::{PassOptions, PassReport};

/// Whether compiled graphs go through the egg passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Passes {
    /// The default passes ([`PassOptions::default`]: exact algebra, numerics).
    #[default]
    On,
    /// Canonicalization only.
    None,
    /// The default passes plus the rewrites that change f32 rounding
    /// ([`PassOptions::fast_math`]): values are no longer bit-identical to
    /// the unoptimized graph.
    FastMath,
}

/// What a model was compiled with.
#[derive(Clone, Debug)]
pub struct CompileSpec {
    pub optimizer: Optimizer,
    pub loss: Loss,
    /// Metrics as the user named them, each resolved for this loss (so
    /// `accuracy` may compute categorical accuracy but is logged as `accuracy`).
    pub metrics: Vec<(&'static str, Metric)>,
    /// Whether the egg passes run on the compiled graphs.
    pub passes: Passes,
}

impl CompileSpec {
    /// The spec of `model` with these settings, each metric resolved for
    /// the loss and the model's output units.
    pub fn new(
        model: &Sequential,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[Metric],
        passes: Passes,
    ) -> CompileSpec {
        let units = model.output_shape().last().copied().unwrap_or(1);
        CompileSpec {
            optimizer,
            loss,
            metrics: metrics
                .iter()
                .map(|m| (m.name(), m.resolve(loss, units)))
                .collect(),
            passes,
        }
    }
}

/// A graph with its calling convention.
#[derive(Clone, Debug)]
pub struct CompiledGraph {
    pub graph: Graph,
    pub signature: Signature,
}

impl CompiledGraph {
    /// Pairs `graph` with `signature`, checking that they agree.
    pub fn new(graph: Graph, signature: Signature) -> Result<CompiledGraph> {
        signature.check(&graph)?;
        Ok(CompiledGraph { graph, signature })
    }

    /// Applies a graph-to-graph pass and checks that it kept the signature.
    pub fn rewrite(self, pass: &str, f: impl FnOnce(&Graph) -> Graph) -> Result<CompiledGraph> {
        self.try_rewrite(pass, |g| Ok(f(g)))
    }

    /// Applies a fallible graph-to-graph pass and checks that it kept the
    /// signature.
    pub fn try_rewrite(
        self,
        pass: &str,
        f: impl FnOnce(&Graph) -> Result<Graph>,
    ) -> Result<CompiledGraph> {
        let graph = f(&self.graph)?;
        self.signature.check(&graph).map_err(|e| match e {
            Error::Signature { graph, problem } => Error::Signature {
                graph,
                problem: format!("pass `{pass}` broke the calling convention: {problem}"),
            },
            other => other,
        })?;
        Ok(CompiledGraph { graph, ..self })
    }
}

/// Runs the egg passes on `compiled` (nothing with [`Passes::None`]),
/// returning the report when they ran.
pub fn optimize(
    compiled: CompiledGraph,
    passes: Passes,
) -> Result<(CompiledGraph, Option<PassReport>)> {
    if passes == Passes::None {
        return Ok((compiled, None));
    }
    let mut report = None;
    let compiled = compiled.try_rewrite("passes", |g| {
        let (g, r) = triceratops_passes::optimize(g, &pass_options(passes))?;
        report = Some(r);
        Ok(g)
    })?;
    Ok((compiled, report))
}

/// [`optimize`], also returning each optimized value's lineage: the values
/// of `compiled`'s graph it stands for (the original values of its e-class,
/// the nodes fused into it; `triceratops_passes::Lineage`), and with
/// [`Passes::None`] itself.
pub fn optimize_traced(
    compiled: CompiledGraph,
    passes: Passes,
) -> Result<(CompiledGraph, Option<PassReport>, Vec<Vec<ValueId>>)> {
    if passes == Passes::None {
        let identity = compiled.graph.ids().map(|v| vec![v]).collect();
        return Ok((compiled, None, identity));
    }
    let mut traced = None;
    let compiled = compiled.try_rewrite("passes", |g| {
        let (g, report, lineage) = triceratops_passes::optimize_traced(g, &pass_options(passes))?;
        traced = Some((report, lineage));
        Ok(g)
    })?;
    let (report, lineage) = traced.expect("the rewrite ran");
    Ok((compiled, Some(report), lineage.from))
}

fn pass_options(passes: Passes) -> PassOptions {
    PassOptions {
        fast_math: passes == Passes::FastMath,
        ..PassOptions::default()
    }
}

/// The state layout a model compiled to `train` has: its state arguments
/// in signature order, as `Model::new` lays them out.
pub fn state_layout(train: &CompiledGraph) -> Result<StateLayout> {
    StateLayout::new(
        train
            .signature
            .state_args()
            .filter_map(|(_, a)| match a.role {
                ArgRole::State(kind) => Some((a.name.clone(), kind, a.ty.shape.clone())),
                _ => None,
            }),
    )
}

/// The shape of the targets `y` for a batch: the model's output shape, or
/// without its class axis for sparse labels.
pub fn target_shape(model: &Sequential, loss: Loss, batch: usize) -> Vec<usize> {
    let out = model.output_shape();
    let mut shape = vec![batch];
    match loss {
        Loss::SparseCategoricalCrossentropy { .. } => {
            shape.extend(&out[..out.len().saturating_sub(1)])
        }
        _ => shape.extend(out),
    }
    shape
}

fn input_shape(model: &Sequential, batch: usize) -> Vec<usize> {
    let mut shape = vec![batch];
    shape.extend(&model.input_shape);
    shape
}

/// Records the role of every argument and output as a graph is built.
#[derive(Default)]
struct Roles {
    args: HashMap<ValueId, ArgRole>,
    outputs: Vec<OutputRole>,
}

impl Roles {
    fn arg(&mut self, v: ValueId, role: ArgRole) {
        self.args.insert(v, role);
    }

    fn output(&mut self, g: &mut Graph, name: &str, v: ValueId, role: OutputRole) -> Result<()> {
        g.add_output(name, v)?;
        self.outputs.push(role);
        Ok(())
    }

    fn forward(&mut self, fwd: &Forward) {
        for &p in &fwd.params {
            self.arg(p, ArgRole::State(StateKind::Param));
        }
        for &n in &fwd.noise {
            self.arg(n, ArgRole::Noise);
        }
    }

    /// The signature of `g`, whose every argument has a recorded role, then
    /// the canonical form of `g` with it, optimized unless `passes` is none.
    fn finish(self, g: Graph, passes: Passes) -> Result<CompiledGraph> {
        let mut args = Vec::new();
        for v in g.arguments() {
            let Some(&role) = self.args.get(&v) else {
                return Err(Error::Config(format!(
                    "internal: argument %{} of {} has no role",
                    g.value_name(v),
                    g.name()
                )));
            };
            args.push(ArgSpec {
                name: g.value_name(v).to_string(),
                role,
                ty: g.ty(v).clone(),
            });
        }
        let outputs = g
            .outputs()
            .iter()
            .zip(self.outputs)
            .map(|((name, v), role)| OutputSpec {
                name: name.clone(),
                role,
                ty: g.ty(*v).clone(),
            })
            .collect();
        let signature = Signature {
            name: g.name().to_string(),
            args,
            outputs,
            updated: updated_args(&g),
        };
        let canonical = CompiledGraph::new(g, signature)?.rewrite("canonicalize", canonicalize)?;
        Ok(optimize(canonical, passes)?.0)
    }
}

/// Forward, loss and metrics on `x`, `y`; returns the forward pass, the
/// loss and the metrics.
fn forward_loss(
    g: &mut Graph,
    roles: &mut Roles,
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
    mode: Mode,
) -> Result<(Forward, ValueId, Vec<ValueId>)> {
    let x = g.input("x", input_shape(model, batch))?;
    let y = g.input("y", target_shape(model, spec.loss, batch))?;
    roles.arg(x, ArgRole::X);
    roles.arg(y, ArgRole::Y);
    let fwd = model.lower(g, x, mode)?;
    roles.forward(&fwd);
    // Keras computes cross-entropy after a softmax from the logits (the
    // stable log-softmax form), not from the clipped probabilities.
    let loss = match (spec.loss, fwd.logits) {
        (Loss::CategoricalCrossentropy { from_logits: false }, Some(z)) => {
            Loss::CategoricalCrossentropy { from_logits: true }.build(g, z, y)
        }
        (Loss::SparseCategoricalCrossentropy { from_logits: false }, Some(z)) => {
            Loss::SparseCategoricalCrossentropy { from_logits: true }.build(g, z, y)
        }
        (loss, _) => loss.build(g, fwd.output, y),
    }
    .map_err(|e| Error::Config(format!("loss {:?}: {e}", spec.loss)))?;
    g.rename(loss, "loss")?;
    roles.output(g, "loss", loss, OutputRole::Loss)?;
    let mut metrics = Vec::new();
    for (name, metric) in &spec.metrics {
        let m = metric.build(g, fwd.output, y)?;
        roles.output(g, name, m, OutputRole::Metric)?;
        metrics.push(m);
    }
    Ok((fwd, loss, metrics))
}

/// The train step for `batch` samples, and the optimizer's slot initial values.
pub fn train_step(
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
) -> Result<(CompiledGraph, Vec<SlotInit>)> {
    let (g, roles, slots, _) = build_train_step(model, spec, batch, false)?;
    Ok((roles.finish(g, spec.passes)?, slots))
}

/// [`train_step`] with the provenance of its values (`explore`).
pub fn traced_train_step(
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
) -> Result<(CompiledGraph, Vec<SlotInit>, TrainTrace)> {
    let (g, roles, slots, trace) = build_train_step(model, spec, batch, true)?;
    let trace = trace.expect("asked for");
    Ok((roles.finish(g, spec.passes)?, slots, trace))
}

/// The train-step graph as built (before canonicalization), the roles of
/// its arguments and outputs, the slots, and with `traced` its provenance.
fn build_train_step(
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
    traced: bool,
) -> Result<(Graph, Roles, Vec<SlotInit>, Option<TrainTrace>)> {
    let mut g = Graph::new(&format!("{}.train_step", model.name));
    let mut roles = Roles::default();
    let (fwd, loss, metrics) = forward_loss(&mut g, &mut roles, model, spec, batch, Mode::Train)?;
    let forward = traced.then(|| g.clone());
    let scalars = spec.optimizer.declare_step_inputs(&mut g)?;
    for (&v, s) in scalars.iter().zip(spec.optimizer.step_scalars()) {
        roles.arg(v, ArgRole::StepScalar(s));
    }
    let step = g.state("step", [])?;
    roles.arg(step, ArgRole::State(StateKind::Step));
    let grad_start = g.len();
    let (grads, created_by) = grad_traced(&mut g, loss, &fwd.params)?;
    let guard_start = g.len();
    let finite = guard::all_finite(&mut g, loss, &grads)?;
    g.rename(finite, "finite")?;
    roles.output(&mut g, "finite", finite, OutputRole::Finite)?;
    let guard = guard_start..g.len();
    let pairs: Vec<(ValueId, ValueId)> = fwd.params.iter().copied().zip(grads).collect();
    let slots = spec.optimizer.apply(&mut g, &scalars, &pairs)?;
    for slot in &slots {
        let v = g
            .lookup(&slot.name)
            .expect("the optimizer declared its slot");
        roles.arg(v, ArgRole::State(StateKind::Slot));
    }
    let one = g.scalar(1.0)?;
    let next = g.add(step, one)?;
    g.add_update(step, next)?;
    let trace = forward.map(|forward| {
        let marks = Marks {
            forward: &fwd,
            loss,
            metrics,
            grad_start,
            created_by,
            guard,
        };
        trace::trace(&g, forward, &marks)
    });
    Ok((g, roles, slots, trace))
}

/// Forward, loss and metrics without updates.
pub fn eval_step(model: &Sequential, spec: &CompileSpec, batch: usize) -> Result<CompiledGraph> {
    let mut g = Graph::new(&format!("{}.eval", model.name));
    let mut roles = Roles::default();
    forward_loss(&mut g, &mut roles, model, spec, batch, Mode::Infer)?;
    roles.finish(g, spec.passes)
}

/// The forward pass alone: `x` to `y_pred`.
pub fn predict_step(model: &Sequential, batch: usize, passes: Passes) -> Result<CompiledGraph> {
    let mut g = Graph::new(&format!("{}.predict", model.name));
    let mut roles = Roles::default();
    let x = g.input("x", input_shape(model, batch))?;
    roles.arg(x, ArgRole::X);
    let fwd = model.lower(&mut g, x, Mode::Infer)?;
    roles.forward(&fwd);
    roles.output(&mut g, "y_pred", fwd.output, OutputRole::Prediction)?;
    roles.finish(g, passes)
}
