//! Bad input to the `triceratops` binary: unknown or malformed models, data
//! and options, flags a resumed run may not change, and output paths that
//! cannot be written. Each is one `error: ...` line naming the problem, exit
//! code 1, nothing on stdout, never a panic.

use std::io::Write;

use crate::cli_support::{
    assert_no_files, entries, keras_fixture, mnist_mlp_checkpoint, ok_in, path_str, rejected,
    rejected_in,
};
use tempfile::TempDir;

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
    assert_no_files(dir.path());
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
