//! `triceratops eval` and `predict`: a checkpoint on the samples its run
//! held out (by default), on its training samples, or on other data.

use std::path::Path;

use ndarray::{Axis, Slice};

use super::data::{absolute_spec, test_spec, Part};
use super::partition::{parse_scale, partition, prepare, recorded_in, Parts};
use super::stdout::{line, outln};
use super::Split;
use crate::backend::Backend;
use crate::checkpoint::{self, RunSettings};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::train::Model;

/// The options `eval` and `predict` share.
pub struct Selection {
    pub data: Option<String>,
    pub split: Option<Split>,
    pub scale: Option<String>,
    /// The first N samples of the chosen part.
    pub limit: Option<usize>,
    pub passes: crate::compile::Passes,
    /// What runs the checkpoint's graphs.
    pub backend: Box<dyn Backend>,
}

/// The samples chosen, what to call them, and the index in their file(s)
/// of the first one.
struct Chosen {
    data: Dataset,
    label: String,
    first_index: usize,
}

pub fn eval(checkpoint: &Path, selection: Selection, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::Config("--batch-size must be positive".into()));
    }
    let (mut model, chosen) = choose(checkpoint, selection)?;
    let logs = model.evaluate(&chosen.data, batch_size)?;
    if !logs.loss.is_finite() {
        return Err(Error::Config(format!(
            "the loss over {} is {}: the model's outputs overflow on this data",
            chosen.label, logs.loss
        )));
    }
    outln!("{} - {logs}", chosen.label);
    Ok(())
}

pub fn predict(checkpoint: &Path, selection: Selection) -> Result<()> {
    let (mut model, chosen) = choose(checkpoint, selection)?;
    let pred = model.predict(&chosen.data.x, 128)?;
    print_predictions(&pred, &chosen);
    Ok(())
}

fn choose(checkpoint: &Path, s: Selection) -> Result<(Model, Chosen)> {
    if s.limit == Some(0) {
        return Err(Error::Config("--limit must be positive".into()));
    }
    let restored = checkpoint::load(checkpoint, s.backend)?;
    let mut model = restored.model;
    model.set_passes(s.passes);
    let mut recorded = restored.run;
    if let Some(scale) = &s.scale {
        recorded.scale = Some(scale.clone());
    }
    let mut chosen = match s.data.as_deref().map(absolute_spec).transpose()? {
        Some(spec) => other_data(&model, &spec, &recorded, s.split)?,
        None => own_data(&model, checkpoint, &recorded, s.split)?,
    };
    if let Some(n) = s.limit {
        chosen.data = chosen.data.slice(0, n.min(chosen.data.len()));
    }
    if chosen.data.is_empty() {
        return Err(Error::Config(format!("{} is empty", chosen.label)));
    }
    let n = chosen.data.len();
    chosen.label = chosen.label.replacen("{n}", &n.to_string(), 1);
    Ok((model, chosen))
}

/// All of the data `--data` names (even the checkpoint's own: then the
/// training samples too).
fn other_data(
    model: &Model,
    spec: &str,
    recorded: &RunSettings,
    split: Option<Split>,
) -> Result<Chosen> {
    if let Some(split @ (Split::Validation | Split::Train)) = split {
        let name = if split == Split::Train {
            "train"
        } else {
            "validation"
        };
        return Err(Error::Config(format!(
            "--split {name} names a part of the checkpoint's own data, but data given with \
             --data is used whole; drop --split or --data"
        )));
    }
    let scale = parse_scale(recorded.scale.as_deref())?;
    if split == Some(Split::Test) {
        return test_part(model, spec, recorded);
    }
    let data = prepare(spec, model, scale, Part::Evaluated)?;
    Ok(Chosen {
        data,
        label: format!("{{n}} samples of {spec}"),
        first_index: 0,
    })
}

/// The test arrays of the NPZ archive `spec` names (Keras's layout), scaled
/// as the checkpoint's run scaled its data.
fn test_part(model: &Model, spec: &str, recorded: &RunSettings) -> Result<Chosen> {
    let scale = parse_scale(recorded.scale.as_deref())?;
    let spec = test_spec(spec)?;
    let data = prepare(&spec, model, scale, Part::Evaluated)?;
    Ok(Chosen {
        data,
        label: format!("{{n}} test samples of {spec}"),
        first_index: 0,
    })
}

/// A part of the checkpoint's own data, as its run split it.
fn own_data(
    model: &Model,
    checkpoint: &Path,
    recorded: &RunSettings,
    split: Option<Split>,
) -> Result<Chosen> {
    if split == Some(Split::Test) {
        let Some(spec) = recorded.data.as_deref() else {
            return Err(Error::Config(
                "--split test: the checkpoint records no data; give --data npz:FILE".into(),
            ));
        };
        return test_part(model, spec, recorded).map_err(|e| recorded_in(e, checkpoint));
    }
    let Parts {
        train,
        validation,
        validation_start,
    } = partition(model, recorded).map_err(|e| recorded_in(e, checkpoint))?;
    match split.unwrap_or(Split::Validation) {
        Split::Validation => match validation {
            Some(data) => Ok(Chosen {
                data,
                label: "{n} validation samples".into(),
                first_index: validation_start,
            }),
            None => Err(Error::Config(format!(
                "the run of {} held out no validation samples; use --split train or all, \
                 or other data with --data",
                checkpoint.display()
            ))),
        },
        Split::Train => Ok(Chosen {
            data: train,
            label: "{n} training samples".into(),
            first_index: 0,
        }),
        // Chosen above, before the parts are loaded; kept an error, not a
        // panic, should that order change.
        Split::Test => Err(Error::Config(
            "--split test is not a part of the run's own split".into(),
        )),
        Split::All => {
            let data = match validation {
                Some(v) => Dataset {
                    x: ndarray::concatenate(Axis(0), &[train.x.view(), v.x.view()])
                        .map_err(|e| Error::Config(format!("cannot join the parts: {e}")))?,
                    y: ndarray::concatenate(Axis(0), &[train.y.view(), v.y.view()])
                        .map_err(|e| Error::Config(format!("cannot join the parts: {e}")))?,
                },
                None => train,
            };
            Ok(Chosen {
                data,
                label: "{n} samples (training and validation)".into(),
                first_index: 0,
            })
        }
    }
}

fn argmax<'a>(values: impl Iterator<Item = &'a f32>) -> (usize, f32) {
    values.enumerate().fold(
        (0, f32::NEG_INFINITY),
        |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
    )
}

/// One line per sample, numbered by its index in the data file(s); stops
/// when stdout is closed.
fn print_predictions(pred: &ndarray::ArrayD<f32>, chosen: &Chosen) {
    let classes = pred.shape().last().copied().unwrap_or(1);
    for (i, row) in pred.axis_iter(Axis(0)).enumerate() {
        let index = chosen.first_index + i;
        let target = chosen
            .data
            .y
            .slice_axis(Axis(0), Slice::from(i..i + 1))
            .index_axis_move(Axis(0), 0);
        let open = if classes > 1 {
            let (best, p) = argmax(row.iter());
            // One-hot rows or (sparse) class indices.
            let truth = if target.ndim() == 0 {
                target.iter().next().copied().unwrap_or(f32::NAN) as usize
            } else {
                argmax(target.iter()).0
            };
            outln!("sample {index}: class {best} (p = {p:.4}), label {truth}")
        } else {
            let values: Vec<f32> = row.iter().copied().collect();
            let target: Vec<f32> = target.iter().copied().collect();
            line(format_args!(
                "sample {index}: {values:?}, target {target:?}"
            ))
        };
        if !open {
            break;
        }
    }
}
