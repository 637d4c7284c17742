//! The `triceratops` binary end to end (`assert_cmd`): `summary` prints the
//! Keras table (and the Keras JSON import of the lecture CNN prints the same
//! one as the built-in `seed-cnn`), `compile --emit` prints text that parses
//! back, `train` prints Keras' epoch lines, plots and checkpoints, a resumed
//! run is bit-identical to an uninterrupted one, `eval`/`predict` read
//! checkpoints, and every bad input is one `error: ...` line naming the
//! problem, exit code 1, never a panic, never a partial or NaN checkpoint.
//!
//! Runs are kept small (`--limit` a few hundred samples, 1-2 epochs).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use tempfile::TempDir;
use triceratops::ir::text::{parse, print};

// ---------------------------------------------------------------- helpers

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn keras_fixture(name: &str) -> String {
    path_str(&root().join("tests/fixtures/keras").join(name))
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("UTF-8 temp path").to_string()
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `dir` (the package root when `None`).
fn run_in(dir: Option<&Path>, args: &[&str]) -> Out {
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
fn ok_in(dir: Option<&Path>, args: &[&str]) -> String {
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

fn ok(args: &[&str]) -> String {
    ok_in(None, args)
}

/// Runs a command that must fail with the program's own error (exit code 1,
/// not clap's usage error 2 nor a panic's 101): stderr starts with `error:`
/// and contains every needle. Returns the whole output.
fn fails_in(dir: Option<&Path>, args: &[&str], needles: &[&str]) -> Out {
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
fn rejected_in(dir: Option<&Path>, args: &[&str], needles: &[&str]) -> String {
    let out = fails_in(dir, args, needles);
    assert_eq!(
        out.stdout,
        "",
        "`triceratops {}` should print nothing on stdout",
        args.join(" ")
    );
    out.stderr
}

fn rejected(args: &[&str], needles: &[&str]) -> String {
    rejected_in(None, args, needles)
}

/// Every entry of a folder (hidden ones too), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A checkpoint as plain data: tensors (dtype, shape, bytes) and metadata.
#[derive(Debug, PartialEq)]
struct Checkpoint {
    tensors: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>,
    metadata: BTreeMap<String, String>,
}

fn read_checkpoint(path: &Path) -> Checkpoint {
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

fn write_checkpoint(path: &Path, ck: &Checkpoint) {
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

fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A small mnist-mlp checkpoint (1 epoch on 300 samples) at `dir/name`.
fn mnist_mlp_checkpoint(dir: &Path, name: &str) -> PathBuf {
    ok_in(
        Some(dir),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--epochs",
            "1",
            "--limit",
            "300",
            "--batch-size",
            "32",
            "--save",
            name,
        ],
    );
    dir.join(name)
}

/// The text after `key: ` up to the next space, as a number.
fn metric(line: &str, key: &str) -> f32 {
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

// ---------------------------------------------------------------- summary

/// The table Keras 3.15.1 printed for the lecture CNN (fixture README).
fn keras_seed_cnn_table() -> String {
    let readme = std::fs::read_to_string(root().join("tests/fixtures/keras/README.md"))
        .expect("fixture README");
    let start = readme.find("Model: \"seed_cnn\"").expect("seed_cnn table");
    let end = start
        + readme[start..]
            .find(" Non-trainable params: 0 (0.00 B)\n")
            .expect("end of table");
    readme[start..end].to_string() + " Non-trainable params: 0 (0.00 B)\n"
}

#[test]
fn summary_of_builtin_seed_cnn_is_the_keras_table() {
    let out = ok(&["summary", "--model", "seed-cnn"]);
    assert!(out.contains(" Total params: 11,290 (44.10 KB)\n"), "{out}");
    assert_eq!(out, keras_seed_cnn_table());
}

#[test]
fn summary_of_keras_json_seed_cnn_equals_the_builtin() {
    let builtin = ok(&["summary", "--model", "seed-cnn"]);
    let imported = ok(&["summary", "--model", &keras_fixture("seed_cnn.json")]);
    let body = |s: &str| {
        s.split_once('\n')
            .expect("more than one line")
            .1
            .to_string()
    };
    assert!(imported.starts_with("Model: "), "{imported}");
    assert!(imported.contains("Total params: 11,290"), "{imported}");
    assert_eq!(body(&imported), body(&builtin));
}

// ---------------------------------------------------------------- compile

#[test]
fn compile_emit_graph_parses_back_with_output_y_pred() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "graph"]);
    let graph = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(graph.output("y_pred").is_some(), "{text}");
    assert!(
        graph.updates().is_empty(),
        "a predict graph updates nothing"
    );
    // mnist-mlp's own batch size, unless told otherwise.
    assert!(text.contains("input %x: f32[128,784]"), "{text}");
    assert_eq!(print(&graph), text, "print(parse(text)) is text");

    let small = ok(&[
        "compile",
        "--model",
        "mnist-mlp",
        "--emit",
        "graph",
        "--batch-size",
        "16",
    ]);
    assert!(small.contains("input %x: f32[16,784]"), "{small}");
}

#[test]
fn compile_emit_grad_has_the_optimizer_updates_and_parses() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "grad"]);
    assert!(text.contains("update %dense.kernel <-"), "{text}");
    assert!(text.contains("update %dense_1.bias <-"), "{text}");
    let graph = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(graph.output("loss").is_some(), "{text}");
    // kernel and bias of two layers, Adam's two slots each, and the step.
    assert_eq!(graph.updates().len(), 4 * 3 + 1, "{text}");

    let sgd = ok(&[
        "compile",
        "--model",
        "mnist-mlp",
        "--emit",
        "grad",
        "--optimizer",
        "sgd",
    ]);
    let graph = parse(&sgd).unwrap_or_else(|e| panic!("{e}\n{sgd}"));
    assert_eq!(
        graph.updates().len(),
        4 + 1,
        "plain SGD has no slots:\n{sgd}"
    );
}

