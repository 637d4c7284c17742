//! Builds a [`Report`] from a model: each stage compiled once, printed in
//! the text format, and linked to the previous one by value name (the
//! train step to its forward part), by the passes' lineage (optimized
//! values to train values) and by what each kernel computes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::layout::{lay_out, LayoutInput};
use super::profile::measure;
use super::report::*;
use crate::backend::jit::plan::Kernel;
use crate::backend::jit::{clif_by_kernel, kernels_text, plan_graph, Planned};
use crate::compile::{
    optimize_traced, state_layout, traced_train_step, ArgRole, CompileSpec, OutputRole, PassReport,
    Passes, TrainTrace, ValueOrigin,
};
use crate::error::Result;
use crate::ir::analysis::Users;
use crate::ir::text::print;
use crate::ir::{Graph, NodeKind, ValueId};
use crate::keras::Sequential;

/// What `explore` compiles and measures.
#[derive(Clone, Copy, Debug)]
pub struct ExploreOptions {
    /// Train steps timed on each backend for the profile (0: no profile).
    pub profile_steps: usize,
    /// JIT threads, for the plan shown and the profile.
    pub threads: usize,
}

/// Every stage of `model`'s train step for `batch` samples under `spec`
/// (whose `passes` choose the optimized stage).
pub fn explore(
    model: &Sequential,
    spec: &CompileSpec,
    batch: usize,
    options: &ExploreOptions,
) -> Result<Report> {
    let unoptimized = CompileSpec {
        passes: Passes::None,
        ..spec.clone()
    };
    let (train, _, trace) = traced_train_step(model, &unoptimized, batch)?;
    let (optimized, pass_report, mut lineage) = optimize_traced(train.clone(), spec.passes)?;
    absorb(&train.graph, &mut lineage);
    let layout = Arc::new(state_layout(&optimized)?);
    let planned = plan_graph(optimized.clone(), &layout, options.threads)?;
    let clif = clif_by_kernel(&planned)?;

    let forward = forward_stage(&trace);
    let train_stage = train_stage(&train.graph, &trace);
    let mut opt_stage = optimized_stage(&optimized.graph, &train_stage, &lineage);
    let kernel_of = kernel_of(&planned);
    for (v, k) in opt_stage.values.iter_mut().zip(&kernel_of) {
        v.kernel = *k;
    }
    let kernels = kernel_stage(&planned, &opt_stage, clif);
    let profile = match options.profile_steps {
        0 => None,
        steps => Some(measure(
            &optimized,
            &planned,
            &kernel_of,
            &layout,
            steps,
            options.threads,
        )?),
    };
    Ok(Report {
        model: model_info(model, spec, batch),
        signature: signature_info(&train.signature),
        layers: layers(model),
        dataflow: dataflow(&optimized.graph, &opt_stage),
        forward,
        train: train_stage,
        optimized: opt_stage,
        kernels,
        passes: pass_report.as_ref().map_or_else(Vec::new, pass_rows),
        profile,
    })
}

/// Gives each train op that no optimized value stands for (a transpose that
/// became a matmul flag, a constant chain folded and rebuilt, `broadcast(1)`
/// of a removed `x * 1`) to the optimized values that stand for its users,
/// transitively, so that selecting the matmul also shows its transpose.
fn absorb(train: &Graph, lineage: &mut [Vec<ValueId>]) {
    let mut stands_in: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); train.len()];
    for (o, from) in lineage.iter().enumerate() {
        for t in from {
            stands_in[t.index()].insert(o);
        }
    }
    let users = Users::new(train);
    for t in (0..train.len()).rev().map(ValueId::new) {
        if !stands_in[t.index()].is_empty() || !matches!(train.node(t).kind, NodeKind::Op { .. }) {
            continue;
        }
        let into: BTreeSet<usize> = users
            .of(t)
            .iter()
            .flat_map(|u| stands_in[u.index()].iter().copied())
            .collect();
        for &o in &into {
            lineage[o].push(t);
            lineage[o].sort_unstable();
        }
        stands_in[t.index()] = into;
    }
}

fn model_info(model: &Sequential, spec: &CompileSpec, batch: usize) -> ModelInfo {
    let o = &spec.optimizer;
    ModelInfo {
        name: model.name.clone(),
        summary: model.summary(),
        optimizer: format!(
            "{} ({:?} convention), lr {}",
            o.name(),
            o.convention,
            o.learning_rate
        ),
        loss: format!("{:?}", spec.loss),
        batch,
        passes: match spec.passes {
            Passes::On => "default",
            Passes::None => "none",
            Passes::FastMath => "fast-math",
        }
        .to_string(),
    }
}

