//! The IDX loader (MNIST) on the bundled real files and on synthetic ones:
//! plain and gzipped files read the same, and every truncated, corrupt or
//! inconsistent file is an `Error::Data` naming the file and saying what is
//! wrong.

use std::io::Read;

use flate2::read::GzDecoder;
use ndarray::ArrayD;
use tempfile::TempDir;

use crate::data_support::{assert_data_error, gz, idx_bytes, mnist_dir, write};
use triceratops::data::{idx, load_idx_dataset, mnist_test_set};
use triceratops::Error;

// ---------------------------------------------------------------- helpers

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn class_counts(y: &ArrayD<f32>) -> Vec<usize> {
    let mut counts = vec![0; y.shape()[1]];
    for row in y.outer_iter() {
        let hot: Vec<usize> = (0..row.len()).filter(|&k| row[k] == 1.0).collect();
        assert_eq!(hot.len(), 1, "a one-hot row has exactly one 1");
        assert_eq!(row.sum(), 1.0);
        counts[hot[0]] += 1;
    }
    counts
}

// ------------------------------------------------------------ real MNIST

#[test]
fn real_mnist_test_set() {
    let data = mnist_test_set(&mnist_dir()).unwrap();
    assert_eq!(data.len(), 10_000);
    assert_eq!(data.x.shape(), &[10_000, 28, 28]);
    assert_eq!(data.y.shape(), &[10_000, 10]);
    assert_eq!(
        class_counts(&data.y),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(data.y.row_argmax(0), 7, "the first test image is a 7");
    // Summed in f64: an f32 sum of 7.8 million pixels drifts by ~0.015.
    let mean = data.x.iter().map(|&v| v as f64).sum::<f64>() / data.x.len() as f64;
    assert!(
        (mean * 255.0 - 33.79).abs() < 0.01,
        "mean pixel {} (0..255)",
        mean * 255.0
    );
    let (lo, hi) = data
        .x
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert_eq!((lo, hi), (0.0, 1.0));
}

trait RowArgmax {
    fn row_argmax(&self, i: usize) -> usize;
}

impl RowArgmax for ArrayD<f32> {
    fn row_argmax(&self, i: usize) -> usize {
        let row = self.index_axis(ndarray::Axis(0), i);
        (0..row.len()).find(|&k| row[k] == 1.0).unwrap()
    }
}

#[test]
fn real_mnist_through_load_idx_dataset_matches() {
    let dir = mnist_dir();
    let a = load_idx_dataset(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
        10,
    )
    .unwrap();
    let b = mnist_test_set(&dir).unwrap();
    assert_eq!(a.x, b.x);
    assert_eq!(a.y, b.y);
}

#[test]
fn real_mnist_train_labels() {
    let labels = idx::read_idx(&mnist_dir().join("train-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(labels.dims, [60_000]);
    assert_eq!(labels.data.len(), 60_000);
    let mut counts = [0usize; 10];
    for &l in &labels.data {
        counts[l as usize] += 1; // also checks every label < 10
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
}

#[test]
fn plain_copy_of_real_mnist_reads_the_same() {
    let tmp = TempDir::new().unwrap();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let raw = std::fs::read(mnist_dir().join(format!("{name}.gz"))).unwrap();
        write(&tmp, name, &gunzip(&raw));
    }
    let plain = mnist_test_set(tmp.path()).unwrap();
    let gzipped = mnist_test_set(&mnist_dir()).unwrap();
    assert_eq!(plain.x, gzipped.x);
    assert_eq!(plain.y, gzipped.y);
}

#[test]
fn mnist_test_set_names_missing_files() {
    let tmp = TempDir::new().unwrap();
    let err = mnist_test_set(tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Data { .. }));
    assert!(err.to_string().contains("file not found"), "{err}");
}

// ----------------------------------------------------- synthetic IDX files

#[test]
fn idx_round_trips_plain_and_gzipped() {
    let tmp = TempDir::new().unwrap();
    let pixels: Vec<u8> = (0..3 * 2 * 4).map(|i| (i * 11) as u8).collect();
    let images = idx_bytes(&[3, 2, 4], &pixels);
    let labels = idx_bytes(&[3], &[2, 0, 4]);
    for (ext, encode) in [("", false), (".gz", true)] {
        let enc = |b: &[u8]| if encode { gz(b) } else { b.to_vec() };
        let ip = write(&tmp, &format!("images{ext}"), &enc(&images));
        let lp = write(&tmp, &format!("labels{ext}"), &enc(&labels));
        let read = idx::read_idx(&ip).unwrap();
        assert_eq!(read.dims, [3, 2, 4]);
        assert_eq!(read.data, pixels);
        assert_eq!(read.path, ip);

        let data = load_idx_dataset(&ip, &lp, 5).unwrap();
        assert_eq!(data.x.shape(), &[3, 2, 4]);
        assert_eq!(data.x[[1, 0, 2]], pixels[8 + 2] as f32 / 255.0);
        assert_eq!(data.x[[2, 1, 3]], pixels[23] as f32 / 255.0);
        assert_eq!(data.y.shape(), &[3, 5]);
        assert_eq!(class_counts(&data.y), [1, 0, 1, 0, 1]);
        assert_eq!(data.y[[0, 2]], 1.0);
        assert_eq!(data.y[[2, 4]], 1.0);
    }
}

#[test]
fn idx_multi_member_gzip_and_empty_dataset() {
    let tmp = TempDir::new().unwrap();
    // A gzip file may hold several members; together they are the file.
    let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    let mut two = gz(&bytes[..7]);
    two.extend(gz(&bytes[7..]));
    let p = write(&tmp, "two-members.gz", &two);
    assert_eq!(idx::read_idx(&p).unwrap().data, [1, 2, 3, 4, 5, 6]);

    let ip = write(&tmp, "empty-images", &idx_bytes(&[0, 28, 28], &[]));
    let lp = write(&tmp, "empty-labels", &idx_bytes(&[0], &[]));
    let data = load_idx_dataset(&ip, &lp, 10).unwrap();
    assert!(data.is_empty());
    assert_eq!(data.x.shape(), &[0, 28, 28]);
    assert_eq!(data.y.shape(), &[0, 10]);
}

#[test]
fn idx_truncated_real_files() {
    let tmp = TempDir::new().unwrap();
    let raw = std::fs::read(mnist_dir().join("t10k-images-idx3-ubyte.gz")).unwrap();
    let plain = gunzip(&raw);
    assert_eq!(plain.len(), 16 + 10_000 * 28 * 28);
    let cases: [(usize, &str); 11] = [
        (
            0,
            "truncated header: the file ends after 0 of the 4 magic bytes",
        ),
        (
            3,
            "truncated header: the file ends after 3 of the 4 magic bytes",
        ),
        (
            4,
            "truncated header: 3 dimensions need a 16-byte header, the file has 4",
        ),
        (
            9,
            "truncated header: 3 dimensions need a 16-byte header, the file has 9",
        ),
        (15, "the file has 15"),
        (
            16,
            "truncated data: dimensions [10000, 28, 28] need 7840000 bytes, found 0",
        ),
        (17, "need 7840000 bytes, found 1"),
        (16 + 784 * 5000 + 3, "found 3920003"),
        (plain.len() - 1, "found 7839999"),
        (1, "truncated header"),
        (2, "truncated header"),
    ];
    for (cut, fragment) in cases {
        // Plain: cut the file itself.
        let p = write(&tmp, &format!("cut-{cut}"), &plain[..cut]);
        assert_data_error(idx::read_idx(&p), &p, fragment);
        // A valid gzip stream of the cut file: the same IDX error.
        let p = write(&tmp, &format!("cut-{cut}.gz"), &gz(&plain[..cut]));
        assert_data_error(idx::read_idx(&p), &p, fragment);
    }
    // Cutting the compressed file: the gzip stream itself is truncated.
    for cut in [
        3,
        9,
        10,
        11,
        100,
        raw.len() / 2,
        raw.len() - 8,
        raw.len() - 1,
    ] {
        let p = write(&tmp, &format!("gzcut-{cut}.gz"), &raw[..cut]);
        assert_data_error(idx::read_idx(&p), &p, "truncated gzip stream");
    }
    // Dataset level: truncated labels file is reported against its path.
    let lraw = gunzip(&std::fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap());
    let lp = write(&tmp, "labels-cut", &lraw[..lraw.len() - 10]);
    let ip = mnist_dir().join("t10k-images-idx3-ubyte.gz");
    assert_data_error(
        load_idx_dataset(&ip, &lp, 10),
        &lp,
        "truncated data: dimensions [10000] need 10000 bytes, found 9990",
    );
}

#[test]
fn idx_header_errors() {
    let tmp = TempDir::new().unwrap();
    let good = idx_bytes(&[2, 2], &[1, 2, 3, 4]);

    let mut bad = good.clone();
    bad[0] = 0x08; // flipped magic
    let p = write(&tmp, "bad-magic", &bad);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "not an IDX file: magic 08000802 does not start with two zero bytes",
    );
    let p = write(&tmp, "bad-magic.gz", &gz(&bad));
    assert_data_error(idx::read_idx(&p), &p, "not an IDX file");

    let mut bad = good.clone();
    bad[2] = 0x0D; // f32 elements
    let p = write(&tmp, "f32", &bad);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "IDX element type 0x0d (f32) is not supported",
    );
    bad[2] = 0x0A;
    let p = write(&tmp, "unknown-type", &bad);
    assert_data_error(idx::read_idx(&p), &p, "unknown IDX element type code 0x0a");

    let p = write(&tmp, "zero-dims", &[0, 0, 8, 0, 1, 2]);
    assert_data_error(idx::read_idx(&p), &p, "zero dimensions");

    let mut bad = good.clone();
    bad.extend([9, 9, 9]);
    let p = write(&tmp, "trailing", &bad);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "trailing bytes: dimensions [2, 2] need 4 bytes, found 7 (3 extra)",
    );
    let p = write(&tmp, "trailing.gz", &gz(&bad));
    assert_data_error(idx::read_idx(&p), &p, "found 7 (3 extra)");

    // A header that lies: 2^31 items, 10 bytes of data. Refused from the
    // sizes alone (plain) or after reading the 10 bytes (gzip) — the test
    // would abort on an attempt to allocate 2 GiB first... or at least be slow.
    let liar = idx_bytes(&[1 << 31], &[7; 10]);
    let p = write(&tmp, "liar", &liar);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "truncated data: dimensions [2147483648] need 2147483648 bytes, found 10",
    );
    let p = write(&tmp, "liar.gz", &gz(&liar));
    assert_data_error(idx::read_idx(&p), &p, "need 2147483648 bytes, found 10");
    // Dimensions whose product overflows.
    let liar = idx_bytes(&[u32::MAX; 3], &[1]);
    let p = write(&tmp, "overflow", &liar);
    assert_data_error(idx::read_idx(&p), &p, "overflow");
    // The maximum number of dimensions (255), all 1: a valid 1-element file.
    let p = write(&tmp, "many-dims", &idx_bytes(&[1; 255], &[42]));
    assert_eq!(idx::read_idx(&p).unwrap().dims.len(), 255);

    let p = tmp.path().join("does-not-exist");
    assert_data_error(idx::read_idx(&p), &p, "cannot read");
}

