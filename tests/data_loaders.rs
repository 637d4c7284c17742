//! The data loaders on real and synthetic files: IDX (MNIST), CIFAR-10
//! binary batches and NumPy `.npy`. Every malformed input must be an
//! `Error::Data` naming the file and saying what is wrong, never a panic.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use tempfile::TempDir;

use triceratops::data::cifar::{self, RECORD_BYTES};
use triceratops::data::{
    idx, load_cifar10_batches, load_idx_dataset, load_npy_dataset, mnist_test_set, npy, read_npy,
};
use triceratops::keras::DataFormat;
use triceratops::Error;

// ---------------------------------------------------------------- helpers

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn mnist_dir() -> PathBuf {
    repo().join("data/mnist")
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/data").join(name)
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// An IDX file of unsigned bytes.
fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

/// The message of an `Error::Data`, after checking that it names `path`.
#[track_caller]
fn data_error<T: std::fmt::Debug>(result: triceratops::Result<T>, path: &Path) -> String {
    match result {
        Err(Error::Data { path: p, message }) => {
            assert_eq!(p, path, "error names the wrong file: {message}");
            message
        }
        other => panic!("expected Error::Data for {}, got {other:?}", path.display()),
    }
}

/// Asserts an `Error::Data` naming `path` whose message contains `fragment`;
/// the `Display` of the error must show the path too.
#[track_caller]
fn assert_data_error<T: std::fmt::Debug>(
    result: triceratops::Result<T>,
    path: &Path,
    fragment: &str,
) {
    let shown = match &result {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    let message = data_error(result, path);
    assert!(
        message.contains(fragment),
        "message {message:?} lacks {fragment:?}"
    );
    assert!(shown.starts_with(&path.display().to_string()), "{shown}");
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
        "expected images [n, rows, cols]",
    );
    assert_data_error(
        load_idx_dataset(&images, &images, 11),
        &images,
        "expected labels [n]",
    );
    assert!(matches!(
        load_idx_dataset(&images, &labels, 0),
        Err(Error::Config(_))
    ));
}

// ----------------------------------------------------------------- CIFAR

/// The synthetic pixel of record `i`, channel `ch` (0 R, 1 G, 2 B), at
/// (`row`, `col`): all different within a record's planes modulo 256.
fn cifar_pixel(i: usize, ch: usize, row: usize, col: usize) -> u8 {
    ((i * 101 + ch * 67 + row * 13 + col * 7) % 256) as u8
}

fn cifar_record(i: usize, label: u8) -> Vec<u8> {
    let mut out = vec![label];
    for ch in 0..3 {
        for row in 0..32 {
            for col in 0..32 {
                out.push(cifar_pixel(i, ch, row, col));
            }
        }
    }
    assert_eq!(out.len(), RECORD_BYTES);
    out
}

#[test]
fn cifar_layouts_scaling_and_labels() {
    let tmp = TempDir::new().unwrap();
    let labels = [3u8, 0, 9];
    let first: Vec<u8> = [cifar_record(0, 3), cifar_record(1, 0)].concat();
    let a = write(&tmp, "data_batch_1.bin", &first);
    let b = write(&tmp, "data_batch_2.bin", &cifar_record(2, 9));
    let paths = [a, b];

    assert_eq!(DataFormat::default(), DataFormat::ChannelsLast);
    let last = load_cifar10_batches(&paths, DataFormat::ChannelsLast).unwrap();
    let first_ = load_cifar10_batches(&paths, DataFormat::ChannelsFirst).unwrap();
    assert_eq!(last.x.shape(), &[3, 32, 32, 3]);
    assert_eq!(first_.x.shape(), &[3, 3, 32, 32]);
    for data in [&last, &first_] {
        assert_eq!(data.y.shape(), &[3, 10]);
        for (i, &l) in labels.iter().enumerate() {
            for k in 0..10 {
                assert_eq!(data.y[[i, k]], if k == l as usize { 1.0 } else { 0.0 });
            }
        }
    }
    for i in 0..3 {
        // Pixel (row 1, col 2) of the green plane.
        let g = cifar_pixel(i, 1, 1, 2) as f32 / 255.0;
        assert_eq!(last.x[[i, 1, 2, 1]], g);
        assert_eq!(first_.x[[i, 1, 1, 2]], g);
        for ch in 0..3 {
            for row in 0..32 {
                for col in 0..32 {
                    let v = cifar_pixel(i, ch, row, col) as f32 / 255.0;
                    assert_eq!(last.x[[i, row, col, ch]], v);
                    assert_eq!(first_.x[[i, ch, row, col]], v);
                }
            }
        }
    }
    assert!(last.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // The extremes scale to exactly 0 and 1.
    let mut rec = cifar_record(0, 1);
    rec[1] = 0;
    rec[2] = 255;
    let p = write(&tmp, "extremes.bin", &rec);
    let d = load_cifar10_batches(&[p], DataFormat::ChannelsFirst).unwrap();
    assert_eq!((d.x[[0, 0, 0, 0]], d.x[[0, 0, 0, 1]]), (0.0, 1.0));
    assert_eq!(cifar::CLASS_NAMES[labels[0] as usize], "cat");
}

#[test]
fn cifar_errors() {
    let tmp = TempDir::new().unwrap();
    let good = write(&tmp, "good.bin", &cifar_record(0, 1));
    for (name, len, fragment) in [
        (
            "short.bin",
            3072,
            "size 3072 bytes is not a positive multiple of the 3073-byte",
        ),
        ("long.bin", 3074, "3074-byte records are CIFAR-100"),
        ("empty.bin", 0, "size 0 bytes is not a positive multiple"),
        ("one-and-a-bit.bin", 3073 + 5, "size 3078 bytes"),
    ] {
        let p = write(&tmp, name, &vec![1u8; len]);
        // The good file first: the error still names the bad one.
        assert_data_error(
            load_cifar10_batches(&[good.clone(), p.clone()], DataFormat::ChannelsLast),
            &p,
            fragment,
        );
    }
    let bad = [cifar_record(0, 9), cifar_record(1, 10)].concat();
    let p = write(&tmp, "label10.bin", &bad);
    assert_data_error(
        load_cifar10_batches(std::slice::from_ref(&p), DataFormat::ChannelsLast),
        &p,
        "record 1 (byte offset 3073): label 10 is outside 0..10",
    );
    let p = write(&tmp, "batch.bin.gz", &gz(&cifar_record(0, 1)));
    assert_data_error(
        load_cifar10_batches(std::slice::from_ref(&p), DataFormat::ChannelsLast),
        &p,
        "gzip-compressed",
    );
    let p = tmp.path().join("missing.bin");
    assert_data_error(
        load_cifar10_batches(std::slice::from_ref(&p), DataFormat::ChannelsLast),
        &p,
        "cannot read",
    );
    assert!(matches!(
        load_cifar10_batches(&[], DataFormat::ChannelsLast),
        Err(Error::Config(_))
    ));
}

// ------------------------------------------------------------------- NPY

/// A version-1.0 `.npy` file, padded exactly as NumPy pads it (preamble,
/// header and newline a multiple of 64 bytes).
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    npy_raw(1, header.as_bytes(), data)
}

/// A `.npy` file with any header text, for malformed headers.
fn npy_raw(major: u8, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([major, 0]);
    if major == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header);
    out.extend(data);
    out
}

