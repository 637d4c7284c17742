//! `--data` specs (`triceratops::cli::data`): explicit input scaling and its
//! defaults, the embedded MNIST, absolute specs for checkpoints, empty data
//! sets, wrong IDX magics, and non-finite values named by file, sample and
//! part.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use tempfile::TempDir;

use crate::data_support::{
    assert_data_error, cifar_record, data_error, f4, gz, idx_bytes, mnist_dir, npy_bytes, write,
};
use triceratops::cli::data::{absolute_spec, check_finite, default_scale, load, Part};
use triceratops::data::{
    bundled, idx, load_cifar10_batches, load_idx_dataset, mnist_test_set, Dataset, Scale,
};
use triceratops::keras::DataFormat;
use triceratops::Error;

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

// ------------------------------------------------------------------ scale

#[test]
fn default_scales_are_documented_and_bit_identical() {
    for (spec, scale) in [
        ("mnist", "1/255"),
        ("mnist32", "1/255"),
        ("idx:a,b", "1/255"),
        ("cifar10:a", "1/255"),
        ("npy:a,b", "none"),
        ("line", "none"),
    ] {
        assert_eq!(default_scale(spec).to_string(), scale, "{spec}");
    }
    // The defaults give what the loaders always gave.
    let mnist = load("mnist", Some(10), None).unwrap();
    let files = mnist_test_set(&mnist_dir()).unwrap();
    assert_eq!(mnist.x, files.x);
    assert_eq!(mnist.y, files.y);
    let explicit = load("mnist", Some(10), Some("1/255".parse().unwrap())).unwrap();
    assert_eq!(explicit.x, files.x);
}

#[test]
fn scale_divides_the_inputs_as_numpy_does() {
    let tmp = TempDir::new().unwrap();
    let pixels: Vec<u8> = (0..=255).collect();
    let x = write(&tmp, "x.npy", &npy_bytes("|u1", &[4, 64], &pixels));
    let y = write(&tmp, "y.npy", &npy_bytes("|u1", &[4], &[0, 1, 2, 1]));
    let spec = format!("npy:{},{}", s(&x), s(&y));
    let raw = load(&spec, Some(3), None).unwrap();
    assert_eq!(raw.x[[3, 63]], 255.0, "NPY bytes stay as stored by default");
    let scaled = load(&spec, Some(3), Some(Scale::BYTE)).unwrap();
    for (r, v) in raw.x.iter().zip(&scaled.x) {
        assert_eq!(*v, r / 255.0); // f32 division, bit for bit
    }
    assert_eq!(scaled.y, raw.y, "targets are not scaled");

    let images = write(&tmp, "i", &idx_bytes(&[4, 8, 8], &pixels));
    let labels = write(&tmp, "l", &idx_bytes(&[4], &[0, 1, 2, 3]));
    let spec = format!("idx:{},{}", s(&images), s(&labels));
    let none = load(&spec, None, Some(Scale::None)).unwrap();
    assert_eq!(none.x[[3, 7, 7]], 255.0);
    let sixteenth = load(&spec, None, Some("1/16".parse().unwrap())).unwrap();
    assert_eq!(sixteenth.x[[3, 7, 7]], 255.0 / 16.0);
    assert_eq!(
        load(&spec, None, None).unwrap().x,
        load_idx_dataset(&images, &labels, 10).unwrap().x
    );

    let batch = write(&tmp, "b.bin", &cifar_record(0, 1));
    let spec = format!("cifar10:{}", s(&batch));
    let cifar = load(&spec, None, None).unwrap();
    let direct = load_cifar10_batches(&[batch], DataFormat::ChannelsLast).unwrap();
    assert_eq!(cifar.x, direct.x);
    let none = load(&spec, None, Some(Scale::None)).unwrap();
    for (r, v) in none.x.iter().zip(&cifar.x) {
        assert_eq!(r / 255.0, *v);
    }
    let line = load("line", None, Some("1/2".parse().unwrap())).unwrap();
    assert_eq!(line.x[[255, 0]], 0.5);
}

// ------------------------------------------------------- embedded MNIST

#[test]
fn bundled_mnist_is_embedded_and_named_as_such() {
    let embedded = bundled::mnist(Scale::BYTE).unwrap();
    let files = mnist_test_set(&mnist_dir()).unwrap();
    assert_eq!(embedded.x, files.x);
    assert_eq!(embedded.y, files.y);
    assert_eq!(
        bundled::MNIST_IMAGES,
        std::fs::read(mnist_dir().join("t10k-images-idx3-ubyte.gz")).unwrap()
    );
    let name = bundled::name("t10k-images-idx3-ubyte.gz");
    assert_eq!(
        name.display().to_string(),
        "data/mnist/t10k-images-idx3-ubyte.gz (built in)"
    );
    // Errors about embedded bytes carry that name.
    let err = idx::read_idx_bytes(&name, &bundled::MNIST_IMAGES[..100], None);
    assert_data_error(err, &name, "truncated gzip stream");
}