#[test]
fn compile_emit_dot_is_graphviz() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "dot"]);
    assert!(text.starts_with("digraph"), "{text}");
    assert!(text.trim_end().ends_with('}'), "{text}");
}

#[test]
fn compile_emit_of_unbuilt_stages_fails_cleanly() {
    for stage in ["optimized", "kernels", "clif"] {
        rejected(
            &["compile", "--model", "mnist-mlp", "--emit", stage],
            &[&format!("--emit {stage}"), "not built yet"],
        );
    }
}

// ---------------------------------------------------------------- train

#[test]
fn train_mnist_mlp_prints_keras_epoch_lines_and_an_svg_plot() {
    let dir = TempDir::new().unwrap();
    let out = ok_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--epochs",
            "1",
            "--limit",
            "300",
            "--batch-size",
            "32",
            "--plot",
            "curves.svg",
        ],
    );
    assert!(out.lines().any(|l| l == "Epoch 1/1"), "{out}");
    // 240 training samples (validation split 0.2) in batches of 32.
    let line = out
        .lines()
        .find(|l| l.starts_with("8/8 - "))
        .unwrap_or_else(|| panic!("no `8/8 - ` epoch line:\n{out}"));
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        let v = metric(line, key);
        assert!(v.is_finite() && v >= 0.0, "{key} = {v} in `{line}`");
    }
    assert!(metric(line, "accuracy") <= 1.0 && metric(line, "val_accuracy") <= 1.0);
    assert!(out.contains("training mnist_mlp on 300 samples"), "{out}");

    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).expect("svg written");
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(entries(dir.path()), ["curves.svg"]);
}

#[test]
fn train_writes_a_png_plot() {
    let dir = TempDir::new().unwrap();
    let out = ok_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--epochs",
            "1",
            "--limit",
            "200",
            "--batch-size",
            "50",
            "--plot",
            "curves.png",
        ],
    );
    assert!(out.contains("wrote plot curves.png"), "{out}");
    let png = std::fs::read(dir.path().join("curves.png")).expect("png written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 1000, "a plot, not an empty image");
}

