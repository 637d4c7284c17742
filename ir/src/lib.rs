//! `triceratops-ir`: the typed static graph IR of Triceratops and its meaning.
//!
//! - [`types`]: dtypes, shapes, tensor types;
//! - [`op`]: the op set and the op table (name, arity, class, attribute
//!   schema, properties of every op); [`infer`]: the shape rules of every op;
//! - [`graph`] and [`builder`]: graphs (values in topological order, a
//!   constant pool) and the typed constructors;
//! - [`verify()`]: the verifier; [`analysis`]: [`canonicalize()`] (DCE +
//!   hash-consing), users, liveness, Graphviz export (petgraph);
//! - [`text`]: the printer and parser of the text format;
//! - [`interp`]: the reference interpreter on ndarray, in f32 or f64;
//! - `testing` (feature `testing`): random graphs and inputs for property
//!   tests.

pub mod analysis;
pub mod autodiff;
pub mod builder;
pub mod error;
pub mod geometry;
pub mod graph;
pub mod infer;
pub mod interp;
pub mod op;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod types;
pub mod verify;

pub use analysis::canonicalize;
pub use autodiff::grad;
pub use error::UpdateProblem;
pub use error::{IrError, Result};
pub use graph::{ConstId, Constant, Graph, GraphParts, Node, NodeKind, Role, Update, ValueId};
pub use op::{
    AttrType, AttrValue, BinaryOp, CmpOp, ConvAttrs, Layout, Op, OpClass, OpKind, Padding,
    PoolAttrs, Props, UnaryOp,
};
pub use types::{DType, F32Bits, Shape, TensorType};
pub use verify::verify;
