//! Standard output that survives a closed pipe. `println!` panics when the
//! reader went away (`train ... | head -1`); here a write that fails marks
//! stdout closed and the command goes on without it: training runs to its
//! end and keeps saving checkpoints, `predict` stops printing.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `args` and a newline to stdout; false when stdout is closed.
pub fn line(args: fmt::Arguments) -> bool {
    text(format_args!("{args}\n"))
}

/// Writes `args` to stdout as is; false when stdout is closed.
pub fn text(args: fmt::Arguments) -> bool {
    if CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// `println!` without the panic on a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
