//! Each window's leading tap per channel while a window is scanned, and the
//! per-thread buffers that hold it.

use std::cell::RefCell;

use super::PoolDesc;

/// `f` with this thread's [`Winners`], sized for `d`. They live as long
/// as the thread (the executable's pool threads live as long as it), so a
/// steady-state step allocates nothing; a nested call on the same thread
/// (a task stolen while `f` waits, which the routines never do) gets fresh
/// ones.
pub(super) fn with_winners<R>(d: &PoolDesc, f: impl FnOnce(&mut Winners) -> R) -> R {
    thread_local! {
        static WINNERS: RefCell<Winners> = RefCell::new(Winners::default());
    }
    WINNERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut winners) => {
            winners.size_for(d);
            f(&mut winners)
        }
        Err(_) => {
            let mut winners = Winners::default();
            winners.size_for(d);
            f(&mut winners)
        }
    })
}

/// Starts every thread of `pool` and sizes its [`Winners`] for each of
/// `descs` in turn (so for the largest): the executable calls this once when
/// it is built, so that no step allocates winners, whichever threads its
/// windows land on and however late a thread first gets one.
pub fn warm_threads(pool: &rayon::ThreadPool, descs: &[PoolDesc]) {
    pool.broadcast(|_| {
        for d in descs {
            with_winners(d, |_| ());
        }
    });
}

/// Per channel, the number of the best tap so far and its value; the
/// window's taps' image offsets (`None` in the padding).
#[derive(Default)]
pub(super) struct Winners {
    pub(super) tap: Vec<u32>,
    pub(super) value: Vec<f32>,
    pub(super) offsets: Vec<Option<usize>>,
}

impl Winners {
    /// `d.c` leaders and `d.kh * d.kw` offsets (allocating only to grow).
    pub(super) fn size_for(&mut self, d: &PoolDesc) {
        self.tap.clear();
        self.tap.resize(d.c, 0);
        self.value.clear();
        self.value.resize(d.c, 0.0);
        self.offsets.clear();
        self.offsets.resize(d.kh * d.kw, None);
    }

    /// Tap `t` (at `base`, channels `x_c` apart), the window's first in
    /// the image, leads.
    pub(super) fn start(&mut self, x: &[f32], base: usize, x_c: usize, t: u32) {
        self.tap.fill(t);
        if x_c == 1 {
            let c = self.value.len();
            self.value.copy_from_slice(&x[base..base + c]);
            return;
        }
        for (ch, value) in self.value.iter_mut().enumerate() {
            *value = x[base + ch * x_c];
        }
    }

    /// Tap `t` (one value per channel) takes the lead where it beats the
    /// leader: greater, or NaN over a number. Equal values keep the
    /// earlier tap.
    pub(super) fn challenge(&mut self, taps: &[f32], t: u32) {
        let c = self.tap.len();
        let (tap, value, taps) = (&mut self.tap[..c], &mut self.value[..c], &taps[..c]);
        for ch in 0..c {
            let (tap, value) = (&mut tap[ch], &mut value[ch]);
            beat(tap, value, taps[ch], t);
        }
    }

    /// [`Winners::challenge`] with channels `x_c` apart (NCHW).
    pub(super) fn challenge_strided(&mut self, x: &[f32], base: usize, x_c: usize, t: u32) {
        for (ch, (tap, value)) in self.tap.iter_mut().zip(&mut self.value).enumerate() {
            beat(tap, value, x[base + ch * x_c], t);
        }
    }
}

/// Tap `t` with value `v` takes the lead from (`tap`, `value`) when `v` is
/// greater or NaN over a number. Masks and bit selects, no branch (nor
/// short-circuit), so the channel loop vectorizes: written with `if`, each
/// lane became a branch and a conditional store.
#[inline(always)]
fn beat(tap: &mut u32, value: &mut f32, v: f32, t: u32) {
    let wins = (v > *value) | (v.is_nan() & !value.is_nan());
    let mask = (wins as u32).wrapping_neg();
    *tap ^= (*tap ^ t) & mask;
    let bits = value.to_bits();
    // A select of bits keeps NaN payloads (the interpreter copies them).
    *value = f32::from_bits(bits ^ ((bits ^ v.to_bits()) & mask));
}
