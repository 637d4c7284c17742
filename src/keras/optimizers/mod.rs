//! Optimizers as graph builders. [`Optimizer::apply`] appends the update of
//! every parameter and slot to the train-step graph as ordinary nodes ending
//! in `update` targets, so the whole step stays one static graph that the
//! passes can fuse and compile.
//!
//! Keras and PyTorch disagree on defaults and on where `epsilon` goes, so
//! every optimizer carries a [`Convention`] and builds exactly that
//! framework's formula (see [`Kind`], and `anchors.md` §6). Defaults:
//!
//! | | Keras 3 | PyTorch |
//! |---|---|---|
//! | SGD | lr 0.01; `v = μv - lr·g; p += v` | lr 0.001; `b = μb + g; p -= lr·b` |
//! | Adagrad | lr 0.001, acc₀ 0.1, eps 1e-7, `sqrt(acc + eps)` | lr 0.01, acc₀ 0, eps 1e-10, `sqrt(acc) + eps` |
//! | RMSprop | lr 0.001, rho 0.9, eps 1e-7, `sqrt(v + eps)` | lr 0.01, alpha 0.99, eps 1e-8, `sqrt(v) + eps` |
//! | Adam | eps 1e-7 on the uncorrected `sqrt(v)` | eps 1e-8 on the bias-corrected `sqrt(v̂)` |
//! | AdamW | weight decay 0.004 | weight decay 0.01 |
//!
//! Every scalar is computed as the framework computes it (see `scalars.rs`):
//!
//! - hyper-parameters the update uses as they are (β, ρ, μ, eps, wd) are
//!   graph constants holding the `f32` fields, which is what both
//!   frameworks' kernels see;
//! - constants derived from hyper-parameters only (`1 - β`, `1 - ρ`) are
//!   Python expressions in both frameworks: computed on the host in double
//!   from the decimal the user wrote ([`decimal`]) and rounded once to `f32`
//!   ([`one_minus`]), then graph constants;
//! - scalars that depend on the step (the decayed learning rate, Keras'
//!   `α = lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ)` with an `f32` `powf`, PyTorch's
//!   `lr/(1-β₁ᵗ)` and `sqrt(1-β₂ᵗ)` in double, PyTorch's `1 - lr·wd`) are
//!   scalar graph inputs ([`StepScalar`]) that the trainer computes on the
//!   host before each step from the step counter in the state
//!   ([`Optimizer::step_values`]). The train step stays one static graph and
//!   a resumed run feeds the same values.
//!
//! The update's own tensor arithmetic follows each framework's operation
//! order (Keras' `ops` calls, PyTorch's CPU kernels: `addcmul`
//! `self + (value·t1)·t2`, `addcdiv` `self + (value·t1)/t2`, `lerp`), so
//! in `f32` the Keras convention matches Keras bit for bit on simple inputs
//! and the PyTorch convention matches PyTorch up to its kernels'
//! vectorization (fused multiply-adds), within 1e-6 relative.

mod adagrad;
mod adam;
mod apply;
mod rmsprop;
mod scalars;
mod sgd;

pub use scalars::{decimal, one_minus, StepScalar};

use crate::ir::Shape;

/// Whose formulas and defaults an optimizer follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Convention {
    /// Keras 3 (`keras/src/optimizers/*.py`).
    #[default]
    Keras,
    /// PyTorch 2.x (`torch/optim/*.py`, single-tensor path).
    PyTorch,
}

/// Weight decay, applied before the optimizer's own update.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum WeightDecay {
    #[default]
    None,
    /// `g <- g + wd·p` on the gradient (PyTorch's `weight_decay=` of SGD,
    /// Adagrad, RMSprop and Adam).
    L2(f32),
    /// `p <- p - lr_t·wd·p` before the update (AdamW in both conventions,
    /// Keras 3's `weight_decay=` on any optimizer). Keras computes it as
    /// `p - p·wd·lr`, PyTorch as `p·(1 - lr·wd)`.
    Decoupled(f32),
}