fn le<T: Copy, const N: usize>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| f(v)).collect()
}

#[test]
fn npy_writer_matches_numpy() {
    // The test writer reproduces NumPy's bytes, so the files it corrupts
    // below are faithful to what NumPy writes.
    let f4: Vec<f32> = (0..24).map(|i| i as f32 / 4.0).collect();
    assert_eq!(
        npy_bytes("<f4", false, &[2, 3, 4], &le(&f4, f32::to_le_bytes)),
        std::fs::read(fixture("f4_3d.npy")).unwrap()
    );
    assert_eq!(
        npy_bytes(
            "<i8",
            false,
            &[5],
            &le(&[3i64, 0, 9, 1, 2], i64::to_le_bytes)
        ),
        std::fs::read(fixture("i8_1d.npy")).unwrap()
    );
}

#[test]
fn npy_reads_numpy_fixtures() {
    let a = read_npy(&fixture("f4_3d.npy")).unwrap();
    assert_eq!(a.shape(), &[2, 3, 4]);
    assert_eq!(a[[1, 2, 3]], 23.0 / 4.0);
    assert_eq!(a[[0, 1, 2]], 6.0 / 4.0);

    let a = read_npy(&fixture("f8_1d.npy")).unwrap();
    assert_eq!(a.shape(), &[5]);
    assert_eq!(a.as_slice().unwrap(), &[0.5, -1.25, 3.0, 1e10, -0.0]);
    assert!(a[[4]].is_sign_negative());

    let (dtype, a) = npy::read_npy_typed(&fixture("u1_3d.npy")).unwrap();
    assert_eq!(dtype, npy::NpyDtype::U1);
    assert_eq!(a.shape(), &[2, 2, 3]);
    assert_eq!(a[[1, 1, 2]], 220.0, "u8 is converted, not rescaled");
    assert_eq!(a[[0, 1, 0]], 60.0);

    let (dtype, a) = npy::read_npy_typed(&fixture("i8_1d.npy")).unwrap();
    assert_eq!(dtype, npy::NpyDtype::I8);
    assert_eq!(a.as_slice().unwrap(), &[3.0, 0.0, 9.0, 1.0, 2.0]);

    let a = read_npy(&fixture("i4_2d.npy")).unwrap();
    assert_eq!(a.shape(), &[2, 3]);
    assert_eq!(a[[0, 0]], -1.0);
    assert_eq!(a[[1, 1]], -5.0);
    assert_eq!(a[[1, 2]], 2_147_483_647f32);

    let a = read_npy(&fixture("f4_v2.npy")).unwrap();
    assert_eq!(
        a,
        ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.5, 2.5, 3.5, 4.5]).unwrap()
    );

    let a = read_npy(&fixture("f8_scalar.npy")).unwrap();
    assert_eq!(a.shape(), &[] as &[usize]);
    assert_eq!(a[IxDyn(&[])], 2.75);

    let a = read_npy(&fixture("f4_empty.npy")).unwrap();
    assert_eq!(a.shape(), &[0, 3]);
}

