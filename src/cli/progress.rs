//! Progress for `train`: an indicatif bar per epoch (on stderr, hidden when
//! it is not a terminal) with an ETA and a validation phase, and Keras'
//! summary line per epoch on stdout (which may be closed: see [`super::stdout`]).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::stdout::outln;
use crate::train::{Callback, EpochLog, Logs};

#[derive(Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    steps: usize,
    /// The last epoch of the whole run, when `fit` is called epoch by epoch.
    pub total_epochs: Option<usize>,
    /// Where bars are drawn (stderr when `None`).
    target: Option<Box<dyn Fn() -> ProgressDrawTarget>>,
}

/// The bar: steps, elapsed time, the estimated time left, then the logs
/// (or the validation phase).
const TEMPLATE: &str = "{pos:>5}/{len} [{bar:30}] {elapsed} (ETA {eta}) - {msg}";

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
        let target = self
            .target
            .as_ref()
            .map_or_else(ProgressDrawTarget::stderr, |t| t());
        let bar = ProgressBar::with_draw_target(Some(steps as u64), target);
        let style = ProgressStyle::with_template(TEMPLATE)
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

#[cfg(test)]
mod tests {
    use indicatif::InMemoryTerm;

    use super::*;

    #[test]
    fn the_bar_shows_an_eta_and_the_validation_phase() {
        let term = InMemoryTerm::new(4, 120);
        let draw = term.clone();
        let mut progress = Progress {
            target: Some(Box::new(move || {
                ProgressDrawTarget::term_like(Box::new(draw.clone()))
            })),
            ..Progress::until(3)
        };
        progress.on_epoch_begin(1, 1, 10);
        let logs = Logs {
            loss: 0.5,
            metrics: vec![],
        };
        progress.on_batch_end(4, &logs);
        if let Some(bar) = &progress.bar {
            bar.tick();
        }
        let mid = term.contents();
        assert!(mid.contains("4/10") && mid.contains("(ETA "), "{mid}");
        assert!(mid.contains("loss: 0.5000"), "{mid}");
        progress.on_batch_end(10, &logs);
        progress.on_validation_begin(60);
        if let Some(bar) = &progress.bar {
            bar.tick();
        }
        let validating = term.contents();
        assert!(
            validating.contains("validating on 60 samples..."),
            "{validating}"
        );
    }
}
