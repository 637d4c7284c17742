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
use super::Recipe;
use crate::backend::jit::Profile;
use crate::backend::{Backend, Interpreter, Jit};
use crate::compile::{self, CompileSpec, Passes};
use crate::error::{Error, Result};
use crate::keras::losses::Loss;
use crate::keras::Sequential;
use crate::train::Model;

/// The `bench` options besides the model and recipe.
pub struct BenchArgs {
    pub steps: usize,
    pub warmup: usize,
    /// Threads of the multi-threaded JIT column.
    pub threads: usize,
    /// Print the per-kernel breakdown of the JIT's step.
    pub profile: bool,
    pub passes: Passes,
}

/// One measured configuration: a backend and its thread count.
#[derive(Clone, Copy)]
struct Config {
    /// 0 for the interpreter.
    threads: usize,
}

impl Config {
    fn name(self) -> String {
        match self.threads {
            0 => "interp".into(),
            n => format!("jit x{n}"),
        }
    }

    fn backend(self, profile: bool) -> Box<dyn Backend> {
        match self.threads {
            0 => Box::new(Interpreter),
            n => Box::new(Jit::new().with_threads(n).with_profile(profile)),
        }
    }
}

/// One configuration's measurements.
struct Measured {
    name: String,
    /// Compile phases in order (graph, passes, then the backend's own).
    phases: Vec<(&'static str, Duration)>,
    /// Each timed step, sorted.
    steps: Vec<Duration>,
    /// Heap bytes above the baseline at the configuration's start; `None`
    /// when the counting allocator is not installed.
    peak: Option<usize>,
    /// Heap allocations per timed step (same condition).
    allocations: Option<f64>,
}

impl Measured {
    fn compile(&self) -> Duration {
        self.phases.iter().map(|(_, d)| *d).sum()
    }

    fn median(&self) -> Duration {
        median(&self.steps)
    }
}

fn median(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
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
    let mut configs = vec![Config { threads: 0 }, Config { threads: 1 }];
    if args.threads > 1 {
        configs.push(Config {
            threads: args.threads,
        });
    }
    let new_model = |config: Config, profile: bool| -> Result<Model> {
        let mut m = Model::new(
            s.model.clone(),
            s.optimizer,
            s.loss,
            &s.metrics,
            config.backend(profile),
            0,
        )?;
        m.set_passes(args.passes);
        Ok(m)
    };
    let mut results = Vec::new();
    for &config in &configs {
        let baseline = memory::reset_peak();
        let mut m = new_model(config, false)?;
        let name = config.name();
        let failed = |what: &str, e: Error| Error::Config(format!("{name}: {what}: {e}"));
        let phases = compile_phases(&m, config, args.passes, s.batch_size)
            .map_err(|e| failed("compiling the train step", e))?;
        for i in 0..args.warmup {
            m.train_on_batch(x.clone(), y.clone())
                .map_err(|e| failed(&format!("warm-up step {}", i + 1), e))?;
        }
        let mut steps = Vec::with_capacity(args.steps);
        let mut allocations = 0;
        for i in 0..args.steps {
            let (x, y) = (x.clone(), y.clone());
            let before = memory::allocations();
            let start = Instant::now();
            let logs = m.train_on_batch(x, y);
            steps.push(start.elapsed());
            allocations += memory::allocations() - before;
            logs.map_err(|e| failed(&format!("timed step {}", i + 1), e))?;
        }
        steps.sort();
        drop(m);
        let counting = memory::counting();
        results.push(Measured {
            name,
            phases,
            steps,
            peak: counting.then(|| memory::peak_bytes().saturating_sub(baseline)),
            allocations: counting.then(|| allocations as f64 / args.steps as f64),
        });
    }
    print_table(&results, s.batch_size);
    if args.profile {
        let mut profiles = Vec::new();
        for &config in configs.iter().filter(|c| c.threads > 0) {
            let mut m = new_model(config, true)?;
            for _ in 0..args.warmup + args.steps {
                m.train_on_batch(x.clone(), y.clone())?;
            }
            let profile = m
                .train_profile(s.batch_size)
                .expect("a profiled JIT keeps its kernel times");
            profiles.push((config.name(), profile));
        }
        print_profile(&profiles);
    }
    Ok(())
}

/// The compile phases of the train step on `config`, as `Model` compiles
/// it on a batch size's first step: the graph built, the passes run, then
/// the backend's own phases (the JIT's plan, codegen and link). The
/// executable is dropped; the model compiles its own on its first step.
fn compile_phases(
    m: &Model,
    config: Config,
    passes: Passes,
    batch: usize,
) -> Result<Vec<(&'static str, Duration)>> {
    let spec = CompileSpec {
        passes: Passes::None,
        ..m.spec().clone()
    };
    let start = Instant::now();
    let train = compile::train_step(m.sequential(), &spec, batch)?.0;
    let graph = start.elapsed();
    let start = Instant::now();
    let (optimized, _) = compile::optimize(train, passes)?;
    let passes_time = start.elapsed();
    let start = Instant::now();
    let exe = config
        .backend(false)
        .compile(optimized, m.state().layout())?;
    let backend = start.elapsed();
    let mut phases = vec![("graph", graph), ("passes", passes_time)];
    let own = exe.compile_phases();
    let accounted: Duration = own.iter().map(|(_, d)| *d).sum();
    phases.extend(own);
    // Whatever the backend did outside its named phases (allocating the
    // arena, starting threads; all of compiling for the interpreter).
    phases.push(("other", backend.saturating_sub(accounted)));
    Ok(phases)
}

fn print_table(results: &[Measured], batch: usize) {
    let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    let mut rows: Vec<(String, Vec<String>)> = vec![
        (
            String::new(),
            results.iter().map(|r| r.name.clone()).collect(),
        ),
        (
            "compile (ms)".into(),
            results.iter().map(|r| ms(r.compile())).collect(),
        ),
    ];
    // Phase rows in the order of the configuration with the most phases.
    let phases = results
        .iter()
        .max_by_key(|r| r.phases.len())
        .map_or(&[][..], |r| &r.phases[..]);
    for (phase, _) in phases {
        let cells = results
            .iter()
            .map(|r| {
                r.phases
                    .iter()
                    .find(|(p, _)| p == phase)
                    .map_or("-".into(), |(_, d)| ms(*d))
            })
            .collect();
        rows.push((format!("  {phase}"), cells));
    }
    rows.extend([
        (
            "step median (ms)".into(),
            results.iter().map(|r| ms(r.median())).collect(),
        ),
        (
            "step min (ms)".into(),
            results.iter().map(|r| ms(r.steps[0])).collect(),
        ),
        (
            "step max (ms)".into(),
            results
                .iter()
                .map(|r| ms(*r.steps.last().expect("steps > 0")))
                .collect(),
        ),
        (
            "samples/s".into(),
            results
                .iter()
                .map(|r| format!("{:.0}", batch as f64 / r.median().as_secs_f64()))
                .collect(),
        ),
        (
            "peak memory".into(),
            results
                .iter()
                .map(|r| r.peak.map_or("not measured".into(), human_bytes))
                .collect(),
        ),
        (
            "allocations/step".into(),
            results
                .iter()
                .map(|r| {
                    r.allocations
                        .map_or("not measured".into(), |a| format!("{a:.1}"))
                })
                .collect(),
        ),
    ]);
    print_rows(&rows);
    let interp = results[0].median().as_secs_f64();
    for r in &results[1..] {
        outln!(
            "speed-up of {} over interp: {:.1}x",
            r.name,
            interp / r.median().as_secs_f64()
        );
    }
}

/// Rows of a label and right-aligned cells.
fn print_rows(rows: &[(String, Vec<String>)]) {
    let label = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let width = rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(String::len))
        .max()
        .unwrap_or(0)
        .max(8);
    for (l, cells) in rows {
        let mut line = format!("{l:<label$}");
        for c in cells {
            line.push_str(&format!("  {c:>width$}"));
        }
        outln!("{}", line.trim_end());
    }
}