// ------------------------------------------------------- absolute specs

#[test]
fn absolute_spec_rewrites_file_paths_only() {
    let cwd = std::env::current_dir().unwrap();
    let abs = |p: &str| cwd.join(p).to_str().unwrap().to_string();
    for builtin in ["mnist", "mnist32", "line"] {
        assert_eq!(absolute_spec(builtin).unwrap(), builtin);
    }
    assert_eq!(
        absolute_spec("idx:data/i.gz,l.gz").unwrap(),
        format!("idx:{},{}", abs("data/i.gz"), abs("l.gz"))
    );
    assert_eq!(
        absolute_spec("npy:x.npy,/tmp/y.npy").unwrap(),
        format!("npy:{},/tmp/y.npy", abs("x.npy"))
    );
    assert_eq!(
        absolute_spec("cifar10:a.bin,b.bin,/c.bin").unwrap(),
        format!("cifar10:{},{},/c.bin", abs("a.bin"), abs("b.bin"))
    );
    // Already absolute: unchanged, so the rewrite is idempotent.
    let once = absolute_spec("idx:i,l").unwrap();
    assert_eq!(absolute_spec(&once).unwrap(), once);
    for bad in ["nope", "idx:one", "npy:,y", "cifar10:"] {
        assert!(matches!(absolute_spec(bad), Err(Error::Config(_))), "{bad}");
    }
}

// ------------------------------------------------------- empty data sets

#[test]
fn empty_data_sets_name_their_inputs_file() {
    let tmp = TempDir::new().unwrap();
    let images = write(&tmp, "empty-images", &idx_bytes(&[0, 28, 28], &[]));
    let labels = write(&tmp, "empty-labels.gz", &gz(&idx_bytes(&[0], &[])));
    assert_data_error(
        load(
            &format!("idx:{},{}", s(&images), s(&labels)),
            Some(10),
            None,
        ),
        &images,
        "no samples: the inputs have shape [0, 28, 28]",
    );
    let x = write(&tmp, "x.npy", &npy_bytes("<f4", &[0, 3], &[]));
    let y = write(&tmp, "y.npy", &npy_bytes("<f4", &[0], &[]));
    assert_data_error(
        load(&format!("npy:{},{}", s(&x), s(&y)), None, None),
        &x,
        "no samples",
    );
}

// ------------------------------------------------------- IDX magic

#[test]
fn swapped_idx_files_say_which_magic_was_expected() {
    let tmp = TempDir::new().unwrap();
    let images = write(&tmp, "images.gz", &gz(&idx_bytes(&[2, 2, 2], &[0; 8])));
    let labels = write(&tmp, "labels", &idx_bytes(&[2], &[0, 1]));
    let spec = format!("idx:{},{}", s(&labels), s(&images));
    let message = data_error(load(&spec, None, None), &labels);
    assert_eq!(
        message,
        "expected magic 0x00000803 (images [n, rows, cols] of unsigned bytes), found \
         0x00000801 (1 dimension) (this is a labels file: are images and labels swapped?)"
    );
    let message = data_error(load_idx_dataset(&images, &images, 10), &images);
    assert!(
        message.starts_with("expected magic 0x00000801 (labels [n] of unsigned bytes), found 0x00000803 (3 dimensions) (this is an images file"),
        "{message}"
    );
    // The magic is checked from the header: a real images file given as
    // labels is refused without decoding its 7.8 MB of pixels.
    let real = mnist_dir().join("t10k-images-idx3-ubyte.gz");
    let mut truncated = std::fs::read(&real).unwrap();
    truncated.truncate(1000);
    let p = write(&tmp, "cut-images.gz", &truncated);
    assert_data_error(
        idx::read_idx_of(&p, idx::Kind::Labels),
        &p,
        "expected magic 0x00000801",
    );
    let flat = write(&tmp, "flat", &idx_bytes(&[2, 3], &[0; 6]));
    assert_data_error(
        load_idx_dataset(&flat, &labels, 10),
        &flat,
        "expected magic 0x00000803 (images [n, rows, cols] of unsigned bytes), found 0x00000802 (2 dimensions)",
    );
    assert_eq!(idx::Kind::Images.magic(), 0x0803);
    assert_eq!(idx::Kind::Labels.magic(), 0x0801);
}

