//! NumPy `.npz` archives (`--data npz:FILE[:x=KEY,y=KEY]`) on archives
//! written by NumPy (tests/fixtures/data/make_npz_fixtures.py): Keras's
//! `mnist.npz` layout stored and deflated, custom keys, each error naming
//! the archive and the key, corrupt archives that never panic, and the CLI
//! (Keras's test arrays as validation data, `eval --split test`).

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use tempfile::TempDir;

use crate::data_support::{assert_data_error, fixture, write};
use triceratops::cli::data::{absolute_spec, default_scale, implied_validation, load, test_spec};
use triceratops::data::npz::{read_npz_array, Npz};
use triceratops::data::{load_npz_dataset, Scale};
use triceratops::Error;

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 fixture path")
}

/// The fixture's images: `arange(10 * 28 * 28) % 256` as 10 images.
fn keras_x() -> ArrayD<f32> {
    ArrayD::from_shape_vec(
        IxDyn(&[10, 28, 28]),
        (0..10 * 28 * 28).map(|v| (v % 256) as f32).collect(),
    )
    .unwrap()
}

const KERAS_Y: [usize; 10] = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4];

#[test]
fn npz_reads_keras_layout_stored_and_compressed() {
    let x = keras_x();
    for name in ["keras_compressed.npz", "keras_stored.npz"] {
        let p = fixture(name);
        let npz = Npz::open(&p).unwrap();
        assert_eq!(npz.keys(), ["x_train", "y_train", "x_test", "y_test"]);
        let d = load_npz_dataset(&p, "x_train", "y_train", Some(10)).unwrap();
        assert_eq!(d.x, x.slice(ndarray::s![..6, .., ..]).into_dyn(), "{name}");
        assert_eq!(d.y.shape(), [6, 10]);
        for (i, &label) in KERAS_Y[..6].iter().enumerate() {
            assert_eq!(d.y[[i, label]], 1.0, "{name} sample {i}");
            assert_eq!(d.y.row_sum(i), 1.0);
        }
        let t = load_npz_dataset(&p, "x_test", "y_test", Some(10)).unwrap();
        assert_eq!(t.x, x.slice(ndarray::s![6.., .., ..]).into_dyn());
        assert_eq!(t.y[[3, KERAS_Y[9]]], 1.0);
        // Without classes the labels stay as stored (uint8 -> f32).
        let raw = read_npz_array(&p, "y_test").unwrap();
        assert_eq!(raw.as_slice().unwrap(), [1.0, 3.0, 1.0, 4.0]);
    }
}

trait RowSum {
    fn row_sum(&self, i: usize) -> f32;
}

impl RowSum for ArrayD<f32> {
    fn row_sum(&self, i: usize) -> f32 {
        self.index_axis(ndarray::Axis(0), i).sum()
    }
}

#[test]
fn npz_custom_keys() {
    let p = fixture("custom.npz");
    let d = load_npz_dataset(&p, "images", "labels", Some(3)).unwrap();
    assert_eq!(d.x.shape(), [5, 3]);
    assert_eq!(d.x[[4, 2]], 7.0); // arange(15) / 2
    assert_eq!(d.y.shape(), [5, 3]);
    assert_eq!(d.y[[1, 2]], 1.0);
    // Through the spec; keys in either order, and one key alone.
    let spec = format!("npz:{}:y=labels,x=images", s(&p));
    let via_spec = load(&spec, Some(3), None).unwrap();
    assert_eq!(via_spec.x, d.x);
    assert_eq!(via_spec.y, d.y);
    let x_only = format!("npz:{}:x=images", s(&p));
    assert_data_error(
        load(&x_only, Some(3), None),
        &p,
        "key 'y_train': no such array",
    );
}