/// Per kernel (slowest of the last configuration first): time per step,
/// rate and share of the step, for each profiled configuration.
fn print_profile(profiles: &[(String, Profile)]) {
    let Some((_, last)) = profiles.last() else {
        return;
    };
    let mut order: Vec<usize> = (0..last.kernels.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(last.per_run(k)));
    outln!("");
    outln!(
        "kernel profile: time per step from the compiled step's own per-kernel timers, median of {} runs",
        last.runs()
    );
    let mut header = vec!["kernel".to_string()];
    for (name, _) in profiles {
        header.extend([
            format!("{name} ms"),
            format!("{name} rate"),
            format!("{name} share"),
        ]);
    }
    let mut rows = vec![header];
    let cells = |p: &Profile, k: usize| -> Vec<String> {
        let t = p.per_run(k).as_secs_f64();
        let kt = &p.kernels[k];
        let rate = if t == 0.0 {
            "-".into()
        } else if kt.flops > 0.0 {
            format!("{:.1} GFLOP/s", kt.flops / t / 1e9)
        } else {
            format!("{:.1} GB/s", kt.bytes / t / 1e9)
        };
        let share = 100.0 * t / p.step().as_secs_f64().max(f64::MIN_POSITIVE);
        vec![format!("{:.4}", t * 1e3), rate, format!("{share:.1}%")]
    };
    for &k in &order {
        let mut row = vec![last.kernels[k].label.clone()];
        for (_, p) in profiles {
            row.extend(cells(p, k));
        }
        rows.push(row);
    }
    let mut total = vec!["all kernels".to_string()];
    for (_, p) in profiles {
        total.extend([
            format!("{:.4}", p.step().as_secs_f64() * 1e3),
            String::new(),
            "100%".into(),
        ]);
    }
    rows.push(total);
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = format!("{:<w$}", r[0], w = widths[0]);
        for (c, cell) in r.iter().enumerate().skip(1) {
            line.push_str(&format!("  {cell:>w$}", w = widths[c]));
        }
        outln!("{}", line.trim_end());
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
