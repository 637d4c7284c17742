//! Checkpoint formats: version-1 files (written before the settings became
//! versioned records) and version-2 files (records in separate entries, no
//! checksums) still load, evaluate and resume exactly as the version that
//! wrote them did, and version-3 records bring every hyper-parameter, the
//! RNG position and the history back bit for bit.

use std::path::{Path, PathBuf};

use crate::cli_support::{f32s, ok_in, read_checkpoint, record, root, set_record};
use tempfile::TempDir;
use triceratops::backend::Interpreter;
use triceratops::checkpoint::{self, RunSettings};
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Kind, Optimizer, WeightDecay};
use triceratops::keras::{Dense, Sequential};
use triceratops::train::{EpochLog, Logs};
use triceratops::{History, Model};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/checkpoints").join(name)
}

/// A copy of a fixture in `dir`, so a resumed run can write over it.
fn copy(dir: &Path, name: &str) -> String {
    std::fs::copy(fixture(name), dir.join(name)).unwrap();
    name.to_string()
}

fn load(path: &Path) -> Model {
    checkpoint::load(path, Box::new(Interpreter))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .model
}

#[test]
fn version_1_settings_load_as_written() {
    let restored =
        checkpoint::load(&fixture("v1_cnn_adam.safetensors"), Box::new(Interpreter)).unwrap();
    let m = &restored.model;
    assert_eq!(m.sequential().name, "fixture_cnn");
    assert_eq!(m.sequential().count_params(), 6810);
    assert_eq!(m.spec().optimizer, Optimizer::adam(Convention::Keras));
    assert_eq!(
        m.spec().loss,
        Loss::CategoricalCrossentropy { from_logits: false }
    );
    assert_eq!(m.spec().metrics.len(), 1);
    assert_eq!(m.epochs_done, 2);
    assert_eq!(m.steps(), 16, "2 epochs of 8 batches");
    assert_eq!(
        restored.run,
        RunSettings {
            data: Some("mnist".into()),
            batch_size: Some(32),
            // That version held out 0.2 when no split was given.
            validation_split: Some(0.2),
            limit: Some(300),
            ..RunSettings::default()
        }
    );
    assert_eq!(m.rng_state().word_pos, 331_408);

    let linreg = checkpoint::load(
        &fixture("v1_linreg_rmsprop.safetensors"),
        Box::new(Interpreter),
    )
    .unwrap();
    let o = linreg.model.spec().optimizer;
    assert_eq!(o.convention, Convention::PyTorch);
    assert_eq!(o.learning_rate, 0.01);
    assert_eq!(
        o.kind,
        Kind::RmsProp {
            rho: 0.99,
            epsilon: 1e-8,
            momentum: 0.0,
            centered: false
        }
    );
    assert_eq!(linreg.model.spec().loss, Loss::MeanSquaredError);
    assert_eq!(linreg.run.data.as_deref(), Some("line"));
}

#[test]
fn version_1_tensors_load_bit_for_bit() {
    for name in ["v1_cnn_adam.safetensors", "v1_linreg_rmsprop.safetensors"] {
        let path = fixture(name);
        let model = load(&path);
        let raw = read_checkpoint(&path);
        assert_eq!(raw.tensors.len(), model.state().len(), "{name}");
        for (tensor, (_, shape, bytes)) in &raw.tensors {
            let loaded = model.state().view(tensor).unwrap();
            assert_eq!(loaded.shape(), shape.as_slice(), "{name}: {tensor}");
            let same_bits = loaded
                .iter()
                .zip(f32s(bytes))
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same_bits, "{name}: {tensor}");
        }
    }
}

/// What `eval` prints for the checkpoint's own validation samples must be
/// the `val_*` part of the epoch line its last epoch printed.
#[track_caller]
fn assert_eval_matches_last_validation(eval: &str, samples: usize, train_output: &str) {
    let epoch_line = train_output
        .lines()
        .rfind(|l| l.contains("val_loss"))
        .expect("an epoch line with validation");
    let val = &epoch_line[epoch_line.find("val_loss").unwrap()..];
    assert_eq!(
        eval.trim(),
        format!("{samples} validation samples - {}", val.replace("val_", "")),
        "{train_output}"
    );
}

