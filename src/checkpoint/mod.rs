//! Checkpoints in safetensors: every entry of the model's state store
//! (params, optimizer slots, the step counter) as an f32 tensor, and in the
//! metadata the model (Keras JSON), the compile settings, the RNG position,
//! the epochs done and the run's data settings — all that `eval`, `predict`
//! and an exact resume need. The metadata records are versioned
//! ([`record`]); version-1 files still load ([`legacy`]). Files are written
//! atomically: to a temporary file in the same folder, synced, then renamed
//! over the target, so a crash never leaves a half-written checkpoint.

mod legacy;
mod record;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use record::{CompileRecord, ExactF32, LossRecord, OptimizerRecord, RngRecord, RunRecord};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::keras::metrics::Metric;
use crate::keras::{json, to_json};
use crate::train::Model;

/// The data settings of the run that wrote a checkpoint, so `eval`,
/// `predict` and `--resume` can reuse them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSettings {
    /// The `--data` spec.
    pub data: Option<String>,
    pub batch_size: Option<usize>,
    pub validation_split: Option<f32>,
    pub limit: Option<usize>,
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `model` and the run's settings to `path`, atomically. A state
/// holding a NaN or an infinity is refused, so a diverged run never
/// replaces a good checkpoint.
pub fn save(path: &Path, model: &Model, run: &RunSettings) -> Result<()> {
    if let Some(entry) = model.state().first_non_finite() {
        return Err(data_error(
            path,
            format!(
                "not saved: `{}` holds a non-finite value (the run diverged)",
                entry.name
            ),
        ));
    }
    let compile = CompileRecord {
        optimizer: OptimizerRecord::new(&model.spec().optimizer),
        loss: LossRecord::new(model.spec().loss),
        metrics: model
            .spec()
            .metrics
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
    };
    let run = RunRecord {
        data: run.data.clone(),
        batch_size: run.batch_size,
        validation_split: run.validation_split.map(ExactF32),
        limit: run.limit,
    };
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), record::FORMAT.to_string());
    meta.insert("model".into(), to_json::to_json(model.sequential()));
    meta.insert("compile".into(), json(&compile));
    meta.insert("rng".into(), json(&RngRecord::new(&model.rng_state())));
    meta.insert("run".into(), json(&run));
    meta.insert("epochs_done".into(), model.epochs_done.to_string());

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
    write_atomically(path, &encoded)
}

fn json<T: serde::Serialize>(record: &T) -> String {
    serde_json::to_string(record).expect("records are plain data")
}

/// Temp file in the target's folder, fsync, rename, fsync of the folder:
/// the target is always either the old complete file or the new complete
/// file, and the rename itself survives a crash.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| data_error(path, "not a file path"))?;
    let unique = format!(
        "{}-{}",
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    );
    let tmp: PathBuf = dir.join(format!(".{}.tmp-{unique}", name.to_string_lossy()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Persist the directory entry too (not possible on every platform).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e: std::io::Error| data_error(path, format!("cannot write checkpoint: {e}")))
}

/// A model restored from a checkpoint, with the settings of its run.
pub struct Restored {
    pub model: Model,
    pub run: RunSettings,
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
}

fn settings(path: &Path, mut meta: BTreeMap<String, String>) -> Result<Settings> {
    let fail = |what: &str, e: String| data_error(path, format!("{what}: {e}"));
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
            let run: RunRecord =
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
                    validation_split: run.validation_split.map(|v| v.0),
                    limit: run.limit,
                },
            })
        }
        legacy::FORMAT => {
            let record: legacy::Compile = serde_json::from_str(&compile)
                .map_err(|e| fail("compile settings", e.to_string()))?;
            let rng: legacy::Rng =
                serde_json::from_str(&rng).map_err(|e| fail("rng state", e.to_string()))?;
            let run = legacy::run_settings(&mut meta).map_err(|e| fail("run settings", e))?;
            Ok(Settings {
                sequential,
                optimizer: record.optimizer(),
                loss: record.loss(),
                metrics: record.metrics,
                rng: rng.state(),
                epochs_done,
                run,
            })
        }
        other => Err(data_error(
            path,
            format!(
                "unknown checkpoint format `{other}` (expected {} or {})",
                record::FORMAT,
                legacy::FORMAT
            ),
        )),
    }
}

/// Reads a checkpoint and rebuilds the compiled model on `backend`,
/// checking that its tensors are exactly the model's state entries.
pub fn load(path: &Path, backend: Box<dyn Backend>) -> Result<Restored> {
    let bytes = std::fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
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
    model.set_rng_state(&s.rng);
    model.epochs_done = s.epochs_done;
    Ok(Restored { model, run: s.run })
}