// ------------------------------------------------------- non-finite values

fn dataset(x: Vec<f32>, x_shape: &[usize], y: Vec<f32>, y_shape: &[usize]) -> Dataset {
    Dataset {
        x: ArrayD::from_shape_vec(IxDyn(x_shape), x).unwrap(),
        y: ArrayD::from_shape_vec(IxDyn(y_shape), y).unwrap(),
    }
}

#[test]
fn non_finite_values_name_file_sample_and_part() {
    let tmp = TempDir::new().unwrap();
    let mut xs = vec![0.5f32; 10 * 2];
    xs[8 * 2 + 1] = f32::NAN;
    let mut ys = vec![1.0f32; 10];
    ys[3] = f32::NEG_INFINITY;
    let x = write(&tmp, "x.npy", &npy_bytes("<f4", &[10, 2], &f4(&xs)));
    let y = write(&tmp, "y.npy", &npy_bytes("<f4", &[10, 1], &f4(&ys)));
    let spec = format!("npy:{},{}", s(&x), s(&y));
    let data = load(&spec, None, None).unwrap();

    // As the training code splits it: the last 4 samples for validation.
    let (train, val) = data.split_at(6);
    let message = data_error(check_finite(&spec, &val, Part::Validation, 6), &x);
    assert_eq!(
        message,
        "sample 8 (validation part) holds NaN in its inputs"
    );
    let message = data_error(check_finite(&spec, &train, Part::Train, 0), &y);
    assert_eq!(message, "sample 3 (train part) holds -inf in its targets");
    let clean = data.slice(4, 8);
    assert!(check_finite(&spec, &clean.slice(0, 4), Part::Train, 4).is_ok());
    // Inputs come first within a sample.
    let both = dataset(vec![f32::INFINITY], &[1, 1], vec![f32::NAN], &[1, 1]);
    let message = data_error(check_finite(&spec, &both, Part::Train, 0), &x);
    assert_eq!(message, "sample 0 (train part) holds inf in its inputs");
    assert_eq!(Part::Train.to_string(), "train part");
    assert_eq!(Part::Validation.to_string(), "validation part");
    assert_eq!(Part::Evaluated.to_string(), "data to evaluate");
}

#[test]
fn non_finite_values_in_cifar_name_the_batch_file() {
    let tmp = TempDir::new().unwrap();
    let a = write(
        &tmp,
        "data_batch_1.bin",
        &[cifar_record(0, 1), cifar_record(1, 2)].concat(),
    );
    let b = write(
        &tmp,
        "data_batch_2.bin",
        &[cifar_record(2, 3), cifar_record(3, 4)].concat(),
    );
    let spec = format!("cifar10:{},{}", s(&a), s(&b));
    let mut data = load(&spec, None, None).unwrap();
    data.x[[3, 0, 0, 0]] = f32::NAN; // as a huge --scale divisor could make
    let message = data_error(check_finite(&spec, &data, Part::Train, 0), &b);
    assert_eq!(
        message,
        "sample 3 (train part) holds NaN in its inputs (record 1 of this file)"
    );
    let (_, val) = data.split_at(3);
    let message = data_error(check_finite(&spec, &val, Part::Validation, 3), &b);
    assert!(
        message.starts_with("sample 3 (validation part)"),
        "{message}"
    );
    data.x[[3, 0, 0, 0]] = 0.0;
    data.y[[1, 0]] = f32::INFINITY;
    let message = data_error(check_finite(&spec, &data, Part::Train, 0), &a);
    assert_eq!(message, "sample 1 (train part) holds inf in its targets");
}

#[test]
fn non_finite_values_in_generated_data_are_config_errors() {
    let data = dataset(vec![1.0, f32::NAN], &[2, 1], vec![0.0, 0.0], &[2, 1]);
    match check_finite("line", &data, Part::Validation, 200) {
        Err(Error::Config(m)) => assert_eq!(
            m,
            "data `line`: sample 201 (validation part) holds NaN in its inputs"
        ),
        other => panic!("{other:?}"),
    }
    let mnist_like = dataset(vec![f32::NAN], &[1, 1], vec![1.0], &[1, 1]);
    let name: PathBuf = bundled::name("t10k-images-idx3-ubyte.gz");
    assert_data_error(
        check_finite("mnist", &mnist_like, Part::Train, 0),
        &name,
        "sample 0 (train part) holds NaN in its inputs",
    );
    assert!(check_finite("line", &load("line", None, None).unwrap(), Part::Train, 0).is_ok());
}
