//! Checkpoints in safetensors: every param, optimizer slot and the step
//! counter as f32 tensors, and in the metadata the model (Keras JSON), the
//! compile settings, the RNG position and the epochs done — all that `eval`,
//! `predict` and an exact resume need. Files are written atomically: to a
//! temporary file in the same folder, synced, then renamed over the target,
//! so a crash never leaves a half-written checkpoint behind.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::Optimizer;
use crate::keras::{json, to_json};
use crate::train::{Model, RngState};

const FORMAT: &str = "triceratops-checkpoint-1";

/// The compile settings a checkpoint records.
#[derive(Serialize, Deserialize)]
struct CompileRecord {
    optimizer: Optimizer,
    loss: Loss,
    metrics: Vec<String>,
}

fn data_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `model` (and caller-defined `extra` strings, e.g. the data a run
/// used) to `path`, atomically.
pub fn save(path: &Path, model: &Model, extra: &BTreeMap<String, String>) -> Result<()> {
    let mut meta: HashMap<String, String> = extra.clone().into_iter().collect();
    let record = CompileRecord {
        optimizer: model.spec().optimizer,
        loss: model.spec().loss,
        metrics: model
            .spec()
            .metrics
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
    };
    meta.insert("format".into(), FORMAT.into());
    meta.insert("model".into(), to_json::to_json(model.sequential()));
    meta.insert(
        "compile".into(),
        serde_json::to_string(&record).expect("plain data"),
    );
    meta.insert(
        "rng".into(),
        serde_json::to_string(&model.rng_state()).expect("plain data"),
    );
    meta.insert("epochs_done".into(), model.epochs_done.to_string());

    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = model
        .state
        .iter()
        .map(|(name, a)| {
            let data = a.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name.clone(), data, a.shape().to_vec())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, shape)| {
            TensorView::new(Dtype::F32, shape.clone(), data).map(|v| (name.as_str(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| data_error(path, format!("cannot encode tensors: {e}")))?;
    let encoded = safetensors::serialize(views, Some(meta))
        .map_err(|e| data_error(path, format!("cannot encode checkpoint: {e}")))?;
    write_atomically(path, &encoded)
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

/// A model restored from a checkpoint, with the caller's `extra` strings.
pub struct Restored {
    pub model: Model,
    pub extra: BTreeMap<String, String>,
}

/// Reads a checkpoint and rebuilds the compiled model on `backend`,
/// checking that every tensor matches the model's own names and shapes.
pub fn load(path: &Path, backend: Box<dyn Backend>) -> Result<Restored> {
    let bytes = std::fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| data_error(path, format!("not a safetensors file: {e}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| data_error(path, format!("not a safetensors file: {e}")))?;
    let mut meta: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut take = |key: &str| {
        meta.remove(key).ok_or_else(|| {
            data_error(
                path,
                format!("not a Triceratops checkpoint (no `{key}` entry)"),
            )
        })
    };
    if take("format")? != FORMAT {
        return Err(data_error(
            path,
            format!("unknown checkpoint format (expected {FORMAT})"),
        ));
    }
    let sequential =
        json::from_json(&take("model")?).map_err(|e| data_error(path, format!("model: {e}")))?;
    let record: CompileRecord = serde_json::from_str(&take("compile")?)
        .map_err(|e| data_error(path, format!("compile settings: {e}")))?;
    let rng: RngState = serde_json::from_str(&take("rng")?)
        .map_err(|e| data_error(path, format!("rng state: {e}")))?;
    let epochs_done = take("epochs_done")?
        .parse()
        .map_err(|e| data_error(path, format!("epochs_done: {e}")))?;
    let metrics = record
        .metrics
        .iter()
        .map(|m| {
            Metric::from_name(m).ok_or_else(|| data_error(path, format!("unknown metric `{m}`")))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut model = Model::new(
        sequential,
        record.optimizer,
        record.loss,
        &metrics,
        backend,
        0,
    )?;

    let mut found = 0;
    for (name, view) in tensors.tensors() {
        let Some(slot) = model.state.get_mut(&name) else {
            return Err(data_error(
                path,
                format!("tensor `{name}` does not belong to this model"),
            ));
        };
        if view.dtype() != Dtype::F32 || view.shape() != slot.shape() {
            return Err(data_error(
                path,
                format!(
                    "tensor `{name}` is {:?}{:?}, the model needs F32{:?}",
                    view.dtype(),
                    view.shape(),
                    slot.shape()
                ),
            ));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        *slot = ArrayD::from_shape_vec(IxDyn(view.shape()), values).expect("shape checked");
        found += 1;
    }
    if found != model.state.len() {
        let missing: Vec<&String> = model
            .state
            .keys()
            .filter(|k| tensors.tensor(k).is_err())
            .collect();
        return Err(data_error(path, format!("missing tensors: {missing:?}")));
    }
    model.set_rng_state(&rng);
    model.epochs_done = epochs_done;
    Ok(Restored { model, extra: meta })
}
