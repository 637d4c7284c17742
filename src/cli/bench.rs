//! `triceratops bench`: the train step of one model on the interpreter and
//! on the JIT, in one run, printed side by side.
//!
//! For each backend, in turn: a fresh `Model` (seed 0), the compile time
//! (the train step built with the passes, then compiled by the backend:
//! `compile::train_step` + `Backend::compile`, the path `Model` takes on a
//! batch size's first step), `warmup` untimed steps, then `steps` timed
//! calls of `train_on_batch` on one synthetic deterministic batch. The
//! first warm-up step compiles the model's own executable (the one timed
//! above is dropped), so the timed steps are steady-state steps. Peak
//! memory is the heap high-water mark above the bytes in use when the
//! backend's measurement started (see `cli::memory`): its model, both
//! compilations and its steps.

use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::memory;
use super::run::settings;
use super::stdout::outln;
use super::{BackendChoice, Recipe};
use crate::compile::{self, Passes};
use crate::error::{Error, Result};
use crate::keras::losses::Loss;
use crate::keras::Sequential;
use crate::train::Model;

/// The `bench` options besides the model and recipe.
pub struct BenchArgs {
    pub steps: usize,
    pub warmup: usize,
    pub passes: Passes,
}

/// One backend's measurements.
struct Measured {
    name: &'static str,
    compile: Duration,
    /// Each timed step, sorted.
    steps: Vec<Duration>,
    /// Heap bytes above the baseline at the backend's start; `None` when
    /// the counting allocator is not installed.
    peak: Option<usize>,
}

impl Measured {
    fn median(&self) -> Duration {
        let n = self.steps.len();
        if n % 2 == 1 {
            self.steps[n / 2]
        } else {
            (self.steps[n / 2 - 1] + self.steps[n / 2]) / 2
        }
    }
}

pub fn bench(model: &str, recipe: &Recipe, args: BenchArgs) -> Result<()> {
    if args.steps == 0 {
        return Err(Error::Config("--steps must be positive".into()));
    }
    if args.warmup == 0 {
        return Err(Error::Config(
            "--warmup must be at least 1: the first step at a batch size compiles the model's \
             executable, which must not be timed as a step"
                .into(),
        ));
    }
    let s = settings(model, recipe)?;
    let (x, y) = synthetic_batch(&s.model, s.loss, s.batch_size);
    outln!(
        "bench {}: batch {}, {} ({:?} convention, lr {}), passes {}, {} warm-up + {} timed steps",
        s.model.name,
        s.batch_size,
        s.optimizer.name(),
        s.optimizer.convention,
        s.optimizer.learning_rate,
        match args.passes {
            Passes::On => "on",
            Passes::FastMath => "on (fast math)",
            Passes::None => "none",
        },
        args.warmup,
        args.steps,
    );
    let mut results = Vec::new();
    for choice in [BackendChoice::Interp, BackendChoice::Jit] {
        let baseline = memory::reset_peak();
        let mut m = Model::new(
            s.model.clone(),
            s.optimizer,
            s.loss,
            &s.metrics,
            super::run::backend_for(choice)?,
            0,
        )?;
        m.set_passes(args.passes);
        let name = m.backend_name();
        let failed = |what: &str, e: Error| Error::Config(format!("{name}: {what}: {e}"));

        let start = Instant::now();
        let train = compile::train_step(m.sequential(), m.spec(), s.batch_size)
            .map_err(|e| failed("building the train step", e))?
            .0;
        let exe = super::run::backend_for(choice)?
            .compile(train, m.state().layout())
            .map_err(|e| failed("compiling the train step", e))?;
        let compile = start.elapsed();
        drop(exe);

        for i in 0..args.warmup {
            m.train_on_batch(x.clone(), y.clone())
                .map_err(|e| failed(&format!("warm-up step {}", i + 1), e))?;
        }
        let mut steps = Vec::with_capacity(args.steps);
        for i in 0..args.steps {
            let (x, y) = (x.clone(), y.clone());
            let start = Instant::now();
            let logs = m.train_on_batch(x, y);
            steps.push(start.elapsed());
            logs.map_err(|e| failed(&format!("timed step {}", i + 1), e))?;
        }
        steps.sort();
        drop(m);
        let peak = memory::counting().then(|| memory::peak_bytes().saturating_sub(baseline));
        results.push(Measured {
            name,
            compile,
            steps,
            peak,
        });
    }
    print_table(&results, s.batch_size);
    Ok(())
}