/// The optimizer family and its own hyper-parameters. `t` is the 1-based
/// step, `lr` the step's (decayed) learning rate, `g` the gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Keras: `v = μ·v - lr·g; p += v` (Nesterov: `p += μ·v - lr·g` with the
    /// new `v`). PyTorch (dampening 0): `b = μ·b + g; p -= lr·b` (Nesterov:
    /// `p -= lr·(g + μ·b)`). No slot when `μ = 0`.
    Sgd { momentum: f32, nesterov: bool },
    /// `acc += g²`, then Keras `p -= lr·g / sqrt(acc + eps)`, PyTorch
    /// `p -= lr·g / (sqrt(acc) + eps)`.
    Adagrad {
        initial_accumulator: f32,
        epsilon: f32,
    },
    /// `v = ρ·v + (1-ρ)·g²` (`rho` is PyTorch's `alpha`); centered also
    /// tracks `a = ρ·a + (1-ρ)·g` and uses `v - a²`. Keras:
    /// `inc = lr·g / sqrt(v [- a²] + eps)`, `m = μ·m + inc; p -= m` (or
    /// `p -= inc` when `μ = 0`). PyTorch: `d = g / (sqrt(v [- a²]) + eps)`,
    /// `b = μ·b + d; p -= lr·b` (or `p -= lr·d`).
    RmsProp {
        rho: f32,
        epsilon: f32,
        momentum: f32,
        centered: bool,
    },
    /// `m = β₁·m + (1-β₁)·g`, `v = β₂·v + (1-β₂)·g²`. Keras:
    /// `p -= lr·sqrt(1-β₂ᵗ)/(1-β₁ᵗ) · m / (sqrt(v) + eps)`; PyTorch:
    /// `p -= lr·m̂ / (sqrt(v̂) + eps)` with `m̂ = m/(1-β₁ᵗ)`, `v̂ = v/(1-β₂ᵗ)`.
    /// AMSGrad (both) replaces `v` by its running max, taken on the
    /// uncorrected `v`. `bias_correction: false` drops the `1 - βᵗ` factors
    /// (for lecture figures). AdamW is this kind with
    /// [`WeightDecay::Decoupled`].
    Adam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
        bias_correction: bool,
    },
}

/// An optimizer: a family, a convention and the hyper-parameters shared by
/// every family.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optimizer {
    pub kind: Kind,
    pub convention: Convention,
    /// The base learning rate; the trainer feeds it as the `lr` graph value.
    pub learning_rate: f32,
    pub weight_decay: WeightDecay,
    /// Keras 2's `decay` (PyTorch Adagrad's `lr_decay`): the step uses
    /// `lr_t = lr / (1 + decay·step)`, `step` counting the steps done before
    /// it, so the first step uses `lr`. `lr_t` replaces `lr` everywhere,
    /// decoupled weight decay included.
    pub decay: f32,
}

/// A slot the optimizer declared as a `state` argument, with its initial value.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotInit {
    /// `<param name>.<slot>`, e.g. `dense.kernel.momentum`.
    pub name: String,
    pub shape: Shape,
    /// Every element starts at this value.
    pub value: f32,
}

impl Optimizer {
    fn new(kind: Kind, convention: Convention, learning_rate: f32) -> Optimizer {
        Optimizer {
            kind,
            convention,
            learning_rate,
            weight_decay: WeightDecay::None,
            decay: 0.0,
        }
    }

    /// Plain SGD: Keras lr 0.01, PyTorch lr 0.001 (PyTorch 2.x default).
    pub fn sgd(c: Convention) -> Optimizer {
        let lr = match c {
            Convention::Keras => 0.01,
            Convention::PyTorch => 0.001,
        };
        let kind = Kind::Sgd {
            momentum: 0.0,
            nesterov: false,
        };
        Optimizer::new(kind, c, lr)
    }

    /// SGD with (heavy-ball) momentum and the convention's learning rate.
    pub fn momentum(c: Convention, momentum: f32) -> Optimizer {
        Optimizer::sgd(c).with_momentum(momentum)
    }

    /// SGD with Nesterov momentum and the convention's learning rate.
    pub fn nesterov(c: Convention, momentum: f32) -> Optimizer {
        Optimizer::momentum(c, momentum).with_nesterov(true)
    }

    /// Keras lr 0.001, accumulator 0.1, eps 1e-7; PyTorch lr 0.01,
    /// accumulator 0, eps 1e-10.
    pub fn adagrad(c: Convention) -> Optimizer {
        let (lr, initial_accumulator, epsilon) = match c {
            Convention::Keras => (0.001, 0.1, 1e-7),
            Convention::PyTorch => (0.01, 0.0, 1e-10),
        };
        let kind = Kind::Adagrad {
            initial_accumulator,
            epsilon,
        };
        Optimizer::new(kind, c, lr)
    }

    /// Keras lr 0.001, rho 0.9, eps 1e-7; PyTorch lr 0.01, alpha 0.99,
    /// eps 1e-8. Both: momentum 0, not centered.
    pub fn rmsprop(c: Convention) -> Optimizer {
        let (lr, rho, epsilon) = match c {
            Convention::Keras => (0.001, 0.9, 1e-7),
            Convention::PyTorch => (0.01, 0.99, 1e-8),
        };
        let kind = Kind::RmsProp {
            rho,
            epsilon,
            momentum: 0.0,
            centered: false,
        };
        Optimizer::new(kind, c, lr)
    }

