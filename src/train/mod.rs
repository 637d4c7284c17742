//! Training: a compiled model owns its weights and optimizer state and runs
//! the static graphs of `compile` on a backend — `fit`, `evaluate`, `predict`.

mod history;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::time::Instant;

use ndarray::{ArrayD, Axis, IxDyn};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use history::{Callback, EpochLog, History, Logs, Mean, PrintEpochs, Silent};

use crate::backend::{Backend, Executable, Interpreter, RunResult, Tensors};
use crate::compile::{self, noise_inputs, target_shape, CompileSpec};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::keras::losses::Loss;
use crate::keras::metrics::Metric;
use crate::keras::optimizers::Optimizer;
use crate::keras::Sequential;

/// The largest model `Model::new` accepts, so a model file cannot make it
/// allocate more memory than a machine has.
pub const MAX_PARAMS: usize = 1 << 30;

/// Where validation data comes from.
#[derive(Clone, Debug, Default)]
pub enum Validation {
    #[default]
    None,
    /// Keras' `validation_split`: the last fraction of the data, taken
    /// before shuffling.
    Split(f32),
    Data(Box<Dataset>),
}

#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch_size: usize,
    pub shuffle: bool,
    pub validation: Validation,
}

impl Default for FitOptions {
    /// Keras' defaults: 1 epoch, batches of 32, shuffled, no validation.
    fn default() -> FitOptions {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            validation: Validation::None,
        }
    }
}

/// The exact position of the trainer's ChaCha8 RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: u128,
}

/// A compiled executable plus the dropout noise it expects.
struct Step {
    exe: Box<dyn Executable>,
    noise: Vec<(String, Vec<usize>)>,
}

/// A model compiled with an optimizer, a loss and metrics.
pub struct Model {
    // The model and spec are fixed once compiled (the cached graphs are
    // built from them); only the learning rate, a graph input, may change.
    model: Sequential,
    spec: CompileSpec,
    backend: Box<dyn Backend>,
    /// Params, optimizer slots and the step counter, by graph name.
    pub state: Tensors,
    rng: ChaCha8Rng,
    /// Epochs completed by `fit` over the model's life (resumed runs continue
    /// the count, as Keras' `initial_epoch`).
    pub epochs_done: usize,
    train: HashMap<usize, Step>,
    eval: HashMap<usize, Step>,
    predict: HashMap<usize, Step>,
}

impl Sequential {
    /// Compiles for the interpreter with seed 0 (see [`Model::new`]).
    pub fn compile(self, optimizer: Optimizer, loss: Loss, metrics: &[Metric]) -> Result<Model> {
        Model::new(self, optimizer, loss, metrics, Box::new(Interpreter), 0)
    }
}

impl Model {
    /// Builds the train step once (to check the whole stack and learn the
    /// optimizer's slots) and initializes weights from a ChaCha8 RNG seeded
    /// with `seed`: Glorot-uniform kernels, zero biases, slots at their
    /// optimizer's initial values, step 0.
    pub fn new(
        model: Sequential,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[Metric],
        backend: Box<dyn Backend>,
        seed: u64,
    ) -> Result<Model> {
        let units = model.output_shape().last().copied().unwrap_or(1);
        let spec = CompileSpec {
            optimizer,
            loss,
            metrics: metrics
                .iter()
                .map(|m| (m.name(), m.resolve(loss, units)))
                .collect(),
        };
        if model.count_params() > MAX_PARAMS {
            return Err(Error::Config(format!(
                "model `{}` has {} parameters; at most {MAX_PARAMS} ({} GiB of f32) are supported",
                model.name,
                model.count_params(),
                (MAX_PARAMS * 4) >> 30
            )));
        }
        let (_, slots) = compile::train_step_graph(&model, &spec, 1)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut state = Tensors::new();
        for layer in model.layers() {
            for p in layer.params() {
                let value = p.init.sample(&p.shape, &mut rng);
                state.insert(layer.param_name(&p), value);
            }
        }
        for slot in slots {
            state.insert(
                slot.name,
                ArrayD::from_elem(IxDyn(slot.shape.dims()), slot.value),
            );
        }
        state.insert("step".into(), ArrayD::zeros(IxDyn(&[])));
        Ok(Model {
            model,
            spec,
            backend,
            state,
            rng,
            epochs_done: 0,
            train: HashMap::new(),
            eval: HashMap::new(),
            predict: HashMap::new(),
        })
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

    /// Changes the base learning rate: it is fed to the compiled step as an
    /// input each step, so no graph is rebuilt.
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.spec.optimizer = self.spec.optimizer.with_learning_rate(lr);
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.state["step"][[]] as u64
    }

