//! Version 3 of the checkpoint metadata: one record under one metadata key,
//! so the file's bytes do not depend on hash-map order (two identical runs
//! write identical checkpoints), with a CRC-32 of every tensor's bytes and
//! the run's epoch history. Floats are [`ExactF32`] text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{CompileRecord, ExactF32, RngRecord};
use crate::train::{EpochLog, History, Logs};

pub(super) const FORMAT: &str = "triceratops-checkpoint-3";
/// The one metadata key of a version-3 file.
pub(super) const KEY: &str = "triceratops";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckpointRecord {
    pub format: String,
    /// The model as Keras JSON.
    pub model: String,
    pub compile: CompileRecord,
    pub rng: RngRecord,
    pub epochs_done: usize,
    pub run: RunRecord,
    pub history: Vec<EpochRecord>,
    /// Tensor name -> CRC-32 (IEEE) of its little-endian bytes, as 8 hex digits.
    pub checksums: BTreeMap<String, String>,
    /// CRC-32 of this record's JSON with this field empty: a changed
    /// setting (a learning rate, a split) is caught like a changed tensor.
    pub record_checksum: String,
}

impl CheckpointRecord {
    /// The record's JSON, its own checksum filled in.
    pub fn sealed_json(mut self) -> String {
        self.record_checksum = String::new();
        self.record_checksum = checksum(self.json().as_bytes());
        self.json()
    }

    /// Whether the record is as written: its checksum over the rest.
    /// Returns the recorded and the actual checksum when they differ.
    pub fn verify(&mut self) -> Result<(), (String, String)> {
        let recorded = std::mem::take(&mut self.record_checksum);
        let actual = checksum(self.json().as_bytes());
        if actual == recorded {
            Ok(())
        } else {
            Err((recorded, actual))
        }
    }

    fn json(&self) -> String {
        serde_json::to_string(self).expect("records are plain data")
    }
}

/// The data settings of the run that wrote the checkpoint (all optional).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RunRecord {
    pub data: Option<String>,
    pub validation_data: Option<String>,
    pub scale: Option<String>,
    pub batch_size: Option<usize>,
    pub validation_split: Option<ExactF32>,
    pub limit: Option<usize>,
    /// Written only when true, so records written before the field existed
    /// keep their bytes and their checksum.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fast_math: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One epoch's logs, without its wall-clock time (which would make two
/// identical runs write different files).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EpochRecord {
    pub epoch: usize,
    pub train: LogsRecord,
    pub validation: Option<LogsRecord>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogsRecord {
    pub loss: ExactF32,
    pub metrics: Vec<(String, ExactF32)>,
}

impl LogsRecord {
    fn new(logs: &Logs) -> LogsRecord {
        LogsRecord {
            loss: ExactF32(logs.loss),
            metrics: logs
                .metrics
                .iter()
                .map(|(n, v)| (n.clone(), ExactF32(*v)))
                .collect(),
        }
    }

    fn logs(&self) -> Logs {
        Logs {
            loss: self.loss.0,
            metrics: self.metrics.iter().map(|(n, v)| (n.clone(), v.0)).collect(),
        }
    }
}

pub(super) fn history_record(history: &History) -> Vec<EpochRecord> {
    history
        .epochs
        .iter()
        .map(|e| EpochRecord {
            epoch: e.epoch,
            train: LogsRecord::new(&e.train),
            validation: e.validation.as_ref().map(LogsRecord::new),
        })
        .collect()
}

/// The recorded history; epoch times were not recorded and read as 0.
pub(super) fn history(records: &[EpochRecord]) -> History {
    History {
        epochs: records
            .iter()
            .map(|e| EpochLog {
                epoch: e.epoch,
                train: e.train.logs(),
                validation: e.validation.as_ref().map(LogsRecord::logs),
                seconds: 0.0,
            })
            .collect(),
    }
}

/// The checksum text of a tensor's bytes.
pub(super) fn checksum(bytes: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(bytes))
}
