//! The `triceratops` command line: summary, compile, train, eval, predict, bench.

mod bench;
pub mod data;
mod evaluate;
mod image;
pub mod memory;
mod partition;
mod progress;
mod run;
pub(crate) mod stdout;
mod train;

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
    /// The train step after the egg passes, and the pass report.
    Optimized,
    /// The JIT's kernel plan and memory plan for the optimized train step.
    Kernels,
    /// The Cranelift IR the JIT generates for the optimized train step.
    Clif,
    /// The train step as Graphviz.
    Dot,
    /// Where each kernel and optimized value came from: layer, stage (forward, loss,
    /// backward, guard, optimizer), the parameter it updates, the train-step values it
    /// stands for (as `explore` shows them).
    Provenance,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// The reference ndarray interpreter.
    Interp,
    /// The Cranelift JIT: the optimized graphs compiled to native code.
    Jit,
}

/// Whether compiled graphs go through the egg passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PassesChoice {
    /// The default passes: exact algebra (bit-identical values) and numerics.
    On,
    /// No optimization passes (canonicalization only).
    None,
}

/// What runs the compiled graphs: shared by train, eval and predict.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct BackendFlags {
    /// What runs the compiled graphs.
    #[arg(long, value_enum, default_value = "jit")]
    pub backend: BackendChoice,
    /// Threads for the JIT's contractions, pooling and large elementwise
    /// kernels (results are identical for any count) [default: the cores
    /// available to this process]
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The most `--threads` accepted.
pub const MAX_THREADS: usize = 256;