    fn check_batch_size(batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(Error::Config("batch_size must be positive".into()));
        }
        Ok(())
    }

    fn check_data(&self, x: &ArrayD<f32>, y: Option<&ArrayD<f32>>) -> Result<usize> {
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
            let want = target_shape(&self.model, self.spec.loss, n);
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

    /// One optimizer step on a batch; returns its loss and metrics. A
    /// non-finite loss is an error and the step's update is not applied.
    pub fn train_on_batch(&mut self, x: ArrayD<f32>, y: ArrayD<f32>) -> Result<Logs> {
        self.step_checked(x, y, 1, 1)
    }

    /// Runs one train step; applies its updates only if the loss is finite,
    /// otherwise reports `epoch` and `step` in the error.
    fn step_checked(
        &mut self,
        x: ArrayD<f32>,
        y: ArrayD<f32>,
        epoch: usize,
        index: usize,
    ) -> Result<Logs> {
        let batch = self.check_data(&x, Some(&y))?;
        if !self.train.contains_key(&batch) {
            let (g, _) = compile::train_step_graph(&self.model, &self.spec, batch)?;
            let noise = noise_inputs(&g);
            let exe = self.backend.compile(g)?;
            self.train.insert(batch, Step { exe, noise });
        }
        let step = self.train.get_mut(&batch).expect("inserted above");
        // The batch joins the state map for the run (rather than copying all
        // weights into a fresh map every step) and leaves it right after.
        // Its names cannot clash: state names are `layer.param[.slot]`/`step`.
        let lr = self.spec.optimizer.learning_rate;
        let mut batch_inputs = vec![
            ("x".to_string(), x),
            ("y".to_string(), y),
            ("lr".to_string(), ArrayD::from_elem(IxDyn(&[]), lr)),
        ];
        for (name, shape) in &step.noise {
            let noise = ArrayD::from_shape_simple_fn(IxDyn(shape), || self.rng.random::<f32>());
            batch_inputs.push((name.clone(), noise));
        }
        let names: Vec<String> = batch_inputs.iter().map(|(n, _)| n.clone()).collect();
        self.state.extend(batch_inputs);
        let run = step.exe.run(&self.state);
        for name in &names {
            self.state.remove(name);
        }
        let RunResult { outputs, updates } = run?;
        let logs = self.logs(&outputs);
        // An update can overflow even when the loss it came from is finite.
        let finite = |a: &ArrayD<f32>| a.iter().all(|v| v.is_finite());
        if !logs.loss.is_finite() || !updates.values().all(finite) {
            return Err(Error::NonFinite {
                loss: logs.loss,
                epoch,
                step: index,
            });
        }
        self.state.extend(updates);
        Ok(logs)
    }

    fn logs(&self, outputs: &Tensors) -> Logs {
        Logs {
            loss: outputs["loss"][[]],
            metrics: self
                .spec
                .metrics
                .iter()
                .map(|&(name, _)| (name.to_string(), outputs[name][[]]))
                .collect(),
        }
    }

    /// Trains for `epochs` over `data` in batches (the last may be smaller),
    /// reshuffling every epoch when asked. Stops with an error naming the
    /// epoch and step if the loss becomes NaN or infinite; that step's update
    /// is discarded.
    pub fn fit(
        &mut self,
        data: &Dataset,
        options: &FitOptions,
        callback: &mut dyn Callback,
    ) -> Result<History> {
        Self::check_batch_size(options.batch_size)?;
        let n = self.check_data(&data.x, Some(&data.y))?;
        let (train, validation) = match &options.validation {
            Validation::None => (data.clone(), None),
            Validation::Data(v) => {
                self.check_data(&v.x, Some(&v.y))?;
                (data.clone(), Some(v.as_ref().clone()))
            }
            Validation::Split(fraction) => {
                if !(0.0..1.0).contains(fraction) {
                    return Err(Error::Config(format!(
                        "validation_split must be in [0, 1), got {fraction}"
                    )));
                }
                if *fraction == 0.0 {
                    (data.clone(), None)
                } else {
                    // Keras 3: `floor(n * (1 - split))` in Python floats; the
                    // f32 goes through its decimal form so 0.1 stays 0.1.
                    let f: f64 = fraction.to_string().parse().expect("a float");
                    let keep = (n as f64 * (1.0 - f)).floor() as usize;
                    if keep == 0 || keep == n {
                        return Err(Error::Config(format!(
                            "validation_split={fraction} leaves {keep} of {n} samples for training: \
                             not enough to split into training and validation sets"
                        )));
                    }
                    let (t, v) = data.split_at(keep);
                    (t, Some(v))
                }
            }
        };
        let mut history = History::default();
        let samples = train.len();
        let steps = samples.div_ceil(options.batch_size);
        let first = self.epochs_done + 1;
        let last = self.epochs_done + options.epochs;
        for epoch in first..=last {
            callback.on_epoch_begin(epoch, last, steps);
            let start = Instant::now();
            let mut order: Vec<usize> = (0..samples).collect();
            if options.shuffle {
                order.shuffle(&mut self.rng);
            }
            let mut mean = Mean::default();
            for (step, chunk) in order.chunks(options.batch_size).enumerate() {
                let x = train.x.select(Axis(0), chunk);
                let y = train.y.select(Axis(0), chunk);
                let logs = self.step_checked(x, y, epoch, step + 1)?;
                mean.add(chunk.len(), logs.loss, &logs.metrics);
                callback.on_batch_end(step + 1, &mean.logs());
            }
            let validation = match &validation {
                Some(v) => Some(self.evaluate(v, options.batch_size)?),
                None => None,
            };
            let log = EpochLog {
                epoch,
                train: mean.logs(),
                validation,
                seconds: start.elapsed().as_secs_f64(),
            };
            callback.on_epoch_end(&log);
            history.epochs.push(log);
            self.epochs_done = epoch;
        }
        Ok(history)
    }

    fn executable(&mut self, predict: bool, batch: usize) -> Result<&mut Step> {
        let cache = if predict {
            &mut self.predict
        } else {
            &mut self.eval
        };
        match cache.entry(batch) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let g = if predict {
                    compile::predict_graph(&self.model, batch)?
                } else {
                    compile::eval_graph(&self.model, &self.spec, batch)?
                };
                let exe = self.backend.compile(g)?;
                Ok(e.insert(Step {
                    exe,
                    noise: Vec::new(),
                }))
            }
        }
    }

    /// Loss and metrics over `data`, in batches, without updating anything.
    pub fn evaluate(&mut self, data: &Dataset, batch_size: usize) -> Result<Logs> {
        Self::check_batch_size(batch_size)?;
        let n = self.check_data(&data.x, Some(&data.y))?;
        let mut mean = Mean::default();
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let batch = data.slice(start, end);
            let mut inputs = self.params_only();
            inputs.insert("x".into(), batch.x);
            inputs.insert("y".into(), batch.y);
            let outputs = self
                .executable(false, end - start)?
                .exe
                .run(&inputs)?
                .outputs;
            let logs = self.logs(&outputs);
            mean.add(end - start, logs.loss, &logs.metrics);
        }
        Ok(mean.logs())
    }

    /// The model's outputs for `x`, computed in batches.
    pub fn predict(&mut self, x: &ArrayD<f32>, batch_size: usize) -> Result<ArrayD<f32>> {
        Self::check_batch_size(batch_size)?;
        let n = self.check_data(x, None)?;
        let mut parts = Vec::new();
        for start in (0..n).step_by(batch_size) {
            let end = (start + batch_size).min(n);
            let mut inputs = self.params_only();
            inputs.insert(
                "x".into(),
                x.slice_axis(Axis(0), (start..end).into()).to_owned(),
            );
            let mut out = self
                .executable(true, end - start)?
                .exe
                .run(&inputs)?
                .outputs;
            parts.push(out.remove("y_pred").expect("predict graph output"));
        }
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        Ok(ndarray::concatenate(Axis(0), &views).expect("batches share their trailing shape"))
    }

    /// The trainable parameters (eval and predict graphs take nothing else).
    fn params_only(&self) -> Tensors {
        self.model
            .layers()
            .iter()
            .flat_map(|l| l.params().into_iter().map(move |p| l.param_name(&p)))
            .map(|name| {
                let value = self.state[&name].clone();
                (name, value)
            })
            .collect()
    }
}
