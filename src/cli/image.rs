//! `triceratops predict --image FILE...`: a checkpoint's top-3 classes for
//! PNG and JPEG pictures of one's own.
//!
//! Each picture becomes one sample the way the model's training samples
//! were made: 8-bit grey or RGB pixels (16-bit pictures are reduced to 8
//! bits, an alpha channel is dropped), resized to the model's input size
//! with a bilinear filter when only the size differs, scaled with the
//! checkpoint's recorded `--scale`, and laid out in the model's channel
//! order by the same `conform` the data specs use. What would silently
//! change what the model sees is refused instead, naming the file: a
//! picture whose aspect ratio differs from the model's (distorting it is
//! rarely what one wants), and a colour picture for a grey model (unless
//! `--grayscale` asks for the conversion).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};
use ndarray::{ArrayD, Axis, IxDyn};

use super::data::conform;
use super::partition::parse_scale;
use super::stdout::outln;
use crate::backend::Backend;
use crate::checkpoint;
use crate::data::Scale;
use crate::error::{Error, Result};
use crate::keras::losses::Loss;

/// The resize filter, named in the note a resized picture gets and in the
/// README: bilinear is smooth enough for the small factors between a photo
/// crop and MNIST's 28x28, and does not ring like Lanczos.
const FILTER: FilterType = FilterType::Triangle;
const FILTER_NAME: &str = "bilinear (Triangle)";

/// How many classes are printed per picture.
const TOP: usize = 3;

/// The options of `predict --image`.
pub struct ImageOptions {
    pub files: Vec<PathBuf>,
    /// `--scale`, overriding the checkpoint's.
    pub scale: Option<String>,
    /// Colour pictures into a grey model: luma instead of an error.
    pub grayscale: bool,
    /// `255 - v` before scaling: dark ink on light paper to MNIST's light
    /// digits on black.
    pub invert: bool,
    pub passes: crate::compile::Passes,
    pub backend: Box<dyn Backend>,
}

/// The picture a model takes: its size and 1 (grey) or 3 (RGB) channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Picture {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Picture {
    /// The picture behind a model's input shape (without the batch axis):
    /// `[h, w]` grey; `[h, w, c]` channels-last when `c` is 1 or 3, else
    /// `[c, h, w]` channels-first when the first axis is 1 or 3; `[n]` a
    /// flattened square picture, grey when `n` is a square and RGB when
    /// `n / 3` is (never both: `3k²` is no square). A shape with 1 or 3 at
    /// both ends (`[3, 5, 3]`) is read as channels-last.
    pub fn of_input(input: &[usize]) -> Result<Picture> {
        let rgb_or_grey = |c: usize| c == 1 || c == 3;
        let picture = match *input {
            [n] => square_side(n).map(|s| (s, s, 1)).or_else(|| {
                (n % 3 == 0)
                    .then(|| square_side(n / 3))
                    .flatten()
                    .map(|s| (s, s, 3))
            }),
            [h, w] => Some((h, w, 1)),
            [h, w, c] if rgb_or_grey(c) => Some((h, w, c)),
            [c, h, w] if rgb_or_grey(c) => Some((h, w, c)),
            _ => None,
        };
        match picture {
            Some((height, width, channels)) if height > 0 && width > 0 => Ok(Picture {
                height,
                width,
                channels,
            }),
            _ => Err(Error::Config(format!(
                "the model's input {input:?} is not a picture (--image needs an input of \
                 [height, width], [height, width, 1 or 3], [1 or 3, height, width], or a \
                 flattened square picture such as [784])"
            ))),
        }
    }
}

/// The side of a flattened square picture of `n` values; at least 2, so
/// that a one-value input (a regression on one number) is no 1x1 picture.
fn square_side(n: usize) -> Option<usize> {
    let s = (n as f64).sqrt().round() as usize;
    (s >= 2 && s * s == n).then_some(s)
}

