//! Checkpoints in safetensors: every entry of the model's state store
//! (params, optimizer slots, the step counter) as an f32 tensor, and in the
//! metadata the model (Keras JSON), the compile settings, the RNG position,
//! the epochs done, the run's data settings and epoch history, and a CRC-32
//! of every tensor — all that `eval`, `predict` and an exact resume need,
//! verified on load. The metadata records are versioned ([`current`]);
//! version-2 ([`record`]) and version-1 ([`legacy`]) files still load.
//! Files are written atomically ([`crate::output::write_atomically`]), and
//! two identical runs write byte-identical files.

mod current;
mod legacy;
mod record;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use record::{CompileRecord, ExactF32, LossRecord, OptimizerRecord, RngRecord};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::keras::metrics::Metric;
use crate::keras::{json, to_json};
use crate::train::{History, Model};

/// The data settings of the run that wrote a checkpoint, so `eval`,
/// `predict` and `--resume` can reuse them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSettings {
    /// The `--data` spec.
    pub data: Option<String>,
    /// The `--validation-data` spec (validation data apart from `data`).
    pub validation_data: Option<String>,
    /// The `--scale` of the inputs, as text (`none`, `1/255`).
    pub scale: Option<String>,
    pub batch_size: Option<usize>,
    pub validation_split: Option<f32>,
    pub limit: Option<usize>,
    /// Whether the run trained with `--fast-math` (which changes rounding).
    pub fast_math: bool,
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `model`, the run's settings and its epoch history (epoch times
/// are not stored) to `path`, atomically. A state holding a NaN or an
/// infinity is refused, so a diverged run never replaces a good checkpoint.
pub fn save(path: &Path, model: &Model, run: &RunSettings, history: &History) -> Result<()> {
    if let Some(entry) = model.state().first_non_finite() {
        return Err(data_error(
            path,
            format!(
                "not saved: `{}` holds a non-finite value (the run diverged)",
                entry.name
            ),
        ));
    }
    let state = model.state();
    let bytes: Vec<Vec<u8>> = (0..state.len())
        .map(|i| {
            state
                .slice(i)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect()
        })
        .collect();
    let record = current::CheckpointRecord {
        format: current::FORMAT.into(),
        model: to_json::to_json(model.sequential()),
        compile: CompileRecord {
            optimizer: OptimizerRecord::new(&model.spec().optimizer),
            loss: LossRecord::new(model.spec().loss),
            metrics: model
                .spec()
                .metrics
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
        },
        rng: RngRecord::new(&model.rng_state()),
        epochs_done: model.epochs_done,
        run: current::RunRecord {
            data: run.data.clone(),
            validation_data: run.validation_data.clone(),
            scale: run.scale.clone(),
            batch_size: run.batch_size,
            validation_split: run.validation_split.map(ExactF32),
            limit: run.limit,
            fast_math: run.fast_math,
        },
        history: current::history_record(history),
        checksums: state
            .entries()
            .iter()
            .zip(&bytes)
            .map(|(e, b)| (e.name.clone(), current::checksum(b)))
            .collect(),
        record_checksum: String::new(),
    };
    // One key: a one-entry map serializes the same way every time.
    let meta = HashMap::from([(current::KEY.to_string(), record.sealed_json())]);
    let views = state
        .entries()
        .iter()
        .zip(&bytes)
        .map(|(entry, data)| {
            TensorView::new(Dtype::F32, entry.shape.dims().to_vec(), data)
                .map(|v| (entry.name.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| data_error(path, format!("cannot encode tensors: {e}")))?;
    let encoded = safetensors::serialize(views, Some(meta))
        .map_err(|e| data_error(path, format!("cannot encode checkpoint: {e}")))?;
    crate::output::write_atomically(path, "checkpoint", &encoded)
}

/// A model restored from a checkpoint, with the settings and the epoch
/// history of its run.
pub struct Restored {
    pub model: Model,
    pub run: RunSettings,
    /// The epochs recorded so far (empty for files of format 1 and 2).
    pub history: History,
}

/// The settings a checkpoint's metadata holds, whatever its version.
struct Settings {
    sequential: crate::keras::Sequential,
    optimizer: crate::keras::optimizers::Optimizer,
    loss: crate::keras::losses::Loss,
    metrics: Vec<String>,
    rng: crate::train::RngState,
    epochs_done: usize,
    run: RunSettings,
    history: History,
    /// Tensor checksums (format 3 on; older files have none to verify).
    checksums: Option<BTreeMap<String, String>>,
}

fn settings(path: &Path, mut meta: BTreeMap<String, String>) -> Result<Settings> {
    let fail = |what: &str, e: String| data_error(path, format!("{what}: {e}"));
    if let Some(text) = meta.remove(current::KEY) {
        let mut r: current::CheckpointRecord =
            serde_json::from_str(&text).map_err(|e| fail("checkpoint record", e.to_string()))?;
        if r.format != current::FORMAT {
            return Err(unknown_format(path, &r.format));
        }
        if let Err((recorded, actual)) = r.verify() {
            return Err(data_error(
                path,
                format!(
                    "the checkpoint's settings are corrupt: they have checksum {actual}, \
                     the checkpoint recorded {recorded}"
                ),
            ));
        }
        return Ok(Settings {
            sequential: json::from_json(&r.model).map_err(|e| fail("model", e.to_string()))?,
            optimizer: r
                .compile
                .optimizer
                .optimizer()
                .map_err(|e| fail("compile settings", e))?,
            loss: r
                .compile
                .loss
                .loss()
                .map_err(|e| fail("compile settings", e))?,
            metrics: r.compile.metrics,
            rng: r.rng.state().map_err(|e| fail("rng state", e))?,
            epochs_done: r.epochs_done,
            run: RunSettings {
                data: r.run.data,
                validation_data: r.run.validation_data,
                scale: r.run.scale,
                batch_size: r.run.batch_size,
                validation_split: r.run.validation_split.map(|v| v.0),
                limit: r.run.limit,
                fast_math: r.run.fast_math,
            },
            history: current::history(&r.history),
            checksums: Some(r.checksums),
        });
    }
    let mut take = |key: &str| {
        meta.remove(key).ok_or_else(|| {
            data_error(
                path,
                format!("not a Triceratops checkpoint (no `{key}` entry)"),
            )
        })
    };
    let format = take("format")?;
    let sequential = json::from_json(&take("model")?).map_err(|e| fail("model", e.to_string()))?;
    let epochs_done = take("epochs_done")?
        .parse()
        .map_err(|e: std::num::ParseIntError| fail("epochs_done", e.to_string()))?;
    let compile = take("compile")?;
    let rng = take("rng")?;
    match format.as_str() {
        record::FORMAT => {
            let run_text = take("run")?;
            let record: CompileRecord = serde_json::from_str(&compile)
                .map_err(|e| fail("compile settings", e.to_string()))?;
            let rng: RngRecord =
                serde_json::from_str(&rng).map_err(|e| fail("rng state", e.to_string()))?;
            let run: record::RunRecord =
                serde_json::from_str(&run_text).map_err(|e| fail("run settings", e.to_string()))?;
            Ok(Settings {
                sequential,
                optimizer: record
                    .optimizer
                    .optimizer()
                    .map_err(|e| fail("compile settings", e))?,
                loss: record
                    .loss
                    .loss()
                    .map_err(|e| fail("compile settings", e))?,
                metrics: record.metrics,
                rng: rng.state().map_err(|e| fail("rng state", e))?,
                epochs_done,
                run: RunSettings {
                    data: run.data,
                    batch_size: run.batch_size,
                    // Runs of this version held out 0.2 when no split was given.
                    validation_split: run.validation_split.map(|v| v.0).or(Some(0.2)),
                    limit: run.limit,
                    ..RunSettings::default()
                },
                history: History::default(),
                checksums: None,
            })
        }
        legacy::FORMAT => {
            let record: legacy::Compile = serde_json::from_str(&compile)
                .map_err(|e| fail("compile settings", e.to_string()))?;
            let rng: legacy::Rng =
                serde_json::from_str(&rng).map_err(|e| fail("rng state", e.to_string()))?;
            let mut run = legacy::run_settings(&mut meta).map_err(|e| fail("run settings", e))?;
            // Runs of this version held out 0.2 when no split was given.
            run.validation_split = run.validation_split.or(Some(0.2));
            Ok(Settings {
                sequential,
                optimizer: record.optimizer(),
                loss: record.loss(),
                metrics: record.metrics,
                rng: rng.state(),
                epochs_done,
                run,
                history: History::default(),
                checksums: None,
            })
        }
        other => Err(unknown_format(path, other)),
    }
}

fn unknown_format(path: &Path, format: &str) -> Error {
    data_error(
        path,
        format!(
            "unknown checkpoint format `{format}` (expected {}, {} or {})",
            current::FORMAT,
            record::FORMAT,
            legacy::FORMAT
        ),
    )
}

/// Reads a checkpoint and rebuilds the compiled model on `backend`,
/// checking that its tensors are exactly the model's state entries, that
/// each matches its recorded checksum, and that all values are finite.
pub fn load(path: &Path, backend: Box<dyn Backend>) -> Result<Restored> {
    let bytes = std::fs::read(path).map_err(|e| {
        data_error(
            path,
            format!("cannot read it: {}", crate::output::describe(&e)),
        )
    })?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| data_error(path, format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| data_error(path, format!("not a safetensors file: {e}")))?;
    let meta: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let s = settings(path, meta)?;
    let metrics = s
        .metrics
        .iter()
        .map(|m| {
            Metric::from_name(m).ok_or_else(|| data_error(path, format!("unknown metric `{m}`")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut model = Model::new(s.sequential, s.optimizer, s.loss, &metrics, backend, 0)?;

    let state = model.state_mut();
    let mut found = vec![false; state.len()];
    for (name, view) in tensors.tensors() {
        let Some(index) = state.index_of(&name) else {
            return Err(data_error(
                path,
                format!("tensor `{name}` does not belong to this model"),
            ));
        };
        let want = &state.entries()[index].shape;
        if view.dtype() != Dtype::F32 || view.shape() != want.dims() {
            return Err(data_error(
                path,
                format!(
                    "tensor `{name}` is {:?}{:?}, the model needs F32{:?}",
                    view.dtype(),
                    view.shape(),
                    want.dims(),
                ),
            ));
        }
        if let Some(checksums) = &s.checksums {
            let Some(recorded) = checksums.get(&name) else {
                return Err(data_error(
                    path,
                    format!("tensor `{name}` has no recorded checksum"),
                ));
            };
            let actual = current::checksum(view.data());
            if &actual != recorded {
                return Err(data_error(
                    path,
                    format!(
                        "tensor `{name}` is corrupt: its bytes have checksum {actual}, \
                         the checkpoint recorded {recorded}"
                    ),
                ));
            }
        }
        for (dst, b) in state
            .slice_mut(index)
            .iter_mut()
            .zip(view.data().chunks_exact(4))
        {
            *dst = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        found[index] = true;
    }
    let missing: Vec<&str> = state
        .entries()
        .iter()
        .zip(&found)
        .filter(|(_, &f)| !f)
        .map(|(e, _)| e.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(data_error(path, format!("missing tensors: {missing:?}")));
    }
    // Saving refuses non-finite state, so one here is damage (in a file of
    // a format without checksums, or bytes altered with their checksum).
    if let Some(entry) = state.first_non_finite() {
        return Err(data_error(
            path,
            format!(
                "tensor `{}` holds a non-finite value: the checkpoint is damaged",
                entry.name
            ),
        ));
    }
    model.set_rng_state(&s.rng);
    model.epochs_done = s.epochs_done;
    Ok(Restored {
        model,
        run: s.run,
        history: s.history,
    })
}