#[test]
fn train_linreg_has_loss_but_no_accuracy() {
    let out = ok(&["train", "--model", "linreg", "--epochs", "3"]);
    for k in 1..=3 {
        assert!(out.lines().any(|l| l == format!("Epoch {k}/3")), "{out}");
    }
    let lines: Vec<&str> = out.lines().filter(|l| l.contains(" loss: ")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    for line in &lines {
        assert!(metric(line, "loss").is_finite() && metric(line, "val_loss").is_finite());
        assert!(!line.contains("accuracy"), "{line}");
    }
    // SGD at lr 0.1 on a line: the loss goes down.
    assert!(metric(lines[2], "loss") < metric(lines[0], "loss"), "{out}");
}

// ---------------------------------------------------------------- resume

/// Trains 2 epochs in one run (A) and 1 + 1 epochs with a resume in between
/// (B): every tensor and every metadata entry (model, compile settings, RNG
/// position, epochs done, data settings) must be identical.
fn assert_resume_is_exact(recipe: &[&str]) {
    let dir = TempDir::new().unwrap();
    let train = |epochs: &str, save: &str| {
        let mut args = vec!["train"];
        args.extend_from_slice(recipe);
        args.extend_from_slice(&["--epochs", epochs, "--save", save]);
        ok_in(Some(dir.path()), &args)
    };
    train("2", "A.safetensors");
    let out = train("1", "B.safetensors");
    assert!(
        out.contains("saved checkpoint B.safetensors (epoch 1)"),
        "{out}"
    );
    let after_one = read_checkpoint(&dir.path().join("B.safetensors"));

    let out = ok_in(
        Some(dir.path()),
        &[
            "train",
            "--resume",
            "B.safetensors",
            "--epochs",
            "1",
            "--save",
            "B.safetensors",
        ],
    );
    assert!(out.lines().any(|l| l == "Epoch 2/2"), "{out}");
    assert!(
        out.contains("saved checkpoint B.safetensors (epoch 2)"),
        "{out}"
    );

    let a = read_checkpoint(&dir.path().join("A.safetensors"));
    let b = read_checkpoint(&dir.path().join("B.safetensors"));
    assert_eq!(a.metadata["epochs_done"], "2");
    assert_eq!(b.metadata["epochs_done"], "2");
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (name, ta) in &a.tensors {
        assert!(
            ta == &b.tensors[name],
            "tensor `{name}` differs after resume"
        );
    }
    assert_eq!(a.metadata, b.metadata);
    // Not vacuous: the second epoch changed the weights.
    assert_ne!(after_one.tensors, b.tensors);
    assert_eq!(entries(dir.path()), ["A.safetensors", "B.safetensors"]);
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run_mnist_mlp() {
    assert_resume_is_exact(&[
        "--model",
        "mnist-mlp",
        "--limit",
        "300",
        "--batch-size",
        "32",
    ]);
}

#[test]
fn resume_is_bit_identical_with_dropout_from_keras_json() {
    // Dropout draws its masks from the RNG: the resumed run must continue it.
    let model = keras_fixture("mnist_mlp.json");
    assert_resume_is_exact(&[
        "--model",
        &model,
        "--data",
        "mnist",
        "--limit",
        "300",
        "--batch-size",
        "32",
    ]);
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run_seed_cnn() {
    assert_resume_is_exact(&[
        "--model",
        "seed-cnn",
        "--limit",
        "200",
        "--batch-size",
        "50",
    ]);
}

#[test]
fn checkpoint_loads_through_the_library() {
    let dir = TempDir::new().unwrap();
    let path = mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    let restored =
        triceratops::checkpoint::load(&path, Box::new(triceratops::backend::Interpreter))
            .expect("loads");
    assert_eq!(restored.model.epochs_done, 1);
    assert_eq!(restored.extra["data"], "mnist");
    assert_eq!(restored.extra["batch_size"], "32");
    let raw = read_checkpoint(&path);
    assert_eq!(raw.tensors.len(), restored.model.state.len());
    for (name, (_, shape, bytes)) in &raw.tensors {
        let t = &restored.model.state[name];
        assert_eq!(t.shape(), shape.as_slice(), "{name}");
        assert!(t.iter().copied().eq(f32s(bytes)), "{name}");
    }
}

// ---------------------------------------------------------------- eval, predict

#[test]
fn eval_prints_loss_and_accuracy_of_a_checkpoint() {
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    // The data the checkpoint was trained on (bundled MNIST), all of it.
    let out = ok_in(Some(dir.path()), &["eval", "--checkpoint", "A.safetensors"]);
    let line = out.trim_end();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(line.starts_with("10000 samples - "), "{out}");
    let (loss, acc) = (metric(line, "loss"), metric(line, "accuracy"));
    assert!(loss.is_finite() && loss > 0.0, "{out}");
    assert!(
        (0.2..=1.0).contains(&acc),
        "better than chance after an epoch: {out}"
    );

    let out = ok_in(
        Some(dir.path()),
        &["eval", "--checkpoint", "A.safetensors", "--limit", "100"],
    );
    assert!(out.starts_with("100 samples - "), "{out}");

    rejected_in(
        Some(dir.path()),
        &["eval", "--checkpoint", "A.safetensors", "--batch-size", "0"],
        &["batch_size must be positive"],
    );
}

#[test]
fn predict_prints_one_line_per_sample() {
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    let out = ok_in(
        Some(dir.path()),
        &["predict", "--checkpoint", "A.safetensors", "--count", "3"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let mut labels = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        // `sample i: class c (p = 0.1234), label l`
        let rest = line
            .strip_prefix(&format!("sample {i}: class "))
            .unwrap_or_else(|| panic!("`{line}`"));
        let (class, rest) = rest
            .split_once(" (p = ")
            .unwrap_or_else(|| panic!("`{line}`"));
        let (p, label) = rest
            .split_once("), label ")
            .unwrap_or_else(|| panic!("`{line}`"));
        let class: usize = class.parse().unwrap_or_else(|_| panic!("`{line}`"));
        let p: f32 = p.parse().unwrap_or_else(|_| panic!("`{line}`"));
        let label: usize = label.parse().unwrap_or_else(|_| panic!("`{line}`"));
        assert!(class < 10 && (0.1..=1.0).contains(&p), "`{line}`");
        labels.push(label);
    }
    // The first three digits of the MNIST test set.
    assert_eq!(labels, [7, 2, 1]);
}

#[test]
fn predict_of_a_regression_prints_values_and_targets() {
    let dir = TempDir::new().unwrap();
    ok_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "2",
            "--save",
            "L.safetensors",
        ],
    );
    let out = ok_in(
        Some(dir.path()),
        &["predict", "--checkpoint", "L.safetensors", "--count", "2"],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("sample 0: [") && lines[0].contains("], target ["));
    // `line` starts at x = -1: y = 2 * -1 + 1 = -1.
    assert!(lines[0].ends_with("target [-1.0]"), "{out}");
}

// ---------------------------------------------------------------- bad input

#[test]
fn missing_data_file_is_an_error() {
    rejected(
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            "idx:/nonexistent/images,/nonexistent/labels",
        ],
        &["/nonexistent/images", "cannot read"],
    );
    rejected(
        &["eval", "--checkpoint", "/nonexistent/x.safetensors"],
        &["/nonexistent/x.safetensors", "cannot read"],
    );
}

/// A valid IDX pair of 10 images (28x28) and 10 labels.
fn idx_pair() -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend((0..10 * 784).map(|i| (i * 7 % 256) as u8));
    let mut labels = vec![0, 0, 8, 1, 0, 0, 0, 10];
    labels.extend(0..10u8);
    (images, labels)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn corrupt_idx_files_are_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let (images, labels) = idx_pair();
    std::fs::write(d.join("images.idx"), &images).unwrap();
    std::fs::write(d.join("labels.idx"), &labels).unwrap();
    // The valid pair trains: the failures below are the corruption's.
    ok_in(
        Some(d),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            "idx:images.idx,labels.idx",
            "--batch-size",
            "4",
        ],
    );

    let gz = gzip(&images);
    let cases: [(&str, Vec<u8>, &[&str]); 4] = [
        ("short.idx", images[..5000].to_vec(), &["truncated", "7840"]),
        ("short.gz", gz[..gz.len() / 2].to_vec(), &["truncated gzip"]),
        ("empty.idx", Vec::new(), &["truncated header"]),
        ("magic.idx", [&[1, 2, 3, 4], &images[4..]].concat(), &[]),
    ];
    for (name, bytes, needles) in cases {
        std::fs::write(d.join(name), bytes).unwrap();
        let spec = format!("idx:{name},labels.idx");
        let mut all = vec![name];
        all.extend_from_slice(needles);
        rejected_in(
            Some(d),
            &["train", "--model", "mnist-mlp", "--data", &spec],
            &all,
        );
    }

    let mut few = labels.clone();
    few[7] = 5;
    few.truncate(8 + 5);
    std::fs::write(d.join("few.idx"), few).unwrap();
    rejected_in(
        Some(d),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            "idx:images.idx,few.idx",
        ],
        &["few.idx", "5 labels but 10 images"],
    );
}