/// One picture file as a `[height, width, channels]` sample of bytes
/// (0..255 as `f32`, not yet scaled), fitted to `want`. The `String` is a
/// note for stderr when the picture was resized.
pub fn read_picture(
    path: &Path,
    want: Picture,
    grayscale: bool,
    invert: bool,
) -> Result<(ArrayD<f32>, Option<String>)> {
    let fail = |message: String| Error::Data {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    // The format is what the bytes say, not the file name (a `.png` that
    // holds text is not a PNG).
    let format = match image::guess_format(&bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Ok(other) => {
            return Err(fail(format!(
                "a {other:?} picture: only PNG and JPEG are read"
            )))
        }
        Err(_) => return Err(fail("not a PNG or JPEG picture".into())),
    };
    let picture = image::load_from_memory_with_format(&bytes, format)
        .map_err(|e| fail(format!("cannot decode the picture: {e}")))?;
    let (width, height) = (picture.width() as usize, picture.height() as usize);
    // Exact integer comparison of width/height ratios: any distortion,
    // however small, is the user's call (crop or pad first).
    if width * want.height != height * want.width {
        return Err(fail(format!(
            "the picture is {width}x{height} (width x height) but the model takes {}x{} \
             pictures: the aspect ratios differ; crop or pad it to {}:{} first",
            want.width,
            want.height,
            want.width / gcd(want.width, want.height),
            want.height / gcd(want.width, want.height),
        )));
    }
    let mut pixels: Vec<u8> = if want.channels == 1 {
        grey_pixels(&picture, grayscale).map_err(fail)?.into_raw()
    } else {
        // A grey picture into an RGB model repeats its one channel, as the
        // `mnist32` data spec does: nothing is invented.
        picture.to_rgb8().into_raw()
    };
    let mut note = None;
    if (width, height) != (want.width, want.height) {
        let (w, h) = (want.width as u32, want.height as u32);
        pixels = if want.channels == 1 {
            let img = GrayImage::from_raw(width as u32, height as u32, pixels)
                .ok_or_else(|| fail("the decoded picture has the wrong size".into()))?;
            image::imageops::resize(&img, w, h, FILTER).into_raw()
        } else {
            let img = RgbImage::from_raw(width as u32, height as u32, pixels)
                .ok_or_else(|| fail("the decoded picture has the wrong size".into()))?;
            image::imageops::resize(&img, w, h, FILTER).into_raw()
        };
        note = Some(format!(
            "{}: resized from {width}x{height} to {w}x{h} ({FILTER_NAME} filter)",
            path.display()
        ));
    }
    if invert {
        pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
    let shape = IxDyn(&[want.height, want.width, want.channels]);
    let values = pixels.into_iter().map(f32::from).collect();
    let sample = ArrayD::from_shape_vec(shape, values)
        .map_err(|e| fail(format!("the decoded picture has the wrong size: {e}")))?;
    Ok((sample, note))
}

/// The grey pixels of a picture. A colour picture is refused unless
/// `convert` (its pixels may all be grey, as editors often save them:
/// those pass as they are).
fn grey_pixels(picture: &DynamicImage, convert: bool) -> std::result::Result<GrayImage, String> {
    if picture.color().has_color() && !convert {
        let rgb = picture.to_rgb8();
        if rgb.pixels().any(|p| p[0] != p[1] || p[1] != p[2]) {
            return Err(
                "a colour picture, but the model takes grey pictures; convert it \
                        (or pass --grayscale to use its luma, 0.2126 R + 0.7152 G + 0.0722 B)"
                    .into(),
            );
        }
    }
    // `to_luma8` uses the Rec. 709 luma weights named above, and returns a
    // grey picture's own values unchanged.
    Ok(picture.to_luma8())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// The scale for pictures: `--scale`, else the checkpoint's, else the
/// default of the format it was trained on (bytes divided by 255 for the
/// image formats, values as stored for `npy:` and `line`, as
/// `cli::data::load` does).
fn picture_scale(flag: Option<&str>, recorded: &checkpoint::RunSettings) -> Result<Scale> {
    if let Some(scale) = parse_scale(flag.or(recorded.scale.as_deref()))? {
        return Ok(scale);
    }
    Ok(match recorded.data.as_deref() {
        Some(spec) if spec.starts_with("npy:") || spec == "line" => Scale::None,
        _ => Scale::BYTE,
    })
}

/// `predict --image`: one line per picture, `FILE: class C (p = P), ...`
/// for the three most probable classes, best first.
pub fn predict_images(checkpoint_path: &Path, options: ImageOptions) -> Result<()> {
    let restored = checkpoint::load(checkpoint_path, options.backend)?;
    let mut model = restored.model;
    model.set_passes(options.passes);
    let input = model.sequential().input_shape.clone();
    let want = Picture::of_input(&input)?;
    let scale = picture_scale(options.scale.as_deref(), &restored.run)?;
    let mut samples = Vec::with_capacity(options.files.len());
    for file in &options.files {
        let (sample, note) = read_picture(file, want, options.grayscale, options.invert)?;
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        samples.push(sample);
    }
    let views: Vec<_> = samples.iter().map(|s| s.view()).collect();
    let mut x = ndarray::stack(Axis(0), &views)
        .map_err(|e| Error::Config(format!("cannot batch the pictures: {e}")))?;
    scale.apply_all(&mut x);
    let x = conform(x, &input)?;
    let pred = model.predict(&x, 128)?;
    let logits = matches!(
        model.spec().loss,
        Loss::CategoricalCrossentropy { from_logits: true }
            | Loss::SparseCategoricalCrossentropy { from_logits: true }
    );
    for (file, row) in options.files.iter().zip(pred.axis_iter(Axis(0))) {
        let mut values: Vec<f32> = row.iter().copied().collect();
        let text = if values.len() > 1 {
            if logits {
                softmax(&mut values);
            }
            top_classes(&values)
                .iter()
                .map(|&(c, p)| format!("class {c} (p = {p:.4})"))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            format!("{values:?}")
        };
        if !outln!("{}: {text}", file.display()) {
            break;
        }
    }
    Ok(())
}

/// The `TOP` largest values with their indices, largest first (ties: the
/// lower index first; NaN last).
fn top_classes(values: &[f32]) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.retain(|(_, v)| !v.is_nan());
    ranked.truncate(TOP);
    ranked
}

fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    values.iter_mut().for_each(|v| *v = (*v - max).exp());
    let sum: f32 = values.iter().sum();
    values.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_behind_input_shapes() {
        let p = |h, w, c| Picture {
            height: h,
            width: w,
            channels: c,
        };
        assert_eq!(Picture::of_input(&[784]).unwrap(), p(28, 28, 1));
        assert_eq!(Picture::of_input(&[3072]).unwrap(), p(32, 32, 3));
        assert_eq!(Picture::of_input(&[28, 28]).unwrap(), p(28, 28, 1));
        assert_eq!(Picture::of_input(&[32, 32, 3]).unwrap(), p(32, 32, 3));
        assert_eq!(Picture::of_input(&[3, 32, 32]).unwrap(), p(32, 32, 3));
        assert_eq!(Picture::of_input(&[1, 28, 20]).unwrap(), p(28, 20, 1));
        assert!(Picture::of_input(&[10]).is_err());
        assert!(Picture::of_input(&[1]).is_err());
        assert!(Picture::of_input(&[8, 8, 5]).is_err());
        assert!(Picture::of_input(&[0, 0]).is_err());
    }

    #[test]
    fn top_three_best_first() {
        let top = top_classes(&[0.1, 0.5, f32::NAN, 0.2, 0.2]);
        assert_eq!(top, vec![(1, 0.5), (3, 0.2), (4, 0.2)]);
        assert_eq!(top_classes(&[0.4, 0.6]).len(), 2);
    }
}
