//! The graph: values in topological order, a constant pool, named outputs
//! and in-place updates.
//!
//! Graphs are values: passes do not edit them in place but build new ones,
//! with the builder or through [`Graph::from_parts`], which the verifier
//! gates.

mod constant;

use std::collections::HashMap;

use constant::ConstPool;
pub use constant::{ConstId, Constant};

use crate::error::{IrError, Result, UpdateProblem};
use crate::infer::infer_type;
use crate::op::Op;
use crate::types::{Shape, TensorType};
use crate::verify::verify;

/// Index of a value (a node) in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(u32);

impl ValueId {
    /// The value at `index` in node order.
    pub fn new(index: usize) -> ValueId {
        ValueId(u32::try_from(index).expect("fewer than 2^32 values"))
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Why a graph argument exists: batch data, trainable weights, or optimizer
/// state (slots, step counter) carried between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Supplied from outside at every run.
    Arg(Role),
    /// Literal data from the graph's constant pool.
    Const(ConstId),
    /// An op over earlier values.
    Op { op: Op, operands: Vec<ValueId> },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

    pub fn role(&self) -> Option<Role> {
        match self.kind {
            NodeKind::Arg(role) => Some(role),
            _ => None,
        }
    }
}

/// An in-place write: after a run, `target` (a param or state) takes `value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Update {
    pub target: ValueId,
    pub value: ValueId,
}

/// Everything a graph is made of, for passes that rebuild one.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphParts {
    pub name: String,
    pub nodes: Vec<Node>,
    pub constants: Vec<Constant>,
    pub outputs: Vec<(String, ValueId)>,
    pub updates: Vec<Update>,
}

