//! A checkpoint is what it claims to be: every tensor's bytes are checked
//! against the checksum recorded beside them, damage is an error naming the
//! tensor (never a NaN evaluation or a resumed run from damaged weights),
//! two identical runs write identical bytes, and a killed save's temp file
//! does not outlive the next save.

use std::path::Path;

use crate::cli_support::{
    entries, fails_in, mnist_mlp_trained, ok_in, read_checkpoint, record, root, write_checkpoint,
};
use tempfile::TempDir;
use triceratops::backend::Interpreter;
use triceratops::checkpoint;

fn train_mlp(dir: &Path, name: &str) {
    mnist_mlp_trained(dir, name, 2, 200);
}

/// Flips one bit in the middle of tensor `name` of the checkpoint at `path`.
fn flip_bit(path: &Path, name: &str) {
    let mut ck = read_checkpoint(path);
    let (_, _, bytes) = ck.tensors.get_mut(name).expect("tensor");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    write_checkpoint(path, &ck);
}

#[test]
fn a_flipped_bit_in_a_kernel_or_a_slot_is_refused_by_name() {
    let dir = TempDir::new().unwrap();
    train_mlp(dir.path(), "A.safetensors");
    let names: Vec<String> = read_checkpoint(&dir.path().join("A.safetensors"))
        .tensors
        .into_keys()
        .collect();
    let slot = names
        .iter()
        .find(|n| n.ends_with(".velocity"))
        .expect("an Adam slot");
    let kernel = names
        .iter()
        .find(|n| n.ends_with(".kernel"))
        .expect("a kernel");
    for tensor in [kernel, slot] {
        let path = dir.path().join("B.safetensors");
        std::fs::copy(dir.path().join("A.safetensors"), &path).unwrap();
        flip_bit(&path, tensor);
        let err = checkpoint::load(&path, Box::new(Interpreter))
            .err()
            .unwrap_or_else(|| panic!("{tensor}: damaged tensor loaded"))
            .to_string();
        assert!(
            err.contains(&format!("tensor `{tensor}` is corrupt")),
            "{err}"
        );
        let d = Some(dir.path());
        fails_in(d, &["eval", "--checkpoint", "B.safetensors"], &["corrupt"]);
        fails_in(
            d,
            &["train", "--resume", "B.safetensors", "--epochs", "1"],
            &[tensor.as_str(), "corrupt"],
        );
    }
}

#[test]
fn a_changed_setting_in_the_record_is_refused() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    ok_in(
        d,
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "1",
            "--save",
            "L.safetensors",
        ],
    );
    let path = dir.path().join("L.safetensors");
    for (from, to) in [
        (r#""learning_rate":"0.1""#, r#""learning_rate":"0.9""#),
        (r#""validation_split":"0.2""#, r#""validation_split":"0.5""#),
    ] {
        let mut ck = read_checkpoint(&path);
        let text = ck.metadata["triceratops"].replace(from, to);
        assert_ne!(text, ck.metadata["triceratops"], "{from} is in the record");
        ck.metadata.insert("triceratops".into(), text);
        let bad = dir.path().join("bad.safetensors");
        write_checkpoint(&bad, &ck);
        fails_in(
            d,
            &["train", "--resume", "bad.safetensors", "--epochs", "1"],
            &["settings are corrupt"],
        );
        fails_in(
            d,
            &["eval", "--checkpoint", "bad.safetensors"],
            &["corrupt"],
        );
    }
}

#[test]
fn older_checkpoints_without_checksums_still_refuse_non_finite_tensors() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v2.safetensors");
    let fixture = root().join("tests/fixtures/checkpoints/v2_linreg_adam.safetensors");
    let mut ck = read_checkpoint(&fixture);
    let (_, _, bytes) = ck.tensors.get_mut("dense.kernel").expect("linreg's kernel");
    bytes[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_checkpoint(&path, &ck);
    let err = checkpoint::load(&path, Box::new(Interpreter))
        .err()
        .expect("a NaN kernel loaded")
        .to_string();
    assert!(
        err.contains("tensor `dense.kernel` holds a non-finite value"),
        "{err}"
    );
}

#[test]
fn two_identical_runs_write_identical_checkpoints() {
    let dir = TempDir::new().unwrap();
    train_mlp(dir.path(), "A.safetensors");
    train_mlp(dir.path(), "B.safetensors");
    let a = std::fs::read(dir.path().join("A.safetensors")).unwrap();
    let b = std::fs::read(dir.path().join("B.safetensors")).unwrap();
    assert!(a == b, "the two files differ");
}

#[test]
fn the_history_is_kept_across_a_resume() {
    let dir = TempDir::new().unwrap();
    train_mlp(dir.path(), "A.safetensors");
    ok_in(
        Some(dir.path()),
        &["train", "--resume", "A.safetensors", "--epochs", "1"],
    );
    let r = record(&read_checkpoint(&dir.path().join("A.safetensors")));
    let epochs: Vec<u64> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, [1, 2, 3]);
    assert!(r["history"][2]["validation"]["loss"].is_string());
}

#[test]
fn a_killed_saves_temp_file_is_removed_by_the_next_save() {
    let dir = TempDir::new().unwrap();
    let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let temp = |name: &str, age: Option<std::time::SystemTime>| {
        let path = dir.path().join(name);
        std::fs::write(&path, b"part of a checkpoint").unwrap();
        if let Some(t) = age {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    };
    // pid_max is at most 2^22 on Linux: this process cannot exist.
    let dead = ".A.safetensors.4194305-0.tmp";
    temp(dead, Some(minute_ago));
    // The naming of format-2 saves.
    let dead_v2 = ".A.safetensors.tmp-4194305-0";
    temp(dead_v2, Some(minute_ago));
    // A live process (pid 1), or a fresh file (perhaps a writer in another
    // PID namespace), is someone saving right now: left alone.
    let live = ".A.safetensors.1-0.tmp";
    temp(live, Some(minute_ago));
    let fresh = ".A.safetensors.4194305-1.tmp";
    temp(fresh, None);
    let other = ".B.safetensors.4194305-0.tmp";
    temp(other, Some(minute_ago));
    train_mlp(dir.path(), "A.safetensors");
    assert_eq!(entries(dir.path()), [live, fresh, other, "A.safetensors"]);
}

#[test]
fn the_plot_of_a_resumed_run_continues_its_history() {
    let dir = TempDir::new().unwrap();
    train_mlp(dir.path(), "A.safetensors");
    ok_in(
        Some(dir.path()),
        &[
            "train",
            "--resume",
            "A.safetensors",
            "--epochs",
            "1",
            "--plot",
            "p.svg",
        ],
    );
    let svg = std::fs::read_to_string(dir.path().join("p.svg")).unwrap();
    // One marker per epoch on each of loss, val_loss, accuracy, val_accuracy:
    // the two recorded epochs and the resumed one.
    assert_eq!(svg.matches("<circle").count(), 3 * 4, "{svg}");
}