#[test]
fn unknown_model_is_an_error() {
    for cmd in ["summary", "train", "compile"] {
        let mut args = vec![cmd, "--model", "resnet50"];
        if cmd == "compile" {
            args.extend(["--emit", "graph"]);
        }
        rejected(
            &args,
            &["unknown model `resnet50`", "linreg, mnist-mlp, seed-cnn"],
        );
    }
}

#[test]
fn malformed_model_json_is_an_error() {
    let dir = TempDir::new().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"class_name\": \"Sequential\", \"config\": {").unwrap();
    let bad = path_str(&bad);
    rejected(&["summary", "--model", &bad], &[&bad, "not valid JSON"]);
    rejected(&["train", "--model", &bad], &[&bad, "not valid JSON"]);

    let list = dir.path().join("list.json");
    std::fs::write(&list, "[1, 2, 3]").unwrap();
    rejected(&["summary", "--model", &path_str(&list)], &["list.json"]);

    let missing = path_str(&dir.path().join("missing.json"));
    rejected(
        &["summary", "--model", &missing],
        &[&missing, "cannot read"],
    );
}

#[test]
fn keras_json_with_an_unsupported_layer_is_an_error() {
    let model = keras_fixture("unsupported_layer.json");
    for cmd in ["summary", "train"] {
        rejected(
            &[cmd, "--model", &model],
            &[
                "unsupported_layer.json",
                "batch_normalization",
                "BatchNormalization",
                "not supported",
            ],
        );
    }
}

