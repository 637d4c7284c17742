//! Row fusion: a run of consecutive kernels over one `[rows, cols]`
//! iteration space becomes one [`RowsKernel`] that runs
//! `for r in 0..rows { pass over the columns; row scalars; pass; ... }`,
//! so each row's data stays in registers and L1 and the ~25 tiny kernels
//! of a loss, a metric or a gradient-norm check are one call.
//!
//! Members (in plan order; nothing is moved, so the order is the plan's):
//! - an elementwise map over the space: shape `[rows, cols]`, or `[rows *
//!   cols]` (split), or `[cols]` when `rows == 1`, every access stepping
//!   by 0 or 1 element along the columns (vectorizable);
//! - a map over `[rows]`: once per row, on row scalars;
//! - a fill with the identity and its reduction over the columns of
//!   `[rows, cols]` (or over `[cols]` when `rows == 1`): a row scalar;
//! - a fill and its reduction of a `[rows]` value to one element,
//!   accumulated across the row loop in index order (the interpreter's).
//!
//! A group is seeded by a row reduction, which fixes `(rows, cols)`,
//! extends backwards over kernels whose shapes fit, then admits kernels
//! forwards until one does not fit. A member may read a value the group
//! computes only at its own row (an element value at `[cols, 1]`, a row
//! scalar at `[1, 0]`), never a total, and writes every output at its own
//! row: executing the members row by row is then the same as executing
//! them one after the other. Updates' values stay out (they are written
//! in place by the memory plan). A producer map feeding a reduction is the
//! `rows == 1` (full) or `[rows, cols]` (row) case of the same rule: its
//! element values are computed and reduced in one loop.
//!
//! Values of the group that nothing outside it reads (not even the
//! graph's outputs) are internal: never written to a buffer, so they leave
//! the arena. An internal element value read in a later pass of its row is
//! stashed in `cols` elements of kernel scratch; row scalars stay in
//! registers. Consecutive element members form one pass over the columns
//! (phases below) unless a member reads a row scalar reduced in that pass.

use std::collections::HashSet;

use crate::ir::{Graph, ValueId};

use super::{Access, Kernel, MapKernel, ReduceKernel, ReduceOp, Strided};

/// A fused run of row-wise kernels. Accesses step `[row, col]` (the
/// column stride 0 or 1; row steps' column stride 0); for `rows == 1` the
/// row strides are 0.
#[derive(Clone, Debug, PartialEq)]
pub struct RowsKernel {
    pub rows: usize,
    pub cols: usize,
    pub steps: Vec<RowStep>,
    /// Values computed but never written to a buffer.
    pub internal: Vec<ValueId>,
    /// Internal element values kept for a later pass, `cols` elements of
    /// scratch each, in this order.
    pub stashed: Vec<ValueId>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RowStep {
    /// Elementwise over a row's columns (shape `[rows, cols]`).
    Map(MapKernel),
    /// Once per row (shape `[rows]`).
    RowMap(MapKernel),
    /// `out[r] = identity op x[r, 0] op ... op x[r, cols - 1]`.
    Reduce {
        op: ReduceOp,
        input: Access,
        out: ValueId,
    },
    /// `out = identity op x[0] op ... op x[rows - 1]` of a row scalar.
    Total {
        op: ReduceOp,
        input: Access,
        out: ValueId,
    },
}

/// How one row is computed: passes over the columns (step indices) and
/// single row steps, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    Pass(Vec<usize>),
    Row(usize),
}

impl RowStep {
    pub fn inputs(&self) -> Vec<&Access> {
        match self {
            RowStep::Map(m) | RowStep::RowMap(m) => m.inputs.iter().collect(),
            RowStep::Reduce { input, .. } | RowStep::Total { input, .. } => vec![input],
        }
    }

    pub fn outputs(&self) -> Vec<ValueId> {
        match self {
            RowStep::Map(m) | RowStep::RowMap(m) => m.outputs.iter().map(|a| a.value).collect(),
            RowStep::Reduce { out, .. } | RowStep::Total { out, .. } => vec![*out],
        }
    }
}

impl RowsKernel {
    /// Every value the kernel computes, in registers or to a buffer.
    pub fn produced(&self) -> Vec<ValueId> {
        self.steps.iter().flat_map(RowStep::outputs).collect()
    }

