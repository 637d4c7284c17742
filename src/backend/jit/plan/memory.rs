//! The memory plan: where every value lives, in what order the kernels run,
//! and which updates are written straight into the state store.
//!
//! - Arguments stay where the caller has them (a batch array, a state
//!   entry); constants are materialized once, at compile time.
//! - Every other buffer gets a place in one arena; two buffers share bytes
//!   only if their lifetimes (first write to last read over the schedule)
//!   do not overlap, so a kernel never writes over its own inputs.
//! - The train step runs in two phases. Phase 1 computes the loss, the
//!   metrics and the `finite` guard; phase 2 — the kernels producing the
//!   updates and everything downstream of them — runs only when the guard
//!   is exactly 1, so a diverging step leaves the store untouched. An
//!   update produced by a map kernel is written in place (the kernel's
//!   output is the state entry) when every read of the old entry is
//!   scheduled before that kernel or is the kernel's own same-index read;
//!   otherwise it is computed in the arena and copied in at the end.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ir::{Graph, NodeKind, ValueId};

use super::lower::Lowered;
use super::{Buf, Kernel};

/// Where an argument of the graph lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgPlace {
    /// The `k`-th batch array of a run.
    Batch(usize),
    /// The state store, from this element on.
    State(usize),
}

/// A memory region the generated code reaches through the run's table of
/// base pointers (slot [`Region::slot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    Arena,
    State,
    Const,
    Batch(usize),
}

impl Region {
    /// The region's index in the base-pointer table.
    pub fn slot(self) -> usize {
        match self {
            Region::Arena => 0,
            Region::State => 1,
            Region::Const => 2,
            Region::Batch(k) => 3 + k,
        }
    }
}

/// A buffer's first element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub region: Region,
    /// In f32 elements from the region's base.
    pub offset: usize,
}

/// What an arena buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    Value(ValueId),
    /// Workspace of the kernel at this schedule position.
    Scratch(usize),
    /// A copy stage.
    Stage(usize),
    /// Auxiliary buffer `a`: the winners a maxpool records for its
    /// gradients (tap numbers stored as bytes, rounded up to whole f32
    /// elements), live from the forward to the last gradient reading it.
    Aux(usize),
}

/// One arena buffer, for the `--emit kernels` listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArenaBuffer {
    pub owner: Owner,
    pub offset: usize,
    pub len: usize,
    /// First and last schedule position using it (inclusive).
    pub live: (usize, usize),
}

#[derive(Debug)]
pub struct MemoryPlan {
    /// The kernels in execution order.
    pub kernels: Vec<Kernel>,
    /// With a guard: the position where phase 2 starts.
    pub commit_at: Option<usize>,
    /// The `finite` output, read between the phases.
    pub guard: Option<ValueId>,
    /// Each value's buffer (`None` for values no kernel or output needs).
    pub locs: Vec<Option<Loc>>,
    /// Arena offset of each scheduled kernel's scratch space.
    pub scratch: Vec<Option<usize>>,
    /// Arena offset of each copy stage.
    pub stage_at: Vec<usize>,
    /// Arena offset of each auxiliary buffer.
    pub aux_at: Vec<usize>,
    pub arena_len: usize,
    pub arena: Vec<ArenaBuffer>,
    /// The constant region's contents.
    pub consts: Vec<f32>,
    /// Updates written in place, as (target argument, value).
    pub in_place: Vec<(ValueId, ValueId)>,
}

/// Elements are placed on 16-element (64-byte) boundaries: one cache line.
const ALIGN: usize = 16;

