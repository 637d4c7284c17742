//! Which samples a run trains and validates on — and so which ones `eval`
//! and `predict` may call held out. One function decides it for all three
//! commands, from the settings a checkpoint records: the data (after
//! `--limit`), then either separate validation data or Keras'
//! `validation_split` of the data's end. Every part is checked for NaN and
//! infinity when it is loaded.

use std::path::Path;

use ndarray::Axis;

use super::data::{check_finite, conform, load, Part};
use crate::checkpoint::RunSettings;
use crate::data::{Dataset, Scale};
use crate::error::{Error, Result};
use crate::keras::losses::Loss;
use crate::train::{split_point, Model};

/// A run's training and validation samples.
pub struct Parts {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    /// The index in its file(s) of the first validation sample.
    pub validation_start: usize,
}

/// The training and validation parts `settings` describe, fitted to `model`.
/// Values are checked for NaN and infinity as loaded (before labels become
/// class indices, which would hide a NaN target).
pub fn partition(model: &Model, settings: &RunSettings) -> Result<Parts> {
    let Some(spec) = settings.data.as_deref() else {
        return Err(Error::Config(
            "--data is required: this model has no data of its own".into(),
        ));
    };
    let scale = parse_scale(settings.scale.as_deref())?;
    let data = load_limited(spec, model, scale, settings.limit)?;
    if let Some(vspec) = settings.validation_data.as_deref() {
        check_finite(spec, &data, Part::Train, 0)?;
        let validation = load_limited(vspec, model, scale, None)?;
        check_finite(vspec, &validation, Part::Validation, 0)?;
        return Ok(Parts {
            train: fit_to_model(data, model)?,
            validation: Some(fit_to_model(validation, model)?),
            validation_start: 0,
        });
    }
    let fraction = settings.validation_split.unwrap_or(0.0);
    let n = data.len();
    let keep = split_point(n, fraction);
    if fraction > 0.0 && (keep == 0 || keep == n) {
        return Err(Error::Config(format!(
            "a validation split of {fraction} (--validation-split, 0.2 by default) leaves \
             {keep} of the {n} samples of `{spec}` for training: not enough to split into \
             training and validation parts (see also --limit)"
        )));
    }
    let (train, validation) = data.split_at(keep);
    check_finite(spec, &train, Part::Train, 0)?;
    check_finite(spec, &validation, Part::Validation, keep)?;
    Ok(Parts {
        train: fit_to_model(train, model)?,
        validation: if validation.is_empty() {
            None
        } else {
            Some(fit_to_model(validation, model)?)
        },
        validation_start: keep,
    })
}

/// A `--scale` text (`None`: the format's default).
pub fn parse_scale(text: Option<&str>) -> Result<Option<Scale>> {
    text.map(|t| {
        t.parse::<Scale>()
            .map_err(|e| Error::Config(format!("--{e}")))
    })
    .transpose()
}

/// Loads all of a data spec, fitted to `model` (other data for `eval` and
/// `predict`), checked for NaN and infinity.
pub fn prepare(spec: &str, model: &Model, scale: Option<Scale>, part: Part) -> Result<Dataset> {
    let data = load_limited(spec, model, scale, None)?;
    check_finite(spec, &data, part, 0)?;
    fit_to_model(data, model)
}

/// Loads a data spec and keeps its first `limit` samples, with class
/// labels one-hot (or as stored) for a model whose targets are classes.
fn load_limited(
    spec: &str,
    model: &Model,
    scale: Option<Scale>,
    limit: Option<usize>,
) -> Result<Dataset> {
    let units = model
        .sequential()
        .output_shape()
        .last()
        .copied()
        .unwrap_or(1);
    let classes = match model.spec().loss {
        Loss::CategoricalCrossentropy { .. } | Loss::SparseCategoricalCrossentropy { .. } => {
            Some(units)
        }
        _ => None,
    };
    let data = load(spec, classes, scale)?;
    Ok(match limit {
        Some(n) => data.slice(0, n.min(data.len())),
        None => data,
    })
}

/// Fits loaded samples to the model: inputs to its input shape, one-hot
/// labels to class indices for the sparse loss.
fn fit_to_model(mut data: Dataset, model: &Model) -> Result<Dataset> {
    if let Loss::SparseCategoricalCrossentropy { .. } = model.spec().loss {
        data.y = class_indices(data.y);
    }
    let x = conform(data.x, &model.sequential().input_shape)?;
    Ok(Dataset { x, y: data.y })
}

/// Says that a data error's file came from the checkpoint's record.
pub fn recorded_in(e: Error, checkpoint: &Path) -> Error {
    match e {
        Error::Data { path, message } => Error::Data {
            path,
            message: format!(
                "{message} (this data path was recorded in {}; give --data to use other files)",
                checkpoint.display()
            ),
        },
        other => other,
    }
}

/// One-hot rows `[n, c]` as class indices `[n]` (first maximum); other
/// shapes are returned unchanged.
fn class_indices(y: ndarray::ArrayD<f32>) -> ndarray::ArrayD<f32> {
    if y.ndim() != 2 {
        return y;
    }
    let indices = y.map_axis(Axis(1), |row| {
        row.iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
            )
            .0 as f32
    });
    indices.into_dyn()
}
