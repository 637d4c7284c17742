//! When each value is defined and last read over a schedule: what a memory
//! planner needs to reuse buffers and to place in-place updates.

use crate::error::{IrError, Result};
use crate::graph::{Graph, NodeKind, ValueId};

use super::live_values;

/// The last read of a value over a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LastUse {
    /// No scheduled op reads it and the caller does not need it.
    Never,
    /// Last read by the op at this position of the schedule.
    At(usize),
    /// Needed after the run: an output, or the new value of an update.
    End,
}

/// Definition and last use of every value over one schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Liveness {
    defined: Vec<Option<usize>>,
    last_use: Vec<LastUse>,
}

/// The op nodes in node order: a valid schedule of every graph.
pub fn default_schedule(graph: &Graph) -> Vec<ValueId> {
    graph
        .ids()
        .filter(|&v| matches!(graph.node(v).kind, NodeKind::Op { .. }))
        .collect()
}

impl Liveness {
    /// Liveness over `schedule`, an execution order of op nodes. It must
    /// schedule every op an output or update needs, each once and after the
    /// ops it reads; dead ops may be left out.
    pub fn new(graph: &Graph, schedule: &[ValueId]) -> Result<Liveness> {
        let mut defined: Vec<Option<usize>> = vec![None; graph.len()];
        let mut last_use = vec![LastUse::Never; graph.len()];
        for (pos, &v) in schedule.iter().enumerate() {
            graph.check_id(v)?;
            let node = graph.node(v);
            let bad = |reason: String| IrError::Malformed {
                value: node.name.clone(),
                reason,
            };
            if !matches!(node.kind, NodeKind::Op { .. }) {
                return Err(bad("only ops can be scheduled".into()));
            }
            if defined[v.index()].is_some() {
                return Err(bad("is scheduled twice".into()));
            }
            for &operand in node.operands() {
                let is_op = matches!(graph.node(operand).kind, NodeKind::Op { .. });
                if is_op && defined[operand.index()].is_none() {
                    return Err(bad(format!(
                        "is scheduled before its operand %{}",
                        graph.value_name(operand)
                    )));
                }
                last_use[operand.index()] = LastUse::At(pos);
            }
            defined[v.index()] = Some(pos);
        }
        let live = live_values(graph);
        for v in graph.ids() {
            let is_op = matches!(graph.node(v).kind, NodeKind::Op { .. });
            if is_op && live[v.index()] && defined[v.index()].is_none() {
                return Err(IrError::Malformed {
                    value: graph.value_name(v).to_string(),
                    reason: "is needed but not scheduled".into(),
                });
            }
        }
        let needed_after = graph
            .outputs()
            .iter()
            .map(|&(_, v)| v)
            .chain(graph.updates().iter().map(|u| u.value));
        for v in needed_after {
            last_use[v.index()] = LastUse::End;
        }
        Ok(Liveness { defined, last_use })
    }

    /// The schedule position computing `v`; `None` for arguments and
    /// constants, which exist before the run.
    pub fn defined(&self, v: ValueId) -> Option<usize> {
        self.defined[v.index()]
    }

    pub fn last_use(&self, v: ValueId) -> LastUse {
        self.last_use[v.index()]
    }

    /// Whether `v`'s buffer is in use while the op at `pos` runs (as an
    /// operand or the result): two values whose ranges do not overlap can
    /// share memory.
    pub fn is_live_at(&self, v: ValueId, pos: usize) -> bool {
        let start = self.defined[v.index()].unwrap_or(0);
        let alive = match self.last_use[v.index()] {
            LastUse::Never => self.defined[v.index()] == Some(pos),
            LastUse::At(end) => pos <= end,
            LastUse::End => true,
        };
        pos >= start && alive
    }
}
