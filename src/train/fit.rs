//! `fit`, `evaluate` and `predict`: batches over a data set.

use std::time::Instant;

use ndarray::{ArrayD, Axis, Slice};
use rand::seq::SliceRandom;

use super::history::{Callback, EpochLog, History, Logs, Mean};
use super::model::{Model, StepKind};
use super::{FitOptions, Validation};
use crate::compile::OutputRole;
use crate::data::Dataset;
use crate::error::{Divergence, Error, Result};

impl Model {
    /// Trains for `epochs` over `data` in batches (the last may be smaller),
    /// reshuffling every epoch when asked. Stops with an error naming the
    /// epoch and step if the loss or a gradient becomes NaN or infinite;
    /// that step's update is not applied. A state entry that an update made
    /// infinite (with finite gradients) is reported at the end of its epoch.
    pub fn fit(
        &mut self,
        data: &Dataset,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History> {
        Self::check_batch_size(options.batch_size)?;
        let n = self.check_data(&data.x, Some(&data.y))?;
        let (train, validation) = match &options.validation {
            Validation::None => (data.clone(), None),
            Validation::Data(v) => {
                self.check_data(&v.x, Some(&v.y))?;
                (data.clone(), Some(v.as_ref().clone()))
            }
            Validation::Split(fraction) => split(data, n, *fraction)?,
        };
        let mut history = History::default();
        let samples = train.len();
        let steps = samples.div_ceil(options.batch_size);
        // `epochs_done` may come from a checkpoint: no overflow on its account.
        let counter = |n: Option<usize>| {
            n.ok_or_else(|| {
                Error::Config(format!(
                    "{} more epochs after {} do not fit a counter",
                    options.epochs, self.epochs_done
                ))
            })
        };
        let first = counter(self.epochs_done.checked_add(1))?;
        let last = counter(self.epochs_done.checked_add(options.epochs))?;
        for epoch in first..=last {
            callback.on_epoch_begin(epoch, last, steps);
            let start = Instant::now();
            let mut order: Vec<usize> = (0..samples).collect();
            if options.shuffle {
                order.shuffle(&mut self.rng);
            }
            let mut mean = Mean::default();
            for (step, chunk) in order.chunks(options.batch_size).enumerate() {
                let x = train.x.select(Axis(0), chunk);
                let y = train.y.select(Axis(0), chunk);
                let logs = self.step_checked(&x, &y, epoch, step + 1)?;
                mean.add(chunk.len(), logs.loss, &logs.metrics);
                callback.on_batch_end(step + 1, &mean.logs());
            }
            if let Some(entry) = self.state().first_non_finite() {
                return Err(Error::NonFinite {
                    loss: mean.logs().loss,
                    epoch,
                    step: steps,
                    cause: Divergence::State {
                        entry: entry.name.clone(),
                    },
                });
            }
            let validation = match &validation {
                Some(v) => {
                    callback.on_validation_begin(v.len());
                    Some(self.evaluate(v, options.batch_size)?)
                }
                None => None,
            };
            let log = EpochLog {
                epoch,
                train: mean.logs(),
                validation,
                seconds: start.elapsed().as_secs_f64(),
            };
            callback.on_epoch_end(&log);
            history.epochs.push(log);
            self.epochs_done = epoch;
        }
        Ok(history)
    }

    /// Loss and metrics over `data`, in batches, without updating anything.
    pub fn evaluate(&mut self, data: &Dataset, batch_size: usize) -> Result<Logs> {
        Self::check_batch_size(batch_size)?;
        let n = self.check_data(&data.x, Some(&data.y))?;
        let mut mean = Mean::default();
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let rows = Slice::from(start..end);
            let x = data.x.slice_axis(Axis(0), rows);
            let y = data.y.slice_axis(Axis(0), rows);
            self.run(StepKind::Eval, x, Some(y))?;
            let logs = self.logs(
                self.signature(StepKind::Eval, end - start),
                self.outputs(StepKind::Eval, end - start),
            );
            mean.add(end - start, logs.loss, &logs.metrics);
        }
        Ok(mean.logs())
    }

    /// The model's outputs for `x`, computed in batches.
    pub fn predict(&mut self, x: &ArrayD<f32>, batch_size: usize) -> Result<ArrayD<f32>> {
        Self::check_batch_size(batch_size)?;
        let n = self.check_data(x, None)?;
        let mut parts = Vec::new();
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let rows = x.slice_axis(Axis(0), Slice::from(start..end));
            self.run(StepKind::Predict, rows, None)?;
            let pos = self
                .signature(StepKind::Predict, end - start)
                .output(OutputRole::Prediction)
                .expect("the predict graph's output");
            parts.push(self.outputs(StepKind::Predict, end - start)[pos].clone());
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        Ok(ndarray::concatenate(Axis(0), &views).expect("batches share their trailing shape"))
    }
}

/// Keras' `validation_split`: the last `fraction` of `data`, before shuffling.
fn split(data: &Dataset, n: usize, fraction: f32) -> Result<(Dataset, Option<Dataset>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::Config(format!(
            "validation_split must be in [0, 1), got {fraction}"
        )));
    }
    if fraction == 0.0 {
        return Ok((data.clone(), None));
    }
    let keep = split_point(n, fraction);
    if keep == 0 || keep == n {
        return Err(Error::Config(format!(
            "validation_split={fraction} leaves {keep} of {n} samples for training: \
             not enough to split into training and validation sets"
        )));
    }
    let (t, v) = data.split_at(keep);
    Ok((t, Some(v)))
}

/// How many of `n` samples Keras 3 trains on with `validation_split =
/// fraction`: `floor(n * (1 - fraction))` in Python floats; the f32 goes
/// through its decimal form so 0.1 stays 0.1. `n` for a fraction of 0.
pub fn split_point(n: usize, fraction: f32) -> usize {
    let f: f64 = fraction.to_string().parse().expect("a float");
    (n as f64 * (1.0 - f)).floor() as usize
}
