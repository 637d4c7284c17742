//! The `triceratops` command line: summary, compile, train, eval, predict.

pub mod data;
mod progress;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use run::run;

#[derive(Parser, Debug)]
#[command(
    name = "triceratops",
    version,
    about = "A deep-learning compiler for static graphs, Keras-style"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What `compile --emit` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The forward (predict) graph.
    Graph,
    /// The whole train step: forward, loss, backward, optimizer update.
    Grad,
    /// The train step after the egg passes (not built yet).
    Optimized,
    /// The JIT's kernel plan (not built yet).
    Kernels,
    /// The JIT's Cranelift IR (not built yet).
    Clif,
    /// The train step as Graphviz.
    Dot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Interp,
    Jit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConventionChoice {
    Keras,
    Pytorch,
}

/// Model, loss and optimizer choices shared by `compile` and `train`.
#[derive(clap::Args, Debug, Clone)]
pub struct Recipe {
    /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras `model.to_json()` file.
    #[arg(long)]
    pub model: Option<String>,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam or adamw (default: the model's own).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate (default: the optimizer's).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Whose optimizer formulas and defaults to use [default: keras]. A
    /// built-in model keeps its own learning rate in either convention.
    #[arg(long, value_enum)]
    pub convention: Option<ConventionChoice>,
    /// mse, half_sse, categorical_crossentropy or sparse_categorical_crossentropy.
    #[arg(long)]
    pub loss: Option<String>,
    /// Samples per batch (default: the model's own, or 32).
    #[arg(long)]
    pub batch_size: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a Keras-style summary of a model.
    Summary {
        #[arg(long)]
        model: String,
    },
    /// Print a compiled stage of a model.
    Compile {
        #[command(flatten)]
        recipe: Recipe,
        #[arg(long, value_enum)]
        emit: Emit,
    },
    /// Train a model, optionally saving checkpoints and plotting curves.
    Train {
        #[command(flatten)]
        recipe: Recipe,
        /// Data spec (see `triceratops::cli::data`); default: the model's own.
        #[arg(long)]
        data: Option<String>,
        /// Epochs to train (more epochs, when resuming).
        #[arg(long)]
        epochs: Option<usize>,
        /// Fraction of the data (its end) held out for validation.
        #[arg(long, allow_negative_numbers = true)]
        validation_split: Option<f32>,
        /// Use only the first N samples of the data.
        #[arg(long)]
        limit: Option<usize>,
        /// Seed of weights, shuffling and dropout [default: 0].
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value = "interp")]
        backend: BackendChoice,
        /// Write loss/accuracy curves to this .svg or .png file.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Write a checkpoint here after every epoch.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Continue from this checkpoint.
        #[arg(long)]
        resume: Option<PathBuf>,
    },
    /// Loss and metrics of a checkpoint on data.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        data: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 128)]
        batch_size: usize,
    },
    /// Predictions of a checkpoint for the first samples of the data.
    Predict {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long)]
        data: Option<String>,
        /// How many samples to predict.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
}
