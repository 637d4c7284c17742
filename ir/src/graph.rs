//! The graph: values in topological order, named outputs and in-place updates.

use std::collections::HashMap;

use crate::error::{IrError, Result};
use crate::infer::infer_type;
use crate::op::Op;
use crate::types::{Shape, TensorType};

/// Index of a value (a node) in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why a graph argument exists: batch data, trainable weights, or optimizer
/// state (slots, step counter, learning rate) carried between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Input,
    Param,
    State,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Param => "param",
            Role::State => "state",
        }
    }
}

/// What produces a value.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// Supplied from outside at every run.
    Arg(Role),
    /// A literal tensor, row-major, `numel` elements.
    Const(Vec<f32>),
    /// An op over earlier values.
    Op { op: Op, operands: Vec<ValueId> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub ty: TensorType,
    pub kind: NodeKind,
}

impl Node {
    pub fn operands(&self) -> &[ValueId] {
        match &self.kind {
            NodeKind::Op { operands, .. } => operands,
            _ => &[],
        }
    }

    pub fn op(&self) -> Option<&Op> {
        match &self.kind {
            NodeKind::Op { op, .. } => Some(op),
            _ => None,
        }
    }
}

/// An in-place write: after a run, `target` (a param or state) takes `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    pub target: ValueId,
    pub value: ValueId,
}

/// A static computation graph. Nodes are kept in topological order: an op's
/// operands always precede it, which every constructor enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    name: String,
    nodes: Vec<Node>,
    outputs: Vec<(String, ValueId)>,
    updates: Vec<Update>,
    by_name: HashMap<String, ValueId>,
}