#[test]
fn version_1_checkpoints_evaluate_and_resume_as_their_version_did() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let cnn = copy(dir.path(), "v1_cnn_adam.safetensors");
    // That version evaluated the whole data set; `--data` still does.
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn, "--data", "mnist"]);
    assert_eq!(
        eval.trim(),
        "10000 samples of mnist - loss: 2.1864 - accuracy: 0.2783"
    );
    let predict = ok_in(
        d,
        &[
            "predict",
            "--checkpoint",
            &cnn,
            "--data",
            "mnist",
            "--count",
            "3",
        ],
    );
    assert_eq!(
        predict.trim(),
        "sample 0: class 7 (p = 0.1230), label 7\n\
         sample 1: class 2 (p = 0.1547), label 2\n\
         sample 2: class 1 (p = 0.1214), label 1"
    );
    // Without --save, a resumed run saves back to its checkpoint.
    let resumed = ok_in(d, &["train", "--resume", &cnn, "--epochs", "1"]);
    assert!(
        resumed
            .contains("loss: 2.1217 - accuracy: 0.3417 - val_loss: 2.0793 - val_accuracy: 0.6167"),
        "{resumed}"
    );
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn, "--data", "mnist"]);
    assert_eq!(
        eval.trim(),
        "10000 samples of mnist - loss: 2.1202 - accuracy: 0.3940"
    );
    // By default, eval takes the 60 samples the run held out (300 · 0.2).
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn]);
    assert_eval_matches_last_validation(&eval, 60, &resumed);
    let rewritten = read_checkpoint(&dir.path().join(&cnn));
    let r = record(&rewritten);
    assert_eq!(r["format"], "triceratops-checkpoint-3");
    assert_eq!(r["epochs_done"], 3);
    assert_eq!(
        r["history"].as_array().unwrap().len(),
        1,
        "the resumed epoch"
    );

    let linreg = copy(dir.path(), "v1_linreg_rmsprop.safetensors");
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg, "--data", "line"]);
    assert_eq!(eval.trim(), "256 samples of line - loss: 2.9372");
    let resumed = ok_in(d, &["train", "--resume", &linreg, "--epochs", "1"]);
    assert!(
        resumed.contains("loss: 1.5370 - val_loss: 7.1071"),
        "{resumed}"
    );
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg, "--data", "line"]);
    assert_eq!(eval.trim(), "256 samples of line - loss: 2.5763");
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg]);
    assert_eval_matches_last_validation(&eval, 52, &resumed);
}

#[test]
fn version_2_checkpoints_evaluate_and_resume_as_their_version_did() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let linreg = copy(dir.path(), "v2_linreg_adam.safetensors");
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg, "--data", "line"]);
    assert_eq!(eval.trim(), "256 samples of line - loss: 3.9907");
    let resumed = ok_in(d, &["train", "--resume", &linreg, "--epochs", "1"]);
    assert!(
        resumed.contains("7/7 - ") && resumed.contains("loss: 2.0524 - val_loss: 11.5004"),
        "{resumed}"
    );
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg, "--data", "line"]);
    assert_eq!(eval.trim(), "256 samples of line - loss: 3.9652");
    let eval = ok_in(d, &["eval", "--checkpoint", &linreg]);
    assert_eval_matches_last_validation(&eval, 52, &resumed);

    let cnn = copy(dir.path(), "v2_cnn_rmsprop.safetensors");
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn, "--data", "mnist"]);
    assert_eq!(
        eval.trim(),
        "10000 samples of mnist - loss: 2.1189 - accuracy: 0.3470"
    );
    let predict = ok_in(
        d,
        &[
            "predict",
            "--checkpoint",
            &cnn,
            "--data",
            "mnist",
            "--count",
            "2",
        ],
    );
    assert_eq!(
        predict.trim(),
        "sample 0: class 9 (p = 0.1434), label 7\n\
         sample 1: class 8 (p = 0.1562), label 2"
    );
    let resumed = ok_in(d, &["train", "--resume", &cnn, "--epochs", "1"]);
    assert!(
        resumed.contains("5/5 - ",)
            && resumed.contains(
                "loss: 2.0496 - accuracy: 0.3600 - val_loss: 2.0308 - val_accuracy: 0.4667"
            ),
        "{resumed}"
    );
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn, "--data", "mnist"]);
    assert_eq!(
        eval.trim(),
        "10000 samples of mnist - loss: 2.0040 - accuracy: 0.4427"
    );
    // The run held out 75 of its 300 samples (--validation-split 0.25).
    let eval = ok_in(d, &["eval", "--checkpoint", &cnn]);
    assert_eval_matches_last_validation(&eval, 75, &resumed);
    let predict = ok_in(d, &["predict", "--checkpoint", &cnn, "--count", "1"]);
    assert!(predict.starts_with("sample 225: class "), "{predict}");
}