/// Deterministic noise (xorshift).
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn a_file_that_is_not_safetensors_is_an_error() {
    let dir = TempDir::new().unwrap();
    for (name, bytes) in [
        ("noise.safetensors", noise(4096, 0x9E37_79B9_7F4A_7C15)),
        ("small.safetensors", noise(5, 1)),
        ("empty.safetensors", Vec::new()),
        // A header length that points past the end of the file.
        (
            "header.safetensors",
            [&100u64.to_le_bytes()[..], b"{}"].concat(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let path = path_str(&path);
        let needles = [path.as_str(), "not a safetensors file"];
        rejected(&["eval", "--checkpoint", &path], &needles);
        rejected(&["predict", "--checkpoint", &path], &needles);
        rejected(&["train", "--resume", &path], &needles);
    }
}

#[test]
fn a_safetensors_file_without_triceratops_metadata_is_an_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("plain.safetensors");
    let mut ck = Checkpoint {
        tensors: BTreeMap::new(),
        metadata: BTreeMap::new(),
    };
    ck.tensors
        .insert("w".into(), (Dtype::F32, vec![2], vec![0; 8]));
    write_checkpoint(&path, &ck);
    rejected(
        &["eval", "--checkpoint", &path_str(&path)],
        &["plain.safetensors", "not a Triceratops checkpoint"],
    );
}

#[test]
fn a_checkpoint_that_does_not_match_its_model_is_an_error() {
    let dir = TempDir::new().unwrap();
    let good = read_checkpoint(&mnist_mlp_checkpoint(dir.path(), "good.safetensors"));
    assert_eq!(good.tensors["dense.kernel"].1, [784, 128]);

    // dense.kernel as [783, 128], keeping the metadata.
    let mut reshaped = Checkpoint {
        tensors: good.tensors.clone(),
        metadata: good.metadata.clone(),
    };
    let kernel = reshaped.tensors.get_mut("dense.kernel").unwrap();
    kernel.1 = vec![783, 128];
    kernel.2.truncate(783 * 128 * 4);
    write_checkpoint(&dir.path().join("reshaped.safetensors"), &reshaped);

    let mut removed = Checkpoint {
        tensors: good.tensors.clone(),
        metadata: good.metadata.clone(),
    };
    removed.tensors.remove("dense.bias").unwrap();
    write_checkpoint(&dir.path().join("removed.safetensors"), &removed);

    let mut extra = Checkpoint {
        tensors: good.tensors.clone(),
        metadata: good.metadata.clone(),
    };
    extra
        .tensors
        .insert("dense_9.kernel".into(), (Dtype::F32, vec![1], vec![0; 4]));
    write_checkpoint(&dir.path().join("extra.safetensors"), &extra);

    let mut f64s = Checkpoint {
        tensors: good.tensors.clone(),
        metadata: good.metadata.clone(),
    };
    let bias = f64s.tensors.get_mut("dense_1.bias").unwrap();
    bias.0 = Dtype::F64;
    bias.2 = vec![0; 10 * 8];
    write_checkpoint(&dir.path().join("f64.safetensors"), &f64s);

    let cases: [(&str, &[&str]); 4] = [
        (
            "reshaped.safetensors",
            &["dense.kernel", "[783, 128]", "[784, 128]"],
        ),
        ("removed.safetensors", &["missing tensors", "dense.bias"]),
        ("extra.safetensors", &["dense_9.kernel", "does not belong"]),
        ("f64.safetensors", &["dense_1.bias", "F64"]),
    ];
    for (name, needles) in cases {
        let mut all = vec![name];
        all.extend_from_slice(needles);
        for cmd in [
            vec!["eval", "--checkpoint", name],
            vec!["predict", "--checkpoint", name],
            vec!["train", "--resume", name, "--save", "out.safetensors"],
        ] {
            rejected_in(Some(dir.path()), &cmd, &all);
        }
    }
    // The good one still works: the failures are the edits'.
    ok_in(
        Some(dir.path()),
        &[
            "predict",
            "--checkpoint",
            "good.safetensors",
            "--count",
            "1",
        ],
    );
    assert!(!dir.path().join("out.safetensors").exists());
}

#[test]
fn jit_backend_is_not_built_yet() {
    rejected(
        &["train", "--model", "linreg", "--backend", "jit"],
        &["JIT", "not built yet", "--backend interp"],
    );
}

#[test]
fn unknown_optimizer_and_loss_are_errors() {
    rejected(
        &["train", "--model", "linreg", "--optimizer", "adamax"],
        &["unknown optimizer `adamax`", "sgd"],
    );
    rejected(
        &[
            "compile",
            "--model",
            "linreg",
            "--emit",
            "grad",
            "--optimizer",
            "adamax",
        ],
        &["unknown optimizer `adamax`"],
    );
    rejected(
        &["train", "--model", "linreg", "--loss", "hinge"],
        &["unknown loss `hinge`"],
    );
}

#[test]
fn non_positive_learning_rates_are_errors() {
    for lr in ["-1", "0", "-0.5", "nan", "inf"] {
        let needle = format!(
            "--lr must be a positive number, got {}",
            lr.replace("nan", "NaN")
        );
        rejected(&["train", "--model", "linreg", "--lr", lr], &[&needle]);
    }
    rejected(
        &[
            "compile", "--model", "linreg", "--emit", "grad", "--lr", "-1",
        ],
        &["--lr must be a positive number"],
    );
}

#[test]
fn bad_settings_on_resume_are_errors() {
    // `--lr` and `--batch-size` may change a resumed run's settings, under
    // the same rules as a fresh run's (not silently turned into lr -1 or
    // batches of 1).
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    for lr in ["-1", "0"] {
        rejected_in(
            Some(dir.path()),
            &[
                "train",
                "--resume",
                "A.safetensors",
                "--lr",
                lr,
                "--save",
                "R.safetensors",
            ],
            &[&format!("--lr must be a positive number, got {lr}")],
        );
    }
    rejected_in(
        Some(dir.path()),
        &[
            "train",
            "--resume",
            "A.safetensors",
            "--batch-size",
            "0",
            "--save",
            "R.safetensors",
        ],
        &["--batch-size must be positive"],
    );
    assert_eq!(entries(dir.path()), ["A.safetensors"]);
}

#[test]
fn resume_with_model_is_an_error() {
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    for flag in [
        ["--model", "mnist-mlp"],
        ["--optimizer", "sgd"],
        ["--loss", "mse"],
        ["--convention", "pytorch"],
        ["--seed", "7"],
    ] {
        let mut args = vec!["train", "--resume", "A.safetensors"];
        args.extend(flag);
        rejected_in(Some(dir.path()), &args, &["--resume", flag[0]]);
    }
}

#[test]
fn data_that_does_not_fit_the_model_is_an_error() {
    rejected(
        &["train", "--model", "seed-cnn", "--data", "line"],
        &["[1]", "[32, 32, 3]", "do not fit"],
    );
    rejected(
        &["train", "--model", "linreg", "--data", "mnist"],
        &["[28, 28]", "[1]", "do not fit"],
    );
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    rejected_in(
        Some(dir.path()),
        &["eval", "--checkpoint", "A.safetensors", "--data", "line"],
        &["[1]", "[784]", "do not fit"],
    );
}

#[test]
fn unknown_data_spec_and_keras_json_without_data_are_errors() {
    rejected(
        &["train", "--model", "linreg", "--data", "imagenet"],
        &["unknown data `imagenet`"],
    );
    rejected(
        &["train", "--model", "linreg", "--data", "idx:only-one-file"],
        &["two comma-separated files"],
    );
    rejected(
        &["train", "--model", &keras_fixture("mnist_mlp.json")],
        &["--data is required"],
    );
}

#[test]
fn bad_numbers_are_errors_not_silently_ignored() {
    // A validation split outside [0, 1) (or NaN) must not quietly turn
    // validation off.
    for split in ["-0.5", "1", "1.5", "nan"] {
        rejected(
            &["train", "--model", "linreg", "--validation-split", split],
            &["--validation-split must be in [0, 1)"],
        );
    }
    rejected(
        &["train", "--model", "linreg", "--batch-size", "0"],
        &["--batch-size must be positive"],
    );
    rejected(
        &["train", "--model", "linreg", "--limit", "0"],
        &["--limit must be positive"],
    );
}

#[test]
fn zero_epochs_is_an_error_not_a_claimed_save() {
    // `--epochs 0 --save X` used to print "saved checkpoint X" and write
    // nothing.
    let dir = TempDir::new().unwrap();
    rejected_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "0",
            "--save",
            "X.safetensors",
        ],
        &["--epochs must be positive"],
    );
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[test]
fn predict_count_zero_names_count() {
    let dir = TempDir::new().unwrap();
    mnist_mlp_checkpoint(dir.path(), "A.safetensors");
    let err = rejected_in(
        Some(dir.path()),
        &["predict", "--checkpoint", "A.safetensors", "--count", "0"],
        &["--count must be positive"],
    );
    assert!(!err.contains("--limit"), "{err}");
}