    /// Values read from outside the kernel.
    pub fn reads(&self) -> Vec<ValueId> {
        let produced = self.produced();
        let mut reads: Vec<ValueId> = Vec::new();
        for a in self.steps.iter().flat_map(RowStep::inputs) {
            if !produced.contains(&a.value) && !reads.contains(&a.value) {
                reads.push(a.value);
            }
        }
        reads
    }

    /// Values written to their buffers.
    pub fn writes(&self) -> Vec<ValueId> {
        let mut produced = self.produced();
        produced.retain(|v| !self.internal.contains(v));
        produced
    }

    /// The phases of one row: consecutive element steps share a pass
    /// unless one reads a row scalar reduced in that pass.
    pub fn phases(&self) -> Vec<Phase> {
        let mut phases = Vec::new();
        let mut pass: Vec<usize> = Vec::new();
        let mut reduced_here: Vec<ValueId> = Vec::new();
        let close = |phases: &mut Vec<Phase>, pass: &mut Vec<usize>, here: &mut Vec<ValueId>| {
            if !pass.is_empty() {
                phases.push(Phase::Pass(std::mem::take(pass)));
            }
            here.clear();
        };
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                RowStep::Map(_) | RowStep::Reduce { .. } => {
                    if step
                        .inputs()
                        .iter()
                        .any(|a| reduced_here.contains(&a.value))
                    {
                        close(&mut phases, &mut pass, &mut reduced_here);
                    }
                    pass.push(i);
                    if let RowStep::Reduce { out, .. } = step {
                        reduced_here.push(*out);
                    }
                }
                RowStep::RowMap(_) | RowStep::Total { .. } => {
                    close(&mut phases, &mut pass, &mut reduced_here);
                    phases.push(Phase::Row(i));
                }
            }
        }
        close(&mut phases, &mut pass, &mut reduced_here);
        phases
    }
}

/// Where a value the group computes lives in the row space.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Element,
    Row,
    Total,
}

/// A group being admitted.
struct Group<'a> {
    rows: usize,
    cols: usize,
    buffer_of: &'a [ValueId],
    updates: &'a HashSet<ValueId>,
    steps: Vec<RowStep>,
    produced: Vec<(ValueId, Kind)>,
}

/// Replaces every maximal run of row-wise kernels with a [`RowsKernel`].
pub fn fuse_rows(graph: &Graph, kernels: &mut Vec<Kernel>, buffer_of: &[ValueId]) {
    let updates: HashSet<ValueId> = graph.updates().iter().map(|u| u.value).collect();
    let mut groups: Vec<(usize, usize, RowsKernel)> = Vec::new();
    let mut start = 0;
    while let Some((s, rows, cols)) =
        (start..kernels.len()).find_map(|k| seed(&kernels[k]).map(|(r, c)| (k, r, c)))
    {
        let mut b = s;
        while b > start && fits(&kernels[b - 1], kernels.get(b), rows, cols) {
            b -= 1;
        }
        let found = loop {
            let mut g = Group {
                rows,
                cols,
                buffer_of,
                updates: &updates,
                steps: Vec::new(),
                produced: Vec::new(),
            };
            let mut e = b;
            while let Some(n) = g.admit(kernels, e) {
                e += n;
            }
            if e > s {
                break Some((e, g));
            }
            if e + 1 >= s {
                break None;
            }
            b = e + 1;
        };
        match found {
            Some((e, g)) => {
                groups.push((b, e, g.finish()));
                start = e;
            }
            None => start = s + 1,
        }
    }
    if groups.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(kernels.len());
    let mut next = 0;
    for (b, e, g) in groups {
        out.extend(kernels[next..b].iter().cloned());
        out.push(Kernel::Rows(g));
        next = e;
    }
    out.extend(kernels[next..].iter().cloned());
    *kernels = out;
    settle_internals(graph, kernels, buffer_of);
}