pub fn plan_memory(
    graph: &Graph,
    lowered: Lowered,
    args: &HashMap<ValueId, ArgPlace>,
    guard: Option<ValueId>,
) -> Result<MemoryPlan> {
    let Lowered { kernels, buffer_of } = lowered;
    let root = |v: ValueId| buffer_of[v.index()];
    let mut writers: HashMap<ValueId, Vec<usize>> = HashMap::new();
    for (k, kernel) in kernels.iter().enumerate() {
        for v in kernel.writes() {
            writers.entry(v).or_default().push(k);
        }
    }
    // Phase 2: the kernels of updates that can go in place, and everything
    // downstream of them.
    let updates = graph.updates();
    let mut candidates: Vec<(ValueId, ValueId, usize)> = Vec::new();
    for u in updates {
        let value_writers = writers.get(&u.value).map(Vec::as_slice).unwrap_or(&[]);
        let claimed = candidates.iter().any(|c| c.1 == u.value);
        if let ([k], false, true) = (value_writers, claimed, root(u.value) == u.value) {
            if matches!(kernels[*k], Kernel::Map(_)) {
                candidates.push((u.target, u.value, *k));
            }
        }
    }
    let mut phase2 = vec![false; kernels.len()];
    let mut late_values: Vec<bool> = vec![false; graph.len()];
    // Auxiliary buffers are read like values: a gradient whose pool runs
    // in phase 2 runs there too, after it.
    let mut late_aux: Vec<bool> = Vec::new();
    for &(_, _, k) in &candidates {
        phase2[k] = true;
    }
    for k in 0..kernels.len() {
        let aux = kernels[k].aux();
        if !phase2[k]
            && (kernels[k]
                .reads()
                .iter()
                .any(|v| late_values[root(*v).index()])
                || matches!(aux, Some((a, _, false)) if late_aux[a]))
        {
            phase2[k] = true;
        }
        if let Some((a, _, true)) = aux {
            late_aux.resize(late_aux.len().max(a + 1), false);
            late_aux[a] = phase2[k];
        }
        if phase2[k] {
            for v in kernels[k].writes() {
                late_values[v.index()] = true;
            }
        }
    }
    let needed_early = graph.outputs().iter().map(|(_, v)| *v).chain(guard);
    if needed_early
        .into_iter()
        .any(|v| late_values[root(v).index()])
    {
        // An output depends on an update: compute everything first and
        // copy the updates in at the end.
        phase2.iter_mut().for_each(|p| *p = false);
        candidates.clear();
    }
    let order: Vec<usize> = (0..kernels.len())
        .filter(|&k| !phase2[k])
        .chain((0..kernels.len()).filter(|&k| phase2[k]))
        .collect();
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &k)| (k, p)).collect();
    candidates.retain(|&(target, value, k)| {
        in_place_is_safe(
            &kernels, &order, &position, &phase2, &buffer_of, target, value, k,
        )
    });

    // The schedule: phase 1, phase 2, then the copies of the other updates.
    let commit_at = (!updates.is_empty()).then(|| order.iter().filter(|&&k| !phase2[k]).count());
    let commit_at = match guard {
        Some(_) => commit_at,
        None => None,
    };
    let mut scheduled: Vec<Kernel> = order.iter().map(|&k| kernels[k].clone()).collect();
    // The other updates are copied in at the end. A copy from a state
    // entry that is itself updated reads the entry's old value from a
    // stage written in phase 1, before anything is overwritten.
    let targets: Vec<ValueId> = updates.iter().map(|u| u.target).collect();
    let mut stages: Vec<(usize, usize)> = Vec::new();
    let mut copies = Vec::new();
    for u in updates {
        if candidates.iter().any(|c| c.0 == u.target) {
            continue;
        }
        let len = graph.ty(u.target).numel();
        let from = root(u.value);
        let from = if targets.contains(&from) {
            stages.push((0, len));
            scheduled.insert(
                0,
                Kernel::Copy {
                    from: Buf::Value(from),
                    to: Buf::Stage(stages.len() - 1),
                    len,
                },
            );
            Buf::Stage(stages.len() - 1)
        } else {
            Buf::Value(u.value)
        };
        copies.push(Kernel::Copy {
            from,
            to: Buf::Value(u.target),
            len,
        });
    }
    let commit_at = commit_at.map(|c| c + stages.len());
    scheduled.extend(copies);
    for (p, kernel) in scheduled.iter().enumerate() {
        match kernel {
            Kernel::Copy {
                to: Buf::Stage(s), ..
            } => stages[*s].0 = p,
            Kernel::Copy {
                from: Buf::Stage(s),
                ..
            } => stages[*s].1 = p,
            _ => {}
        }
    }

    // Locations: arguments, in-place updates, constants, then the arena.
    let mut locs: Vec<Option<Loc>> = vec![None; graph.len()];
    for (&v, place) in args {
        locs[v.index()] = Some(match *place {
            ArgPlace::Batch(k) => Loc {
                region: Region::Batch(k),
                offset: 0,
            },
            ArgPlace::State(offset) => Loc {
                region: Region::State,
                offset,
            },
        });
    }
    for &(target, value, _) in &candidates {
        locs[value.index()] = locs[target.index()];
    }
    let mut consts = Vec::new();
    let mut used: Vec<bool> = vec![false; graph.len()];
    for kernel in &scheduled {
        for v in kernel.reads().into_iter().chain(kernel.writes()) {
            used[root(v).index()] = true;
        }
    }
    for (_, v) in graph.outputs() {
        used[root(*v).index()] = true;
    }
    for id in graph.ids() {
        if let (NodeKind::Const(_), true) = (&graph.node(id).kind, used[id.index()]) {
            let constant = graph.const_value(id).expect("a constant");
            let numel = graph.ty(id).numel();
            consts.try_reserve(numel.next_multiple_of(ALIGN)).map_err(|_| {
                Error::Jit(format!(
                    "cannot allocate constant %{} ({} bytes): the graph is too large for this machine's memory",
                    graph.value_name(id),
                    numel.saturating_mul(4)
                ))
            })?;
            locs[id.index()] = Some(Loc {
                region: Region::Const,
                offset: consts.len(),
            });
            consts.extend((0..numel).map(|i| constant.get(i)));
            consts.resize(consts.len().next_multiple_of(ALIGN), 0.0);
        }
    }

    let end = scheduled.len();
    let mut live: HashMap<ValueId, (usize, usize)> = HashMap::new();
    for (p, kernel) in scheduled.iter().enumerate() {
        for v in kernel.writes().into_iter().chain(kernel.reads()) {
            let r = root(v);
            if locs[r.index()].is_none() {
                let span = live.entry(r).or_insert((p, p));
                span.1 = p;
            }
        }
    }
    // Outputs live to the end (an empty one, which no kernel writes, too).
    for (_, v) in graph.outputs() {
        let r = root(*v);
        if locs[r.index()].is_none() {
            live.entry(r).or_insert((end, end)).1 = end;
        }
    }
    let mut requests: Vec<(Owner, usize, (usize, usize))> = live
        .into_iter()
        .map(|(v, span)| (Owner::Value(v), graph.ty(v).numel(), span))
        .collect();
    for (p, kernel) in scheduled.iter().enumerate() {
        if kernel.scratch() > 0 {
            requests.push((Owner::Scratch(p), kernel.scratch(), (p, p)));
        }
    }
    for (s, &span) in stages.iter().enumerate() {
        requests.push((Owner::Stage(s), span_len(&scheduled, s), span));
    }
    // Each auxiliary buffer lives from its writer to its last reader.
    let mut auxes: Vec<(usize, (usize, usize))> = Vec::new();
    for (p, kernel) in scheduled.iter().enumerate() {
        if let Some((a, len, writes)) = kernel.aux() {
            if auxes.len() <= a {
                auxes.resize(a + 1, (0, (p, p)));
            }
            if writes {
                auxes[a] = (len, (p, p));
            } else {
                auxes[a].1 .1 = p;
            }
        }
    }
    for (a, &(len, span)) in auxes.iter().enumerate() {
        requests.push((Owner::Aux(a), len, span));
    }
    requests.sort_by_key(|&(owner, len, span)| (span.0, std::cmp::Reverse(len), owner));
    let arena = allocate(&requests);
    let arena_len = arena
        .iter()
        .map(|b| b.offset.saturating_add(b.len))
        .max()
        .unwrap_or(0);
    let mut scratch = vec![None; scheduled.len()];
    let mut stage_at = vec![0; stages.len()];
    let mut aux_at = vec![0; auxes.len()];
    for b in &arena {
        match b.owner {
            Owner::Value(v) => {
                locs[v.index()] = Some(Loc {
                    region: Region::Arena,
                    offset: b.offset,
                })
            }
            Owner::Scratch(p) => scratch[p] = Some(b.offset),
            Owner::Stage(s) => stage_at[s] = b.offset,
            Owner::Aux(a) => aux_at[a] = b.offset,
        }
    }
    for id in graph.ids() {
        if root(id) != id {
            locs[id.index()] = locs[root(id).index()];
        }
    }
    Ok(MemoryPlan {
        kernels: scheduled,
        commit_at,
        guard,
        locs,
        scratch,
        stage_at,
        aux_at,
        arena_len,
        arena,
        consts,
        in_place: candidates.iter().map(|&(t, v, _)| (t, v)).collect(),
    })
}