fn print_table(results: &[Measured], batch: usize) {
    let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    let rows: Vec<(&str, Vec<String>)> = vec![
        ("", results.iter().map(|r| r.name.to_string()).collect()),
        (
            "compile (ms)",
            results.iter().map(|r| ms(r.compile)).collect(),
        ),
        (
            "step median (ms)",
            results.iter().map(|r| ms(r.median())).collect(),
        ),
        (
            "step min (ms)",
            results.iter().map(|r| ms(r.steps[0])).collect(),
        ),
        (
            "step max (ms)",
            results
                .iter()
                .map(|r| ms(*r.steps.last().expect("steps > 0")))
                .collect(),
        ),
        (
            "samples/s",
            results
                .iter()
                .map(|r| format!("{:.0}", batch as f64 / r.median().as_secs_f64()))
                .collect(),
        ),
        (
            "peak memory",
            results
                .iter()
                .map(|r| r.peak.map_or("not measured".into(), human_bytes))
                .collect(),
        ),
    ];
    let label = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let width = rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(String::len))
        .max()
        .unwrap_or(0)
        .max(8);
    for (l, cells) in &rows {
        let mut line = format!("{l:<label$}");
        for c in cells {
            line.push_str(&format!("  {c:>width$}"));
        }
        outln!("{}", line.trim_end());
    }
    if let [interp, jit] = results {
        let speedup = interp.median().as_secs_f64() / jit.median().as_secs_f64();
        outln!("speed-up: {speedup:.1}x");
    }
}

/// Bytes in KiB below 1 MiB, else in MiB.
fn human_bytes(bytes: usize) -> String {
    let kib = bytes as f64 / 1024.0;
    if kib < 1024.0 {
        format!("{kib:.1} KiB")
    } else {
        format!("{:.2} MiB", kib / 1024.0)
    }
}

/// A deterministic batch (seeded ChaCha8, as benches/train_step.rs):
/// inputs uniform in [0, 1); class indices for sparse labels, one-hot rows
/// for the other cross-entropy, `2x + 1` when the targets have the inputs'
/// shape (linreg), else uniform targets.
fn synthetic_batch(model: &Sequential, loss: Loss, batch: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut x_shape = vec![batch];
    x_shape.extend(&model.input_shape);
    let x = ArrayD::from_shape_simple_fn(IxDyn(&x_shape), || rng.random::<f32>());
    let y_shape = compile::target_shape(model, loss, batch);
    let classes = model.output_shape().last().copied().unwrap_or(1).max(1);
    let y = match loss {
        Loss::SparseCategoricalCrossentropy { .. } => {
            ArrayD::from_shape_simple_fn(IxDyn(&y_shape), || rng.random_range(0..classes) as f32)
        }
        Loss::CategoricalCrossentropy { .. } => {
            let mut y = ArrayD::<f32>::zeros(IxDyn(&y_shape));
            for row in y
                .as_slice_mut()
                .expect("standard layout")
                .chunks_mut(classes)
            {
                row[rng.random_range(0..classes)] = 1.0;
            }
            y
        }
        _ if y_shape == x_shape => x.mapv(|v| 2.0 * v + 1.0),
        _ => ArrayD::from_shape_simple_fn(IxDyn(&y_shape), || rng.random::<f32>()),
    };
    (x, y)
}