#[test]
fn npz_errors_name_the_archive_and_the_key() {
    let custom = fixture("custom.npz");
    // Missing keys list what the archive holds; Keras's default says how to
    // name others.
    assert_data_error(
        load(&format!("npz:{}", s(&custom)), Some(3), None),
        &custom,
        "key 'x_train': no such array (the archive holds: images, labels); name the arrays with npz:FILE:x=KEY,y=KEY",
    );
    assert_data_error(
        load_npz_dataset(&custom, "images", "nope", None),
        &custom,
        "key 'nope': no such array (the archive holds: images, labels)",
    );
    let p = fixture("mismatch.npz");
    assert_data_error(
        load_npz_dataset(&p, "x_train", "y_train", Some(3)),
        &p,
        "key 'y_train': sample count mismatch: y has shape [4] but x (key 'x_train') has shape [5, 3]",
    );
    let p = fixture("complex.npz");
    assert_data_error(
        load_npz_dataset(&p, "x_train", "y_train", Some(3)),
        &p,
        "key 'y_train': unsupported dtype '<c8'",
    );
    // Labels outside the classes, through the shared one-hot code.
    assert_data_error(
        load_npz_dataset(&custom, "images", "labels", Some(2)),
        &custom,
        "key 'labels': label 2 at index 1 is outside 0..2",
    );
    // A header claiming 2**40 floats over 16 bytes: refused by size, before
    // anything is allocated for it.
    let p = fixture("lying_header.npz");
    assert_data_error(
        load_npz_dataset(&p, "x_train", "y_train", None),
        &p,
        "key 'x_train': truncated data: shape [1099511627776] of <f4 needs 4398046511104 bytes of data, found 16",
    );
    // Not an archive at all, and no file.
    let npy = fixture("f4_3d.npy");
    assert_data_error(
        load_npz_dataset(&npy, "x_train", "y_train", None),
        &npy,
        "not a readable NPZ (zip) archive",
    );
    let missing = fixture("missing.npz");
    assert_data_error(
        load_npz_dataset(&missing, "x", "y", None),
        &missing,
        "cannot read it",
    );
}

