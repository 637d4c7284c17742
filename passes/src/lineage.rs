//! Lineage: which values of a pass's input graph each value of its output
//! graph stands for, so a viewer can trace an optimized node or fused
//! kernel back to the train-step IR it came from.
//!
//! Per pass:
//! - an egg phase ([`crate::schedule::run_rule_set_traced`]): an extracted
//!   value of e-class C stands for every input value whose class is C
//!   (everything the rules proved equal to it); a value of a class that
//!   holds no input value (a new intermediate a rule built) stands for
//!   nothing, its lineage is empty. Arguments stand for themselves. A phase
//!   that kept its input is the identity.
//! - fusion ([`crate::fusion::fuse_traced`]): a `fused` result stands for
//!   the group members it depends on within its kernel (its ancestors in
//!   the group and itself), the `broadcast`s those members read through
//!   an index map and the splat constants that became body constants (an
//!   egg phase may have folded ops into them); any other node stands for
//!   itself.
//!
//! An input value whose class no extracted value has is in no lineage: it
//! was absorbed, not kept (a transpose that became a matmul's
//! `transpose_a`, a constant subexpression folded at another shape, `x * 1`
//! when `x` is an argument). Pointing such values at their consumers would
//! cover them but mix "equal to" with "contributes to", so the lineage does
//! not; `explore` does it for display (`src/explore/build.rs`, `absorb`).
//!
//! [`Lineage::then`] composes passes, so the pipeline's lineage maps the
//! optimized graph to the graph given to [`crate::optimize_traced`].

use triceratops_ir::{Graph, ValueId};

/// For each value of a pass's output graph (by index), the values of its
/// input graph it stands for, sorted, deduplicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineage {
    pub from: Vec<Vec<ValueId>>,
}

impl Lineage {
    /// Every value of `graph` stands for itself.
    pub fn identity(graph: &Graph) -> Lineage {
        Lineage {
            from: graph.ids().map(|v| vec![v]).collect(),
        }
    }

    /// `self` maps B's values to A's, `next` maps C's to B's: the result
    /// maps C's to A's.
    pub fn then(&self, next: &Lineage) -> Lineage {
        let from = next
            .from
            .iter()
            .map(|bs| {
                let mut a: Vec<ValueId> = bs
                    .iter()
                    .flat_map(|b| self.from[b.index()].iter().copied())
                    .collect();
                a.sort();
                a.dedup();
                a
            })
            .collect();
        Lineage { from }
    }

    /// The input values output value `v` stands for.
    pub fn of(&self, v: ValueId) -> &[ValueId] {
        &self.from[v.index()]
    }

    /// The number of output values.
    pub fn len(&self) -> usize {
        self.from.len()
    }

    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
    }

    /// Builds a lineage from unsorted, possibly repeated sets.
    pub(crate) fn from_sets(sets: Vec<Vec<ValueId>>) -> Lineage {
        let from = sets
            .into_iter()
            .map(|mut s| {
                s.sort();
                s.dedup();
                s
            })
            .collect();
        Lineage { from }
    }
}
