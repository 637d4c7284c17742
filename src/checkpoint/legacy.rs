//! Reading version-1 checkpoints (`triceratops-checkpoint-1`), which stored
//! the compile settings as serde's rendering of the library's enums of that
//! time and the data settings as loose strings. The types below freeze that
//! rendering, so those files keep loading whatever the enums become.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::RunSettings;
use crate::keras::losses::Loss;
use crate::keras::optimizers::{Convention, Kind, Optimizer, WeightDecay};
use crate::train::RngState;

pub(super) const FORMAT: &str = "triceratops-checkpoint-1";

#[derive(Deserialize)]
pub(super) struct Compile {
    optimizer: V1Optimizer,
    loss: V1Loss,
    pub metrics: Vec<String>,
}

#[derive(Deserialize)]
struct V1Optimizer {
    kind: V1Kind,
    convention: V1Convention,
    learning_rate: f32,
    weight_decay: V1WeightDecay,
    decay: f32,
}

#[derive(Deserialize)]
enum V1Kind {
    Sgd {
        momentum: f32,
        nesterov: bool,
    },
    Adagrad {
        initial_accumulator: f32,
        epsilon: f32,
    },
    RmsProp {
        rho: f32,
        epsilon: f32,
        momentum: f32,
        centered: bool,
    },
    Adam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
        bias_correction: bool,
    },
}

#[derive(Deserialize)]
enum V1Convention {
    Keras,
    PyTorch,
}

#[derive(Deserialize)]
enum V1WeightDecay {
    None,
    L2(f32),
    Decoupled(f32),
}

#[derive(Deserialize)]
enum V1Loss {
    MeanSquaredError,
    HalfSumSquaredError,
    CategoricalCrossentropy { from_logits: bool },
    SparseCategoricalCrossentropy { from_logits: bool },
}

#[derive(Deserialize)]
pub(super) struct Rng {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

impl Compile {
    pub fn optimizer(&self) -> Optimizer {
        let o = &self.optimizer;
        let kind = match o.kind {
            V1Kind::Sgd { momentum, nesterov } => Kind::Sgd { momentum, nesterov },
            V1Kind::Adagrad {
                initial_accumulator,
                epsilon,
            } => Kind::Adagrad {
                initial_accumulator,
                epsilon,
            },
            V1Kind::RmsProp {
                rho,
                epsilon,
                momentum,
                centered,
            } => Kind::RmsProp {
                rho,
                epsilon,
                momentum,
                centered,
            },
            V1Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            } => Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            },
        };
        Optimizer {
            kind,
            convention: match o.convention {
                V1Convention::Keras => Convention::Keras,
                V1Convention::PyTorch => Convention::PyTorch,
            },
            learning_rate: o.learning_rate,
            weight_decay: match o.weight_decay {
                V1WeightDecay::None => WeightDecay::None,
                V1WeightDecay::L2(v) => WeightDecay::L2(v),
                V1WeightDecay::Decoupled(v) => WeightDecay::Decoupled(v),
            },
            decay: o.decay,
        }
    }

    pub fn loss(&self) -> Loss {
        match self.loss {
            V1Loss::MeanSquaredError => Loss::MeanSquaredError,
            V1Loss::HalfSumSquaredError => Loss::HalfSumSquaredError,
            V1Loss::CategoricalCrossentropy { from_logits } => {
                Loss::CategoricalCrossentropy { from_logits }
            }
            V1Loss::SparseCategoricalCrossentropy { from_logits } => {
                Loss::SparseCategoricalCrossentropy { from_logits }
            }
        }
    }
}

impl Rng {
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.seed,
            stream: self.stream,
            word_pos: self.word_pos,
        }
    }
}

/// The v1 data settings: `data`, `batch_size`, `validation_split` and
/// `limit` entries, each parsed as its own type.
pub(super) fn run_settings(meta: &mut BTreeMap<String, String>) -> Result<RunSettings, String> {
    fn parse<T: std::str::FromStr>(
        meta: &mut BTreeMap<String, String>,
        key: &str,
    ) -> Result<Option<T>, String> {
        meta.remove(key)
            .map(|v| v.parse().map_err(|_| format!("bad `{key}` entry `{v}`")))
            .transpose()
    }
    Ok(RunSettings {
        data: meta.remove("data"),
        batch_size: parse(meta, "batch_size")?,
        validation_split: parse(meta, "validation_split")?,
        limit: parse(meta, "limit")?,
        ..RunSettings::default()
    })
}
