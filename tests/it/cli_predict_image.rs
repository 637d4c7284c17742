//! `predict --image`: a picture of a bundled MNIST digit, written as a PNG
//! here, gets the class (and the probability) the same checkpoint gives the
//! digit as data; resized and inverted pictures are handled as stated; bad
//! pictures are refused with the file named.

use std::path::Path;

use crate::cli_support::{mnist_mlp_trained, ok_in, rejected_in, run_in};
use image::{GrayImage, Rgb, RgbImage};
use tempfile::TempDir;
use triceratops::data::{bundled, Scale};

/// mnist-mlp, 2 epochs on the first 1000 digits (800 train, 200 held out).
fn trained(dir: &Path) -> String {
    mnist_mlp_trained(dir, "m.safetensors", 2, 1000);
    "m.safetensors".into()
}

/// `class C (p = P)` pairs of one output line, after `prefix: `.
fn classes(line: &str, prefix: &str) -> Vec<(usize, f32)> {
    let rest = line
        .strip_prefix(&format!("{prefix}: "))
        .unwrap_or_else(|| panic!("`{line}` should start with `{prefix}: `"));
    rest.split(", ")
        .map(|part| {
            let (class, p) = part
                .strip_prefix("class ")
                .and_then(|s| s.strip_suffix(')'))
                .and_then(|s| s.split_once(" (p = "))
                .unwrap_or_else(|| panic!("`{part}` of `{line}` is not `class C (p = P)`"));
            (class.parse().unwrap(), p.parse().unwrap())
        })
        .collect()
}

/// The first held-out digit the checkpoint classifies right as data: its
/// index, class and probability (so that the picture test does not depend
/// on the model being good, only on the picture reaching it unchanged).
fn right_digit(dir: &Path, ck: &str) -> (usize, usize, f32) {
    let out = ok_in(Some(dir), &["predict", "--checkpoint", ck, "--count", "50"]);
    for line in out.lines() {
        // sample I: class C (p = P), label L
        let (head, label) = line.rsplit_once(", label ").unwrap();
        let (sample, rest) = head.split_once(": ").unwrap();
        let index: usize = sample.strip_prefix("sample ").unwrap().parse().unwrap();
        let (class, p) = classes(&format!("x: {rest}"), "x")[0];
        if class == label.parse::<usize>().unwrap() {
            return (index, class, p);
        }
    }
    panic!("no digit classified right among:\n{out}");
}

/// Digit `index` of the bundled MNIST test set as a 28x28 grey picture.
fn digit(index: usize) -> GrayImage {
    let data = bundled::mnist(Scale::None).unwrap();
    let pixels: Vec<u8> = data
        .x
        .index_axis(ndarray::Axis(0), index)
        .iter()
        .map(|&v| v as u8)
        .collect();
    GrayImage::from_raw(28, 28, pixels).unwrap()
}

