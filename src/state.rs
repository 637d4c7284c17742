//! The model's resident state: every param, optimizer slot and the step
//! counter as one contiguous f32 buffer per entry, all in one allocation.
//! One store belongs to a compiled model and is shared by all of its
//! executables (the train step of each batch size, eval, predict); backends
//! read and update it in place, and checkpoints save and load it.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};

use crate::error::{Error, Result};
use crate::ir::Shape;

/// What a state entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// A trainable parameter (`dense.kernel`).
    Param,
    /// An optimizer slot (`dense.kernel.momentum`).
    Slot,
    /// The number of optimizer steps taken (`step`).
    Step,
}

/// One entry of the store: a named tensor at a fixed place in the buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    pub name: String,
    pub kind: StateKind,
    pub shape: Shape,
    offset: usize,
}

impl StateEntry {
    /// Where the entry's elements are in [`StateStore::as_slice`].
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.shape.numel()
    }
}

/// The entries of a store, in order, and where each lives.
#[derive(Debug, PartialEq, Eq)]
pub struct StateLayout {
    entries: Vec<StateEntry>,
    by_name: HashMap<String, usize>,
    len: usize,
}

impl StateLayout {
    /// Lays out `(name, kind, shape)` entries one after the other.
    pub fn new(
        entries: impl IntoIterator<Item = (String, StateKind, Shape)>,
    ) -> Result<StateLayout> {
        let mut layout = StateLayout {
            entries: Vec::new(),
            by_name: HashMap::new(),
            len: 0,
        };
        for (name, kind, shape) in entries {
            let numel = shape.checked_numel().ok_or_else(|| {
                Error::Config(format!(
                    "state `{name}`: shape {shape} has too many elements"
                ))
            })?;
            if layout
                .by_name
                .insert(name.clone(), layout.entries.len())
                .is_some()
            {
                return Err(Error::Config(format!("state `{name}` is declared twice")));
            }
            layout.entries.push(StateEntry {
                name,
                kind,
                shape,
                offset: layout.len,
            });
            layout.len = layout
                .len
                .checked_add(numel)
                .ok_or_else(|| Error::Config("the model's state has too many elements".into()))?;
        }
        Ok(layout)
    }

    pub fn entries(&self) -> &[StateEntry] {
        &self.entries
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Total number of f32 elements.
    pub fn numel(&self) -> usize {
        self.len
    }
}

/// A layout and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct StateStore {
    layout: Arc<StateLayout>,
    data: Vec<f32>,
}

impl StateStore {
    /// A store of `layout` with every element zero.
    pub fn zeros(layout: StateLayout) -> StateStore {
        StateStore::with_layout(Arc::new(layout))
    }

    /// A store of a shared `layout` (executables compiled for it accept
    /// it) with every element zero.
    pub fn with_layout(layout: Arc<StateLayout>) -> StateStore {
        let data = vec![0.0; layout.numel()];
        StateStore { layout, data }
    }

    pub fn layout(&self) -> &Arc<StateLayout> {
        &self.layout
    }

    pub fn entries(&self) -> &[StateEntry] {
        &self.layout.entries
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.layout.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layout.entries.is_empty()
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.layout.index_of(name)
    }

    /// Entry `index`'s elements, row-major.
    pub fn slice(&self, index: usize) -> &[f32] {
        &self.data[self.layout.entries[index].range()]
    }

    pub fn slice_mut(&mut self, index: usize) -> &mut [f32] {
        let range = self.layout.entries[index].range();
        &mut self.data[range]
    }

    /// Entry `index` as an array of its shape.
    pub fn view_at(&self, index: usize) -> ArrayViewD<'_, f32> {
        let entry = &self.layout.entries[index];
        ArrayViewD::from_shape(IxDyn(entry.shape.dims()), &self.data[entry.range()])
            .expect("an entry's range holds its shape")
    }

    pub fn view_mut_at(&mut self, index: usize) -> ArrayViewMutD<'_, f32> {
        let entry = &self.layout.entries[index];
        let range = entry.range();
        ArrayViewMutD::from_shape(IxDyn(entry.shape.dims()), &mut self.data[range])
            .expect("an entry's range holds its shape")
    }

    /// The entry called `name` as an array, if there is one.
    pub fn view(&self, name: &str) -> Option<ArrayViewD<'_, f32>> {
        self.index_of(name).map(|i| self.view_at(i))
    }

    /// Overwrites entry `name` with `values` of its shape.
    pub fn set(&mut self, name: &str, values: &ArrayViewD<f32>) -> Result<()> {
        let Some(index) = self.index_of(name) else {
            return Err(Error::Config(format!("the model has no state `{name}`")));
        };
        let shape = &self.layout.entries[index].shape;
        if values.shape() != shape.dims() {
            return Err(Error::Config(format!(
                "state `{name}` has shape {shape}, got values of shape {:?}",
                values.shape()
            )));
        }
        self.view_mut_at(index).assign(values);
        Ok(())
    }

    /// The step counter (0 if the store has none).
    pub fn step(&self) -> f32 {
        self.entries()
            .iter()
            .position(|e| e.kind == StateKind::Step)
            .map_or(0.0, |i| self.slice(i)[0])
    }

    /// The first entry holding a NaN or an infinity.
    pub fn first_non_finite(&self) -> Option<&StateEntry> {
        (0..self.len())
            .find(|&i| self.slice(i).iter().any(|v| !v.is_finite()))
            .map(|i| &self.layout.entries[i])
    }

    /// The whole buffer, entries one after the other.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> StateLayout {
        StateLayout::new([
            ("w".to_string(), StateKind::Param, Shape::new([2, 3])),
            ("w.m".to_string(), StateKind::Slot, Shape::new([2, 3])),
            ("step".to_string(), StateKind::Step, Shape::scalar()),
        ])
        .unwrap()
    }

    #[test]
    fn entries_are_contiguous_and_in_order() {
        let l = layout();
        let ranges: Vec<_> = l.entries().iter().map(|e| e.range()).collect();
        assert_eq!(ranges, [0..6, 6..12, 12..13]);
        assert_eq!(l.numel(), 13);
        assert_eq!(l.index_of("w.m"), Some(1));
    }

    #[test]
    fn set_checks_names_and_shapes_and_writes_in_place() {
        let mut s = StateStore::zeros(layout());
        let v = ndarray::ArrayD::from_elem(IxDyn(&[2, 3]), 1.5f32);
        s.set("w.m", &v.view()).unwrap();
        assert_eq!(s.slice(1), &[1.5; 6]);
        assert_eq!(s.slice(0), &[0.0; 6]);
        assert!(s.set("nope", &v.view()).is_err());
        let wrong = ndarray::ArrayD::zeros(IxDyn(&[3, 2]));
        let err = s.set("w", &wrong.view()).unwrap_err().to_string();
        assert!(err.contains("shape [2,3]"), "{err}");
    }

    #[test]
    fn duplicate_names_are_refused_and_non_finite_values_found() {
        let dup = StateLayout::new([
            ("a".to_string(), StateKind::Param, Shape::scalar()),
            ("a".to_string(), StateKind::Slot, Shape::scalar()),
        ]);
        assert!(dup.is_err());
        let mut s = StateStore::zeros(layout());
        assert!(s.first_non_finite().is_none());
        s.slice_mut(1)[4] = f32::INFINITY;
        assert_eq!(s.first_non_finite().map(|e| e.name.as_str()), Some("w.m"));
    }
}