#[test]
fn idx_gzip_errors() {
    let tmp = TempDir::new().unwrap();
    let good = gz(&idx_bytes(&[4], &[1, 2, 3, 4]));

    let mut bad = good.clone();
    bad.extend(b"garbage!");
    let p = write(&tmp, "garbage.gz", &bad);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "8 trailing bytes of garbage after the end of the gzip stream",
    );
    let mut bad = good.clone();
    bad.push(0);
    let p = write(&tmp, "one-zero.gz", &bad);
    assert_data_error(
        idx::read_idx(&p),
        &p,
        "garbage after the end of the gzip stream",
    );

    // The real labels file with bytes flipped in its deflate data / CRC.
    let raw = std::fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    for at in [raw.len() / 2, raw.len() - 8, raw.len() - 3] {
        let mut bad = raw.clone();
        bad[at] ^= 0x55;
        let p = write(&tmp, &format!("flip-{at}.gz"), &bad);
        assert_data_error(idx::read_idx(&p), &p, "corrupt gzip stream");
    }
    // A gzip header with an unknown compression method.
    let mut bad = good.clone();
    bad[2] = 7;
    let p = write(&tmp, "method.gz", &bad);
    assert_data_error(idx::read_idx(&p), &p, "corrupt gzip stream");
}

#[test]
fn idx_dataset_consistency_errors() {
    let tmp = TempDir::new().unwrap();
    let images = write(&tmp, "images", &idx_bytes(&[3, 1, 2], &[0; 6]));
    let labels2 = write(&tmp, "labels2", &idx_bytes(&[2], &[0, 1]));
    assert_data_error(
        load_idx_dataset(&images, &labels2, 10),
        &labels2,
        "count mismatch: 2 labels but 3 images",
    );
    let labels = write(&tmp, "labels", &idx_bytes(&[3], &[0, 10, 1]));
    assert_data_error(
        load_idx_dataset(&images, &labels, 10),
        &labels,
        "label 10 at index 1 is outside 0..10",
    );
    assert!(load_idx_dataset(&images, &labels, 11).is_ok());
    let flat = write(&tmp, "flat", &idx_bytes(&[3, 2], &[0; 6]));
    assert_data_error(
        load_idx_dataset(&flat, &labels, 11),
        &flat,
        "expected magic 0x00000803 (images [n, rows, cols]",
    );
    assert_data_error(
        load_idx_dataset(&images, &images, 11),
        &images,
        "expected magic 0x00000801 (labels [n]",
    );
    assert!(matches!(
        load_idx_dataset(&images, &labels, 0),
        Err(Error::Config(_))
    ));
}