/// Whether kernel `k` may write `value` straight into `target`'s entry:
/// every other read of the old entry runs before `k`, and `k`'s own reads
/// of it are at the element it writes.
#[allow(clippy::too_many_arguments)]
fn in_place_is_safe(
    kernels: &[Kernel],
    order: &[usize],
    position: &HashMap<usize, usize>,
    phase2: &[bool],
    buffer_of: &[ValueId],
    target: ValueId,
    value: ValueId,
    k: usize,
) -> bool {
    let Kernel::Map(map) = &kernels[k] else {
        return false;
    };
    let written = map
        .outputs
        .iter()
        .find(|o| o.value == value)
        .expect("the kernel writes the update's value");
    let own_reads_ok = map
        .inputs
        .iter()
        .filter(|i| buffer_of[i.value.index()] == target)
        .all(|i| i.at == written.at);
    let later_reads = order.iter().any(|&j| {
        j != k
            && phase2[j]
            && position[&j] > position[&k]
            && kernels[j]
                .reads()
                .iter()
                .any(|v| buffer_of[v.index()] == target)
    });
    own_reads_ok && !later_reads
}

/// First fit by offset: each request takes the lowest aligned offset where
/// it overlaps no placed buffer whose lifetime meets its own.
fn allocate(requests: &[(Owner, usize, (usize, usize))]) -> Vec<ArenaBuffer> {
    let mut placed: Vec<ArenaBuffer> = Vec::new();
    for &(owner, len, live) in requests {
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|b| b.live.0 <= live.1 && live.0 <= b.live.1)
            .map(|b| (b.offset, b.offset.saturating_add(b.len)))
            .collect();
        busy.sort_unstable();
        let mut offset: usize = 0;
        // Saturating: a plan too large for memory fails to allocate later,
        // with a message, instead of overflowing here.
        for (start, stop) in busy {
            if offset.saturating_add(len) <= start {
                break;
            }
            offset = offset.max(stop.saturating_add(ALIGN - 1) / ALIGN * ALIGN);
        }
        placed.push(ArenaBuffer {
            owner,
            offset,
            len,
            live,
        });
    }
    placed
}

/// The length of copy stage `s` (its staging copy's).
fn span_len(scheduled: &[Kernel], s: usize) -> usize {
    scheduled
        .iter()
        .find_map(|k| match k {
            Kernel::Copy {
                to: Buf::Stage(t),
                len,
                ..
            } if *t == s => Some(*len),
            _ => None,
        })
        .expect("every stage is written")
}
