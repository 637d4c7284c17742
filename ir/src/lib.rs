//! `triceratops-ir`: the typed static graph IR of Triceratops and its meaning.
//!
//! - [`types`]: dtypes, shapes, tensor types;
//! - [`op`]: the op set; [`infer`]: the shape rules of every op;
//! - [`graph`] and [`builder`]: graphs and the typed constructors;
//! - [`verify()`]: the verifier; [`analysis`]: DCE and Graphviz export (petgraph);
//! - [`text`]: the printer and parser of the text format;
//! - [`interp`]: the reference interpreter on ndarray, in f32 or f64.

pub mod analysis;
pub mod autodiff;
pub mod builder;
pub mod error;
pub mod geometry;
pub mod graph;
pub mod infer;
pub mod interp;
pub mod op;
pub mod text;
pub mod types;
pub mod verify;

pub use autodiff::grad;
pub use error::{IrError, Result};
pub use graph::{Graph, Node, NodeKind, Role, Update, ValueId};
pub use op::{BinaryOp, CmpOp, ConvAttrs, Layout, Op, Padding, PoolAttrs, UnaryOp};
pub use types::{DType, Shape, TensorType};
pub use verify::verify;
