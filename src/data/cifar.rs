//! The CIFAR-10 binary format (`data_batch_1.bin` .. `data_batch_5.bin`,
//! `test_batch.bin` from `cifar-10-binary.tar.gz`): records of one label byte
//! (0..9) and 3,072 pixel bytes, the R, G and B planes of a 32x32 image, each
//! plane row-major. The stored layout is therefore channels-first.

use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};

use crate::data::{Dataset, Scale};
use crate::error::{Error, Result};
use crate::keras::DataFormat;

/// Image side in pixels.
pub const SIDE: usize = 32;
/// Colour channels (R, G, B).
pub const CHANNELS: usize = 3;
/// Pixel bytes in one image.
pub const IMAGE_BYTES: usize = CHANNELS * SIDE * SIDE;
/// Bytes in one record: the label byte and the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// The ten classes, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Loads CIFAR-10 binary batch files, concatenated in the order given.
///
/// `x` is `[n, 32, 32, 3]` for [`DataFormat::ChannelsLast`] (Keras' default)
/// or `[n, 3, 32, 32]` for [`DataFormat::ChannelsFirst`], pixels scaled to
/// 0..1 (divided by 255); `y` is one-hot `[n, 10]`.
///
/// Errors are [`Error::Data`] naming the file: unreadable, gzip-compressed,
/// a size that is not a positive multiple of 3,073 bytes, or a label byte
/// outside 0..9 (with the record index). An empty `paths` is an
/// [`Error::Config`].
pub fn load_cifar10_batches(paths: &[PathBuf], format: DataFormat) -> Result<Dataset> {
    load_cifar10_batches_scaled(paths, format, Scale::BYTE)
}

/// [`load_cifar10_batches`] with the pixels scaled by `scale` instead of
/// 1/255.
pub fn load_cifar10_batches_scaled(
    paths: &[PathBuf],
    format: DataFormat,
    scale: Scale,
) -> Result<Dataset> {
    if paths.is_empty() {
        return Err(Error::Config("no CIFAR-10 batch files given".into()));
    }
    let mut labels = Vec::new();
    let mut pixels: Vec<f32> = Vec::new();
    for path in paths {
        let bytes = read_batch(path)?;
        let records = bytes.len() / RECORD_BYTES;
        labels.reserve(records);
        pixels.reserve(records * IMAGE_BYTES);
        for (i, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            let label = record[0];
            if label as usize >= CLASS_NAMES.len() {
                return Err(Error::Data {
                    path: path.clone(),
                    message: format!(
                        "record {i} (byte offset {}): label {label} is outside 0..10",
                        i * RECORD_BYTES
                    ),
                });
            }
            labels.push(label);
            push_image(&mut pixels, &record[1..], format, scale);
        }
    }
    let n = labels.len();
    let shape = match format {
        DataFormat::ChannelsLast => [n, SIDE, SIDE, CHANNELS],
        DataFormat::ChannelsFirst => [n, CHANNELS, SIDE, SIDE],
    };
    let x =
        ArrayD::from_shape_vec(IxDyn(&shape), pixels).expect("one image of 3072 pixels per label");
    let y = super::one_hot(&labels, CLASS_NAMES.len()).expect("labels were checked");
    Ok(Dataset { x, y: y.into_dyn() })
}

/// The bytes of one batch file, after checking its size.
fn read_batch(path: &Path) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    let cannot =
        |e: std::io::Error| fail(format!("cannot read it: {}", crate::output::describe(&e)));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    // Check the size before reading, so that a wrong (huge) file is refused
    // without being loaded.
    let len = file.metadata().map_err(cannot)?.len();
    let mut magic = [0u8; 2];
    let got = super::idx::read_full(&mut file, &mut magic).map_err(cannot)?;
    if got == 2 && magic == super::idx::GZIP_MAGIC {
        return Err(fail(
            "looks gzip-compressed; CIFAR-10 batches must be decompressed \
             (extract cifar-10-binary.tar.gz first)"
                .into(),
        ));
    }
    check_size(len).map_err(&fail)?;
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&magic[..got]);
    file.read_to_end(&mut bytes).map_err(cannot)?;
    check_size(bytes.len() as u64).map_err(&fail)?;
    Ok(bytes)
}

fn check_size(len: u64) -> std::result::Result<(), String> {
    let record = RECORD_BYTES as u64;
    if len == 0 || !len.is_multiple_of(record) {
        return Err(format!(
            "size {len} bytes is not a positive multiple of the {record}-byte CIFAR-10 record \
             (1 label byte + 3072 pixel bytes){}",
            if len > 0 && len.is_multiple_of(record + 1) {
                "; 3074-byte records are CIFAR-100 (coarse and fine label), not CIFAR-10"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// Appends one image, given as its R, G and B planes, scaled by `scale`.
fn push_image(out: &mut Vec<f32>, planes: &[u8], format: DataFormat, scale: Scale) {
    const PLANE: usize = SIDE * SIDE;
    match format {
        DataFormat::ChannelsFirst => out.extend(planes.iter().map(|&p| scale.apply(p as f32))),
        DataFormat::ChannelsLast => {
            out.extend((0..PLANE).flat_map(|i| {
                (0..CHANNELS).map(move |c| scale.apply(planes[c * PLANE + i] as f32))
            }))
        }
    }
}
