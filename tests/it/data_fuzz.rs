//! No input makes a data loader panic: every truncation of small valid IDX,
//! CIFAR-10 and NPY files, random bytes (alone and behind each format's
//! magic) and randomly corrupted valid files give `Ok` or an `Error::Data`.

use proptest::prelude::*;
use tempfile::TempDir;

use crate::data_support::{cifar_record, fixture, gz, idx_bytes, mnist_dir, write};
use triceratops::data::{
    idx, load_cifar10_batches, load_idx_dataset, load_npy_dataset, npy, read_npy,
};
use triceratops::keras::DataFormat;
use triceratops::Error;

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
