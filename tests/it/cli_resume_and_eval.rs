//! What a run records decides what later commands do: `--resume` keeps the
//! run's data partition (refusing the flags that would move samples between
//! training and validation) and saves back to its checkpoint, separate
//! validation data is recorded and evaluated, and an evaluation that
//! overflows is a failure, not a printed NaN.

use crate::cli_support::{ok_in, read_checkpoint, record, rejected_in};
use crate::data_support::{f4, npy_bytes};
use tempfile::TempDir;
use triceratops::backend::Interpreter;
use triceratops::checkpoint::{self, RunSettings};
use triceratops::History;

/// Trains `linreg` for one epoch in `dir`, saving `L.safetensors`.
fn train_linreg(dir: &std::path::Path) {
    ok_in(
        Some(dir),
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
}

#[test]
fn resume_refuses_every_flag_that_the_checkpoint_fixes() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    train_linreg(dir.path());
    let before = std::fs::read(dir.path().join("L.safetensors")).unwrap();
    for (flag, value) in [
        ("--validation-split", "0.5"),
        ("--limit", "10"),
        ("--validation-data", "line"),
        ("--scale", "none"),
        ("--seed", "3"),
        ("--model", "linreg"),
        ("--optimizer", "adam"),
        ("--loss", "mse"),
        ("--convention", "pytorch"),
    ] {
        rejected_in(
            d,
            &["train", "--resume", "L.safetensors", flag, value],
            &[&format!("{flag} cannot be given with --resume")],
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("L.safetensors")).unwrap(),
        before,
        "nothing was trained or saved"
    );
    // What may change does.
    let out = ok_in(
        d,
        &[
            "train",
            "--resume",
            "L.safetensors",
            "--lr",
            "0.05",
            "--batch-size",
            "16",
            "--epochs",
            "1",
        ],
    );
    assert!(out.contains("lr 0.05"), "{out}");
    assert!(
        out.contains("13/13 - "),
        "204 samples in batches of 16: {out}"
    );
    let r = record(&read_checkpoint(&dir.path().join("L.safetensors")));
    assert_eq!(r["epochs_done"], 2, "saved back to the resumed checkpoint");
    assert_eq!(r["run"]["batch_size"], 16);
}

#[test]
fn separate_validation_data_is_recorded_and_evaluated() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let out = ok_in(
        d,
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "2",
            "--validation-data",
            "line",
            "--save",
            "L.safetensors",
        ],
    );
    // All of `line` trains; all of it validates too.
    assert!(
        out.contains("training linreg on 256 samples of line, validating on 256 "),
        "{out}"
    );
    let last = out.lines().rfind(|l| l.contains("val_loss")).unwrap();
    let val_loss = &last[last.find("val_loss: ").unwrap() + 10..];
    let eval = ok_in(d, &["eval", "--checkpoint", "L.safetensors"]);
    assert_eq!(
        eval.trim(),
        format!("256 validation samples - loss: {val_loss}")
    );
    let r = record(&read_checkpoint(&dir.path().join("L.safetensors")));
    assert_eq!(r["run"]["validation_data"], "line");
    assert!(r["run"]["validation_split"].is_null());
    rejected_in(
        d,
        &[
            "train",
            "--model",
            "linreg",
            "--validation-data",
            "line",
            "--validation-split",
            "0.1",
        ],
        &[
            "--validation-data and --validation-split",
            "give one of them",
        ],
    );
}

#[test]
fn a_run_without_validation_has_nothing_to_call_held_out() {
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
            "--validation-split",
            "0",
            "--save",
            "L.safetensors",
        ],
    );
    rejected_in(
        d,
        &["eval", "--checkpoint", "L.safetensors"],
        &["held out no validation samples", "--split train"],
    );
    let out = ok_in(
        d,
        &["eval", "--checkpoint", "L.safetensors", "--split", "train"],
    );
    assert!(out.starts_with("256 training samples - loss: "), "{out}");
}

#[test]
fn an_evaluation_that_overflows_fails() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    train_linreg(dir.path());
    // Finite weights whose squared error overflows f32.
    let path = dir.path().join("L.safetensors");
    let restored = checkpoint::load(&path, Box::new(Interpreter)).unwrap();
    let mut model = restored.model;
    let huge = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1, 1]), 1e30f32);
    model.state_mut().set("dense.kernel", &huge.view()).unwrap();
    let run = RunSettings {
        validation_split: Some(0.2),
        ..restored.run
    };
    checkpoint::save(&path, &model, &run, &History::default()).unwrap();
    rejected_in(
        d,
        &["eval", "--checkpoint", "L.safetensors"],
        &["the loss over 52 validation samples is inf"],
    );
}