/// The `(rows, cols)` a reduction over the last axis seeds.
fn seed(k: &Kernel) -> Option<(usize, usize)> {
    match k {
        Kernel::Reduce(r) => match (r.extents.as_slice(), r.reduced.as_slice()) {
            (&[rows, cols], [false, true]) => Some((rows, cols)),
            (&[cols], [true]) => Some((1, cols)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `k` (followed by `next`) could be a member, by shape alone.
fn fits(k: &Kernel, next: Option<&Kernel>, rows: usize, cols: usize) -> bool {
    match k {
        Kernel::Map(m) => map_kind(&m.shape, rows, cols).is_some(),
        Kernel::Fill { out, .. } => matches!(next, Some(Kernel::Reduce(r))
            if r.out == *out && reduce_kind(r, rows, cols).is_some()),
        _ => false,
    }
}

/// A map of `shape` as an element or row member, or neither.
fn map_kind(shape: &[usize], rows: usize, cols: usize) -> Option<Kind> {
    match *shape {
        [r, c] if r == rows && c == cols => Some(Kind::Element),
        [n] if rows > 1 && n == rows * cols => Some(Kind::Element),
        [n] if rows == 1 && n == cols => Some(Kind::Element),
        [n] if n == rows => Some(Kind::Row),
        _ => None,
    }
}

/// A reduction as a row reduction (its output a row scalar) or a total.
fn reduce_kind(r: &ReduceKernel, rows: usize, cols: usize) -> Option<Kind> {
    match (r.extents.as_slice(), r.reduced.as_slice()) {
        (&[a, b], [false, true]) if a == rows && b == cols && rows > 1 => Some(Kind::Row),
        (&[n], [true]) if rows == 1 && n == cols => Some(Kind::Row),
        (&[n], [true]) if rows > 1 && n == rows => Some(Kind::Total),
        _ => None,
    }
}

impl Group<'_> {
    /// The `[row, col]` strides of an element or row value at its own row.
    fn own(&self, kind: Kind) -> Vec<isize> {
        let row = |s: usize| if self.rows == 1 { 0 } else { s as isize };
        match kind {
            Kind::Element => vec![row(self.cols), 1],
            _ => vec![row(1), 0],
        }
    }

    fn kind_of(&self, v: ValueId) -> Option<Kind> {
        self.produced.iter().find(|(p, _)| *p == v).map(|&(_, k)| k)
    }

    /// `a` (over a member of `kind`) in `[row, col]` form, its value the
    /// buffer it reads, if the member may read it.
    fn read(&self, a: &Access, shape: &[usize], kind: Kind) -> Option<Access> {
        let mut a = self.restride(a, shape, kind);
        a.value = self.buffer_of[a.value.index()];
        let ok = match self.kind_of(a.value) {
            None => kind != Kind::Element || matches!(a.at.strides[1], 0 | 1),
            Some(Kind::Total) => false,
            Some(k) => {
                (k == kind || k == Kind::Row) && a.at.offset == 0 && a.at.strides == self.own(k)
            }
        };
        ok.then_some(a)
    }

    /// `a`, over a member of `shape`, with `[row, col]` strides.
    fn restride(&self, a: &Access, shape: &[usize], kind: Kind) -> Access {
        let s = &a.at.strides;
        let mut strides = match (kind, shape.len()) {
            (Kind::Element, 2) => s.clone(),
            (Kind::Element, _) if self.rows > 1 => vec![s[0] * self.cols as isize, s[0]],
            (Kind::Element, _) => vec![0, s[0]],
            _ => vec![s[0], 0],
        };
        if self.rows == 1 {
            strides[0] = 0;
        }
        Access {
            value: a.value,
            at: Strided {
                offset: a.at.offset,
                strides,
            },
        }
    }

    /// Admits the kernel at `k` (with a fill, its reduction too): how many
    /// kernels it took, or `None` if it cannot be a member.
    fn admit(&mut self, kernels: &[Kernel], k: usize) -> Option<usize> {
        match kernels.get(k)? {
            Kernel::Fill { out, value } => {
                let Some(Kernel::Reduce(r)) = kernels.get(k + 1) else {
                    return None;
                };
                if r.out != *out || value.to_bits() != r.op.identity().to_bits() {
                    return None;
                }
                let kind = reduce_kind(r, self.rows, self.cols)?;
                let (shape, in_kind) = match kind {
                    Kind::Row => (vec![self.rows, self.cols], Kind::Element),
                    _ => (vec![self.rows], Kind::Row),
                };
                let contiguous = Access {
                    value: r.input,
                    at: Strided {
                        offset: 0,
                        strides: super::contiguous_strides(&shape),
                    },
                };
                let input = self.read(&contiguous, &shape, in_kind)?;
                self.claim(r.out, kind)?;
                self.steps.push(match kind {
                    Kind::Row => RowStep::Reduce {
                        op: r.op,
                        input,
                        out: r.out,
                    },
                    _ => RowStep::Total {
                        op: r.op,
                        input,
                        out: r.out,
                    },
                });
                Some(2)
            }
            Kernel::Map(m) => {
                let kind = map_kind(&m.shape, self.rows, self.cols)?;
                let inputs = m
                    .inputs
                    .iter()
                    .map(|a| self.read(a, &m.shape, kind))
                    .collect::<Option<Vec<_>>>()?;
                let outputs: Vec<Access> = m
                    .outputs
                    .iter()
                    .map(|a| self.restride(a, &m.shape, kind))
                    .collect();
                for o in &outputs {
                    let own = o.at.offset == 0 && o.at.strides == self.own(kind);
                    if !own || self.buffer_of[o.value.index()] != o.value {
                        return None;
                    }
                }
                for o in &outputs {
                    self.claim(o.value, kind)?;
                }
                let shape = match kind {
                    Kind::Element => vec![self.rows, self.cols],
                    _ => vec![self.rows],
                };
                let map = MapKernel {
                    shape,
                    inputs,
                    body: m.body.clone(),
                    outputs,
                    results: m.results.clone(),
                };
                self.steps.push(match kind {
                    Kind::Element => RowStep::Map(map),
                    _ => RowStep::RowMap(map),
                });
                Some(1)
            }
            _ => None,
        }
    }

    /// Records `v` as computed by the group (not an update's value, which
    /// the memory plan writes in place).
    fn claim(&mut self, v: ValueId, kind: Kind) -> Option<()> {
        if self.updates.contains(&v) || self.kind_of(v).is_some() {
            return None;
        }
        self.produced.push((v, kind));
        Some(())
    }

    fn finish(self) -> RowsKernel {
        RowsKernel {
            rows: self.rows,
            cols: self.cols,
            steps: self.steps,
            internal: Vec::new(),
            stashed: Vec::new(),
        }
    }
}

/// Marks each group's values that nothing outside it reads (no other
/// kernel, no output or update) internal, and stashes the internal
/// element values a later pass reads.
fn settle_internals(graph: &Graph, kernels: &mut [Kernel], buffer_of: &[ValueId]) {
    let root = |v: ValueId| buffer_of[v.index()];
    let mut outside: Vec<HashSet<ValueId>> = Vec::new();
    for (g, kernel) in kernels.iter().enumerate() {
        if !matches!(kernel, Kernel::Rows(_)) {
            continue;
        }
        let mut read: HashSet<ValueId> = graph.outputs().iter().map(|(_, v)| root(*v)).collect();
        read.extend(graph.updates().iter().map(|u| root(u.value)));
        for (k, other) in kernels.iter().enumerate() {
            if k != g {
                read.extend(other.reads().into_iter().map(root));
            }
        }
        outside.push(read);
    }
    let groups = kernels.iter_mut().filter_map(|k| match k {
        Kernel::Rows(r) => Some(r),
        _ => None,
    });
    for (r, read) in groups.zip(outside) {
        r.internal = r
            .produced()
            .into_iter()
            .filter(|v| !read.contains(v))
            .collect();
        let phases = r.phases();
        let phase_of = |step: usize| {
            phases
                .iter()
                .position(|p| match p {
                    Phase::Pass(steps) => steps.contains(&step),
                    Phase::Row(s) => *s == step,
                })
                .expect("every step is in a phase")
        };
        let mut stashed = Vec::new();
        for (i, step) in r.steps.iter().enumerate() {
            let RowStep::Map(m) = step else { continue };
            for o in &m.outputs {
                let later = r.steps.iter().enumerate().any(|(j, s)| {
                    phase_of(j) > phase_of(i) && s.inputs().iter().any(|a| a.value == o.value)
                });
                if later && r.internal.contains(&o.value) {
                    stashed.push(o.value);
                }
            }
        }
        r.stashed = stashed;
    }
}
