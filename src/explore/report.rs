//! The data behind `triceratops explore`: every stage of one model's
//! compilation, the provenance links between stages, the pass report and
//! the per-kernel profile. Serialized as the page's embedded JSON and as
//! `--format json`; `html.rs` renders it.

use serde::Serialize;

pub use crate::compile::Origin;

/// Everything the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model: ModelInfo,
    /// The train step's arguments and outputs, in ABI order.
    pub signature: SignatureInfo,
    /// The model's layers, in order, with their parameters.
    pub layers: Vec<LayerInfo>,
    /// The forward pass with loss and metrics, before autodiff.
    pub forward: GraphStage,
    /// The whole train step after autodiff and canonicalization.
    pub train: GraphStage,
    /// The train step after the egg passes and fusion.
    pub optimized: GraphStage,
    /// The JIT's kernel plan for the optimized train step.
    pub kernels: KernelStage,
    /// One row per pass phase (empty with `--passes none`).
    pub passes: Vec<PassRow>,
    /// Per-kernel time on the JIT and the interpreter, when measured.
    pub profile: Option<ProfileInfo>,
    /// The optimized train step's dataflow graph, laid out.
    pub dataflow: Dataflow,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    /// The Keras-style `summary()` text.
    pub summary: String,
    /// E.g. `adam (keras), lr 0.001`.
    pub optimizer: String,
    pub loss: String,
    pub batch: usize,
    /// `default`, `fast-math` or `none`.
    pub passes: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct SignatureInfo {
    pub args: Vec<ArgInfo>,
    pub outputs: Vec<OutputInfo>,
    /// Names of the state arguments the step updates.
    pub updated: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ArgInfo {
    pub name: String,
    /// `x`, `y`, `step scalar lr`, `param`, `slot`, `step`, `noise`.
    pub role: String,
    /// E.g. `f32[128,784]`.
    pub ty: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputInfo {
    pub name: String,
    /// `loss`, `metric`, `prediction`, `finite`.
    pub role: String,
    pub ty: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    pub name: String,
    /// The Keras class, e.g. `Dense`.
    pub class: String,
    pub params: Vec<String>,
}

/// One graph in the text format with, per value, where its line is and
/// where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct GraphStage {
    /// The graph printed in the text format (`ir::text`).
    pub text: String,
    /// Every value of the graph, in graph order.
    pub values: Vec<ValueInfo>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ValueInfo {
    /// The value's name as printed (without `%`).
    pub name: String,
    /// The 0-based line of `text` that defines it.
    pub line: usize,
    /// The op (`matmul`, `fused`, ...), or `input`/`param`/`state`/`const`.
    pub op: String,
    /// Stages of origin: one for forward and train values; for optimized
    /// values the union over the train values they stand for.
    pub origins: Vec<Origin>,
    /// Layers the value belongs to (empty for the loss, metrics, guard and
    /// step count).
    pub layers: Vec<String>,
    /// The parameters whose update the value is part of (optimizer values).
    pub params: Vec<String>,
    /// The values of the previous stage this one stands for: for train
    /// values the forward value of the same name; for optimized values the
    /// train values the passes merged, rewrote or fused into it.
    pub from: Vec<String>,
    /// For optimized values: the index of the kernel that computes it
    /// (none for arguments, constants and free reshapes).
    pub kernel: Option<usize>,
}

/// The kernel plan, printed as `--emit kernels` prints it, with each
/// kernel's lines, values and CLIF.
#[derive(Clone, Debug, Serialize)]
pub struct KernelStage {
    pub text: String,
    pub kernels: Vec<KernelInfo>,
    /// Bytes of the arena (every intermediate, reused by liveness).
    pub arena_bytes: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct KernelInfo {
    pub index: usize,
    /// `k0`, `k1`, ... as in the text.
    pub name: String,
    /// `map`, `rows`, `matmul`, `conv2d`, ...
    pub kind: String,
    /// First and last 0-based lines of the kernel in `text`, inclusive.
    pub lines: (usize, usize),
    /// The optimized values the kernel computes (fused epilogues and rows
    /// intermediates included).
    pub values: Vec<String>,
    pub origins: Vec<Origin>,
    pub layers: Vec<String>,
    pub params: Vec<String>,
    /// The Cranelift IR of the kernel's functions (epilogue range functions
    /// included), in the order generated.
    pub clif: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PassRow {
    pub rule_set: String,
    pub iterations: usize,
    pub nodes: usize,
    pub classes: usize,
    pub stop: String,
    pub time_ms: f64,
    pub cost_before: String,
    pub cost_after: String,
    pub kernels_before: usize,
    pub kernels_after: usize,
    /// Rule name and applications, by name.
    pub fired: Vec<(String, usize)>,
}

/// Median time of the whole step on each backend and per kernel.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileInfo {
    pub steps: usize,
    pub threads: usize,
    pub jit_step_ms: f64,
    pub interp_step_ms: f64,
    pub kernels: Vec<KernelTime>,
    /// Interpreter time of nodes no kernel computes (free reshapes,
    /// arguments), so the interpreter column sums to its step.
    pub interp_unattributed_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct KernelTime {
    pub kernel: usize,
    pub jit_ms: f64,
    /// Share of the JIT step, 0..1.
    pub jit_share: f64,
    /// The interpreter's time for the same optimized values.
    pub interp_ms: f64,
    pub interp_share: f64,
}

/// A layered drawing of the optimized train step: one node per value
/// (arguments and constants included), edges from operand to user.
#[derive(Clone, Debug, Serialize)]
pub struct Dataflow {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<FlowNode>,
    pub edges: Vec<FlowEdge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlowNode {
    /// The optimized value's name.
    pub name: String,
    /// Short label: the op, or the name of an argument.
    pub label: String,
    /// Centre of the node's box.
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// The colour class: the value's first origin.
    pub origin: Origin,
}

#[derive(Clone, Debug, Serialize)]
pub struct FlowEdge {
    pub from: String,
    pub to: String,
    /// Polyline through the layers it crosses, start to end.
    pub points: Vec<(f64, f64)>,
}