#[test]
fn npy_rejects_unsupported_numpy_fixtures() {
    let p = fixture("fortran_f4.npy");
    assert_data_error(
        read_npy(&p),
        &p,
        "Fortran-order (column-major) arrays are not supported",
    );
    let p = fixture("c8_1d.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype '<c8'");
    let p = fixture("be_f4.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype '>f4': big-endian");
    let p = fixture("structured.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype: structured");
}

#[test]
fn npy_corruptions() {
    let tmp = TempDir::new().unwrap();
    let good = std::fs::read(fixture("f4_3d.npy")).unwrap();
    let check = |name: &str, bytes: &[u8], fragment: &str| {
        let p = write(&tmp, name, bytes);
        assert_data_error(read_npy(&p), &p, fragment);
    };

    let mut bad = good.clone();
    bad[1] = b'X';
    check("magic.npy", &bad, "not an NPY file: bad magic");
    check("idx.npy", &idx_bytes(&[2], &[1, 2]), "bad magic");
    check(
        "empty.npy",
        &[],
        "truncated header: the file ends after 0 bytes",
    );
    check(
        "cut3.npy",
        &good[..3],
        "truncated header: the file ends after 3 bytes",
    );
    check("cut9.npy", &good[..9], "inside the header length");
    check(
        "cut50.npy",
        &good[..50],
        "truncated header: the header claims 118 bytes",
    );
    check(
        "cut-data.npy",
        &good[..good.len() - 4],
        "truncated data: shape [2, 3, 4] of <f4 needs 96 bytes of data, found 92",
    );
    check(
        "no-data.npy",
        &good[..128],
        "needs 96 bytes of data, found 0",
    );
    let mut bad = good.clone();
    bad.extend([0; 4]);
    check(
        "trailing.npy",
        &bad,
        "trailing bytes: shape [2, 3, 4] of <f4 needs 96 bytes of data, found 100",
    );

    // Header longer than the file.
    let mut bad = good.clone();
    bad[8..10].copy_from_slice(&1000u16.to_le_bytes());
    check(
        "long-header.npy",
        &bad,
        "the header claims 1000 bytes but the file has only 214",
    );
    let bad = npy_raw(2, &[b' '; 0], &[]);
    let mut bad2 = bad.clone();
    bad2[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    check(
        "huge-header.npy",
        &bad2,
        "the header claims 4294967295 bytes",
    );

    let mut bad = good.clone();
    bad[6] = 4;
    check("version.npy", &bad, "unsupported NPY format version 4.0");

    // A shape that lies: 2^40 elements, 8 bytes of data, refused before any
    // allocation; one that overflows.
    check(
        "liar.npy",
        &npy_bytes("<f8", false, &[1 << 40], &[0; 8]),
        "truncated data: shape [1099511627776] of <f8 needs 8796093022208 bytes of data, found 8",
    );
    check(
        "overflow.npy",
        &npy_bytes("<f8", false, &[1 << 62, 1 << 62], &[]),
        "overflows",
    );

    // Malformed headers.
    let header_cases: [(&str, &str); 9] = [
        ("{'descr': '<f4', 'shape': (1,), }\n", "no 'fortran_order'"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n",
            "unexpected key 'x'",
        ),
        (
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n",
            "appears twice",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n",
            "'fortran_order' is not True or False",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}\n",
            "'shape' is not a tuple",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) \n",
            "ends early",
        ),
        (
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}\n",
            "malformed header",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}\n",
            "too large",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk\n",
            "text after the dict",
        ),
    ];
    for (i, (header, fragment)) in header_cases.iter().enumerate() {
        check(
            &format!("header-{i}.npy"),
            &npy_raw(1, header.as_bytes(), &[0; 4]),
            fragment,
        );
    }
    // Deep nesting must not overflow the stack.
    let deep = format!(
        "{{'descr': {}{}, }}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    check(
        "deep.npy",
        &npy_raw(2, deep.as_bytes(), &[]),
        "nested too deeply",
    );
    // Python 2 long integers in the shape are accepted.
    let p = write(
        &tmp,
        "py2.npy",
        &npy_raw(
            1,
            b"{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 1L), }\n",
            &[4, 5],
        ),
    );
    assert_eq!(read_npy(&p).unwrap().shape(), &[2, 1]);
    let p = tmp.path().join("missing.npy");
    assert_data_error(read_npy(&p), &p, "cannot read");
}

