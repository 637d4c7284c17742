//! The metadata records of a checkpoint, version 2. These types are the
//! file format: they are versioned and frozen, separate from the library's
//! own enums, so refactoring an optimizer cannot silently change what a
//! checkpoint means. Floats are stored as their shortest round-trip
//! decimal text and parsed straight back to `f32`, so every hyper-parameter
//! comes back bit for bit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keras::losses::Loss;
use crate::keras::optimizers::{Convention, Kind, Optimizer, WeightDecay};
use crate::train::RngState;

pub(super) const FORMAT: &str = "triceratops-checkpoint-2";

/// An `f32` as text (`"0.001"`, `"1e-7"`), exact both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct ExactF32(pub f32);

impl Serialize for ExactF32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:?}", self.0))
    }
}

impl<'de> Deserialize<'de> for ExactF32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ExactF32, D::Error> {
        let text = String::deserialize(d)?;
        f32::from_str(&text)
            .map(ExactF32)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an f32")))
    }
}

impl fmt::Display for ExactF32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CompileRecord {
    pub optimizer: OptimizerRecord,
    pub loss: LossRecord,
    pub metrics: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OptimizerRecord {
    /// `keras` or `pytorch`.
    pub convention: String,
    pub learning_rate: ExactF32,
    /// Keras 2's `decay` of the learning rate.
    pub decay: ExactF32,
    pub weight_decay: Option<WeightDecayRecord>,
    pub family: FamilyRecord,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(super) enum WeightDecayRecord {
    L2(ExactF32),
    Decoupled(ExactF32),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum FamilyRecord {
    Sgd {
        momentum: ExactF32,
        nesterov: bool,
    },
    Adagrad {
        initial_accumulator: ExactF32,
        epsilon: ExactF32,
    },
    Rmsprop {
        rho: ExactF32,
        epsilon: ExactF32,
        momentum: ExactF32,
        centered: bool,
    },
    Adam {
        beta_1: ExactF32,
        beta_2: ExactF32,
        epsilon: ExactF32,
        amsgrad: bool,
        bias_correction: bool,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LossRecord {
    /// `mse`, `half_sse`, `categorical_crossentropy` or
    /// `sparse_categorical_crossentropy`.
    pub name: String,
    pub from_logits: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RngRecord {
    pub seed: [u8; 32],
    pub stream: u64,
    /// A u128, as decimal text (JSON numbers are not safe past 2^53).
    pub word_pos: String,
}

/// The data settings of the run that wrote the checkpoint (all optional).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunRecord {
    pub data: Option<String>,
    pub batch_size: Option<usize>,
    pub validation_split: Option<ExactF32>,
    pub limit: Option<usize>,
}

impl OptimizerRecord {
    pub fn new(o: &Optimizer) -> OptimizerRecord {
        let x = ExactF32;
        let family = match o.kind {
            Kind::Sgd { momentum, nesterov } => FamilyRecord::Sgd {
                momentum: x(momentum),
                nesterov,
            },
            Kind::Adagrad {
                initial_accumulator,
                epsilon,
            } => FamilyRecord::Adagrad {
                initial_accumulator: x(initial_accumulator),
                epsilon: x(epsilon),
            },
            Kind::RmsProp {
                rho,
                epsilon,
                momentum,
                centered,
            } => FamilyRecord::Rmsprop {
                rho: x(rho),
                epsilon: x(epsilon),
                momentum: x(momentum),
                centered,
            },
            Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            } => FamilyRecord::Adam {
                beta_1: x(beta_1),
                beta_2: x(beta_2),
                epsilon: x(epsilon),
                amsgrad,
                bias_correction,
            },
        };
        OptimizerRecord {
            convention: match o.convention {
                Convention::Keras => "keras",
                Convention::PyTorch => "pytorch",
            }
            .into(),
            learning_rate: x(o.learning_rate),
            decay: x(o.decay),
            weight_decay: match o.weight_decay {
                WeightDecay::None => None,
                WeightDecay::L2(v) => Some(WeightDecayRecord::L2(x(v))),
                WeightDecay::Decoupled(v) => Some(WeightDecayRecord::Decoupled(x(v))),
            },
            family,
        }
    }

    pub fn optimizer(&self) -> Result<Optimizer, String> {
        let convention = match self.convention.as_str() {
            "keras" => Convention::Keras,
            "pytorch" => Convention::PyTorch,
            other => return Err(format!("unknown optimizer convention `{other}`")),
        };
        let kind = match self.family {
            FamilyRecord::Sgd { momentum, nesterov } => Kind::Sgd {
                momentum: momentum.0,
                nesterov,
            },
            FamilyRecord::Adagrad {
                initial_accumulator,
                epsilon,
            } => Kind::Adagrad {
                initial_accumulator: initial_accumulator.0,
                epsilon: epsilon.0,
            },
            FamilyRecord::Rmsprop {
                rho,
                epsilon,
                momentum,
                centered,
            } => Kind::RmsProp {
                rho: rho.0,
                epsilon: epsilon.0,
                momentum: momentum.0,
                centered,
            },
            FamilyRecord::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            } => Kind::Adam {
                beta_1: beta_1.0,
                beta_2: beta_2.0,
                epsilon: epsilon.0,
                amsgrad,
                bias_correction,
            },
        };
        Ok(Optimizer {
            kind,
            convention,
            learning_rate: self.learning_rate.0,
            weight_decay: match self.weight_decay {
                None => WeightDecay::None,
                Some(WeightDecayRecord::L2(v)) => WeightDecay::L2(v.0),
                Some(WeightDecayRecord::Decoupled(v)) => WeightDecay::Decoupled(v.0),
            },
            decay: self.decay.0,
        })
    }
}

impl LossRecord {
    pub fn new(loss: Loss) -> LossRecord {
        let (name, from_logits) = match loss {
            Loss::MeanSquaredError => ("mse", false),
            Loss::HalfSumSquaredError => ("half_sse", false),
            Loss::CategoricalCrossentropy { from_logits } => {
                ("categorical_crossentropy", from_logits)
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                ("sparse_categorical_crossentropy", from_logits)
            }
        };
        LossRecord {
            name: name.into(),
            from_logits,
        }
    }

    pub fn loss(&self) -> Result<Loss, String> {
        let from_logits = self.from_logits;
        match (self.name.as_str(), from_logits) {
            ("mse", false) => Ok(Loss::MeanSquaredError),
            ("half_sse", false) => Ok(Loss::HalfSumSquaredError),
            ("categorical_crossentropy", _) => Ok(Loss::CategoricalCrossentropy { from_logits }),
            ("sparse_categorical_crossentropy", _) => {
                Ok(Loss::SparseCategoricalCrossentropy { from_logits })
            }
            (name, _) => Err(format!("unknown loss `{name}` (from_logits {from_logits})")),
        }
    }
}

impl RngRecord {
    pub fn new(r: &RngState) -> RngRecord {
        RngRecord {
            seed: r.seed,
            stream: r.stream,
            word_pos: r.word_pos.to_string(),
        }
    }

    pub fn state(&self) -> Result<RngState, String> {
        Ok(RngState {
            seed: self.seed,
            stream: self.stream,
            word_pos: self
                .word_pos
                .parse()
                .map_err(|_| format!("word_pos `{}` is not a u128", self.word_pos))?,
        })
    }
}
