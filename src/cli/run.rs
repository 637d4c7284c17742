//! The commands behind the CLI.

use std::path::Path;

use ndarray::Axis;

use super::data::{conform, load};
use super::progress::Progress;
use super::{BackendChoice, Cli, Command, ConventionChoice, Emit, Recipe};
use crate::backend::{Backend, Interpreter};
use crate::checkpoint;
use crate::checkpoint::RunSettings;
use crate::compile::{predict_step, train_step, CompileSpec};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::ir::analysis::to_dot;
use crate::ir::text::print;
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Convention, Optimizer};
use crate::keras::{json, Sequential};
use crate::models::{builtin, Builtin, NAMES};
use crate::plot::plot_history;
use crate::train::{FitOptions, History, Model, Validation};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary { model } => {
            print!("{}", resolve(&model)?.model.summary());
            Ok(())
        }
        Command::Compile { recipe, emit } => compile(&recipe, emit),
        Command::Train {
            recipe,
            data,
            epochs,
            validation_split,
            limit,
            seed,
            backend,
            plot,
            save,
            resume,
        } => {
            let run = TrainRun {
                data,
                epochs,
                validation_split,
                limit,
                seed,
                plot: plot.as_deref(),
                save: save.as_deref(),
                resume: resume.as_deref(),
            };
            train(&recipe, backend_for(backend)?, run)
        }
        Command::Eval {
            checkpoint,
            data,
            limit,
            batch_size,
        } => {
            let restored = checkpoint::load(&checkpoint, Box::new(Interpreter))?;
            let spec = data.or(restored.run.data);
            let mut model = restored.model;
            let data = prepare(spec.as_deref(), &model, limit)?;
            let logs = model.evaluate(&data, batch_size)?;
            println!("{} samples - {logs}", data.len());
            Ok(())
        }
        Command::Predict {
            checkpoint,
            data,
            count,
        } => {
            if count == 0 {
                return Err(Error::Config("--count must be positive".into()));
            }
            let restored = checkpoint::load(&checkpoint, Box::new(Interpreter))?;
            let spec = data.or(restored.run.data);
            let mut model = restored.model;
            let data = prepare(spec.as_deref(), &model, Some(count))?;
            let pred = model.predict(&data.x, 128)?;
            print_predictions(&pred, &data);
            Ok(())
        }
    }
}

/// A model to build, by built-in name or Keras JSON path.
struct Resolved {
    model: Sequential,
    recipe: Option<Builtin>,
}

fn resolve(spec: &str) -> Result<Resolved> {
    if let Some(b) = builtin(spec)? {
        return Ok(Resolved {
            model: b.model.clone(),
            recipe: Some(b),
        });
    }
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e == "json") || path.exists() {
        return Ok(Resolved {
            model: json::load(path)?,
            recipe: None,
        });
    }
    Err(Error::Config(format!(
        "unknown model `{spec}`: use one of {} or a Keras model.to_json() file",
        NAMES.join(", ")
    )))
}

fn backend_for(choice: BackendChoice) -> Result<Box<dyn Backend>> {
    match choice {
        BackendChoice::Interp => Ok(Box::new(Interpreter)),
        BackendChoice::Jit => Err(Error::Config(
            "the JIT backend (Cranelift) is not built yet; use --backend interp".into(),
        )),
    }
}

/// Everything `compile` and `train` need from a recipe.
struct Settings {
    model: Sequential,
    optimizer: Optimizer,
    loss: Loss,
    metrics: Vec<Metric>,
    batch_size: usize,
    epochs: usize,
    data: Option<&'static str>,
}