    /// lr 0.001, betas 0.9 / 0.999; eps Keras 1e-7, PyTorch 1e-8.
    pub fn adam(c: Convention) -> Optimizer {
        let epsilon = match c {
            Convention::Keras => 1e-7,
            Convention::PyTorch => 1e-8,
        };
        let kind = Kind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
            amsgrad: false,
            bias_correction: true,
        };
        Optimizer::new(kind, c, 0.001)
    }

    /// Adam with decoupled weight decay: Keras 0.004, PyTorch 0.01.
    pub fn adamw(c: Convention) -> Optimizer {
        let wd = match c {
            Convention::Keras => 0.004,
            Convention::PyTorch => 0.01,
        };
        Optimizer::adam(c).with_weight_decay(WeightDecay::Decoupled(wd))
    }

    /// The optimizer called `name` (`sgd`, `momentum` (0.9), `nesterov`
    /// (0.9), `adagrad`, `rmsprop`, `adam`, `adamw`; case-insensitive) with
    /// the convention's defaults.
    pub fn from_name(name: &str, c: Convention) -> Option<Optimizer> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sgd" => Optimizer::sgd(c),
            "momentum" => Optimizer::momentum(c, 0.9),
            "nesterov" => Optimizer::nesterov(c, 0.9),
            "adagrad" => Optimizer::adagrad(c),
            "rmsprop" => Optimizer::rmsprop(c),
            "adam" => Optimizer::adam(c),
            "adamw" => Optimizer::adamw(c),
            _ => return None,
        })
    }

    /// The name `from_name` gives back this optimizer's family under.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Sgd { momentum: 0.0, .. } => "sgd",
            Kind::Sgd { nesterov: true, .. } => "nesterov",
            Kind::Sgd { .. } => "momentum",
            Kind::Adagrad { .. } => "adagrad",
            Kind::RmsProp { .. } => "rmsprop",
            Kind::Adam { .. } => match self.weight_decay {
                WeightDecay::Decoupled(_) => "adamw",
                _ => "adam",
            },
        }
    }

    pub fn with_learning_rate(self, learning_rate: f32) -> Optimizer {
        Optimizer {
            learning_rate,
            ..self
        }
    }

    pub fn with_weight_decay(self, weight_decay: WeightDecay) -> Optimizer {
        Optimizer {
            weight_decay,
            ..self
        }
    }

    pub fn with_decay(self, decay: f32) -> Optimizer {
        Optimizer { decay, ..self }
    }

    /// Sets the momentum of SGD or RMSprop.
    ///
    /// # Panics
    /// On Adagrad and Adam, which have no momentum.
    pub fn with_momentum(mut self, value: f32) -> Optimizer {
        match &mut self.kind {
            Kind::Sgd { momentum, .. } | Kind::RmsProp { momentum, .. } => *momentum = value,
            _ => self.misuse("momentum"),
        }
        self
    }

    /// Sets the epsilon of Adagrad, RMSprop or Adam.
    ///
    /// # Panics
    /// On SGD, which has no epsilon.
    pub fn with_epsilon(mut self, value: f32) -> Optimizer {
        match &mut self.kind {
            Kind::Adagrad { epsilon, .. }
            | Kind::RmsProp { epsilon, .. }
            | Kind::Adam { epsilon, .. } => *epsilon = value,
            Kind::Sgd { .. } => self.misuse("epsilon"),
        }
        self
    }

    /// Sets Adam's `beta_1` and `beta_2` (PyTorch's `betas`).
    ///
    /// # Panics
    /// Unless the optimizer is Adam.
    pub fn with_betas(mut self, b1: f32, b2: f32) -> Optimizer {
        match &mut self.kind {
            Kind::Adam { beta_1, beta_2, .. } => (*beta_1, *beta_2) = (b1, b2),
            _ => self.misuse("betas"),
        }
        self
    }

    /// Sets RMSprop's `rho` (PyTorch's `alpha`).
    ///
    /// # Panics
    /// Unless the optimizer is RMSprop.
    pub fn with_rho(mut self, value: f32) -> Optimizer {
        match &mut self.kind {
            Kind::RmsProp { rho, .. } => *rho = value,
            _ => self.misuse("rho"),
        }
        self
    }

    /// # Panics
    /// Unless the optimizer is SGD.
    pub fn with_nesterov(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            Kind::Sgd { nesterov, .. } => *nesterov = value,
            _ => self.misuse("nesterov"),
        }
        self
    }

    /// # Panics
    /// Unless the optimizer is RMSprop.
    pub fn with_centered(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            Kind::RmsProp { centered, .. } => *centered = value,
            _ => self.misuse("centered"),
        }
        self
    }

    /// # Panics
    /// Unless the optimizer is Adam.
    pub fn with_amsgrad(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            Kind::Adam { amsgrad, .. } => *amsgrad = value,
            _ => self.misuse("amsgrad"),
        }
        self
    }

    /// # Panics
    /// Unless the optimizer is Adam.
    pub fn with_bias_correction(mut self, value: bool) -> Optimizer {
        match &mut self.kind {
            Kind::Adam {
                bias_correction, ..
            } => *bias_correction = value,
            _ => self.misuse("bias_correction"),
        }
        self
    }

    fn misuse(&self, setting: &str) -> ! {
        panic!("{} has no `{setting}` setting", self.name())
    }
}
