//! Who reads each value.

use crate::graph::{Graph, ValueId};

/// The ops reading each value, in node order, each user listed once even
/// when it reads the value in several operand positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Users {
    /// `users[offsets[v]..offsets[v + 1]]` read value `v`.
    offsets: Vec<usize>,
    users: Vec<ValueId>,
}

impl Users {
    pub fn new(graph: &Graph) -> Users {
        let mut lists: Vec<Vec<ValueId>> = vec![Vec::new(); graph.len()];
        for id in graph.ids() {
            for &operand in graph.node(id).operands() {
                let list = &mut lists[operand.index()];
                if list.last() != Some(&id) {
                    list.push(id);
                }
            }
        }
        let mut offsets = Vec::with_capacity(graph.len() + 1);
        let mut users = Vec::new();
        offsets.push(0);
        for list in lists {
            users.extend(list);
            offsets.push(users.len());
        }
        Users { offsets, users }
    }

    /// The ops that read `v`.
    pub fn of(&self, v: ValueId) -> &[ValueId] {
        &self.users[self.offsets[v.index()]..self.offsets[v.index() + 1]]
    }

    /// How many ops read `v`.
    pub fn count(&self, v: ValueId) -> usize {
        self.of(v).len()
    }
}
