//! Heap accounting for `triceratops bench`: [`Counting`] wraps the global
//! allocator (the binary installs `Counting(mimalloc::MiMalloc)`, see
//! src/main.rs) and keeps the bytes in use and their peak in two atomics.
//!
//! The counts are of bytes requested (`Layout::size`), not of pages the
//! allocator holds, so they measure what the program asks for, whatever
//! the allocator caches. Without the wrapper installed (a library user's
//! program) nothing is counted and [`counting`] is false.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// A global allocator counting the heap bytes in use through `A`.
pub struct Counting<A>(pub A);

fn grow(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    let now = CURRENT.fetch_add(bytes, Relaxed).wrapping_add(bytes);
    PEAK.fetch_max(now, Relaxed);
}

fn shrink(bytes: usize) {
    CURRENT.fetch_sub(bytes, Relaxed);
}

// SAFETY: every method forwards to `A` unchanged; the counters only
// observe the sizes, and never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    // SAFETY: the `GlobalAlloc` contract, forwarded unchanged to the inner
    // allocator; counting touches only atomics.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    // SAFETY: the `GlobalAlloc` contract, forwarded unchanged to the inner
    // allocator; counting touches only atomics.
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    // SAFETY: the `GlobalAlloc` contract, forwarded unchanged to the inner
    // allocator; counting touches only atomics.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let old = layout.size();
            if new_size >= old {
                grow(new_size - old);
            } else {
                shrink(old - new_size);
            }
        }
        p
    }
}

/// Whether [`Counting`] is the global allocator (it has counted something).
pub fn counting() -> bool {
    PEAK.load(Relaxed) > 0
}

/// Heap bytes in use now.
pub fn current_bytes() -> usize {
    CURRENT.load(Relaxed)
}

/// Starts a new peak at the bytes in use now, and returns them: the
/// baseline to subtract from [`peak_bytes`].
pub fn reset_peak() -> usize {
    let now = CURRENT.load(Relaxed);
    PEAK.store(now, Relaxed);
    now
}

/// The most heap bytes in use since the last [`reset_peak`] (or the start).
pub fn peak_bytes() -> usize {
    PEAK.load(Relaxed)
}

/// Allocations (and growing reallocations) since the program started.
pub fn allocations() -> usize {
    ALLOCATIONS.load(Relaxed)
}