fn signature_info(sig: &crate::compile::Signature) -> SignatureInfo {
    SignatureInfo {
        args: sig
            .args
            .iter()
            .map(|a| ArgInfo {
                name: a.name.clone(),
                role: match a.role {
                    ArgRole::StepScalar(s) => format!("step scalar {}", s.name()),
                    ArgRole::State(kind) => format!("{kind:?}").to_lowercase(),
                    role => format!("{role:?}").to_lowercase(),
                },
                ty: a.ty.to_string(),
            })
            .collect(),
        outputs: sig
            .outputs
            .iter()
            .map(|o| OutputInfo {
                name: o.name.clone(),
                role: match o.role {
                    OutputRole::Loss => "loss",
                    OutputRole::Metric => "metric",
                    OutputRole::Prediction => "prediction",
                    OutputRole::Finite => "finite",
                }
                .to_string(),
                ty: o.ty.to_string(),
            })
            .collect(),
        updated: sig
            .updated
            .iter()
            .map(|&i| sig.args[i].name.clone())
            .collect(),
    }
}

fn layers(model: &Sequential) -> Vec<LayerInfo> {
    model
        .layers()
        .iter()
        .map(|p| LayerInfo {
            name: p.name.clone(),
            class: p.layer.class_name().to_string(),
            params: p.params().iter().map(|s| p.param_name(s)).collect(),
        })
        .collect()
}

/// The 0-based line defining each value in `text` (the printer writes one
/// definition per line: `  [input |param |state |const ]%name: type ...`).
fn definition_lines(text: &str) -> HashMap<&str, usize> {
    let mut lines = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let rest = line.trim_start();
        let rest = ["input ", "param ", "state ", "const "]
            .iter()
            .find_map(|k| rest.strip_prefix(k))
            .unwrap_or(rest);
        if let Some(def) = rest.strip_prefix('%') {
            if let Some((name, _)) = def.split_once(':') {
                lines.entry(name).or_insert(i);
            }
        }
    }
    lines
}

fn op_name(g: &Graph, v: ValueId) -> String {
    match &g.node(v).kind {
        NodeKind::Arg(role) => role.name().to_string(),
        NodeKind::Const(_) => "const".to_string(),
        NodeKind::Op { op, .. } => op.name().to_string(),
    }
}

/// The values of `g` with their lines in `text`, origins from `origin_of`
/// and previous-stage names from `from`.
fn graph_stage(
    g: &Graph,
    origin_of: impl Fn(ValueId) -> (Vec<Origin>, Vec<String>, Vec<String>),
    from: impl Fn(ValueId) -> Vec<String>,
) -> GraphStage {
    let text = print(g);
    let lines = definition_lines(&text);
    let values = g
        .ids()
        .map(|v| {
            let name = g.value_name(v).to_string();
            let (origins, layers, params) = origin_of(v);
            ValueInfo {
                line: lines.get(name.as_str()).copied().unwrap_or(0),
                op: op_name(g, v),
                origins,
                layers,
                params,
                from: from(v),
                kernel: None,
                name,
            }
        })
        .collect();
    GraphStage { text, values }
}

fn traced(trace: &TrainTrace, name: &str) -> (Vec<Origin>, Vec<String>, Vec<String>) {
    match trace.origins.get(name) {
        Some(ValueOrigin {
            origin,
            layers,
            params,
        }) => (vec![*origin], layers.clone(), params.clone()),
        None => (vec![], vec![], vec![]),
    }
}

fn forward_stage(trace: &TrainTrace) -> GraphStage {
    let g = &trace.forward;
    graph_stage(g, |v| traced(trace, g.value_name(v)), |_| vec![])
}

fn train_stage(g: &Graph, trace: &TrainTrace) -> GraphStage {
    // Each train value stands for the forward values canonicalization
    // kept as it or merged into it.
    let mut from: HashMap<&str, Vec<String>> = HashMap::new();
    for v in trace.forward.ids() {
        let name = trace.forward.value_name(v);
        if let Some(c) = trace.canonical.get(name) {
            from.entry(c.as_str()).or_default().push(name.to_string());
        }
    }
    graph_stage(
        g,
        |v| traced(trace, g.value_name(v)),
        |v| from.get(g.value_name(v)).cloned().unwrap_or_default(),
    )
}

