//! `train ... | head -1` and `predict ... | head -1`: a reader that goes
//! away never makes the program panic. Training runs to its end and keeps
//! its checkpoints; predict stops printing and succeeds.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;

use crate::cli_support::{mnist_mlp_checkpoint, read_checkpoint, record};
use tempfile::TempDir;

/// Runs the binary in `dir`, reads the first line of its stdout, closes
/// the pipe, and returns the exit code and stderr.
fn first_line_then_close(dir: &Path, args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = Command::cargo_bin("triceratops")
        .expect("the triceratops binary is built")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut first = String::new();
    {
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut first).unwrap();
        // Dropping the reader closes the pipe, as `head -1` exits.
    }
    let output = child.wait_with_output().expect("the binary ends");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (first, output.status.code(), stderr)
}

#[test]
fn train_into_a_closed_pipe_finishes_and_saves() {
    let dir = TempDir::new().unwrap();
    let (first, code, stderr) = first_line_then_close(
        dir.path(),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--epochs",
            "3",
            "--limit",
            "300",
            "--save",
            "A.safetensors",
        ],
    );
    assert!(first.starts_with("training mnist_mlp"), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    let r = record(&read_checkpoint(&dir.path().join("A.safetensors")));
    assert_eq!(r["epochs_done"], 3, "every epoch trained and saved");
}

#[test]
fn predict_into_a_closed_pipe_stops_quietly() {
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    // 10,000 lines: far more than a pipe buffers, so writes after the
    // close do fail.
    let (first, code, stderr) = first_line_then_close(
        dir.path(),
        &[
            "predict",
            "--checkpoint",
            "A.safetensors",
            "--data",
            "mnist",
            "--count",
            "10000",
        ],
    );
    assert!(first.starts_with("sample 0: class "), "{first}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
}