#[test]
fn checkpoint_records_bring_every_setting_back_exactly() {
    // Awkward f32s: ones whose decimal form rounds differently through f64,
    // subnormals, the largest float, and -0.
    let awkward = [
        f32::from_bits(0x3dcc_cccd),
        f32::from_bits(0x0000_0001),
        f32::MAX,
        1.0e-7,
        0.3,
        16_777_217.0,
        -0.0,
    ];
    let dir = TempDir::new().unwrap();
    for (i, &v) in awkward.iter().enumerate() {
        let optimizer = Optimizer {
            kind: Kind::Adam {
                beta_1: v,
                beta_2: 0.999,
                epsilon: v,
                amsgrad: i % 2 == 0,
                bias_correction: i % 3 != 0,
            },
            convention: Convention::PyTorch,
            learning_rate: v,
            weight_decay: WeightDecay::Decoupled(v),
            decay: v,
        };
        let mut model = Sequential::new("m", &[3]);
        model.add(Dense::new(2)).unwrap();
        let mut m = Model::new(
            model,
            optimizer,
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            &[Metric::Accuracy],
            Box::new(Interpreter),
            9,
        )
        .unwrap();
        m.epochs_done = 4;
        let run = RunSettings {
            data: Some("npy:a.npy,b.npy".into()),
            validation_data: (i % 2 == 0).then(|| "idx:c,d".into()),
            scale: Some("1/255".into()),
            batch_size: Some(7),
            validation_split: Some(v.abs().min(0.5)),
            limit: None,
            fast_math: i % 2 == 1,
        };
        let logs = |loss: f32| Logs {
            loss,
            metrics: vec![("accuracy".into(), v)],
        };
        let history = History {
            epochs: vec![EpochLog {
                epoch: 4,
                train: logs(v),
                validation: (i % 3 == 0).then(|| logs(-v)),
                seconds: 0.0,
            }],
        };
        let path = dir.path().join(format!("{i}.safetensors"));
        checkpoint::save(&path, &m, &run, &history).unwrap();
        let back = checkpoint::load(&path, Box::new(Interpreter)).unwrap();
        let (a, b) = (m.spec().optimizer, back.model.spec().optimizer);
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{v:e}");
        let bits = |o: &Optimizer| match o.kind {
            Kind::Adam {
                beta_1, epsilon, ..
            } => [
                beta_1.to_bits(),
                epsilon.to_bits(),
                o.learning_rate.to_bits(),
                o.decay.to_bits(),
            ],
            _ => unreachable!(),
        };
        assert_eq!(bits(&a), bits(&b), "{v:e}");
        assert_eq!(back.model.spec().loss, m.spec().loss);
        assert_eq!(back.model.rng_state(), m.rng_state());
        assert_eq!(back.model.epochs_done, 4);
        assert_eq!(back.model.state(), m.state());
        assert_eq!(
            back.run.validation_split.map(f32::to_bits),
            run.validation_split.map(f32::to_bits)
        );
        assert_eq!(back.run, run);
        let bits = |h: &History| format!("{:?}", h.epochs[0]);
        assert_eq!(bits(&back.history), bits(&history), "{v:e}");
    }
}

#[test]
fn malformed_records_are_clear_errors() {
    let dir = TempDir::new().unwrap();
    let mut model = Sequential::new("m", &[2]);
    model.add(Dense::new(1)).unwrap();
    let m = model
        .compile(
            Optimizer::sgd(Convention::Keras),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let path = dir.path().join("ok.safetensors");
    checkpoint::save(&path, &m, &RunSettings::default(), &History::default()).unwrap();
    let good = read_checkpoint(&path);
    let lr = record(&good)["compile"]["optimizer"]["learning_rate"].clone();
    assert_eq!(lr, "0.01", "the record has the learning rate as text");
    let cases: [(&str, serde_json::Value, &str); 6] = [
        (
            "/compile",
            serde_json::json!({"optimizer": 1}),
            "checkpoint record",
        ),
        (
            "/rng",
            serde_json::json!({"seed": [0], "stream": 0, "word_pos": "1"}),
            "checkpoint record",
        ),
        (
            "/run/batch_size",
            serde_json::json!("many"),
            "checkpoint record",
        ),
        (
            "/format",
            serde_json::json!("triceratops-checkpoint-9"),
            "unknown checkpoint format",
        ),
        (
            "/compile/optimizer/learning_rate",
            serde_json::json!("fast"),
            "`fast` is not an f32",
        ),
        // Well-formed but changed: the record's own checksum catches it.
        (
            "/rng/word_pos",
            serde_json::json!("1"),
            "settings are corrupt",
        ),
    ];
    for (pointer, value, needle) in cases {
        let mut bad = crate::cli_support::Checkpoint {
            tensors: good.tensors.clone(),
            metadata: good.metadata.clone(),
        };
        let mut r = record(&bad);
        *r.pointer_mut(pointer).unwrap() = value;
        set_record(&mut bad, &r);
        let bad_path = dir.path().join("bad.safetensors");
        crate::cli_support::write_checkpoint(&bad_path, &bad);
        let err = checkpoint::load(&bad_path, Box::new(Interpreter))
            .err()
            .unwrap_or_else(|| panic!("{pointer}: a bad record loaded"))
            .to_string();
        assert!(err.contains(needle), "{pointer}: {err}");
    }
}
