//! Checkpoints are never wrong, read or written: a file that is not a
//! Triceratops checkpoint of the model is an error naming the problem,
//! training that diverges saves no NaN and keeps the last good checkpoint,
//! and saves are atomic, leaving no partial or temporary files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli_support::{
    assert_no_files, entries, f32s, fails_in, mnist_mlp_checkpoint, ok_in, path_str,
    read_checkpoint, record, rejected, rejected_in, write_checkpoint, Checkpoint, Out,
};
use safetensors::tensor::Dtype;
use tempfile::TempDir;
use triceratops::checkpoint::{self, RunSettings};
use triceratops::keras::losses::Loss;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Dense, Sequential};
use triceratops::History;

// ---------------------------------------------------------------- bad checkpoints

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
    assert_no_files(dir.path());
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
    assert_no_files(dir.path());
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
    assert_eq!(record(&c)["epochs_done"], epoch - 1);
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
    assert!(out.starts_with("52 validation samples - loss: "), "{out}");
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
    assert_no_files(work.path());

    // Overwriting on resume is atomic too.
    ok_in(
        Some(work.path()),
        &[
            "train", "--resume", &path_s, "--epochs", "1", "--save", &path_s,
        ],
    );
    assert_eq!(entries(target.path()), ["ck.safetensors"]);
    assert_eq!(record(&read_checkpoint(&path))["epochs_done"], 3);
}

#[test]
fn a_failed_save_leaves_nothing_behind() {
    let dir = TempDir::new().unwrap();
    // The target is an existing folder: refused before training starts.
    std::fs::create_dir(dir.path().join("ck.safetensors")).unwrap();
    rejected_in(
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
        &["--save", "ck.safetensors", "folder"],
    );
    assert_eq!(entries(dir.path()), ["ck.safetensors"]);
    // Saving there anyway: the rename fails and the temp file is removed.
    let mut model = Sequential::new("m", &[1]);
    model.add(Dense::new(1)).unwrap();
    let m = model
        .compile(
            Optimizer::sgd(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let err = checkpoint::save(
        &dir.path().join("ck.safetensors"),
        &m,
        &RunSettings::default(),
        &History::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot write checkpoint"), "{err}");
    assert_eq!(entries(dir.path()), ["ck.safetensors"]);
    assert!(dir.path().join("ck.safetensors").is_dir());
}
