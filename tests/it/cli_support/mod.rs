//! Helpers shared by the `cli_*` integration tests: running the
//! `triceratops` binary (`assert_cmd`) and checking its output, exit code and
//! the folders it writes to, and reading and writing checkpoints as plain
//! safetensors data.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn keras_fixture(name: &str) -> String {
    path_str(&root().join("tests/fixtures/keras").join(name))
}

pub fn path_str(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_string()
}

pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary in `dir` (the package root when `None`).
pub fn run_in(dir: Option<&Path>, args: &[&str]) -> Out {
    let mut cmd = Command::cargo_bin("triceratops").expect("the triceratops binary is built");
    cmd.current_dir(dir.unwrap_or(root())).args(args);
    let output = cmd.output().expect("the binary runs");
    let out = Out {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "`triceratops {}` panicked:\n{}",
        args.join(" "),
        out.stderr
    );
    out
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok_in(dir: Option<&Path>, args: &[&str]) -> String {
    let out = run_in(dir, args);
    assert_eq!(
        out.code,
        Some(0),
        "`triceratops {}` failed:\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out.stdout
}

pub fn ok(args: &[&str]) -> String {
    ok_in(None, args)
}

/// Runs a command that must fail with the program's own error (exit code 1,
/// not clap's usage error 2 nor a panic's 101): stderr starts with `error:`
/// and contains every needle. Returns the whole output.
pub fn fails_in(dir: Option<&Path>, args: &[&str], needles: &[&str]) -> Out {
    let out = run_in(dir, args);
    let cmd = format!("`triceratops {}`", args.join(" "));
    assert_eq!(
        out.code,
        Some(1),
        "{cmd} should fail with exit code 1:\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.starts_with("error: "),
        "{cmd}: stderr should start with `error: `:\n{}",
        out.stderr
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{cmd}: stderr should mention `{needle}`:\n{}",
            out.stderr
        );
    }
    out
}

/// As [`fails_in`], for input rejected before any training starts: nothing
/// at all on stdout.
pub fn rejected_in(dir: Option<&Path>, args: &[&str], needles: &[&str]) -> String {
    let out = fails_in(dir, args, needles);
    assert_eq!(
        out.stdout,
        "",
        "`triceratops {}` should print nothing on stdout",
        args.join(" ")
    );
    out.stderr
}

pub fn rejected(args: &[&str], needles: &[&str]) -> String {
    rejected_in(None, args, needles)
}

/// Every entry of a folder (hidden ones too), sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that `dir` is empty: no checkpoint, no temp files.
#[track_caller]
pub fn assert_no_files(dir: &Path) {
    assert_eq!(
        entries(dir),
        Vec::<String>::new(),
        "no checkpoint, no temp files"
    );
}

/// A checkpoint as plain data: tensors (dtype, shape, bytes) and metadata.
#[derive(Debug, PartialEq)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
    pub metadata: BTreeMap<String, String>,
}

pub fn read_checkpoint(path: &Path) -> Checkpoint {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(name, v)| (name, (v.dtype(), v.shape().to_vec(), v.data().to_vec())))
        .collect();
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("a safetensors header");
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Checkpoint { tensors, metadata }
}

pub fn write_checkpoint(path: &Path, ck: &Checkpoint) {
    let views: Vec<(&str, TensorView)> = ck
        .tensors
        .iter()
        .map(|(name, (dtype, shape, data))| {
            let view = TensorView::new(*dtype, shape.clone(), data).expect("consistent tensor");
            (name.as_str(), view)
        })
        .collect();
    let meta: HashMap<String, String> = ck.metadata.clone().into_iter().collect();
    let bytes = safetensors::serialize(views, Some(meta)).expect("serializable");
    std::fs::write(path, bytes).expect("writable temp dir");
}

pub fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A small mnist-mlp checkpoint (1 epoch on 300 samples) at `dir/name`.
pub fn mnist_mlp_checkpoint(dir: &Path, name: &str) -> PathBuf {
    mnist_mlp_trained(dir, name, 1, 300)
}

/// An mnist-mlp checkpoint of `epochs` epochs on the first `limit` samples.
pub fn mnist_mlp_trained(dir: &Path, name: &str, epochs: usize, limit: usize) -> PathBuf {
    ok_in(
        Some(dir),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--epochs",
            &epochs.to_string(),
            "--limit",
            &limit.to_string(),
            "--batch-size",
            "32",
            "--save",
            name,
        ],
    );
    dir.join(name)
}

/// The text after `key: ` up to the next space, as a number.
pub fn metric(line: &str, key: &str) -> f32 {
    let start = line
        .find(&format!(" {key}: "))
        .unwrap_or_else(|| panic!("no `{key}:` in `{line}`"))
        + key.len()
        + 3;
    line[start..]
        .split_whitespace()
        .next()
        .expect("a value")
        .parse()
        .unwrap_or_else(|e| panic!("`{key}` in `{line}`: {e}"))
}

/// The version-3 record of a checkpoint (its one metadata entry), as JSON.
pub fn record(ck: &Checkpoint) -> serde_json::Value {
    serde_json::from_str(&ck.metadata["triceratops"]).expect("a version-3 record")
}

/// Replaces the version-3 record of a checkpoint.
pub fn set_record(ck: &mut Checkpoint, record: &serde_json::Value) {
    ck.metadata.insert("triceratops".into(), record.to_string());
}
