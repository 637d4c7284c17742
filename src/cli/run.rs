//! The commands behind the CLI.

use std::path::Path;

use super::bench::{bench, BenchArgs};
use super::evaluate::{eval, predict, Selection};
use super::image::{predict_images, ImageOptions};
use super::stdout;
use super::train::{train, TrainArgs};
use super::{
    threads, BackendChoice, BackendFlags, Cli, Command, ConventionChoice, Emit, ExploreFormat,
    Recipe,
};
use crate::backend::jit::{clif_text, kernels_text, plan_graph};
use crate::backend::{Backend, Interpreter, Jit};
use crate::compile::{optimize, predict_step, state_layout, train_step, CompileSpec, Passes};
use crate::error::{Error, Result};
use crate::explore::ExploreOptions;
use crate::ir::analysis::to_dot;
use crate::ir::text::print;
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Convention, Optimizer};
use crate::keras::{json, Sequential};
use crate::models::{builtin, Builtin, NAMES};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Summary { model } => {
            stdout::text(format_args!("{}", resolve(&model)?.model.try_summary()?));
            Ok(())
        }
        Command::Compile {
            model,
            recipe,
            emit,
            passes,
        } => compile(&model, &recipe, emit, passes.passes()?),
        Command::Train {
            model,
            recipe,
            data,
            validation_data,
            scale,
            epochs,
            validation_split,
            limit,
            seed,
            backend,
            plot,
            save,
            resume,
            passes,
        } => {
            let args = TrainArgs {
                passes: passes.passes()?,
                model,
                data,
                validation_data,
                scale,
                epochs,
                validation_split,
                limit,
                seed,
                plot,
                save,
                resume,
            };
            train(&recipe, backend_for(backend)?, args)
        }
        Command::Eval {
            checkpoint,
            data,
            split,
            limit,
            scale,
            batch_size,
            backend,
            passes,
        } => {
            let selection = Selection {
                passes: passes.passes()?,
                backend: backend_for(backend)?,
                data,
                split,
                scale,
                limit,
            };
            eval(&checkpoint, selection, batch_size)
        }
        Command::Predict {
            checkpoint,
            data,
            split,
            count,
            scale,
            image,
            grayscale,
            invert,
            backend,
            passes,
        } => {
            if !image.is_empty() {
                let options = ImageOptions {
                    files: image,
                    scale,
                    grayscale,
                    invert,
                    passes: passes.passes()?,
                    backend: backend_for(backend)?,
                };
                return predict_images(&checkpoint, options);
            }
            if count == 0 {
                return Err(Error::Config("--count must be positive".into()));
            }
            let selection = Selection {
                data,
                split,
                scale,
                limit: Some(count),
                passes: passes.passes()?,
                backend: backend_for(backend)?,
            };
            predict(&checkpoint, selection)
        }
        Command::Explore {
            model,
            recipe,
            passes,
            out,
            format,
            profile_steps,
            threads: n,
        } => explore(
            &model,
            &recipe,
            passes.passes()?,
            &out,
            format,
            ExploreOptions {
                profile_steps,
                threads: threads(Some(n))?,
            },
        ),
        Command::Bench {
            model,
            recipe,
            steps,
            warmup,
            threads,
            profile,
            passes,
        } => bench(
            &model,
            &recipe,
            BenchArgs {
                steps,
                warmup,
                threads: super::threads(threads)?,
                profile,
                passes: passes.passes()?,
            },
        ),
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

pub(super) fn backend_for(flags: BackendFlags) -> Result<Box<dyn Backend>> {
    let threads = super::threads(flags.threads)?;
    match flags.backend {
        BackendChoice::Interp => Ok(Box::new(Interpreter)),
        BackendChoice::Jit => Ok(Box::new(Jit::new().with_threads(threads))),
    }
}

/// Everything `compile` and `train` need from a recipe.
pub(super) struct Settings {
    pub(super) model: Sequential,
    pub(super) optimizer: Optimizer,
    pub(super) loss: Loss,
    pub(super) metrics: Vec<Metric>,
    pub(super) batch_size: usize,
    pub(super) epochs: usize,
    pub(super) data: Option<&'static str>,
}

pub(super) fn settings(model: &str, recipe: &Recipe) -> Result<Settings> {
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

pub(super) fn check_lr(lr: f32) -> Result<f32> {
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::Config(format!(
            "--lr must be a positive number, got {lr}"
        )));
    }
    Ok(lr)
}

fn compile(model: &str, recipe: &Recipe, emit: Emit, passes: Passes) -> Result<()> {
    let s = settings(model, recipe)?;
    // graph, grad and dot print the stages before the passes.
    let spec = CompileSpec::new(&s.model, s.optimizer, s.loss, &s.metrics, Passes::None);
    let text = match emit {
        Emit::Graph => print(&predict_step(&s.model, s.batch_size, Passes::None)?.graph),
        Emit::Grad => print(&train_step(&s.model, &spec, s.batch_size)?.0.graph),
        Emit::Dot => to_dot(&train_step(&s.model, &spec, s.batch_size)?.0.graph),
        Emit::Optimized => {
            let train = train_step(&s.model, &spec, s.batch_size)?.0;
            let (optimized, report) = optimize(train, passes)?;
            let report = report.map_or("passes: none\n".to_string(), |r| format!("{r}\n"));
            format!("{}\n{report}", print(&optimized.graph))
        }
        Emit::Provenance => {
            let spec = CompileSpec { passes, ..spec };
            let options = ExploreOptions {
                profile_steps: 0,
                threads: 1,
            };
            let report = crate::explore::explore(&s.model, &spec, s.batch_size, &options)?;
            crate::explore::provenance_text(&report)
        }
        Emit::Kernels | Emit::Clif => {
            // The graph `--emit optimized` prints, planned for the state
            // the model would have; nothing runs.
            let train = train_step(&s.model, &spec, s.batch_size)?.0;
            let (optimized, _) = optimize(train, passes)?;
            let layout = state_layout(&optimized)?;
            let planned = plan_graph(optimized, &layout, 1)?;
            match emit {
                Emit::Kernels => kernels_text(&planned),
                _ => clif_text(&planned)?,
            }
        }
    };
    stdout::text(format_args!("{text}"));
    Ok(())
}

fn explore(
    model: &str,
    recipe: &Recipe,
    passes: Passes,
    out: &Path,
    format: ExploreFormat,
    options: ExploreOptions,
) -> Result<()> {
    let s = settings(model, recipe)?;
    let spec = CompileSpec::new(&s.model, s.optimizer, s.loss, &s.metrics, passes);
    let report = crate::explore::explore(&s.model, &spec, s.batch_size, &options)?;
    let text = match format {
        ExploreFormat::Html => crate::explore::html::render_html(&report),
        ExploreFormat::Json => serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Config(format!("serializing the report: {e}")))?,
    };
    crate::output::check_writable(out)?;
    crate::output::write_atomically(out, "explore report", text.as_bytes())?;
    eprintln!(
        "wrote {} ({} stages, {} kernels, {} KiB)",
        out.display(),
        5,
        report.kernels.kernels.len(),
        text.len() / 1024
    );
    Ok(())
}
