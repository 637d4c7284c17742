//! Graph analyses and the canonicalizing pass:
//!
//! - [`dataflow`]: the petgraph dataflow view, live values, dead-code
//!   elimination;
//! - [`canonicalize()`]: DCE plus hash-consing, run on every graph before a
//!   backend sees it;
//! - [`Users`]: who reads each value; [`Liveness`]: when each value is
//!   defined and last read over a schedule (what a memory planner needs);
//! - [`to_dot`]: Graphviz export.
//!
//! An op's class (elementwise, view, movement, reduce, contraction, pool)
//! comes from the op table: `node.op().map(Op::class)`.

mod canonical;
mod dataflow;
mod dot;
mod liveness;
mod users;

pub use canonical::{canonicalize, canonicalize_traced};
pub use dataflow::{dataflow, eliminate_dead_code, live_values};
pub use dot::to_dot;
pub use liveness::{default_schedule, LastUse, Liveness};
pub use users::Users;