fn settings(recipe: &Recipe) -> Result<Settings> {
    let Some(model) = &recipe.model else {
        return Err(Error::Config("--model is required".into()));
    };
    let Resolved { model, recipe: own } = resolve(model)?;
    let convention = match recipe.convention {
        None | Some(ConventionChoice::Keras) => Convention::Keras,
        Some(ConventionChoice::Pytorch) => Convention::PyTorch,
    };
    let mut optimizer = match (&recipe.optimizer, &own) {
        (Some(name), _) => Optimizer::from_name(name, convention).ok_or_else(|| {
            Error::Config(format!(
                "unknown optimizer `{name}`: use sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw"
            ))
        })?,
        (None, Some(b)) if convention == b.optimizer.convention => b.optimizer,
        // The recipe's optimizer in the other convention (its defaults), but
        // with the recipe's own learning rate.
        (None, Some(b)) => Optimizer::from_name(b.optimizer.name(), convention)
            .expect("built-in optimizers have names")
            .with_learning_rate(b.optimizer.learning_rate),
        // Keras' compile() default.
        (None, None) => Optimizer::rmsprop(convention),
    };
    if let Some(lr) = recipe.lr {
        optimizer = optimizer.with_learning_rate(check_lr(lr)?);
    }
    let loss = match (&recipe.loss, &own) {
        (Some(name), _) => Loss::from_name(name).ok_or_else(|| {
            Error::Config(format!(
                "unknown loss `{name}`: use mse, half_sse, categorical_crossentropy or sparse_categorical_crossentropy"
            ))
        })?,
        (None, Some(b)) => b.loss,
        (None, None) => Loss::CategoricalCrossentropy { from_logits: false },
    };
    let metrics = match (&own, loss) {
        (Some(b), l) if l == b.loss => b.metrics.clone(),
        (_, Loss::MeanSquaredError | Loss::HalfSumSquaredError) => vec![],
        _ => vec![Metric::Accuracy],
    };
    let batch_size = recipe
        .batch_size
        .or(own.as_ref().map(|b| b.batch_size))
        .unwrap_or(32);
    if batch_size == 0 {
        return Err(Error::Config("--batch-size must be positive".into()));
    }
    Ok(Settings {
        model,
        optimizer,
        loss,
        metrics,
        batch_size,
        epochs: own.as_ref().map_or(1, |b| b.epochs),
        data: own.as_ref().map(|b| b.data),
    })
}

fn check_lr(lr: f32) -> Result<f32> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::Config(format!(
            "--lr must be a positive number, got {lr}"
        )));
    }
    Ok(lr)
}

fn compile(recipe: &Recipe, emit: Emit) -> Result<()> {
    let s = settings(recipe)?;
    let units = s.model.output_shape().last().copied().unwrap_or(1);
    let spec = CompileSpec {
        optimizer: s.optimizer,
        loss: s.loss,
        metrics: s
            .metrics
            .iter()
            .map(|m| (m.name(), m.resolve(s.loss, units)))
            .collect(),
    };
    let text = match emit {
        Emit::Graph => print(&predict_step(&s.model, s.batch_size)?.graph),
        Emit::Grad => print(&train_step(&s.model, &spec, s.batch_size)?.0.graph),
        Emit::Dot => to_dot(&train_step(&s.model, &spec, s.batch_size)?.0.graph),
        Emit::Optimized | Emit::Kernels | Emit::Clif => {
            let stage = match emit {
                Emit::Optimized => "optimized (the egg passes)",
                Emit::Kernels => "kernels (the JIT's kernel plan)",
                _ => "clif (the Cranelift JIT)",
            };
            return Err(Error::Config(format!(
                "--emit {stage} is not built yet; available now: graph, grad, dot"
            )));
        }
    };
    print!("{text}");
    Ok(())
}

/// Loads a data spec, keeps the first `limit` samples, and fits it to the
/// model: inputs to its input shape, class labels one-hot for categorical
/// cross-entropy or as indices for the sparse loss.
fn prepare(spec: Option<&str>, model: &Model, limit: Option<usize>) -> Result<Dataset> {
    let Some(spec) = spec else {
        return Err(Error::Config("--data is required for this model".into()));
    };
    let loss = model.spec().loss;
    let units = model
        .sequential()
        .output_shape()
        .last()
        .copied()
        .unwrap_or(1);
    let classes = match loss {
        Loss::CategoricalCrossentropy { .. } | Loss::SparseCategoricalCrossentropy { .. } => {
            Some(units)
        }
        _ => None,
    };
    let mut data = load(spec, classes)?;
    if let Loss::SparseCategoricalCrossentropy { .. } = loss {
        data.y = class_indices(data.y);
    }
    if let Some(n) = limit {
        if n == 0 {
            return Err(Error::Config("--limit must be positive".into()));
        }
        data = data.slice(0, n.min(data.len()));
    }
    let x = conform(data.x, &model.sequential().input_shape)?;
    Ok(Dataset { x, y: data.y })
}

/// One-hot rows `[n, c]` as class indices `[n]` (first maximum); other
/// shapes are returned unchanged.
fn class_indices(y: ndarray::ArrayD<f32>) -> ndarray::ArrayD<f32> {
    if y.ndim() != 2 {
        return y;
    }
    let indices = y.map_axis(Axis(1), |row| {
        row.iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
            )
            .0 as f32
    });
    indices.into_dyn()
}

struct TrainRun<'a> {
    data: Option<String>,
    epochs: Option<usize>,
    validation_split: Option<f32>,
    limit: Option<usize>,
    seed: Option<u64>,
    plot: Option<&'a Path>,
    save: Option<&'a Path>,
    resume: Option<&'a Path>,
}

