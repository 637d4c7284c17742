//! `triceratops train`: a new run or a resumed one, a checkpoint after
//! every epoch, curves at the end.

use std::path::{Path, PathBuf};

use super::data::{absolute_spec, default_scale, implied_validation};
use super::partition::{parse_scale, partition, recorded_in, Parts};
use super::progress::Progress;
use super::run::{check_lr, settings};
use super::stdout::outln;
use super::Recipe;
use crate::backend::Backend;
use crate::checkpoint::{self, RunSettings};
use crate::compile::Passes;
use crate::error::{Error, Result};
use crate::output::check_writable;
use crate::plot::plot_history;
use crate::train::{FitOptions, History, Model, Validation};

/// The `train` options besides the recipe.
pub struct TrainArgs {
    pub model: Option<String>,
    pub data: Option<String>,
    pub validation_data: Option<String>,
    pub scale: Option<String>,
    pub epochs: Option<usize>,
    pub validation_split: Option<f32>,
    pub limit: Option<usize>,
    pub seed: Option<u64>,
    pub plot: Option<PathBuf>,
    pub save: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub passes: crate::compile::Passes,
}

/// A model ready to train, with the settings to record and its history.
struct Start {
    model: Model,
    settings: RunSettings,
    history: History,
    default_epochs: usize,
}

pub fn train(recipe: &Recipe, backend: Box<dyn Backend>, args: TrainArgs) -> Result<()> {
    let save = args.save.as_deref().or(args.resume.as_deref());
    check_outputs(save, args.plot.as_deref())?;
    let start = match args.resume.as_deref() {
        Some(path) => resume(path, recipe, backend, &args)?,
        None => fresh(recipe, backend, &args)?,
    };
    let Start {
        mut model,
        mut settings,
        mut history,
        default_epochs,
    } = start;
    // Fast math changes the arithmetic, so a run records it and its resumed
    // runs keep it (unless they turn the passes off).
    let passes = match args.passes {
        Passes::On if settings.fast_math => Passes::FastMath,
        p => p,
    };
    settings.fast_math = passes == Passes::FastMath;
    model.set_passes(passes);
    let batch_size = settings.batch_size.unwrap_or(32);
    if batch_size == 0 {
        return Err(Error::Config("--batch-size must be positive".into()));
    }
    let epochs = args.epochs.unwrap_or(default_epochs);
    if epochs == 0 {
        return Err(Error::Config("--epochs must be positive".into()));
    }
    let from_checkpoint = args.resume.as_deref().filter(|_| args.data.is_none());
    let Parts {
        train, validation, ..
    } = partition(&model, &settings).map_err(|e| match from_checkpoint {
        Some(checkpoint) => recorded_in(e, checkpoint),
        None => e,
    })?;
    outln!(
        "training {} on {} samples of {}{} with {} ({:?} convention, lr {}), backend {}",
        model.sequential().name,
        train.len(),
        settings.data.as_deref().unwrap_or("?"),
        match &validation {
            Some(v) => format!(", validating on {}", v.len()),
            None => String::new(),
        },
        model.spec().optimizer.name(),
        model.spec().optimizer.convention,
        model.spec().optimizer.learning_rate,
        model.backend_name()
    );
    let options = FitOptions {
        epochs: 1,
        batch_size,
        shuffle: true,
        validation: match validation {
            Some(v) => Validation::Data(Box::new(v)),
            None => Validation::None,
        },
    };
    let mut progress = Progress::until(model.epochs_done.saturating_add(epochs));
    for _ in 0..epochs {
        // One epoch at a time, so a checkpoint follows every finished epoch
        // and a diverging epoch leaves the previous one on disk.
        let h = model.fit(&train, &options, &mut progress)?;
        history.epochs.extend(h.epochs);
        if let Some(path) = save {
            checkpoint::save(path, &model, &settings, &history)?;
        }
    }
    if let Some(path) = save {
        outln!(
            "saved checkpoint {} (epoch {})",
            path.display(),
            model.epochs_done
        );
    }
    if let Some(path) = args.plot.as_deref() {
        let metric = model.spec().metrics.first().map(|(n, _)| *n);
        plot_history(path, &history, metric).map_err(|e| {
            Error::Config(format!(
                "training finished{}, but the plot failed: {e}",
                if save.is_some() {
                    " and its checkpoint is saved"
                } else {
                    ""
                }
            ))
        })?;
        outln!("wrote plot {}", path.display());
    }
    Ok(())
}

