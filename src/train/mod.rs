//! Training: a compiled model owns its state store and runs the static
//! graphs of `compile` on a backend — `fit`, `evaluate`, `predict`.

mod fit;
mod history;
mod model;

pub use fit::split_point;

pub use history::{Callback, EpochLog, History, Logs, Mean, PrintEpochs, Silent};
pub use model::{Model, RngState, MAX_PARAMS};

use crate::data::Dataset;

/// Where validation data comes from.
#[derive(Clone, Debug, Default)]
pub enum Validation {
    #[default]
    None,
    /// Keras' `validation_split`: the last fraction of the data, taken
    /// before shuffling.
    Split(f32),
    Data(Box<Dataset>),
}

#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub shuffle: bool,
    pub validation: Validation,
}

impl Default for FitOptions {
    /// Keras' defaults: 1 epoch, batches of 32, shuffled, no validation.
    fn default() -> FitOptions {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            validation: Validation::None,
        }
    }
}