// ---------------------------------------------------------------- divergence

fn diverge(dir: &Path, lr: &str, more: &[&str]) -> Out {
    let mut args = vec![
        "train",
        "--model",
        "linreg",
        "--optimizer",
        "sgd",
        "--lr",
        lr,
        "--epochs",
        "5",
        "--save",
        "C.safetensors",
    ];
    args.extend_from_slice(more);
    let out = fails_in(
        Some(dir),
        &args,
        &["training diverged", "at epoch ", ", step "],
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    out
}

/// The epoch in `... at epoch E, step S`.
fn diverged_epoch(stderr: &str) -> usize {
    let rest = &stderr[stderr.find("at epoch ").expect("epoch") + 9..];
    rest.split(',')
        .next()
        .unwrap()
        .parse()
        .expect("an epoch number")
}

#[test]
fn divergence_in_the_first_epoch_leaves_no_checkpoint() {
    let dir = TempDir::new().unwrap();
    let out = diverge(dir.path(), "1e30", &[]);
    assert!(out.stderr.contains("at epoch 1, step "), "{}", out.stderr);
    assert!(!out.stdout.contains("saved checkpoint"), "{}", out.stdout);
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "no checkpoint, no temp files"
    );
}

#[test]
fn an_overflowing_update_is_caught_before_it_is_saved() {
    // One full batch per epoch, so every step is followed by a save. At lr
    // 3e38 the first loss is finite but the update overflows f32: that
    // update must be refused, not applied and checkpointed.
    let dir = TempDir::new().unwrap();
    let out = diverge(dir.path(), "3e38", &["--batch-size", "256"]);
    assert!(out.stderr.contains("at epoch 1, step 1"), "{}", out.stderr);
    assert!(!out.stderr.contains("loss is inf") && !out.stderr.contains("loss is NaN"));
    assert_eq!(
        entries(dir.path()),
        Vec::<String>::new(),
        "no checkpoint, no temp files"
    );
}