impl Graph {
    /// A new empty graph; characters not allowed in names become `_`.
    pub fn new(name: &str) -> Graph {
        let name = name
            .chars()
            .map(|c| if is_name_char(c) { c } else { '_' })
            .collect();
        Graph {
            name,
            nodes: Vec::new(),
            outputs: Vec::new(),
            updates: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// All value ids, in topological order.
    pub fn ids(&self) -> impl Iterator<Item = ValueId> {
        (0..self.nodes.len() as u32).map(ValueId)
    }

    pub fn node(&self, id: ValueId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn ty(&self, id: ValueId) -> &TensorType {
        &self.nodes[id.index()].ty
    }

    pub fn shape(&self, id: ValueId) -> &Shape {
        &self.nodes[id.index()].ty.shape
    }

    pub fn value_name(&self, id: ValueId) -> &str {
        &self.nodes[id.index()].name
    }

    pub fn lookup(&self, name: &str) -> Option<ValueId> {
        self.by_name.get(name).copied()
    }

    pub fn outputs(&self) -> &[(String, ValueId)] {
        &self.outputs
    }

    pub fn output(&self, name: &str) -> Option<ValueId> {
        self.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }

    pub fn updates(&self) -> &[Update] {
        &self.updates
    }

    /// The graph's arguments with the given role, in declaration order.
    pub fn args(&self, role: Role) -> impl Iterator<Item = ValueId> + '_ {
        self.ids()
            .filter(move |&id| self.nodes[id.index()].kind == NodeKind::Arg(role))
    }

    /// Declares an argument. Names must be unique and made of
    /// `[A-Za-z0-9_.-]` so they print and parse back unchanged.
    pub fn arg(&mut self, role: Role, name: &str, ty: TensorType) -> Result<ValueId> {
        self.push_node(name.to_string(), ty, NodeKind::Arg(role))
    }

    /// Adds a literal tensor of type `ty` (row-major `data`).
    pub fn constant(&mut self, name: &str, ty: TensorType, data: Vec<f32>) -> Result<ValueId> {
        if ty.shape.checked_numel() != Some(data.len()) {
            return Err(IrError::Graph(format!(
                "const %{name}: {ty} needs {} values, got {}",
                ty.shape
                    .checked_numel()
                    .map_or("too many".to_string(), |n| n.to_string()),
                data.len()
            )));
        }
        self.push_node(name.to_string(), ty, NodeKind::Const(data))
    }

    /// Appends `op(operands)` under an automatic name, inferring its type.
    pub fn push_op(&mut self, op: Op, operands: &[ValueId]) -> Result<ValueId> {
        let name = self.fresh_name();
        self.push_named_op(&name, op, operands)
    }

    /// Appends `op(operands)` named `name`, inferring its type.
    pub fn push_named_op(&mut self, name: &str, op: Op, operands: &[ValueId]) -> Result<ValueId> {
        for &v in operands {
            if v.index() >= self.nodes.len() {
                return Err(IrError::Graph(format!(
                    "{}: operand {} does not exist in graph {}",
                    op.name(),
                    v.0,
                    self.name
                )));
            }
        }
        let types: Vec<&TensorType> = operands.iter().map(|&v| self.ty(v)).collect();
        let ty = infer_type(&op, &types)?;
        self.push_node(
            name.to_string(),
            ty,
            NodeKind::Op {
                op,
                operands: operands.to_vec(),
            },
        )
    }

    /// Declares a named output. Output names are unique.
    pub fn add_output(&mut self, name: &str, value: ValueId) -> Result<()> {
        check_name(name)?;
        self.check_id(value)?;
        if self.outputs.iter().any(|(n, _)| n == name) {
            return Err(IrError::Graph(format!("duplicate output name `{name}`")));
        }
        self.outputs.push((name.to_string(), value));
        Ok(())
    }

    /// Declares `target <- value`: `target` must be a param or state of the
    /// same type, updated at most once per run.
    pub fn add_update(&mut self, target: ValueId, value: ValueId) -> Result<()> {
        self.check_id(target)?;
        self.check_id(value)?;
        let t = self.node(target);
        if !matches!(t.kind, NodeKind::Arg(Role::Param | Role::State)) {
            return Err(IrError::Graph(format!(
                "update target %{} is not a param or state",
                t.name
            )));
        }
        if t.ty != *self.ty(value) {
            return Err(IrError::Graph(format!(
                "update %{} <- %{}: type {} does not match {}",
                t.name,
                self.value_name(value),
                self.ty(value),
                t.ty
            )));
        }
        if self.updates.iter().any(|u| u.target == target) {
            return Err(IrError::Graph(format!(
                "%{} is updated more than once",
                t.name
            )));
        }
        self.updates.push(Update { target, value });
        Ok(())
    }

    /// Gives a value a new unique name (for readable printed graphs).
    pub fn rename(&mut self, id: ValueId, name: &str) -> Result<()> {
        self.check_id(id)?;
        check_name(name)?;
        if self.nodes[id.index()].name == name {
            return Ok(());
        }
        if self.by_name.contains_key(name) {
            return Err(IrError::Graph(format!("duplicate value name %{name}")));
        }
        let old = std::mem::replace(&mut self.nodes[id.index()].name, name.to_string());
        self.by_name.remove(&old);
        self.by_name.insert(name.to_string(), id);
        Ok(())
    }

    fn check_id(&self, id: ValueId) -> Result<()> {
        if id.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(IrError::Graph(format!(
                "value {} does not exist in graph {}",
                id.0, self.name
            )))
        }
    }

    /// Automatic names are the node index, made unique if a user took it.
    fn fresh_name(&self) -> String {
        let base = self.nodes.len().to_string();
        if !self.by_name.contains_key(&base) {
            return base;
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !self.by_name.contains_key(n))
            .expect("an unused name exists")
    }

    fn push_node(&mut self, name: String, ty: TensorType, kind: NodeKind) -> Result<ValueId> {
        check_name(&name)?;
        if ty.shape.checked_numel().is_none() {
            return Err(IrError::Graph(format!(
                "%{name}: shape {} has too many elements",
                ty.shape
            )));
        }
        if self.by_name.contains_key(&name) {
            return Err(IrError::Graph(format!("duplicate value name %{name}")));
        }
        let id = ValueId(self.nodes.len() as u32);
        self.by_name.insert(name.clone(), id);
        self.nodes.push(Node { name, ty, kind });
        Ok(id)
    }
}

/// True for characters allowed in value and output names.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Err(IrError::Graph(format!(
            "invalid name `{name}`: use letters, digits, `_`, `.` and `-`"
        )));
    }
    Ok(())
}