/// The threads the JIT uses: `--threads`, else every available core.
pub fn threads(flag: Option<usize>) -> crate::Result<usize> {
    match flag {
        Some(0) => Err(crate::Error::Config("--threads must be at least 1".into())),
        // Each thread gets its own im2col block and stack; beyond this a
        // count is a typo, not a machine.
        Some(n) if n > MAX_THREADS => Err(crate::Error::Config(format!(
            "--threads {n} is more than {MAX_THREADS}"
        ))),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The optimization flags shared by compile, train, eval and predict.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct PassFlags {
    /// Optimization passes on the compiled graphs.
    #[arg(long, value_enum, default_value = "on")]
    pub passes: PassesChoice,
    /// Also allow rewrites that change f32 rounding (reassociating constant
    /// chains, x / c as x * (1/c), pow(x, 2) as x * x); off by default so
    /// optimized graphs compute bit-identical values.
    #[arg(long)]
    pub fast_math: bool,
}

impl PassFlags {
    pub fn passes(self) -> crate::Result<crate::compile::Passes> {
        use crate::compile::Passes;
        match (self.passes, self.fast_math) {
            (PassesChoice::On, false) => Ok(Passes::On),
            (PassesChoice::On, true) => Ok(Passes::FastMath),
            (PassesChoice::None, false) => Ok(Passes::None),
            (PassesChoice::None, true) => Err(crate::Error::Config(
                "--fast-math needs the passes; drop --passes none or --fast-math".into(),
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConventionChoice {
    /// Keras 3's formulas and defaults.
    Keras,
    /// PyTorch's formulas and defaults.
    Pytorch,
}

/// Optimizer, loss and batch choices shared by `compile` and `train`.
#[derive(clap::Args, Debug, Clone)]
pub struct Recipe {
    /// sgd | momentum | nesterov | adagrad | rmsprop | adam | adamw
    /// [default: the built-in model's own, rmsprop for a Keras JSON model]
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate [default: the built-in model's own, else the optimizer's]
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Whose optimizer formulas and defaults to use [default: keras]. A
    /// built-in model keeps its own learning rate in either convention.
    #[arg(long, value_enum)]
    pub convention: Option<ConventionChoice>,
    /// mse | half_sse | categorical_crossentropy | sparse_categorical_crossentropy
    /// [default: the built-in model's own, categorical_crossentropy for a Keras JSON model]
    #[arg(long)]
    pub loss: Option<String>,
    /// Samples per batch [default: the built-in model's own, else 32]
    #[arg(long)]
    pub batch_size: Option<usize>,
}

/// Which samples `eval` and `predict` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// The samples the checkpoint's run held out for validation.
    Validation,
    /// The samples the checkpoint's run trained on.
    Train,
    /// Training and validation samples, in that order.
    All,
    /// The test arrays (`x_test`, `y_test`) of an NPZ archive in Keras's
    /// layout: the checkpoint's own data, or the archive `--data` names.
    Test,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a Keras-style summary of a model.
    #[command(after_help = "Example:\n  triceratops summary --model seed-cnn")]
    Summary {
        /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras model.to_json() file.
        #[arg(long)]
        model: String,
    },
    /// Print a compiled stage of a model.
    #[command(after_help = "Example:\n  triceratops compile --model mnist-mlp --emit grad")]
    Compile {
        /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras model.to_json() file.
        #[arg(long)]
        model: String,
        #[command(flatten)]
        recipe: Recipe,
        /// The stage to print.
        #[arg(long, value_enum)]
        emit: Emit,
        #[command(flatten)]
        passes: PassFlags,
    },
    /// Train a model, saving checkpoints and plotting curves if asked.
    #[command(after_help = "Examples:\n  \
        triceratops train --model seed-cnn --epochs 3 --save cnn.safetensors --plot cnn.png\n  \
        triceratops train --resume cnn.safetensors --epochs 2\n\n\
        With --resume, only --lr, --batch-size, --epochs, --data, --save, --plot and --backend \
        (with --threads) may be given; the run saves back to the checkpoint it resumed from \
        unless --save says elsewhere.")]
    #[command(
        override_usage = "triceratops train --model <MODEL> [OPTIONS]\n       \
        triceratops train --resume <CHECKPOINT> [OPTIONS]"
    )]
    Train {
        /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras model.to_json() file;
        /// required unless --resume is given.
        #[arg(long, required_unless_present = "resume")]
        model: Option<String>,
        #[command(flatten)]
        recipe: Recipe,
        /// Training data [default: the built-in model's own]: mnist (bundled real MNIST
        /// digits) | mnist32 (the same, padded to 32x32x3) | line (synthetic y = 2x + 1) |
        /// idx:IMAGES,LABELS (IDX files, gzipped or not) | cifar10:BATCH[,BATCH...]
        /// (CIFAR-10 binary batches) | npy:X,Y (NumPy arrays)
        #[arg(long)]
        data: Option<String>,
        /// Validation data apart from --data, in the same formats, as Keras'
        /// validation_data (instead of --validation-split).
        #[arg(long)]
        validation_data: Option<String>,
        /// Input scaling: none, or 1/N to divide every value by N (1/255 for bytes)
        /// [default: 1/255 for mnist, mnist32, idx and cifar10; none for npy and line]
        #[arg(long)]
        scale: Option<String>,
        /// Epochs to train (more epochs, when resuming) [default: the built-in model's own, else 1]
        #[arg(long)]
        epochs: Option<usize>,
        /// Fraction of the data, taken from its end before shuffling, held out for validation [default: 0.2]
        #[arg(long, allow_negative_numbers = true)]
        validation_split: Option<f32>,
        /// Use only the first N samples of --data.
        #[arg(long)]
        limit: Option<usize>,
        /// Seed of weights, shuffling and dropout [default: 0]
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        backend: BackendFlags,
        /// Write loss and accuracy curves to this .svg or .png file (after training).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Write a checkpoint here after every epoch [default: the --resume checkpoint].
        #[arg(long)]
        save: Option<PathBuf>,
        /// Continue training from this checkpoint, with its model, optimizer, data and random state.
        #[arg(long)]
        resume: Option<PathBuf>,
        #[command(flatten)]
        passes: PassFlags,
    },
    /// Loss and metrics of a checkpoint on its held-out samples or other data.
    #[command(after_help = "Examples:\n  \
        triceratops eval --checkpoint cnn.safetensors                   # its validation samples\n  \
        triceratops eval --checkpoint cnn.safetensors --split train\n  \
        triceratops eval --checkpoint mlp.safetensors --data idx:test-images.gz,test-labels.gz")]
    Eval {
        /// A checkpoint written by `train --save`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Data to evaluate on, all of it [default: the checkpoint's own data, split as its run split it]:
        /// mnist | mnist32 | line | idx:IMAGES,LABELS | cifar10:BATCH[,BATCH...] | npy:X,Y
        #[arg(long)]
        data: Option<String>,
        /// Which samples of the checkpoint's own data [default: validation]
        #[arg(long, value_enum)]
        split: Option<Split>,
        /// Use only the first N samples of the chosen split.
        #[arg(long)]
        limit: Option<usize>,
        /// Input scaling, as for train [default: the checkpoint's own]
        #[arg(long)]
        scale: Option<String>,
        /// Samples per batch.
        #[arg(long, default_value_t = 128)]
        batch_size: usize,
        #[command(flatten)]
        backend: BackendFlags,
        #[command(flatten)]
        passes: PassFlags,
    },
    /// Predictions of a checkpoint for the first samples of its held-out data, other data,
    /// or PNG/JPEG pictures.
    #[command(after_help = "Examples:\n  \
        triceratops predict --checkpoint cnn.safetensors --count 5\n  \
        triceratops predict --checkpoint cnn.safetensors --split train --count 3\n  \
        triceratops predict --checkpoint mlp.safetensors --image seven.png photo.jpg --invert\n\n\
        With --image, each picture prints one line: `FILE: class C (p = P), ...`, its three most \
        probable classes, best first. Pictures are made like the training samples: grey or RGB \
        as the model takes them, scaled with the checkpoint's --scale; a picture of the model's \
        aspect ratio but another size is resized with a bilinear (Triangle) filter (a note on \
        stderr says so); another aspect ratio is refused.")]
    Predict {
        /// A checkpoint written by `train --save`.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Data to predict, from its start [default: the checkpoint's own data, split as its run split it]:
        /// mnist | mnist32 | line | idx:IMAGES,LABELS | cifar10:BATCH[,BATCH...] | npy:X,Y
        #[arg(long)]
        data: Option<String>,
        /// Which samples of the checkpoint's own data [default: validation]
        #[arg(long, value_enum)]
        split: Option<Split>,
        /// How many samples to predict.
        #[arg(long, default_value_t = 10)]
        count: usize,
        /// Input scaling, as for train [default: the checkpoint's own]
        #[arg(long)]
        scale: Option<String>,
        /// PNG or JPEG pictures to classify instead of data (one line each: the top 3 classes).
        #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["data", "split", "count"])]
        image: Vec<PathBuf>,
        /// With --image: colour pictures into a grey model become their luma
        /// (0.2126 R + 0.7152 G + 0.0722 B) instead of an error.
        #[arg(long, requires = "image")]
        grayscale: bool,
        /// With --image: each pixel v becomes 255 - v (MNIST digits are light on black; photos
        /// of dark ink on white paper need this).
        #[arg(long, requires = "image")]
        invert: bool,
        #[command(flatten)]
        backend: BackendFlags,
        #[command(flatten)]
        passes: PassFlags,
    },
    /// Times the train step on the interpreter and on the JIT, side by side.
    #[command(after_help = "Example:\n  \
        triceratops bench --model mnist-mlp --steps 50\n\n\
        For each backend (interp, then jit): the compile time (the train step built, passes \
        run, and compiled by the backend), --warmup untimed steps (the first also compiles the \
        model's own executable), then --steps timed steps of train_on_batch on a synthetic \
        deterministic batch. Peak memory is the most heap memory in use above what was in use \
        when that backend's measurement started.")]
    Bench {
        /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras model.to_json() file.
        #[arg(long)]
        model: String,
        #[command(flatten)]
        recipe: Recipe,
        /// Timed steps per backend.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed steps per backend before the timed ones (at least 1).
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Threads of the multi-threaded JIT column (a one-thread JIT column is always
        /// measured too) [default: the cores available to this process]
        #[arg(long)]
        threads: Option<usize>,
        /// Also time every kernel of the JIT's step (its own per-kernel timers) and print
        /// the breakdown: ms, GFLOP/s or GB/s, and share of the step.
        #[arg(long)]
        profile: bool,
        #[command(flatten)]
        passes: PassFlags,
    },
    /// Write one self-contained HTML page with every compiler stage of a model side by side.
    #[command(
        after_help = "The page shows the model summary and train-step signature, then one \
        column per stage (forward graph, train step after autodiff, optimized graph, kernel plan, \
        CLIF of the selected kernel); selecting a value or kernel highlights where it came from \
        and where it went. Below: the pass report, per-kernel time on the JIT and the \
        interpreter, and the optimized train step's dataflow graph. It needs no network and \
        opens from disk.\n\nExamples:\n  \
        triceratops explore --model mnist-mlp --optimizer adam --out mlp.html\n  \
        triceratops explore --model seed-cnn --out cnn.json --format json --profile-steps 0"
    )]
    Explore {
        /// A built-in model (linreg, mnist-mlp, seed-cnn) or a Keras model.to_json() file.
        #[arg(long)]
        model: String,
        #[command(flatten)]
        recipe: Recipe,
        #[command(flatten)]
        passes: PassFlags,
        /// Where to write the page (or the JSON).
        #[arg(long)]
        out: std::path::PathBuf,
        /// html: the page; json: the data the page shows.
        #[arg(long, value_enum, default_value = "html")]
        format: ExploreFormat,
        /// Train steps timed on the JIT and on the interpreter for the per-kernel profile
        /// (0: no profile; the page then says so).
        #[arg(long, default_value_t = 5)]
        profile_steps: usize,
        /// JIT threads for the kernel plan shown and the profile.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

/// What `explore` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExploreFormat {
    Html,
    Json,
}
