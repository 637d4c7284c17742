//! A compiled model: the Keras-style model, its compile settings, its state
//! store, its RNG, and one cached executable per graph kind and batch size.

use std::collections::HashMap;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::history::Logs;
use crate::backend::{Backend, Executable, Interpreter};
use crate::compile::{self, ArgRole, CompileSpec, OutputRole, Signature};
use crate::error::{Divergence, Error, Result};
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::{Optimizer, StepScalar};
use crate::keras::Sequential;
use crate::state::{StateLayout, StateStore};

/// The largest model `Model::new` accepts, so a model file cannot make it
/// allocate more memory than a machine has.
pub const MAX_PARAMS: usize = 1 << 30;

/// The exact position of the trainer's ChaCha8 RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: u128,
}

/// Which graph an executable runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum StepKind {
    Train,
    Eval,
    Predict,
}

/// A model compiled with an optimizer, a loss and metrics.
pub struct Model {
    // The model and spec are fixed once compiled (the cached graphs are
    // built from them); only the learning rate may change: the optimizer's
    // step scalars computed from it are graph inputs.
    model: Sequential,
    spec: CompileSpec,
    backend: Box<dyn Backend>,
    state: StateStore,
    pub(super) rng: ChaCha8Rng,
    /// Epochs completed by `fit` over the model's life (resumed runs continue
    /// the count, as Keras' `initial_epoch`).
    pub epochs_done: usize,
    executables: HashMap<(StepKind, usize), Box<dyn Executable>>,
    compilations: usize,
}

impl Sequential {
    /// Compiles for the interpreter with seed 0 (see [`Model::new`]).
    pub fn compile(self, optimizer: Optimizer, loss: Loss, metrics: &[Metric]) -> Result<Model> {
        Model::new(self, optimizer, loss, metrics, Box::new(Interpreter), 0)
    }
}

impl Model {
    /// Builds the train step once (to check the whole stack and learn the
    /// state's layout: params, step, optimizer slots) and initializes the
    /// state from a ChaCha8 RNG seeded with `seed`: Glorot-uniform kernels,
    /// zero biases, slots at their optimizer's initial values, step 0.
    pub fn new(
        model: Sequential,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[Metric],
        backend: Box<dyn Backend>,
        seed: u64,
    ) -> Result<Model> {
        let spec = CompileSpec::new(&model, optimizer, loss, metrics, compile::Passes::default());
        if model.count_params() > MAX_PARAMS {
            return Err(Error::Config(format!(
                "model `{}` has {} parameters; at most {MAX_PARAMS} ({} GiB of f32) are supported",
                model.name,
                model.count_params(),
                (MAX_PARAMS * 4) >> 30
            )));
        }
        // Only to learn the state's layout: the passes would not change it.
        let layout_spec = CompileSpec {
            passes: compile::Passes::None,
            ..spec.clone()
        };
        let (train, slots) = compile::train_step(&model, &layout_spec, 1)?;
        let layout = StateLayout::new(train.signature.state_args().map(|(_, a)| {
            let ArgRole::State(kind) = a.role else {
                unreachable!("state_args yields state")
            };
            (a.name.clone(), kind, a.ty.shape.clone())
        }))?;
        let mut state = StateStore::zeros(layout);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for layer in model.layers() {
            for p in layer.params() {
                let value = p.init.sample(&p.shape, &mut rng);
                state.set(&layer.param_name(&p), &value.view())?;
            }
        }
        for slot in slots {
            let index = state.index_of(&slot.name).expect("slots are state");
            state.slice_mut(index).fill(slot.value);
        }
        Ok(Model {
            model,
            spec,
            backend,
            state,
            rng,
            epochs_done: 0,
            executables: HashMap::new(),
            compilations: 0,
        })
    }

    /// Whether the graphs this model compiles from now on go through the
    /// egg passes (on by default). The default passes are exact, so this
    /// changes speed, not results.
    pub fn set_passes(&mut self, passes: compile::Passes) {
        if self.spec.passes != passes {
            self.spec.passes = passes;
            self.executables.clear();
        }
    }

    /// Params, optimizer slots and the step counter.
    pub fn state(&self) -> &StateStore {
        &self.state
    }

    /// The state, for callers that set weights (a checkpoint, a test).
    pub fn state_mut(&mut self) -> &mut StateStore {
        &mut self.state
    }

