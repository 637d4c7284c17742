//! `triceratops-passes`: equality-saturation passes over Triceratops
//! graphs, on egg.
//!
//! A graph goes into an e-graph ([`convert`]) whose language mirrors the op
//! set with attributes as leaves ([`language`]) and whose analysis is the
//! IR's own shape inference plus constant values folded by the IR's own
//! interpreter ([`analysis`]). Each rule set ([`rules`]) runs on a bounded,
//! deterministic schedule ([`schedule`]); a greedy extraction by an
//! analytic cost model ([`cost`], [`extract`]) rebuilds a graph with the
//! original calling convention; a [`PassReport`] says what happened.
//!
//! Rule sets, in order: **algebra** (exact: every f32 value bit-identical;
//! with [`PassOptions::fast_math`], also reassociation and reciprocals),
//! then **numerics** (stability rewrites such as `log(softmax(x))` ->
//! `x - logsumexp(x)`; these change values on purpose, and only fire where
//! the graph has such a pattern), then **layout** (exact: transposes
//! compose, fold into matmuls and sink through elementwise ops and
//! broadcasts; conv/pool run in the backend's preferred layout),
//! then **fusion** ([`fusion`], a deterministic graph-level pass, not egg:
//! elementwise chains and each optimizer update become `fused` kernels,
//! bit-identical).

pub mod analysis;
pub mod convert;
pub mod cost;
pub mod extract;
pub mod fusion;
pub mod language;
pub mod lineage;
pub mod report;
pub mod rules;
pub mod schedule;

use triceratops_ir::Graph;

pub use cost::{graph_cost, Cost};
pub use language::Node;
pub use lineage::Lineage;
pub use report::{PassReport, PhaseReport};
pub use schedule::Limits;

/// What the passes may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassOptions {
    /// Also run rewrites that change rounding (reassociation of constant
    /// chains, `x / c -> x * (1/c)`, `pow(x, 2) -> square(x)`).
    pub fast_math: bool,
    /// Run the numerics rule set.
    pub numerics: bool,
    /// The bounds of every rule set's run.
    pub limits: Limits,
    /// Run the fusion pass (rule set 4) last.
    pub fusion: bool,
}

impl Default for PassOptions {
    fn default() -> PassOptions {
        PassOptions {
            fast_math: false,
            numerics: true,
            limits: Limits::default(),
            fusion: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("rule set {rule_set}: {why}")]
    Extraction { rule_set: String, why: String },
}

/// The algebra rules for `options`.
pub fn algebra_rules(options: &PassOptions) -> Vec<egg::Rewrite<Node, analysis::TensorAnalysis>> {
    let mut rules = rules::algebra::rules();
    if options.fast_math {
        rules.extend(rules::algebra::fast_math());
    }
    rules
}

/// The layout rules: rule set 3 plus the algebra set's exact rules (the
/// transpose/reshape/broadcast compositions live there, once).
pub fn layout_rules() -> Vec<egg::Rewrite<Node, analysis::TensorAnalysis>> {
    let mut rules = rules::algebra::rules();
    rules.extend(rules::layout::rules());
    rules
}

/// Optimizes `graph`: the same arguments (order, names, roles, types),
/// outputs (names, order) and update targets, computing bit-identical
/// values unless `fast_math` is set or a numerics rule fired.
pub fn optimize(graph: &Graph, options: &PassOptions) -> Result<(Graph, PassReport), PassError> {
    optimize_traced(graph, options).map(|(g, r, _)| (g, r))
}

/// [`optimize`], with the lineage of the optimized graph in `graph`: every
/// phase's [`Lineage`] composed (see [`lineage`] for each one's meaning).
pub fn optimize_traced(
    graph: &Graph,
    options: &PassOptions,
) -> Result<(Graph, PassReport, Lineage), PassError> {
    let mut report = PassReport::default();
    let (mut g, phase, mut lineage) = schedule::run_rule_set_traced(
        "algebra",
        graph,
        &algebra_rules(options),
        options.limits,
        false,
    )?;
    report.phases.push(phase);
    if options.numerics {
        let (next, phase, step) = schedule::run_rule_set_traced(
            "numerics",
            &g,
            &rules::numerics::rules(),
            options.limits,
            true,
        )?;
        g = next;
        lineage = lineage.then(&step);
        report.phases.push(phase);
    }
    let (mut g, phase, step) =
        schedule::run_rule_set_traced("layout", &g, &layout_rules(), options.limits, false)?;
    lineage = lineage.then(&step);
    report.phases.push(phase);
    if options.fusion {
        let (next, phase, step) = schedule::run_fusion_traced(&g);
        g = next;
        lineage = lineage.then(&step);
        report.phases.push(phase);
    }
    Ok((g, report, lineage))
}