/// Refuses output paths that would only fail after training.
fn check_outputs(run: &TrainRun) -> Result<()> {
    if let Some(plot) = run.plot {
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
    for path in [run.plot, run.save].into_iter().flatten() {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(Error::Config(format!(
                "{}: the folder does not exist",
                path.display()
            )));
        }
    }
    Ok(())
}

fn train(recipe: &Recipe, backend: Box<dyn Backend>, run: TrainRun) -> Result<()> {
    check_outputs(&run)?;
    let (mut model, recorded, default_epochs) = match run.resume {
        Some(path) => {
            if recipe.model.is_some()
                || recipe.optimizer.is_some()
                || recipe.loss.is_some()
                || recipe.convention.is_some()
                || run.seed.is_some()
            {
                return Err(Error::Config(
                    "--resume continues the checkpoint's own model, optimizer, loss, convention \
                     and random state; drop --model, --optimizer, --loss, --convention and --seed"
                        .into(),
                ));
            }
            let restored = checkpoint::load(path, backend)?;
            let mut model = restored.model;
            if let Some(lr) = recipe.lr {
                model.set_learning_rate(check_lr(lr)?);
            }
            (model, restored.run, 1)
        }
        None => {
            let s = settings(recipe)?;
            let recorded = RunSettings {
                data: s.data.map(str::to_string),
                batch_size: Some(s.batch_size),
                ..RunSettings::default()
            };
            let seed = run.seed.unwrap_or(0);
            let model = Model::new(s.model, s.optimizer, s.loss, &s.metrics, backend, seed)?;
            (model, recorded, s.epochs)
        }
    };
    // Explicit flags win; otherwise a resumed run keeps its recorded settings.
    let settings = RunSettings {
        data: run.data.clone().or(recorded.data),
        batch_size: recipe.batch_size.or(recorded.batch_size),
        validation_split: run.validation_split.or(recorded.validation_split),
        limit: run.limit.or(recorded.limit),
    };
    let batch_size = settings.batch_size.unwrap_or(32);
    if batch_size == 0 {
        return Err(Error::Config("--batch-size must be positive".into()));
    }
    let split = settings.validation_split.unwrap_or(0.2);
    if !(0.0..1.0).contains(&split) {
        return Err(Error::Config(format!(
            "--validation-split must be in [0, 1), got {split}"
        )));
    }
    let limit = settings.limit;
    let data_spec = settings.data.clone();
    let epochs = run.epochs.unwrap_or(default_epochs);
    if epochs == 0 {
        return Err(Error::Config("--epochs must be positive".into()));
    }
    let data = prepare(data_spec.as_deref(), &model, limit)?;

    println!(
        "training {} on {} samples ({}) with {} ({:?} convention, lr {}), backend {}",
        model.sequential().name,
        data.len(),
        data_spec.as_deref().unwrap_or("?"),
        model.spec().optimizer.name(),
        model.spec().optimizer.convention,
        model.spec().optimizer.learning_rate,
        model.backend_name()
    );
    let options = FitOptions {
        epochs: 1,
        batch_size,
        shuffle: true,
        validation: if split > 0.0 {
            Validation::Split(split)
        } else {
            Validation::None
        },
    };
    let mut progress = Progress::until(model.epochs_done.saturating_add(epochs));
    let mut history = History::default();
    for _ in 0..epochs {
        // One epoch at a time, so a checkpoint follows every finished epoch
        // and a diverging epoch leaves the previous one on disk.
        let h = model.fit(&data, &options, &mut progress)?;
        history.epochs.extend(h.epochs);
        if let Some(path) = run.save {
            checkpoint::save(path, &model, &settings)?;
        }
    }
    if let Some(path) = run.save {
        println!(
            "saved checkpoint {} (epoch {})",
            path.display(),
            model.epochs_done
        );
    }
    if let Some(path) = run.plot {
        let metric = model.spec().metrics.first().map(|(n, _)| *n);
        plot_history(path, &history, metric)?;
        println!("wrote plot {}", path.display());
    }
    Ok(())
}

fn print_predictions(pred: &ndarray::ArrayD<f32>, data: &Dataset) {
    let classes = pred.shape().last().copied().unwrap_or(1);
    for (i, row) in pred.axis_iter(Axis(0)).enumerate() {
        let values: Vec<f32> = row.iter().copied().collect();
        if classes > 1 {
            let (best, p) =
                values
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                    );
            let label = data.y.index_axis(Axis(0), i);
            let truth = label
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |acc, (j, &v)| if v > acc.1 { (j, v) } else { acc },
                )
                .0;
            println!("sample {i}: class {best} (p = {p:.4}), label {truth}");
        } else {
            let target: Vec<f32> = data.y.index_axis(Axis(0), i).iter().copied().collect();
            println!("sample {i}: {values:?}, target {target:?}");
        }
    }
}
