//! Helpers shared by the `data_*` integration tests: paths of the bundled
//! MNIST files and the NumPy fixtures, writers of synthetic IDX and CIFAR-10
//! files (plain or gzipped), and the check that an error is an `Error::Data`
//! naming the right file.

// Each test file uses only some of these helpers.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use tempfile::TempDir;

use triceratops::data::cifar::RECORD_BYTES;
use triceratops::Error;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn mnist_dir() -> PathBuf {
    repo().join("data/mnist")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/data").join(name)
}

pub fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX file of unsigned bytes.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

/// The message of an `Error::Data`, after checking that it names `path`.
#[track_caller]
pub fn data_error<T: std::fmt::Debug>(result: triceratops::Result<T>, path: &Path) -> String {
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
pub fn assert_data_error<T: std::fmt::Debug>(
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

/// The synthetic pixel of record `i`, channel `ch` (0 R, 1 G, 2 B), at
/// (`row`, `col`): all different within a record's planes modulo 256.
pub fn cifar_pixel(i: usize, ch: usize, row: usize, col: usize) -> u8 {
    ((i * 101 + ch * 67 + row * 13 + col * 7) % 256) as u8
}

pub fn cifar_record(i: usize, label: u8) -> Vec<u8> {
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

/// A version-1.0 `.npy` file of `descr` elements (C order).
pub fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    out
}

/// Little-endian `f32` bytes.
pub fn f4(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