#[test]
fn divergence_in_a_later_epoch_keeps_the_last_good_checkpoint() {
    let dir = TempDir::new().unwrap();
    // SGD at lr 10 on `line` overflows after a couple of epochs.
    let out = diverge(dir.path(), "10", &[]);
    let epoch = diverged_epoch(&out.stderr);
    assert!(
        (2..=5).contains(&epoch),
        "expected a later epoch: {}",
        out.stderr
    );
    assert!(
        out.stdout.lines().any(|l| l == format!("Epoch {epoch}/5")),
        "{}",
        out.stdout
    );
    assert_eq!(entries(dir.path()), ["C.safetensors"], "no temp files");

    let c = read_checkpoint(&dir.path().join("C.safetensors"));
    assert_eq!(c.metadata["epochs_done"], (epoch - 1).to_string());
    for (name, (dtype, _, bytes)) in &c.tensors {
        assert_eq!(*dtype, Dtype::F32);
        assert!(f32s(bytes).all(f32::is_finite), "`{name}` is not finite");
    }

    // It is exactly the checkpoint of a run that stops before that epoch.
    let good = epoch - 1;
    ok_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "linreg",
            "--optimizer",
            "sgd",
            "--lr",
            "10",
            "--epochs",
            &good.to_string(),
            "--save",
            "D.safetensors",
        ],
    );
    let d = read_checkpoint(&dir.path().join("D.safetensors"));
    assert_eq!(c, d);

    // And it is usable.
    let out = ok_in(Some(dir.path()), &["eval", "--checkpoint", "C.safetensors"]);
    assert!(out.starts_with("256 samples - loss: "), "{out}");
}