/// A static computation graph. Nodes are kept in topological order: an op's
/// operands always precede it, which every constructor enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    name: String,
    nodes: Vec<Node>,
    constants: ConstPool,
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
            constants: ConstPool::default(),
            outputs: Vec::new(),
            updates: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    /// A graph from its parts, if the verifier accepts it.
    pub fn from_parts(parts: GraphParts) -> Result<Graph> {
        let mut by_name = HashMap::with_capacity(parts.nodes.len());
        for (i, node) in parts.nodes.iter().enumerate() {
            by_name.entry(node.name.clone()).or_insert(ValueId::new(i));
        }
        let graph = Graph {
            name: parts.name,
            nodes: parts.nodes,
            constants: ConstPool::from_vec(parts.constants),
            outputs: parts.outputs,
            updates: parts.updates,
            by_name,
        };
        verify(&graph)?;
        Ok(graph)
    }

    pub fn into_parts(self) -> GraphParts {
        GraphParts {
            name: self.name,
            nodes: self.nodes,
            constants: self.constants.into_vec(),
            outputs: self.outputs,
            updates: self.updates,
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
        (0..self.nodes.len()).map(ValueId::new)
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

    /// The constant pool, indexed by [`ConstId`].
    pub fn constants(&self) -> &[Constant] {
        self.constants.as_slice()
    }

    /// The pool entry `id`, if it exists.
    pub fn constant_data(&self, id: ConstId) -> Option<&Constant> {
        self.constants.get(id)
    }

    /// The literal data of `id`, if it is a `const` node.
    pub fn const_value(&self, id: ValueId) -> Option<&Constant> {
        match self.node(id).kind {
            NodeKind::Const(c) => self.constants.get(c),
            _ => None,
        }
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

    /// The update writing `target`, if any.
    pub fn update_of(&self, target: ValueId) -> Option<ValueId> {
        self.updates
            .iter()
            .find(|u| u.target == target)
            .map(|u| u.value)
    }

    /// The graph's arguments with the given role, in declaration order.
    pub fn args(&self, role: Role) -> impl Iterator<Item = ValueId> + '_ {
        self.ids()
            .filter(move |&id| self.nodes[id.index()].kind == NodeKind::Arg(role))
    }

    /// Every argument, in declaration order: the graph's calling convention.
    pub fn arguments(&self) -> impl Iterator<Item = ValueId> + '_ {
        self.ids()
            .filter(move |&id| matches!(self.nodes[id.index()].kind, NodeKind::Arg(_)))
    }

    /// Declares an argument. Names must be unique and made of
    /// `[A-Za-z0-9_.-]` so they print and parse back unchanged.
    pub fn arg(&mut self, role: Role, name: &str, ty: TensorType) -> Result<ValueId> {
        self.push_node(name.to_string(), ty, NodeKind::Arg(role))
    }

    /// Adds a literal tensor of type `ty` (row-major `data`, or one value
    /// per element); data with all elements equal is stored as a splat.
    pub fn constant(&mut self, name: &str, ty: TensorType, data: Vec<f32>) -> Result<ValueId> {
        if ty.shape.checked_numel() != Some(data.len()) {
            return Err(IrError::BadConstant {
                name: name.to_string(),
                ty,
                len: data.len(),
            });
        }
        self.constant_from(name, ty, Constant::from_values(&data))
    }

    /// Copies an argument or constant node of `from` (same name, type, role
    /// or data) into this graph; `None` for an op node. Passes that rebuild a
    /// graph node by node use it for the leaves.
    pub fn copy_leaf(&mut self, from: &Graph, id: ValueId) -> Option<Result<ValueId>> {
        let node = from.node(id);
        match &node.kind {
            NodeKind::Arg(role) => Some(self.arg(*role, &node.name, node.ty.clone())),
            NodeKind::Const(_) => {
                let data = from.const_value(id).expect("a const node has data").clone();
                Some(self.constant_from(&node.name, node.ty.clone(), data))
            }
            NodeKind::Op { .. } => None,
        }
    }

    /// Adds a `const` node of type `ty` holding `data` (interned in the pool).
    pub fn constant_from(&mut self, name: &str, ty: TensorType, data: Constant) -> Result<ValueId> {
        let numel = ty.shape.checked_numel();
        if !numel.is_some_and(|n| data.fits(n)) {
            return Err(IrError::BadConstant {
                name: name.to_string(),
                ty,
                len: data.stored_len(),
            });
        }
        check_name(name)?;
        if self.by_name.contains_key(name) {
            return Err(IrError::DuplicateName { name: name.into() });
        }
        let id = self.constants.intern(data);
        self.push_node(name.to_string(), ty, NodeKind::Const(id))
    }

    /// Appends `op(operands)` under an automatic name, inferring its type.
    pub fn push_op(&mut self, op: Op, operands: &[ValueId]) -> Result<ValueId> {
        let name = self.fresh_name();
        self.push_named_op(&name, op, operands)
    }

    /// Appends `op(operands)` named `name`, inferring its type.
    pub fn push_named_op(&mut self, name: &str, op: Op, operands: &[ValueId]) -> Result<ValueId> {
        for &v in operands {
            self.check_id(v)?;
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
            return Err(IrError::DuplicateOutput { name: name.into() });
        }
        self.outputs.push((name.to_string(), value));
        Ok(())
    }

    /// Declares `target <- value`: `target` must be a param or state of the
    /// same type, updated at most once per run.
    pub fn add_update(&mut self, target: ValueId, value: ValueId) -> Result<()> {
        self.check_id(target)?;
        self.check_id(value)?;
        check_update(self, target, value, &self.updates)?;
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
            return Err(IrError::DuplicateName { name: name.into() });
        }
        let old = std::mem::replace(&mut self.nodes[id.index()].name, name.to_string());
        self.by_name.remove(&old);
        self.by_name.insert(name.to_string(), id);
        Ok(())
    }

    /// An error unless `id` is a value of this graph.
    pub fn check_id(&self, id: ValueId) -> Result<()> {
        if id.index() < self.nodes.len() {
            Ok(())
        } else {
            Err(IrError::UnknownValue {
                index: id.index(),
                graph: self.name.clone(),
            })
        }
    }

    /// Automatic names are the node index, made unique if a user took it.
    fn fresh_name(&self) -> String {
        self.fresh(self.nodes.len().to_string())
    }

    /// `base`, or the first free `base_<k>`.
    pub(crate) fn fresh(&self, base: String) -> String {
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
            return Err(IrError::TooLarge {
                name,
                shape: ty.shape,
            });
        }
        if self.by_name.contains_key(&name) {
            return Err(IrError::DuplicateName { name });
        }
        let id = ValueId::new(self.nodes.len());
        self.by_name.insert(name.clone(), id);
        self.nodes.push(Node { name, ty, kind });
        Ok(id)
    }
}

/// The rules of `update target <- value` against the updates declared before.
pub(crate) fn check_update(
    graph: &Graph,
    target: ValueId,
    value: ValueId,
    earlier: &[Update],
) -> Result<()> {
    let t = graph.node(target);
    if !matches!(t.kind, NodeKind::Arg(Role::Param | Role::State)) {
        return Err(IrError::bad_update(&t.name, UpdateProblem::NotParamOrState));
    }
    if t.ty != *graph.ty(value) {
        return Err(IrError::bad_update(
            &t.name,
            UpdateProblem::TypeMismatch {
                value: graph.value_name(value).to_string(),
                value_ty: graph.ty(value).clone(),
                target_ty: t.ty.clone(),
            },
        ));
    }
    if earlier.iter().any(|u| u.target == target) {
        return Err(IrError::bad_update(&t.name, UpdateProblem::Repeated));
    }
    Ok(())
}

/// True for characters allowed in value and output names.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Err(IrError::InvalidName { name: name.into() });
    }
    Ok(())
}
