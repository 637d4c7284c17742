//! The CIFAR-10 loader on synthetic binary batches: both layouts, pixel
//! scaling and one-hot labels, and every malformed batch is an `Error::Data`
//! naming the file and saying what is wrong.

use tempfile::TempDir;

use crate::data_support::{assert_data_error, cifar_pixel, cifar_record, gz, write};
use triceratops::data::cifar;
use triceratops::data::load_cifar10_batches;
use triceratops::keras::DataFormat;
use triceratops::Error;

// ----------------------------------------------------------------- CIFAR

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