#[test]
fn relative_data_paths_work_from_another_folder_and_errors_say_where_they_came_from() {
    use crate::data_support::idx_bytes;
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let n = 40u8;
    let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i * 7 % 251) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| i % 10).collect();
    std::fs::write(data.join("x.idx"), idx_bytes(&[n as u32, 28, 28], &pixels)).unwrap();
    std::fs::write(data.join("y.idx"), idx_bytes(&[n as u32], &labels)).unwrap();
    ok_in(
        Some(dir.path()),
        &[
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            "idx:data/x.idx,data/y.idx",
            "--epochs",
            "1",
            "--save",
            "M.safetensors",
        ],
    );
    // From the data folder, the recorded spec still finds the files.
    let out = ok_in(Some(&data), &["eval", "--checkpoint", "../M.safetensors"]);
    assert!(out.starts_with("8 validation samples - "), "{out}");
    std::fs::remove_file(data.join("x.idx")).unwrap();
    let err = rejected_in(
        Some(dir.path()),
        &["eval", "--checkpoint", "M.safetensors"],
        &["x.idx", "recorded in M.safetensors", "--data"],
    );
    assert!(err.contains(&crate::cli_support::path_str(&data)), "{err}");
}

/// A little-endian f32 `.npy` file of shape `[n, 1]`.
fn npy_column(values: &[f32]) -> Vec<u8> {
    npy_bytes("<f4", &[values.len(), 1], &f4(values))
}

#[test]
fn non_finite_data_is_a_load_error_naming_file_sample_and_part() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let xs: Vec<f32> = (0..10).map(|i| i as f32 / 10.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
    std::fs::write(dir.path().join("y.npy"), npy_column(&ys)).unwrap();
    // 10 samples, split 0.2: samples 0-7 train, 8-9 validate.
    for (index, value, part, what) in [
        (3, f32::NAN, "train", "NaN"),
        (9, f32::INFINITY, "validation", "inf"),
    ] {
        let mut bad = xs.clone();
        bad[index] = value;
        std::fs::write(dir.path().join("x.npy"), npy_column(&bad)).unwrap();
        rejected_in(
            d,
            &[
                "train",
                "--model",
                "linreg",
                "--data",
                "npy:x.npy,y.npy",
                "--save",
                "L.safetensors",
            ],
            &["x.npy", &format!("sample {index} ({part} part)"), what],
        );
        assert!(!dir.path().join("L.safetensors").exists());
    }
}

#[test]
fn resuming_on_new_data_needs_a_scale_when_the_formats_disagree() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    crate::cli_support::mnist_mlp_trained(dir.path(), "M.safetensors", 1, 100);
    // 50 raw-byte images as NumPy arrays: npy's default scale is none, the
    // run divided its bundled MNIST by 255.
    let pixels: Vec<u8> = (0..50 * 784).map(|i| (i % 256) as u8).collect();
    let labels: Vec<u8> = (0..50).map(|i| i % 10).collect();
    std::fs::write(
        dir.path().join("x.npy"),
        npy_bytes("|u1", &[50, 784], &pixels),
    )
    .unwrap();
    std::fs::write(dir.path().join("y.npy"), npy_bytes("|u1", &[50], &labels)).unwrap();
    fn resume<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["train", "--resume", "M.safetensors", "--epochs", "1"];
        args.extend(extra);
        args
    }
    rejected_in(
        d,
        &resume(&["--data", "npy:x.npy,y.npy"]),
        &["default scale is none", "by 1/255", "give --scale"],
    );
    rejected_in(
        d,
        &resume(&["--scale", "1/255"]),
        &["--scale cannot be given with --resume"],
    );
    ok_in(
        d,
        &resume(&["--data", "npy:x.npy,y.npy", "--scale", "1/255"]),
    );
    let r = record(&read_checkpoint(&dir.path().join("M.safetensors")));
    assert_eq!(r["run"]["scale"], "1/255");
    assert!(r["run"]["data"].as_str().unwrap().ends_with("y.npy"));
}

#[test]
fn fast_math_is_recorded_and_kept_by_a_resumed_run() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let path = dir.path().join("L.safetensors");
    ok_in(
        d,
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "1",
            "--fast-math",
            "--save",
            "L.safetensors",
        ],
    );
    assert_eq!(record(&read_checkpoint(&path))["run"]["fast_math"], true);
    ok_in(d, &["train", "--resume", "L.safetensors", "--epochs", "1"]);
    let r = record(&read_checkpoint(&path));
    assert_eq!(r["run"]["fast_math"], true, "kept on resume");
    assert_eq!(r["epochs_done"], 2);
    // An exact run records nothing (older records keep their checksum).
    train_linreg(dir.path());
    assert!(record(&read_checkpoint(&path))["run"]
        .get("fast_math")
        .is_none());
    rejected_in(
        d,
        &[
            "compile",
            "--model",
            "linreg",
            "--emit",
            "optimized",
            "--passes",
            "none",
            "--fast-math",
        ],
        &["--fast-math needs the passes"],
    );
}
