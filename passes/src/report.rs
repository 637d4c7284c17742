//! The pass report: per rule set, what ran and what it bought.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::cost::Cost;

/// One rule set's run.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseReport {
    /// The rule set (`algebra`, `numerics`, `fusion`).
    pub rule_set: String,
    /// Applications per rule (new unions only), and `const-fold` for
    /// literals the analysis folded.
    pub fired: BTreeMap<String, usize>,
    pub iterations: usize,
    pub nodes: usize,
    pub classes: usize,
    /// `saturated`, or the limit that stopped the run; `done` for the
    /// fusion pass (one deterministic pass, no limit).
    pub stop: String,
    /// Wall-clock time of the phase (reported, never used to decide).
    pub time: Duration,
    pub cost_before: Cost,
    pub cost_after: Cost,
    /// True when extraction did not lower the cost and the input was kept.
    pub kept_input: bool,
    /// Merges whose data disagreed (0 unless a rule is unsound).
    pub conflicts: usize,
}

/// The whole pipeline's report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassReport {
    pub phases: Vec<PhaseReport>,
}

impl PassReport {
    pub fn total_time(&self) -> Duration {
        self.phases.iter().map(|p| p.time).sum()
    }

    /// Whether some rule set stopped at a limit instead of saturating.
    pub fn hit_limit(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.stop != "saturated" && p.stop != "done")
    }
}

impl fmt::Display for PassReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<9} {:>5} {:>7} {:>7} {:<22} {:>9}  {:>25}  {:>9}",
            "rule set",
            "iters",
            "nodes",
            "classes",
            "stop",
            "time",
            "cost before -> after",
            "kernels"
        )?;
        for p in &self.phases {
            let cost = format!("{} -> {}", p.cost_before.total(), p.cost_after.total());
            let kernels = format!("{} -> {}", p.cost_before.kernels, p.cost_after.kernels);
            let stop = if p.kept_input {
                format!("{} (input kept)", p.stop)
            } else {
                p.stop.clone()
            };
            writeln!(
                f,
                "{:<9} {:>5} {:>7} {:>7} {:<22} {:>6.2} ms  {:>25}  {:>9}",
                p.rule_set,
                p.iterations,
                p.nodes,
                p.classes,
                stop,
                p.time.as_secs_f64() * 1e3,
                cost,
                kernels
            )?;
            let fired: Vec<String> = p
                .fired
                .iter()
                .filter(|(_, &n)| n > 0)
                .map(|(r, n)| format!("{r} x{n}"))
                .collect();
            let fired = if fired.is_empty() {
                "none".to_string()
            } else {
                fired.join(", ")
            };
            writeln!(f, "  fired: {fired}")?;
            if p.conflicts > 0 {
                writeln!(
                    f,
                    "  WARNING: {} analysis conflicts (an unsound rule)",
                    p.conflicts
                )?;
            }
        }
        write!(f, "total {:.2} ms", self.total_time().as_secs_f64() * 1e3)
    }
}