#[test]
fn npz_corrupt_archives_are_errors() {
    let dir = TempDir::new().unwrap();
    let good = std::fs::read(fixture("keras_compressed.npz")).unwrap();
    // Cut before the zip directory: not an archive.
    let p = write(&dir, "cut.npz", &good[..good.len() / 2]);
    assert_data_error(
        load_npz_dataset(&p, "x_train", "y_train", None),
        &p,
        "not a readable NPZ (zip) archive",
    );
    // A flipped byte inside the first entry's deflated data: the entry is
    // refused (bad deflate stream or CRC), naming the key.
    let mut bad = good.clone();
    bad[200] ^= 0x55;
    let p = write(&dir, "flipped.npz", &bad);
    let e = load_npz_dataset(&p, "x_train", "y_train", None).unwrap_err();
    let shown = e.to_string();
    assert!(matches!(e, Error::Data { .. }), "{shown}");
    assert!(
        shown.starts_with(&format!("{}: key 'x_train': ", p.display())),
        "{shown}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// No truncation or corruption of a real archive panics: Ok or a data
    /// error naming the archive.
    #[test]
    fn npz_never_panics(cut in 0usize..1400, at in 0usize..1400, xor in 1u8..=255) {
        let dir = TempDir::new().unwrap();
        for name in ["keras_compressed.npz", "custom.npz"] {
            let mut bytes = std::fs::read(fixture(name)).unwrap();
            let n = bytes.len();
            bytes[at % n] ^= xor;
            for b in [&bytes[..], &bytes[..cut.min(n)]] {
                let p = write(&dir, "fuzz.npz", b);
                for (x, y) in [("x_train", "y_train"), ("images", "labels")] {
                    if let Err(e) = load_npz_dataset(&p, x, y, Some(10)) {
                        prop_assert!(matches!(&e, Error::Data { path, .. } if path == &p), "{e:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn npz_specs() {
    let p = fixture("keras_compressed.npz");
    let spec = format!("npz:{}", s(&p));
    // NPZ follows NPY: taken as stored unless --scale says otherwise.
    assert_eq!(default_scale(&spec).to_string(), "none");
    let d = load(&spec, Some(10), Some(Scale::BYTE)).unwrap();
    assert_eq!(d.x[[0, 9, 3]], 1.0); // flat index 255: pixel 255
    assert_eq!(d.len(), 6);
    let test = test_spec(&spec).unwrap();
    assert_eq!(test, format!("npz:{}:x=x_test,y=y_test", s(&p)));
    assert_eq!(load(&test, Some(10), None).unwrap().len(), 4);
    assert_eq!(implied_validation(&spec).unwrap(), Some(test));
    // Named keys, archives without test arrays and other formats bring none.
    let train_only = fixture("train_only.npz");
    assert_eq!(
        implied_validation(&format!("npz:{}", s(&train_only))).unwrap(),
        None
    );
    assert_eq!(
        implied_validation(&format!("{spec}:x=x_train")).unwrap(),
        None
    );
    assert_eq!(implied_validation("mnist").unwrap(), None);
    assert!(test_spec("mnist").is_err());
    assert!(test_spec(&format!("{spec}:x=a,y=b")).is_err());
    // Absolute specs keep named keys.
    let rel = "npz:tests/fixtures/data/custom.npz:x=images,y=labels";
    let abs = absolute_spec(rel).unwrap();
    assert!(
        abs.starts_with("npz:/") && abs.ends_with("custom.npz:x=images,y=labels"),
        "{abs}"
    );
    // Malformed specs.
    for bad in [
        "npz:",
        "npz:f.npz:x=",
        "npz:f.npz:x=a,z=b",
        "npz:f.npz:x=a,x=b",
    ] {
        assert!(
            matches!(load(bad, None, None), Err(Error::Config(_))),
            "{bad}"
        );
    }
}

// ------------------------------------------------------------------ CLI

fn triceratops() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("triceratops").unwrap()
}

#[test]
fn npz_cli_validates_on_keras_test_arrays_and_evals_split_test() {
    let dir = TempDir::new().unwrap();
    let ck = dir.path().join("ck.safetensors");
    let data = format!("npz:{}", s(&fixture("keras_compressed.npz")));
    let out = triceratops()
        .args([
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            &data,
            "--scale",
            "1/255",
        ])
        .args(["--epochs", "1", "--save", s(&ck)])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains("val_loss"), "{stdout}");
    // Validation = the 4 test samples; --split test names the same arrays.
    let eval = |extra: &[&str]| {
        let out = triceratops()
            .args(["eval", "--checkpoint", s(&ck)])
            .args(extra)
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stdout).into_owned()
    };
    assert!(eval(&[]).starts_with("4 validation samples"));
    assert!(eval(&["--split", "train"]).starts_with("6 training samples"));
    let test = eval(&["--split", "test"]);
    assert!(test.starts_with("4 test samples of npz:"), "{test}");
    let stored = format!("npz:{}", s(&fixture("keras_stored.npz")));
    let other = eval(&["--data", &stored, "--split", "test"]);
    assert!(other.starts_with("4 test samples of npz:"), "{other}");
    // Same arrays, same loss.
    assert_eq!(test.split(" - ").nth(1), other.split(" - ").nth(1));
    // An explicit --validation-split wins over the test arrays.
    let out = triceratops()
        .args([
            "train",
            "--model",
            "mnist-mlp",
            "--data",
            &data,
            "--epochs",
            "1",
        ])
        .args(["--validation-split", "0.5", "--save", s(&ck)])
        .assert()
        .success();
    drop(out);
    assert!(eval(&[]).starts_with("3 validation samples"));
    // --split test on data without test arrays: the archive and key named.
    let train_only = fixture("train_only.npz");
    let out = triceratops()
        .args(["eval", "--checkpoint", s(&ck), "--split", "test"])
        .args(["--data", &format!("npz:{}", s(&train_only))])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "{}: key 'x_test': no such array",
            train_only.display()
        )),
        "{stderr}"
    );
}

// ------------------------------------------- why not ndarray-npy's reader

/// Set in the child process of the test below.
const CHILD: &str = "TRICERATOPS_NDARRAY_NPY_CHILD";

/// A 16-byte-data NPY file whose header claims `(2**61 - 1,)` float32: the
/// largest length ndarray-npy's overflow check lets through.
fn lying_npy() -> Vec<u8> {
    let mut header =
        b"{'descr': '<f4', 'fortran_order': False, 'shape': (2305843009213693951,), }".to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header);
    bytes.extend([0u8; 16]);
    bytes
}

/// What users need and ndarray-npy (0.10) cannot do: read a file with a
/// lying header without trying to allocate what it claims. ndarray-npy
/// allocates the whole element buffer from the header before reading, so
/// the process aborts (memory allocation failure: no error, no unwinding);
/// our reader refuses the same bytes with the shape and dtype named. Run in
/// a child process, since the abort would take the test harness with it.
#[test]
fn ndarray_npy_allocates_from_a_lying_header() {
    use ndarray_npy::ReadNpyExt;
    let bytes = lying_npy();
    if std::env::var_os(CHILD).is_some() {
        let result = ndarray::Array1::<f32>::read_npy(&bytes[..]);
        // Not reached when the allocation aborts.
        println!("ndarray-npy returned: {result:?}");
        return;
    }
    let e = triceratops::data::npy::decode_npy(&bytes).unwrap_err();
    assert!(
        e.contains("shape [2305843009213693951] of <f4 needs") && e.contains("found 16"),
        "{e}"
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "data_npz::ndarray_npy_allocates_from_a_lying_header",
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ndarray-npy survived: {stderr}");
    assert!(stderr.contains("memory allocation of"), "{stderr}");
}
