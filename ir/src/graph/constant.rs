//! The constant pool: literal data lives once per graph, and `const` nodes
//! refer to it by id. Data is interned in its canonical form (all-equal
//! dense data is a splat), so in a graph built through the builder two
//! constants of one type are the same tensor exactly when their ids are
//! equal. (`Graph::from_parts` keeps a pass's pool as given;
//! `canonicalize` merges what it duplicates.)

use std::collections::HashMap;
use std::sync::Arc;

use crate::types::F32Bits;

/// Index of a constant in its graph's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(u32);

impl ConstId {
    pub fn new(index: usize) -> ConstId {
        ConstId(u32::try_from(index).expect("fewer than 2^32 constants"))
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Literal data, independent of the shape that uses it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Constant {
    /// Every element is this value, whatever the shape.
    Splat(F32Bits),
    /// Row-major elements, exactly as many as the node's type holds.
    Dense(Arc<[F32Bits]>),
}

impl Constant {
    pub fn splat(value: f32) -> Constant {
        Constant::Splat(F32Bits::new(value))
    }

    /// `data` as a splat when all of its elements have the same bits (and
    /// there is at least one), else as dense data.
    pub fn from_values(data: &[f32]) -> Constant {
        Constant::Dense(data.iter().map(|&v| F32Bits::new(v)).collect()).canonical()
    }

    /// The canonical form: dense data whose elements all have the same bits
    /// is that splat. Two constants of one type hold the same tensor
    /// exactly when their canonical forms are equal.
    pub fn canonical(self) -> Constant {
        match &self {
            Constant::Dense(d) => match d.split_first() {
                Some((first, rest)) if rest.iter().all(|v| v == first) => Constant::Splat(*first),
                _ => self,
            },
            Constant::Splat(_) => self,
        }
    }

    /// Whether this data can fill a tensor of `numel` elements.
    pub fn fits(&self, numel: usize) -> bool {
        match self {
            Constant::Splat(_) => true,
            Constant::Dense(d) => d.len() == numel,
        }
    }

    /// The number of values stored (1 for a splat).
    pub fn stored_len(&self) -> usize {
        match self {
            Constant::Splat(_) => 1,
            Constant::Dense(d) => d.len(),
        }
    }

    /// The splatted value, if this is a splat.
    pub fn as_splat(&self) -> Option<f32> {
        match self {
            Constant::Splat(v) => Some(v.get()),
            Constant::Dense(_) => None,
        }
    }

    /// Element `i` of a tensor this constant fills.
    pub fn get(&self, i: usize) -> f32 {
        match self {
            Constant::Splat(v) => v.get(),
            Constant::Dense(d) => d[i].get(),
        }
    }

    /// The `numel` elements of a tensor this constant fills.
    pub fn to_vec(&self, numel: usize) -> Vec<f32> {
        match self {
            Constant::Splat(v) => vec![v.get(); numel],
            Constant::Dense(d) => d.iter().map(|v| v.get()).collect(),
        }
    }
}

/// The pool: constants in insertion order, interned.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ConstPool {
    data: Vec<Constant>,
    index: HashMap<Constant, ConstId>,
}

impl ConstPool {
    /// A pool holding exactly `data`, ids unchanged (duplicates resolve to
    /// the first when interning).
    pub(crate) fn from_vec(data: Vec<Constant>) -> ConstPool {
        let mut index = HashMap::with_capacity(data.len());
        for (i, c) in data.iter().enumerate() {
            index
                .entry(c.clone().canonical())
                .or_insert(ConstId::new(i));
        }
        ConstPool { data, index }
    }

    /// The id of `c`'s canonical form, added if new.
    pub(crate) fn intern(&mut self, c: Constant) -> ConstId {
        let c = c.canonical();
        if let Some(&id) = self.index.get(&c) {
            return id;
        }
        let id = ConstId::new(self.data.len());
        self.data.push(c.clone());
        self.index.insert(c, id);
        id
    }

    pub(crate) fn get(&self, id: ConstId) -> Option<&Constant> {
        self.data.get(id.index())
    }

    pub(crate) fn as_slice(&self) -> &[Constant] {
        &self.data
    }

    pub(crate) fn into_vec(self) -> Vec<Constant> {
        self.data
    }
}