#[test]
fn npy_dataset() {
    let tmp = TempDir::new().unwrap();
    let x = fixture("f4_3d.npy"); // 2 samples of [3, 4]
    let y = write(
        &tmp,
        "y.npy",
        &npy_bytes("<i8", false, &[2], &le(&[2i64, 0], i64::to_le_bytes)),
    );

    let d = load_npy_dataset(&x, &y, Some(3)).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.x.shape(), &[2, 3, 4]);
    assert_eq!(
        d.y,
        ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0., 0., 1., 1., 0., 0.]).unwrap()
    );

    let d = load_npy_dataset(&x, &y, None).unwrap();
    assert_eq!(d.y.as_slice().unwrap(), &[2.0, 0.0]);

    // Float labels that are whole numbers are labels too.
    let yf = write(
        &tmp,
        "yf.npy",
        &npy_bytes("<f4", false, &[2], &le(&[1f32, 0.0], f32::to_le_bytes)),
    );
    assert_eq!(load_npy_dataset(&x, &yf, Some(2)).unwrap().y[[0, 1]], 1.0);
    // Already one-hot [n, c] targets pass through when c matches.
    let y2 = write(
        &tmp,
        "y2.npy",
        &npy_bytes(
            "<f4",
            false,
            &[2, 3],
            &le(&[0f32, 1., 0., 1., 0., 0.], f32::to_le_bytes),
        ),
    );
    assert_eq!(
        load_npy_dataset(&x, &y2, Some(3)).unwrap().y.shape(),
        &[2, 3]
    );
    assert_data_error(
        load_npy_dataset(&x, &y2, Some(4)),
        &y2,
        "y has shape [2, 3] but 4 classes",
    );

    assert_data_error(
        load_npy_dataset(&x, &y, Some(2)),
        &y,
        "label 2 at index 0 is outside 0..2",
    );
    let yh = write(
        &tmp,
        "yh.npy",
        &npy_bytes("<f4", false, &[2], &le(&[0.5f32, 1.0], f32::to_le_bytes)),
    );
    assert_data_error(
        load_npy_dataset(&x, &yh, Some(2)),
        &yh,
        "label 0.5 at index 0 is not a whole number",
    );
    let yneg = write(
        &tmp,
        "yneg.npy",
        &npy_bytes("<i4", false, &[2], &le(&[1i32, -1], i32::to_le_bytes)),
    );
    assert_data_error(
        load_npy_dataset(&x, &yneg, Some(2)),
        &yneg,
        "label -1 at index 1 is outside 0..2",
    );

    let y5 = fixture("i8_1d.npy"); // 5 samples
    assert_data_error(
        load_npy_dataset(&x, &y5, Some(10)),
        &y5,
        "sample count mismatch: y has shape [5] but x",
    );
    let scalar = fixture("f8_scalar.npy");
    assert_data_error(
        load_npy_dataset(&scalar, &y, None),
        &scalar,
        "0-dimensional",
    );
    // Errors in either file name that file.
    let bad = fixture("c8_1d.npy");
    assert_data_error(load_npy_dataset(&bad, &y, None), &bad, "unsupported dtype");
    assert_data_error(load_npy_dataset(&x, &bad, None), &bad, "unsupported dtype");
    assert!(matches!(
        load_npy_dataset(&x, &y, Some(0)),
        Err(Error::Config(_))
    ));
}

