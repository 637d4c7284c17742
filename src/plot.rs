//! Training curves with plotters, as SVG or PNG by the file's extension.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::train::History;

/// Named curves over epochs 1..=n.
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

/// One chart of `series` against the epoch, with a legend.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &Series,
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
        .build_cartesian_2d(1f32..epochs.max(2) as f32, (lo - pad)..(hi + pad))
        .map_err(|e| e.to_string())?;
    c.configure_mesh()
        .x_labels(epochs.clamp(2, 10))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = values.iter().enumerate().map(|(e, &v)| ((e + 1) as f32, v));
        c.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        c.draw_series(points.map(|p| Circle::new(p, 3, color.filled())))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Draws `panels` (title, y label, series) side by side into `path`.
pub fn draw(path: &Path, panels: &[(&str, &str, Series)]) -> Result<()> {
    let size = (560 * panels.len().max(1) as u32, 420);
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => draw_all(SVGBackend::new(path, size).into_drawing_area(), panels),
        Some("png") => draw_all(BitMapBackend::new(path, size).into_drawing_area(), panels),
        _ => return Err(fail(path, "use a .svg or .png file name")),
    }
    .map_err(|e| fail(path, e))
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[(&str, &str, Series)],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, (title, y, series)) in areas.iter().zip(panels) {
        chart(area, title, y, series)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Loss and (if recorded) accuracy curves, training and validation.
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
    draw(path, &panels)
}
