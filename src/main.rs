//! `triceratops`: summary, compile, train, eval and predict from the shell.

use std::process::ExitCode;

use clap::Parser;
use triceratops::cli::{run, Cli};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
