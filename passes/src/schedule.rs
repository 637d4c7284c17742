//! The bounded, deterministic schedule: each rule set runs to saturation
//! or to its node/iteration limit (never a wall-clock limit, so a loaded
//! machine gets the same graph), with egg's `SimpleScheduler` (the rule
//! sets terminate; backoff only slows them). Then extraction; if it does
//! not lower the cost, the input is kept.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use egg::{Rewrite, Runner, SimpleScheduler, StopReason};
use triceratops_ir::Graph;

use crate::analysis::TensorAnalysis;
use crate::convert::{to_egraph, Converted};
use crate::cost::graph_cost;
use crate::extract::{choose, extract_traced};
use crate::language::Node;
use crate::lineage::Lineage;
use crate::report::PhaseReport;
use crate::PassError;

/// The limits of one rule set's run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub iterations: usize,
    pub nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            iterations: 16,
            nodes: 50_000,
        }
    }
}

/// Runs `rules` over `graph` and extracts the cheapest equivalent graph.
pub fn run_rule_set(
    name: &str,
    graph: &Graph,
    rules: &[Rewrite<Node, TensorAnalysis>],
    limits: Limits,
    penalize_unstable: bool,
) -> Result<(Graph, PhaseReport), PassError> {
    run_rule_set_traced(name, graph, rules, limits, penalize_unstable).map(|(g, r, _)| (g, r))
}

/// [`run_rule_set`], with the result's lineage in `graph` (the identity
/// when the input is kept).
pub fn run_rule_set_traced(
    name: &str,
    graph: &Graph,
    rules: &[Rewrite<Node, TensorAnalysis>],
    limits: Limits,
    penalize_unstable: bool,
) -> Result<(Graph, PhaseReport, Lineage), PassError> {
    let start = Instant::now();
    let Converted {
        egraph,
        classes,
        nodes,
    } = to_egraph(graph);
    let runner: Runner<Node, TensorAnalysis> = Runner::new(TensorAnalysis::default())
        .with_egraph(egraph)
        .with_iter_limit(limits.iterations)
        .with_node_limit(limits.nodes)
        .with_time_limit(Duration::MAX)
        .with_scheduler(SimpleScheduler)
        .run(rules);
    let eg = &runner.egraph;
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for it in &runner.iterations {
        for (rule, n) in &it.applied {
            *fired.entry(rule.to_string()).or_default() += n;
        }
    }
    if eg.analysis.folds > 0 {
        fired.insert("const-fold".into(), eg.analysis.folds);
    }
    let stop = match runner.stop_reason {
        Some(StopReason::Saturated) | None => "saturated".to_string(),
        Some(StopReason::IterationLimit(n)) => format!("iteration limit ({n})"),
        Some(StopReason::NodeLimit(n)) => format!("node limit ({n} nodes)"),
        Some(StopReason::TimeLimit(_)) => "time limit".to_string(),
        Some(StopReason::Other(why)) => why,
    };
    let best = choose(eg, penalize_unstable);
    let (extracted, lineage) =
        extract_traced(graph, &classes, &nodes, eg, &best).map_err(|why| {
            PassError::Extraction {
                rule_set: name.to_string(),
                why,
            }
        })?;
    let cost_before = graph_cost(graph);
    let cost_after = graph_cost(&extracted);
    // The numerics rules trade cost for stability when they fire; otherwise
    // extraction must pay for itself (tree costs can misjudge sharing).
    let rewrote = fired.keys().any(|r| r != "const-fold");
    let kept_input = cost_after.total() > cost_before.total() && !(penalize_unstable && rewrote);
    let (out, cost_after, lineage) = if kept_input {
        (graph.clone(), cost_before, Lineage::identity(graph))
    } else {
        (extracted, cost_after, lineage)
    };
    let report = PhaseReport {
        rule_set: name.to_string(),
        fired,
        iterations: runner.iterations.len(),
        nodes: eg.total_number_of_nodes(),
        classes: eg.number_of_classes(),
        stop,
        time: start.elapsed(),
        cost_before,
        cost_after,
        kept_input,
        conflicts: eg.analysis.conflicts,
    };
    Ok((out, report, lineage))
}

/// Runs the fusion pass ([`crate::fusion`]) and reports it as a phase:
/// `iterations` 1, `nodes` the graph's nodes after, `classes` 0, stop
/// `done`, and the kernels before and after in the costs.
pub fn run_fusion(graph: &Graph) -> (Graph, PhaseReport) {
    let (g, r, _) = run_fusion_traced(graph);
    (g, r)
}

/// [`run_fusion`], with the result's lineage in `graph`.
pub fn run_fusion_traced(graph: &Graph) -> (Graph, PhaseReport, Lineage) {
    let start = Instant::now();
    let (fused, stats, lineage) = crate::fusion::fuse_traced(graph);
    let cost_before = graph_cost(graph);
    let cost_after = graph_cost(&fused);
    let report = PhaseReport {
        rule_set: "fusion".to_string(),
        fired: stats.fired(),
        iterations: 1,
        nodes: fused.len(),
        classes: 0,
        stop: "done".to_string(),
        time: start.elapsed(),
        cost_before,
        cost_after,
        kept_input: false,
        conflicts: 0,
    };
    (fused, report, lineage)
}
