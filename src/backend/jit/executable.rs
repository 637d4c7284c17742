//! The JIT's executable: its code, its own memory and threads, and the
//! step that fills the base-pointer table, runs the code and copies the
//! outputs into arrays it owns.

use std::sync::Arc;
use std::time::Duration;

use ndarray::{ArrayD, ArrayViewD};

use super::code::Code;
use super::codegen::Descriptors;
use super::plan::memory::{Loc, Region};
use super::Profile;
use crate::backend::{check_run, Executable};
use crate::compile::Signature;
use crate::error::Result;
use crate::state::{StateLayout, StateStore};

/// A compiled graph: its code, the memory the code was compiled against,
/// and where to read each output.
pub(super) struct Compiled {
    pub(super) code: Code,
    /// Read by the code through addresses embedded in it.
    pub(super) _descriptors: Descriptors,
    /// The executable's own threads (`threads > 1`), alive as long as it.
    pub(super) pool: Option<rayon::ThreadPool>,
    pub(super) arena: Vec<f32>,
    pub(super) consts: Vec<f32>,
    /// Where each output is, and its array (rewritten by every run).
    pub(super) output_locs: Vec<Loc>,
    pub(super) outputs: Vec<ArrayD<f32>>,
    pub(super) signature: Signature,
    pub(super) layout: Arc<StateLayout>,
    /// The base-pointer table, refilled each run (its capacity is kept).
    pub(super) bases: Vec<*mut f32>,
    /// Contiguous copies of batch arrays that arrive strided.
    pub(super) copies: Vec<Vec<f32>>,
    /// Per-kernel times, when compiled with profiling.
    pub(super) profile: Option<Profile>,
    /// Scratch for one run's kernel times.
    pub(super) timers: Vec<Duration>,
    /// How long each compile phase took.
    pub(super) phases: Vec<(&'static str, Duration)>,
}

impl Compiled {
    /// Copies the outputs that live in the state region (`early`, before
    /// the code runs) or elsewhere (after it) into their arrays.
    fn read_outputs(&mut self, batch: &[ArrayViewD<f32>], state: &StateStore, early: bool) {
        for (out, loc) in self.outputs.iter_mut().zip(&self.output_locs) {
            if (loc.region == Region::State) != early {
                continue;
            }
            let n = out.len();
            let data = match loc.region {
                Region::Arena => &self.arena[loc.offset..loc.offset + n],
                Region::State => &state.as_slice()[loc.offset..loc.offset + n],
                Region::Const => &self.consts[loc.offset..loc.offset + n],
                Region::Batch(k) => match batch[k].as_slice() {
                    Some(s) => &s[..n],
                    None => &self.copies[k][..n],
                },
            };
            out.as_slice_mut()
                .expect("outputs are standard-layout")
                .copy_from_slice(data);
        }
    }
}

impl Executable for Compiled {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn outputs(&self) -> &[ArrayD<f32>] {
        &self.outputs
    }

    fn run_in_place(&mut self, batch: &[ArrayViewD<f32>], state: &mut StateStore) -> Result<bool> {
        check_run(&self.signature, &self.layout, batch, state)?;
        // The code reads batch arrays as contiguous row-major buffers.
        for (a, copy) in batch.iter().zip(&mut self.copies) {
            copy.clear();
            if a.as_slice().is_none() {
                copy.extend(a.iter().copied());
            }
        }
        // An output in the state region is a state argument: its value as
        // of the step's start, read before the code updates the store.
        self.read_outputs(batch, state, true);
        self.bases.clear();
        self.bases.extend([
            self.arena.as_mut_ptr(),
            state.as_mut_slice().as_mut_ptr(),
            self.consts.as_ptr() as *mut f32,
        ]);
        for (a, copy) in batch.iter().zip(&self.copies) {
            let data = match a.as_slice() {
                Some(s) => s.as_ptr(),
                None => copy.as_ptr(),
            };
            // Batch arrays and constants are only read by the code.
            self.bases.push(data as *mut f32);
        }
        let timers = self.profile.is_some().then_some(&mut self.timers[..]);
        // check_run verified every batch array's shape against the signature
        // and that `state` has the layout this code was compiled for; the
        // arena and constants are this executable's own, sized by the same
        // memory plan as the code.
        // SAFETY: `bases` points at exactly those regions, all borrowed
        // until `run` returns.
        let committed = unsafe { self.code.run(self.pool.as_ref(), &self.bases, timers) };
        if let Some(profile) = &mut self.profile {
            for (k, t) in profile.kernels.iter_mut().zip(&mut self.timers) {
                k.samples.push(std::mem::take(t));
            }
        }
        self.read_outputs(batch, state, false);
        Ok(committed)
    }

    fn profile(&self) -> Option<Profile> {
        self.profile.clone()
    }

    fn compile_phases(&self) -> Vec<(&'static str, Duration)> {
        self.phases.clone()
    }
}
