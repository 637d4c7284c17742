//! What training reports: per-batch logs, per-epoch logs, the History.

use std::fmt;

/// Loss and metric values, averaged over the samples seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    pub loss: f32,
    pub metrics: Vec<(String, f32)>,
}

impl Logs {
    pub fn metric(&self, name: &str) -> Option<f32> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }
}

/// Keras' `loss: 0.1234 - accuracy: 0.9600` form.
impl fmt::Display for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss: {:.4}", self.loss)?;
        for (name, v) in &self.metrics {
            write!(f, " - {name}: {v:.4}")?;
        }
        Ok(())
    }
}

/// Running sample-weighted means of loss and metrics over one epoch.
#[derive(Clone, Debug, Default)]
pub struct Mean {
    samples: usize,
    loss: f64,
    metrics: Vec<(String, f64)>,
}

impl Mean {
    pub fn add(&mut self, batch: usize, loss: f32, metrics: &[(String, f32)]) {
        self.samples += batch;
        self.loss += loss as f64 * batch as f64;
        if self.metrics.is_empty() {
            self.metrics = metrics.iter().map(|(n, _)| (n.clone(), 0.0)).collect();
        }
        for ((_, acc), (_, v)) in self.metrics.iter_mut().zip(metrics) {
            *acc += *v as f64 * batch as f64;
        }
    }

    pub fn logs(&self) -> Logs {
        let n = self.samples.max(1) as f64;
        Logs {
            loss: (self.loss / n) as f32,
            metrics: self
                .metrics
                .iter()
                .map(|(name, v)| (name.clone(), (v / n) as f32))
                .collect(),
        }
    }
}

/// One epoch's results.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochLog {
    /// 1-based, as Keras prints it.
    pub epoch: usize,
    pub train: Logs,
    pub validation: Option<Logs>,
    pub seconds: f64,
}

/// Keras' per-epoch line: `loss: .. - accuracy: .. - val_loss: .. - val_accuracy: ..`.
impl fmt::Display for EpochLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.train)?;
        if let Some(v) = &self.validation {
            write!(f, " - val_loss: {:.4}", v.loss)?;
            for (name, value) in &v.metrics {
                write!(f, " - val_{name}: {value:.4}")?;
            }
        }
        Ok(())
    }
}

/// Everything `fit` measured, epoch by epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub epochs: Vec<EpochLog>,
}

impl History {
    pub fn loss(&self) -> Vec<f32> {
        self.epochs.iter().map(|e| e.train.loss).collect()
    }

    pub fn val_loss(&self) -> Vec<f32> {
        self.epochs
            .iter()
            .filter_map(|e| e.validation.as_ref().map(|v| v.loss))
            .collect()
    }

    pub fn metric(&self, name: &str) -> Vec<f32> {
        self.epochs
            .iter()
            .filter_map(|e| e.train.metric(name))
            .collect()
    }

    pub fn val_metric(&self, name: &str) -> Vec<f32> {
        self.epochs
            .iter()
            .filter_map(|e| e.validation.as_ref().and_then(|v| v.metric(name)))
            .collect()
    }
}

/// Hooks into `fit` (progress bars, printing, checkpoints).
pub trait Callback {
    fn on_epoch_begin(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    fn on_batch_end(&mut self, _step: usize, _logs: &Logs) {}
    /// After the epoch's last step, before `samples` validation samples
    /// are evaluated.
    fn on_validation_begin(&mut self, _samples: usize) {}
    fn on_epoch_end(&mut self, _log: &EpochLog) {}
}

/// No output.
pub struct Silent;

impl Callback for Silent {}

/// Prints Keras' epoch header and summary line.
pub struct PrintEpochs;

impl Callback for PrintEpochs {
    fn on_epoch_begin(&mut self, epoch: usize, epochs: usize, _steps: usize) {
        println!("Epoch {epoch}/{epochs}");
    }

    fn on_epoch_end(&mut self, log: &EpochLog) {
        println!("{:.1}s - {log}", log.seconds);
    }
}