fn fresh(recipe: &Recipe, backend: Box<dyn Backend>, args: &TrainArgs) -> Result<Start> {
    let Some(model) = &args.model else {
        return Err(Error::Config("--model is required (or --resume)".into()));
    };
    let s = settings(model, recipe)?;
    let validation_split = match (&args.validation_data, args.validation_split) {
        (Some(_), Some(_)) => {
            return Err(Error::Config(
                "--validation-data and --validation-split both choose validation samples; \
                 give one of them"
                    .into(),
            ))
        }
        (Some(_), None) => None,
        (None, Some(f)) if !(0.0..1.0).contains(&f) => {
            return Err(Error::Config(format!(
                "--validation-split must be in [0, 1), got {f}"
            )))
        }
        (None, f) => Some(f.unwrap_or(0.2)),
    };
    if args.limit == Some(0) {
        return Err(Error::Config("--limit must be positive".into()));
    }
    let data = args.data.as_deref().or(s.data);
    // An archive in Keras's layout validates on its test arrays, as
    // `fit(..., validation_data=(x_test, y_test))` would, unless the
    // command line chose validation samples itself.
    let implied = match (&args.validation_data, args.validation_split, data) {
        (None, None, Some(spec)) => implied_validation(spec)?,
        _ => None,
    };
    let validation_split = if implied.is_some() {
        None
    } else {
        validation_split
    };
    // The scale in effect is recorded, so eval and predict scale other
    // data as this run scaled its own.
    let scale = match (parse_scale(args.scale.as_deref())?, data) {
        (Some(scale), _) => Some(scale.to_string()),
        (None, Some(spec)) => Some(default_scale(spec).to_string()),
        (None, None) => None,
    };
    let settings = RunSettings {
        data: data.map(absolute_spec).transpose()?,
        validation_data: args
            .validation_data
            .as_deref()
            .or(implied.as_deref())
            .map(absolute_spec)
            .transpose()?,
        scale,
        batch_size: Some(s.batch_size),
        validation_split,
        limit: args.limit,
        // Set from the passes in `train`.
        fast_math: false,
    };
    let model = Model::new(
        s.model,
        s.optimizer,
        s.loss,
        &s.metrics,
        backend,
        args.seed.unwrap_or(0),
    )?;
    Ok(Start {
        model,
        settings,
        history: History::default(),
        default_epochs: s.epochs,
    })
}

/// Continues a checkpoint: its model, optimizer, loss, random state and
/// data partition stay; the learning rate, batch size, data files and
/// output paths may change.
fn resume(
    path: &Path,
    recipe: &Recipe,
    backend: Box<dyn Backend>,
    args: &TrainArgs,
) -> Result<Start> {
    let fixed = [
        ("--model", args.model.is_some()),
        ("--optimizer", recipe.optimizer.is_some()),
        ("--loss", recipe.loss.is_some()),
        ("--convention", recipe.convention.is_some()),
        ("--seed", args.seed.is_some()),
        ("--validation-split", args.validation_split.is_some()),
        ("--validation-data", args.validation_data.is_some()),
        ("--limit", args.limit.is_some()),
        // New data may need its own scale; the checkpoint's data keeps its.
        ("--scale", args.scale.is_some() && args.data.is_none()),
    ];
    if let Some((flag, _)) = fixed.iter().find(|(_, given)| *given) {
        return Err(Error::Config(format!(
            "{flag} cannot be given with --resume: the checkpoint fixes the model, optimizer, \
             loss, random state and which samples train and which validate; only --lr, \
             --batch-size, --epochs, --data (with --scale for new data), --save, --plot and \
             --backend (with --threads) may be given"
        )));
    }
    let restored = checkpoint::load(path, backend)?;
    let mut model = restored.model;
    if let Some(lr) = recipe.lr {
        model.set_learning_rate(check_lr(lr)?);
    }
    let recorded = restored.run;
    let scale = match &args.data {
        Some(new) => Some(resumed_scale(new, &recorded, args.scale.as_deref())?),
        None => recorded.scale.clone(),
    };
    // Paths recorded relative (format 1 and 2) become absolute once they
    // have been found from here.
    let absolute = |spec: Option<&str>| spec.map(absolute_spec).transpose();
    let settings = RunSettings {
        data: absolute(args.data.as_deref().or(recorded.data.as_deref()))?,
        validation_data: absolute(recorded.validation_data.as_deref())?,
        scale,
        batch_size: recipe.batch_size.or(recorded.batch_size),
        ..recorded
    };
    Ok(Start {
        model,
        settings,
        history: restored.history,
        default_epochs: 1,
    })
}

/// The scale of new `--data` for a resumed run: `--scale` if given, else
/// the scale the checkpoint's run used — unless the new data's format
/// would default to another one, which is ambiguous and refused.
fn resumed_scale(new: &str, recorded: &RunSettings, given: Option<&str>) -> Result<String> {
    if let Some(scale) = parse_scale(given)? {
        return Ok(scale.to_string());
    }
    // Format 1 and 2 recorded no scale: their data's format default.
    let old = match (&recorded.scale, &recorded.data) {
        (Some(s), _) => s.clone(),
        (None, Some(data)) => default_scale(data).to_string(),
        (None, None) => default_scale(new).to_string(),
    };
    let default = default_scale(new).to_string();
    if default != old {
        return Err(Error::Config(format!(
            "--data {new}: its format's default scale is {default}, but the checkpoint's run \
             scaled its inputs by {old}; give --scale to say how to scale the new data"
        )));
    }
    Ok(old)
}

/// Refuses output paths that would only fail after training.
fn check_outputs(save: Option<&Path>, plot: Option<&Path>) -> Result<()> {
    if let Some(plot) = plot {
        if !matches!(
            plot.extension().and_then(|e| e.to_str()),
            Some("svg" | "png")
        ) {
            return Err(Error::Config(format!(
                "--plot {}: use a .svg or .png file name",
                plot.display()
            )));
        }
    }
    for (flag, path) in [("--save", save), ("--plot", plot)] {
        if let Some(path) = path {
            check_writable(path).map_err(|e| Error::Config(format!("{flag} {e}")))?;
        }
    }
    Ok(())
}