/// The optimized stage: origins, layers and params the union over the
/// train values each value stands for.
fn optimized_stage(g: &Graph, train: &GraphStage, lineage: &[Vec<ValueId>]) -> GraphStage {
    let union = |v: ValueId| {
        let mut origins = BTreeSet::new();
        let mut layers = BTreeSet::new();
        let mut params = BTreeSet::new();
        for t in &lineage[v.index()] {
            let info = &train.values[t.index()];
            origins.extend(info.origins.iter().copied());
            layers.extend(info.layers.iter().cloned());
            params.extend(info.params.iter().cloned());
        }
        (
            origins.into_iter().collect(),
            layers.into_iter().collect(),
            params.into_iter().collect(),
        )
    };
    graph_stage(g, union, |v| {
        lineage[v.index()]
            .iter()
            .map(|t| train.values[t.index()].name.clone())
            .collect()
    })
}

/// The kernel computing each value of the planned graph: the last kernel
/// writing it (a reduction after its fill), copies aside.
fn kernel_of(planned: &Planned) -> Vec<Option<usize>> {
    let mut of = vec![None; planned.graph.len()];
    for (k, kernel) in planned.memory.kernels.iter().enumerate() {
        if matches!(kernel, Kernel::Copy { .. }) {
            continue;
        }
        for v in kernel_values(kernel) {
            of[v.index()] = Some(k);
        }
    }
    of
}

/// Every value a kernel computes, intermediates of `rows` kernels and
/// fused epilogues included.
fn kernel_values(kernel: &Kernel) -> Vec<ValueId> {
    let mut values = match kernel {
        Kernel::Rows(r) => r.produced(),
        k => k.writes(),
    };
    let mut seen = BTreeSet::new();
    values.retain(|v| seen.insert(*v));
    values
}

fn kernel_stage(planned: &Planned, opt: &GraphStage, clif: Vec<String>) -> KernelStage {
    let text = kernels_text(planned);
    let g = &planned.graph;
    let starts = kernel_lines(&text, planned.memory.kernels.len());
    let kernels = planned
        .memory
        .kernels
        .iter()
        .enumerate()
        .map(|(k, kernel)| {
            let values = kernel_values(kernel);
            let mut origins = BTreeSet::new();
            let mut layers = BTreeSet::new();
            let mut params = BTreeSet::new();
            for &v in &values {
                let info = &opt.values[v.index()];
                origins.extend(info.origins.iter().copied());
                layers.extend(info.layers.iter().cloned());
                params.extend(info.params.iter().cloned());
            }
            KernelInfo {
                index: k,
                name: format!("k{k}"),
                kind: kernel.kind_name().to_string(),
                lines: starts[k],
                values: values
                    .iter()
                    .map(|&v| g.value_name(v).to_string())
                    .collect(),
                origins: origins.into_iter().collect(),
                layers: layers.into_iter().collect(),
                params: params.into_iter().collect(),
                clif: clif.get(k).cloned().unwrap_or_default(),
            }
        })
        .collect();
    KernelStage {
        text,
        kernels,
        arena_bytes: planned.memory.arena_len * 4,
    }
}

/// First and last line of each kernel's block in the plan text: a block
/// starts at `  kN:` and runs over the deeper-indented lines after it.
fn kernel_lines(text: &str, count: usize) -> Vec<(usize, usize)> {
    let mut ranges = vec![(0, 0); count];
    let mut current: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let head = line
            .strip_prefix("  k")
            .and_then(|r| r.split_once(':'))
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .filter(|&k| k < count);
        if let Some(k) = head {
            ranges[k] = (i, i);
            current = Some(k);
        } else if let (Some(k), true) = (current, line.starts_with("    ")) {
            ranges[k].1 = i;
        } else {
            current = None;
        }
    }
    ranges
}

fn pass_rows(report: &PassReport) -> Vec<PassRow> {
    report
        .phases
        .iter()
        .map(|p| PassRow {
            rule_set: p.rule_set.clone(),
            iterations: p.iterations,
            nodes: p.nodes,
            classes: p.classes,
            stop: p.stop.clone(),
            time_ms: p.time.as_secs_f64() * 1e3,
            cost_before: p.cost_before.total().to_string(),
            cost_after: p.cost_after.total().to_string(),
            kernels_before: p.cost_before.kernels as usize,
            kernels_after: p.cost_after.kernels as usize,
            fired: p.fired.iter().map(|(k, &n)| (k.clone(), n)).collect(),
        })
        .collect()
}

fn dataflow(g: &Graph, opt: &GraphStage) -> Dataflow {
    let nodes: Vec<LayoutInput> = g
        .ids()
        .map(|v| {
            let info = &opt.values[v.index()];
            let label = match &g.node(v).kind {
                NodeKind::Op { .. } => info.op.clone(),
                _ => format!("%{}", info.name),
            };
            LayoutInput {
                name: info.name.clone(),
                label,
                origin: info.origins.first().copied().unwrap_or(Origin::Input),
                operands: g.node(v).operands().iter().map(|o| o.index()).collect(),
            }
        })
        .collect();
    lay_out(&nodes)
}
