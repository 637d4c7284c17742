//! Training curves with plotters, as SVG or PNG by the file's extension.
//!
//! - Text is drawn with DejaVu Sans embedded in the library
//!   (`assets/fonts/`), registered with plotters' `ab_glyph` font support:
//!   no system font (fontconfig, freetype) is looked up or needed.
//! - A plot is drawn in memory and written atomically
//!   ([`crate::output::write_atomically`]): a failure leaves an earlier plot
//!   at the same path intact and no temporary file behind.
//! - Errors are [`Error::Data`] naming the plot file, in sentences:
//!   `cannot write plot: permission denied (os error 13)`.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::output::write_atomically;
use crate::train::History;

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/README.md`).
pub const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The font family plotters' default text style asks for.
const FAMILY: &str = "sans-serif";

/// Registers [`FONT`] as plotters' `sans-serif` (once per process); an
/// error if the embedded bytes were not a font.
pub fn register_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("the embedded font (DejaVu Sans) could not be loaded".into())
    }
}

/// Named curves, one value per epoch from the plot's first epoch on.
pub type Series = Vec<(String, Vec<f32>)>;

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn fail(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: format!("cannot draw plot: {e}"),
    }
}

/// A plotters error as a sentence. Drawing in memory cannot fail on I/O, so
/// what is left are font and layout problems; their `Display` is plotters'
/// own and is kept short.
fn plotters_error(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

/// One chart of `series` against the epoch, with a legend.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &Series,
    first: usize,
) -> std::result::Result<(), String> {
    let epochs = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let values = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.05).max(1e-6);
    let mut c = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(
            first as f32..(first + epochs.max(2) - 1) as f32,
            (lo - pad)..(hi + pad),
        )
        .map_err(plotters_error)?;
    c.configure_mesh()
        .x_labels(epochs.clamp(2, 10))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()
        .map_err(plotters_error)?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = values
            .iter()
            .enumerate()
            .map(move |(e, &v)| ((first + e) as f32, v));
        c.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(plotters_error)?;
        c.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
            .map_err(plotters_error)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plotters_error)
}

/// Draws `panels` (title, y label, series over epochs 1, 2, ...) side by
/// side into `path`, an `.svg` or `.png` file, replacing it atomically.
pub fn draw(path: &Path, panels: &[(&str, &str, Series)]) -> Result<()> {
    draw_from(path, panels, 1)
}

/// [`draw`] with the series starting at epoch `first`.
pub fn draw_from(path: &Path, panels: &[(&str, &str, Series)], first: usize) -> Result<()> {
    let size = (560 * panels.len().max(1) as u32, 420);
    let svg = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => true,
        Some("png") => false,
        _ => return Err(fail(path, "use a .svg or .png file name")),
    };
    register_font().map_err(|e| fail(path, e))?;
    let bytes = if svg {
        let mut text = String::new();
        draw_all(
            SVGBackend::with_string(&mut text, size).into_drawing_area(),
            panels,
            first,
        )
        .map_err(|e| fail(path, e))?;
        text.into_bytes()
    } else {
        let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
        draw_all(
            BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area(),
            panels,
            first,
        )
        .map_err(|e| fail(path, e))?;
        encode_png(&rgb, size).map_err(|e| fail(path, format!("cannot encode PNG: {e}")))?
    };
    write_atomically(path, "plot", &bytes)
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[(&str, &str, Series)],
    first: usize,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(plotters_error)?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, (title, y, series)) in areas.iter().zip(panels) {
        chart(area, title, y, series, first)?;
    }
    root.present().map_err(plotters_error)
}

/// RGB pixels as a PNG file's bytes.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Loss and (if recorded) accuracy curves, training and validation, over
/// the history's epochs (a resumed run's history starts where its
/// checkpoint's does: at 1 when the checkpoint kept the earlier epochs).
pub fn plot_history(path: &Path, history: &History, metric: Option<&str>) -> Result<()> {
    let mut loss: Series = vec![("loss".into(), history.loss())];
    if !history.val_loss().is_empty() {
        loss.push(("val_loss".into(), history.val_loss()));
    }
    let mut panels = vec![("loss", "loss", loss)];
    if let Some(m) = metric {
        let mut acc: Series = vec![(m.to_string(), history.metric(m))];
        if !history.val_metric(m).is_empty() {
            acc.push((format!("val_{m}"), history.val_metric(m)));
        }
        panels.push((m, m, acc));
    }
    let first = history.epochs.first().map_or(1, |e| e.epoch);
    draw_from(path, &panels, first)
}
