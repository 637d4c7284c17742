//! Progress for `train`: an indicatif bar per epoch (on stderr, hidden when
//! it is not a terminal) with an ETA and a validation phase, and Keras'
//! summary line per epoch on stdout (which may be closed: see [`super::stdout`]).

use indicatif::{ProgressBar, ProgressStyle};

use super::stdout::outln;
use crate::train::{Callback, EpochLog, Logs};

#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    steps: usize,
    /// The last epoch of the whole run, when `fit` is called epoch by epoch.
    pub total_epochs: Option<usize>,
}

impl Progress {
    /// Progress whose epoch counter reads `Epoch k/total_epochs`.
    pub fn until(total_epochs: usize) -> Progress {
        Progress {
            total_epochs: Some(total_epochs),
            ..Progress::default()
        }
    }
}

impl Callback for Progress {
    fn on_epoch_begin(&mut self, epoch: usize, epochs: usize, steps: usize) {
        outln!("Epoch {epoch}/{}", self.total_epochs.unwrap_or(epochs));
        let bar = ProgressBar::new(steps as u64);
        let style = ProgressStyle::with_template("{pos:>5}/{len} [{bar:30}] {elapsed} (ETA {eta}) - {msg}")
            .expect("valid template")
            .progress_chars("=> ");
        bar.set_style(style);
        self.bar = Some(bar);
        self.steps = steps;
    }

    fn on_batch_end(&mut self, step: usize, logs: &Logs) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(logs.to_string());
        }
    }

    fn on_validation_begin(&mut self, samples: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("validating on {samples} samples..."));
        }
    }

    fn on_epoch_end(&mut self, log: &EpochLog) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        outln!("{0}/{0} - {1:.1}s - {log}", self.steps, log.seconds);
    }
}