#[test]
fn a_png_of_a_bundled_digit_gets_the_class_the_model_gives_the_data() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let ck = trained(dir.path());
    let (index, class, p) = right_digit(dir.path(), &ck);
    let picture = digit(index);
    picture.save(dir.path().join("digit.png")).unwrap();

    let out = ok_in(d, &["predict", "--checkpoint", &ck, "--image", "digit.png"]);
    let top = classes(out.trim_end(), "digit.png");
    assert_eq!(top.len(), 3, "{out}");
    assert_eq!(top[0].0, class, "{out}");
    // Same pixels, same scale: the same probability (to the printed digits,
    // give or take a rounding of a batch of 1 against a batch of 50).
    assert!((top[0].1 - p).abs() <= 2e-4, "{out} vs p = {p}");
    assert!(top[0].1 >= top[1].1 && top[1].1 >= top[2].1, "{out}");

    // Dark ink on white paper, inverted back by --invert: the same again.
    let mut negative = picture.clone();
    image::imageops::invert(&mut negative);
    negative.save(dir.path().join("paper.png")).unwrap();
    let out = ok_in(
        d,
        &[
            "predict",
            "--checkpoint",
            &ck,
            "--image",
            "digit.png",
            "paper.png",
            "--invert",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let inverted = classes(lines[1], "paper.png");
    assert_eq!(inverted[0].0, class, "{out}");
    assert!((inverted[0].1 - p).abs() <= 2e-4, "{out} vs p = {p}");

    // Twice the size, same aspect ratio: resized with the stated filter.
    let big = image::imageops::resize(&picture, 56, 56, image::imageops::FilterType::Nearest);
    big.save(dir.path().join("big.png")).unwrap();
    let out = run_in(d, &["predict", "--checkpoint", &ck, "--image", "big.png"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("big.png: resized from 56x56 to 28x28 (bilinear (Triangle) filter)"),
        "{}",
        out.stderr
    );
    assert_eq!(classes(out.stdout.trim_end(), "big.png")[0].0, class);

    // A JPEG of the digit decodes too (lossy: only that it runs and prints
    // three classes).
    picture.save(dir.path().join("digit.jpg")).unwrap();
    let out = ok_in(d, &["predict", "--checkpoint", &ck, "--image", "digit.jpg"]);
    assert_eq!(classes(out.trim_end(), "digit.jpg").len(), 3, "{out}");
}

#[test]
fn bad_pictures_are_refused_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    let ck = trained(dir.path());
    let predict = |files: &[&str], extra: &[&str], needles: &[&str]| {
        let mut args = vec!["predict", "--checkpoint", &ck, "--image"];
        args.extend(files);
        args.extend(extra);
        rejected_in(d, &args, needles)
    };

    predict(&["missing.png"], &[], &["missing.png: cannot open"]);
    std::fs::write(dir.path().join("notes.png"), "not a picture").unwrap();
    predict(
        &["notes.png"],
        &[],
        &["notes.png: not a PNG or JPEG picture"],
    );
    // A real PNG header with nothing behind it.
    std::fs::write(dir.path().join("cut.png"), b"\x89PNG\r\n\x1a\n\0\0").unwrap();
    predict(&["cut.png"], &[], &["cut.png: cannot decode the picture"]);

    GrayImage::new(28, 20)
        .save(dir.path().join("wide.png"))
        .unwrap();
    predict(
        &["wide.png"],
        &[],
        &[
            "wide.png: the picture is 28x20",
            "takes 28x28",
            "aspect ratios differ",
        ],
    );

    let mut colour = RgbImage::from_pixel(28, 28, Rgb([0, 0, 0]));
    colour.put_pixel(14, 14, Rgb([255, 0, 0]));
    colour.save(dir.path().join("red.png")).unwrap();
    // One good picture first: nothing is printed when any picture is bad.
    digit(0).save(dir.path().join("ok.png")).unwrap();
    predict(
        &["ok.png", "red.png"],
        &[],
        &["red.png: a colour picture", "grey pictures", "--grayscale"],
    );
    // ... unless asked for its luma.
    let out = ok_in(
        d,
        &[
            "predict",
            "--checkpoint",
            &ck,
            "--image",
            "red.png",
            "--grayscale",
        ],
    );
    assert_eq!(classes(out.trim_end(), "red.png").len(), 3, "{out}");
    // An RGB file of grey pixels is grey: no flag needed.
    let grey_rgb = image::DynamicImage::ImageLuma8(digit(0)).to_rgb8();
    grey_rgb.save(dir.path().join("grey_rgb.png")).unwrap();
    ok_in(
        d,
        &["predict", "--checkpoint", &ck, "--image", "grey_rgb.png"],
    );

    // --image does not mix with the data flags; --invert needs --image.
    let out = run_in(
        d,
        &[
            "predict",
            "--checkpoint",
            &ck,
            "--image",
            "ok.png",
            "--data",
            "mnist",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = run_in(d, &["predict", "--checkpoint", &ck, "--invert"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn a_model_that_takes_no_picture_is_refused() {
    let dir = TempDir::new().unwrap();
    let d = Some(dir.path());
    ok_in(
        d,
        &[
            "train",
            "--model",
            "linreg",
            "--epochs",
            "1",
            "--save",
            "L.safetensors",
        ],
    );
    GrayImage::new(1, 1)
        .save(dir.path().join("dot.png"))
        .unwrap();
    rejected_in(
        d,
        &[
            "predict",
            "--checkpoint",
            "L.safetensors",
            "--image",
            "dot.png",
        ],
        &["the model's input [1] is not a picture"],
    );
}