// ---------------------------------------------------------------- atomic writes

#[test]
fn save_leaves_only_the_checkpoint_in_its_folder() {
    let work = TempDir::new().unwrap();
    let target = TempDir::new().unwrap();
    let path = target.path().join("ck.safetensors");
    let path_s = path_str(&path);
    // Written from another working directory: the temporary file belongs
    // in the checkpoint's folder, and is gone afterwards.
    let out = ok_in(
        Some(work.path()),
        &[
            "train", "--model", "linreg", "--epochs", "2", "--save", &path_s,
        ],
    );
    assert!(
        out.contains(&format!("saved checkpoint {path_s} (epoch 2)")),
        "{out}"
    );
    assert_eq!(entries(target.path()), ["ck.safetensors"]);
    assert_eq!(entries(work.path()), Vec::<String>::new());

    // Overwriting on resume is atomic too.
    ok_in(
        Some(work.path()),
        &[
            "train", "--resume", &path_s, "--epochs", "1", "--save", &path_s,
        ],
    );
    assert_eq!(entries(target.path()), ["ck.safetensors"]);
    assert_eq!(read_checkpoint(&path).metadata["epochs_done"], "3");
}

#[test]
fn a_failed_save_leaves_nothing_behind() {
    let dir = TempDir::new().unwrap();
    // The target is an existing folder: the rename fails.
    std::fs::create_dir(dir.path().join("ck.safetensors")).unwrap();
    let out = fails_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "1",
            "--save",
            "ck.safetensors",
        ],
        &["ck.safetensors", "cannot write checkpoint"],
    );
    assert!(!out.stdout.contains("saved checkpoint"), "{}", out.stdout);
    assert_eq!(entries(dir.path()), ["ck.safetensors"]);
    assert!(dir.path().join("ck.safetensors").is_dir());
}

#[test]
fn sparse_crossentropy_trains_from_the_cli() {
    // The loaders give one-hot labels; the sparse loss gets class indices.
    let out = ok(&[
        "train",
        "--model",
        "mnist-mlp",
        "--loss",
        "sparse_categorical_crossentropy",
        "--epochs",
        "1",
        "--limit",
        "300",
        "--batch-size",
        "50",
    ]);
    let line = out
        .lines()
        .find(|l| l.contains("val_accuracy"))
        .expect(&out);
    assert!(metric(line, "accuracy") > 0.1, "{out}");
}

#[test]
fn output_paths_are_checked_before_training() {
    rejected(
        &["train", "--model", "linreg", "--plot", "curves.txt"],
        &["--plot", ".svg or .png"],
    );
    rejected(
        &[
            "train",
            "--model",
            "linreg",
            "--save",
            "/nonexistent/dir/ck.safetensors",
        ],
        &["folder does not exist"],
    );
}
