//! `triceratops`: summary, compile, train, eval, predict and bench from the shell.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use triceratops::cli::memory::Counting;
use triceratops::cli::{run, Cli};

// The interpreter allocates every value of every step and frees them all at
// its end; glibc's malloc then returns the top of the heap to the OS and
// faults it back in on the next step (measured: the mnist-mlp interpreter
// step takes 2.2x as long with it, see BENCHMARKS.md). mimalloc keeps the
// pages. `Counting` adds two relaxed atomic updates per allocation, so that
// `bench` can report each backend's peak heap memory.
#[global_allocator]
static ALLOCATOR: Counting<mimalloc::MiMalloc> = Counting(mimalloc::MiMalloc);

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `eprintln!` would panic on a closed stderr; the exit code says it all then.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