// ------------------------------------------------ no input makes a panic

/// Runs every file reader on `bytes`; each must return (Ok or Err), never
/// panic. The results are not inspected beyond the error kind.
fn run_all_readers(dir: &TempDir, bytes: &[u8]) {
    let _ = idx::decode(bytes);
    let _ = npy::decode_npy(bytes);
    let p = write(dir, "fuzz", bytes);
    for result in [
        idx::read_idx(&p).map(drop),
        read_npy(&p).map(drop),
        load_cifar10_batches(std::slice::from_ref(&p), DataFormat::ChannelsLast).map(drop),
        load_idx_dataset(&p, &p, 10).map(drop),
        load_npy_dataset(&p, &p, Some(3)).map(drop),
    ] {
        if let Err(e) = result {
            assert!(matches!(e, Error::Data { .. }), "{e:?}");
        }
    }
}

/// Valid small files of every format, to truncate and corrupt.
fn valid_files() -> Vec<Vec<u8>> {
    let idx = idx_bytes(&[2, 3, 2], &[7; 12]);
    vec![
        idx.clone(),
        gz(&idx),
        idx_bytes(&[5], &[0, 1, 2, 3, 4]),
        std::fs::read(mnist_dir().join("t10k-labels-idx1-ubyte.gz")).unwrap(),
        cifar_record(0, 4),
        std::fs::read(fixture("f4_3d.npy")).unwrap(),
        std::fs::read(fixture("i8_1d.npy")).unwrap(),
        std::fs::read(fixture("f4_v2.npy")).unwrap(),
    ]
}

#[test]
fn every_truncation_of_valid_files_is_an_error_not_a_panic() {
    let tmp = TempDir::new().unwrap();
    for file in valid_files() {
        let step = (file.len() / 300).max(1);
        for cut in (0..file.len()).step_by(step) {
            run_all_readers(&tmp, &file[..cut]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let tmp = TempDir::new().unwrap();
        run_all_readers(&tmp, &bytes);
        // The same bytes behind each format's magic, to get past the first check.
        for prefix in [&[0u8, 0, 8, 1][..], &[0, 0, 8, 3], b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", &[0x1f, 0x8b, 8, 0]] {
            run_all_readers(&tmp, &[prefix, &bytes].concat());
        }
    }

    #[test]
    fn corrupted_valid_files_never_panic(
        which in 0usize..8,
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let tmp = TempDir::new().unwrap();
        let mut file = valid_files().swap_remove(which);
        for (at, xor) in flips {
            let i = at.index(file.len());
            file[i] ^= xor;
        }
        let cut = cut.index(file.len() + 1);
        run_all_readers(&tmp, &file[..cut]);
        run_all_readers(&tmp, &file);
    }
}