    /// The RNG's exact position (for checkpoints that resume bit for bit).
    pub fn rng_state(&self) -> RngState {
        RngState {
            seed: self.rng.get_seed(),
            stream: self.rng.get_stream(),
            word_pos: self.rng.get_word_pos(),
        }
    }

    pub fn set_rng_state(&mut self, state: &RngState) {
        self.rng = ChaCha8Rng::from_seed(state.seed);
        self.rng.set_stream(state.stream);
        self.rng.set_word_pos(state.word_pos);
    }

    /// The model this was compiled from.
    pub fn sequential(&self) -> &Sequential {
        &self.model
    }

    /// The optimizer, loss and metrics this was compiled with.
    pub fn spec(&self) -> &CompileSpec {
        &self.spec
    }

    /// Changes the base learning rate: the step scalars computed from it are
    /// fed to the compiled step as inputs each step, so no graph is rebuilt.
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.spec.optimizer = self.spec.optimizer.with_learning_rate(lr);
    }

    /// Per-kernel times of the train step at `batch`, if its executable
    /// keeps them (a JIT compiled `with_profile`).
    pub fn train_profile(&self, batch: usize) -> Option<crate::backend::jit::Profile> {
        self.executables
            .get(&(StepKind::Train, batch))
            .and_then(|e| e.profile())
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.state.step() as u64
    }

    /// How many graphs this model has compiled (one per graph kind and
    /// batch size it has met; a cached executable is not recompiled).
    pub fn compilations(&self) -> usize {
        self.compilations
    }

    pub(super) fn check_batch_size(batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(Error::Config("batch_size must be positive".into()));
        }
        Ok(())
    }

    pub(super) fn check_data(&self, x: &ArrayD<f32>, y: Option<&ArrayD<f32>>) -> Result<usize> {
        let n = x.shape().first().copied().unwrap_or(0);
        if x.shape()[1.min(x.ndim())..] != self.model.input_shape[..] || x.ndim() == 0 {
            return Err(Error::Config(format!(
                "model `{}` takes samples of shape {:?}, got x of shape {:?}",
                self.model.name,
                self.model.input_shape,
                x.shape()
            )));
        }
        if let Some(y) = y {
            if let Loss::SparseCategoricalCrossentropy { .. } = self.spec.loss {
                let classes = self.model.output_shape().last().copied().unwrap_or(0);
                let bad = y
                    .iter()
                    .position(|&l| !(l >= 0.0 && l.fract() == 0.0 && (l as usize) < classes));
                if let Some(i) = bad {
                    return Err(Error::Config(format!(
                        "sparse label {} at index {i} is not a class index in 0..{classes}",
                        y.iter().nth(i).copied().unwrap_or(f32::NAN)
                    )));
                }
            }
            let want = compile::target_shape(&self.model, self.spec.loss, n);
            if y.shape() != want.as_slice() {
                return Err(Error::Config(format!(
                    "targets for {n} samples with this model and loss have shape {want:?}, got y of shape {:?}",
                    y.shape()
                )));
            }
        }
        if n == 0 {
            return Err(Error::Config("no samples".into()));
        }
        Ok(n)
    }

    /// The executable of `kind` for `batch` samples, compiled on first use.
    fn executable(&mut self, kind: StepKind, batch: usize) -> Result<&mut Box<dyn Executable>> {
        if !self.executables.contains_key(&(kind, batch)) {
            let compiled = match kind {
                StepKind::Train => compile::train_step(&self.model, &self.spec, batch)?.0,
                StepKind::Eval => compile::eval_step(&self.model, &self.spec, batch)?,
                StepKind::Predict => compile::predict_step(&self.model, batch, self.spec.passes)?,
            };
            let exe = self.backend.compile(compiled, self.state.layout())?;
            self.compilations += 1;
            self.executables.insert((kind, batch), exe);
        }
        Ok(self
            .executables
            .get_mut(&(kind, batch))
            .expect("inserted above"))
    }

    /// Runs the `kind` graph on a batch: `x` and `y` bind to the X and Y
    /// arguments, the optimizer's step scalars (computed from the step
    /// counter in the state) and fresh dropout noise (drawn from the
    /// model's RNG in argument order) to theirs, the state to the store.
    pub(super) fn run(
        &mut self,
        kind: StepKind,
        x: ArrayViewD<f32>,
        y: Option<ArrayViewD<f32>>,
    ) -> Result<bool> {
        let batch = x.shape()[0];
        self.executable(kind, batch)?;
        let exe = self
            .executables
            .get_mut(&(kind, batch))
            .expect("compiled above");
        // The step counter in the state is the source of truth: a resumed
        // run feeds exactly the scalars the interrupted one would have.
        let optimizer = &self.spec.optimizer;
        let scalars: Vec<(StepScalar, ArrayD<f32>)> = optimizer
            .step_scalars()
            .into_iter()
            .zip(optimizer.step_values(self.state.step() as u64))
            .map(|(s, v)| (s, ArrayD::from_elem(IxDyn(&[]), v)))
            .collect();
        let rng = &mut self.rng;
        let noise: Vec<ArrayD<f32>> = exe
            .signature()
            .batch_args()
            .filter(|(_, a)| a.role == ArgRole::Noise)
            .map(|(_, a)| {
                ArrayD::from_shape_simple_fn(IxDyn(a.ty.shape.dims()), || rng.random::<f32>())
            })
            .collect();
        let mut noise = noise.iter();
        let mut inputs = Vec::new();
        for (_, arg) in exe.signature().batch_args() {
            inputs.push(match arg.role {
                ArgRole::X => x.view(),
                ArgRole::Y => match &y {
                    Some(y) => y.view(),
                    None => return Err(Error::Config("this graph needs targets".into())),
                },
                ArgRole::StepScalar(s) => match scalars.iter().find(|(k, _)| *k == s) {
                    Some((_, v)) => v.view(),
                    None => {
                        return Err(Error::Config(format!(
                            "internal: the optimizer does not compute `{}`",
                            s.name()
                        )))
                    }
                },
                ArgRole::Noise => noise.next().expect("one array per noise input").view(),
                ArgRole::State(_) => unreachable!("batch_args excludes state"),
            });
        }
        exe.run_in_place(&inputs, &mut self.state)
    }

    /// The outputs of the last run of the executable for `kind` at `batch`.
    pub(super) fn outputs(&self, kind: StepKind, batch: usize) -> &[ArrayD<f32>] {
        self.executables[&(kind, batch)].outputs()
    }

    /// The signature of a compiled executable.
    pub(super) fn signature(&self, kind: StepKind, batch: usize) -> &Signature {
        self.executables[&(kind, batch)].signature()
    }

    /// The loss and metrics among a run's outputs.
    pub(super) fn logs(&self, signature: &Signature, outputs: &[ArrayD<f32>]) -> Logs {
        let scalar = |pos: usize| outputs[pos].iter().next().copied().unwrap_or(f32::NAN);
        Logs {
            loss: scalar(signature.output(OutputRole::Loss).expect("a loss output")),
            metrics: self
                .spec
                .metrics
                .iter()
                .map(|&(name, _)| {
                    let pos = signature
                        .output_named(OutputRole::Metric, name)
                        .expect("one output per metric");
                    (name.to_string(), scalar(pos))
                })
                .collect(),
        }
    }

    /// One optimizer step on a batch; returns its loss and metrics. A
    /// non-finite loss or gradient is an error and the state is unchanged.
    pub fn train_on_batch(&mut self, x: ArrayD<f32>, y: ArrayD<f32>) -> Result<Logs> {
        self.step_checked(&x, &y, 1, 1)
    }

    /// Runs one train step; its updates take effect only if the loss and
    /// every gradient are finite, otherwise reports `epoch` and `step`.
    pub(super) fn step_checked(
        &mut self,
        x: &ArrayD<f32>,
        y: &ArrayD<f32>,
        epoch: usize,
        step: usize,
    ) -> Result<Logs> {
        self.check_data(x, Some(y))?;
        let committed = self.run(StepKind::Train, x.view(), Some(y.view()))?;
        let batch = x.shape()[0];
        let logs = self.logs(
            self.signature(StepKind::Train, batch),
            self.outputs(StepKind::Train, batch),
        );
        if !committed {
            // The step was not applied. A state that is already non-finite
            // (an earlier update overflowed with finite gradients) is what
            // the caller must know about first: retrying from it is futile.
            let cause = match self.state.first_non_finite() {
                Some(entry) => Divergence::State {
                    entry: entry.name.clone(),
                },
                None if logs.loss.is_finite() => Divergence::Gradient,
                None => Divergence::Loss,
            };
            return Err(Error::NonFinite {
                loss: logs.loss,
                epoch,
                step,
                cause,
            });
        }
        Ok(logs)
    }
}
