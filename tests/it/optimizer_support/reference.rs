//! The independent reference: each framework's update written out per
//! coordinate in that framework's own arithmetic, without the library's
//! code. Only the optimizer's hyper-parameters are read from [`Optimizer`];
//! none of its graph building or scalar computation is used.
//!
//! - Keras 3 (`keras/src/optimizers/*.py`): the update is `f32` tensor ops
//!   in the order the `ops` calls make them; `1 - self.beta_1` and
//!   `1 - rho` are Python floats (double) rounded once to `f32`;
//!   `beta_1_power` is an `f32` `powf` of the `f32` beta and
//!   `alpha = lr * sqrt(1 - beta_2_power) / (1 - beta_1_power)` is `f32`;
//!   weight decay is `variable - variable * wd * lr`.
//! - PyTorch 2.x (`torch/optim/*.py`, single-tensor path, CPU kernels):
//!   `1 - beta2`, `lr / (1 - beta1 ** step)`, `math.sqrt(1 - beta2 **
//!   step)`, `1 - lr * weight_decay`, Adagrad's `clr` are doubles rounded
//!   once to `f32` at the kernel; `addcmul_` is `self + (value·t1)·t2`,
//!   `addcdiv_` `self + (value·t1)/t2`, `lerp_` `self + w·(end - self)` for
//!   `|w| < 0.5`, else `end - (end - self)·(1 - w)`.
//!
//! Run in `f32` it is the frameworks' arithmetic; run in `f64` it is the
//! same formulas with the same (`f32`) constants in exact-ish arithmetic.

use std::collections::BTreeMap;

use triceratops::keras::optimizers::{
    Convention::{Keras, PyTorch},
    Kind, Optimizer, WeightDecay,
};

use super::{Float, State, W0};

/// The Python float a hyper-parameter was written as: the shortest decimal
/// that round-trips its `f32`.
fn python(x: f32) -> f64 {
    x.to_string().parse().unwrap()
}

/// An `f32` value as `T`.
fn c<T: Float>(x: f32) -> T {
    T::of(x as f64)
}

/// A double rounded once to `f32`, as `T`.
fn rounded<T: Float>(x: f64) -> T {
    T::of(x as f32 as f64)
}

/// The scalars of one step (1-based `t`), as the framework computes them.
struct StepScalars<T> {
    /// The step's learning rate.
    lr: T,
    /// Keras' Adam `alpha`; PyTorch's Adam `step_size`.
    step_size: T,
    /// PyTorch's Adam `bias_correction2_sqrt`.
    root_correction: T,
    /// PyTorch's decoupled `1 - lr·wd`.
    decay_factor: T,
}

fn step_scalars<T: Float>(opt: &Optimizer, t: u64) -> StepScalars<T> {
    let betas = match opt.kind {
        Kind::Adam {
            beta_1,
            beta_2,
            bias_correction: true,
            ..
        } => Some((beta_1, beta_2)),
        _ => None,
    };
    match opt.convention {
        Keras => {
            let lr = opt.learning_rate / (1.0f32 + opt.decay * (t - 1) as f32);
            let alpha = match betas {
                Some((b1, b2)) => {
                    let b1_power = b1.powf(t as f32);
                    let b2_power = b2.powf(t as f32);
                    lr * (1.0f32 - b2_power).sqrt() / (1.0f32 - b1_power)
                }
                None => lr,
            };
            StepScalars {
                lr: c(lr),
                step_size: c(alpha),
                root_correction: T::of(1.0),
                decay_factor: T::of(1.0),
            }
        }
        PyTorch => {
            let lr = python(opt.learning_rate) / (1.0 + (t - 1) as f64 * python(opt.decay));
            let (step_size, root_correction) = match betas {
                Some((b1, b2)) => {
                    let bias_correction1 = 1.0 - python(b1).powf(t as f64);
                    let bias_correction2 = 1.0 - python(b2).powf(t as f64);
                    (lr / bias_correction1, bias_correction2.sqrt())
                }
                None => (lr, 1.0),
            };
            let decay_factor = match opt.weight_decay {
                WeightDecay::Decoupled(wd) => 1.0 - lr * python(wd),
                _ => 1.0,
            };
            StepScalars {
                lr: rounded(lr),
                step_size: rounded(step_size),
                root_correction: rounded(root_correction),
                decay_factor: rounded(decay_factor),
            }
        }
    }
}

/// `1 - x` as a Python expression, rounded once to `f32`.
fn one_minus(x: f32) -> f32 {
    (1.0 - python(x)) as f32
}

/// PyTorch's CPU `start.lerp_(end, w)` with an `f32` scalar weight.
fn lerp<T: Float>(start: T, end: T, w: f32) -> T {
    if w.abs() < 0.5 {
        start + c::<T>(w) * (end - start)
    } else {
        end - (end - start) * c::<T>(1.0f32 - w)
    }
}

/// Slot values of the reference, by slot name (without the `w.` prefix).
struct Slots<T>(BTreeMap<String, Vec<T>>);

impl<T: Float> Slots<T> {
    fn get(&self, slot: &str, i: usize) -> T {
        self.0[&format!("w.{slot}")][i]
    }
    fn set(&mut self, slot: &str, i: usize, v: T) {
        self.0.get_mut(&format!("w.{slot}")).unwrap()[i] = v;
    }
}

/// The slots each framework keeps (names as in Keras' variables and
/// PyTorch's state dict) and their initial values.
fn expected_slots(opt: &Optimizer) -> Vec<(&'static str, f32)> {
    let mut slots = Vec::new();
    match (opt.kind, opt.convention) {
        (Kind::Sgd { momentum, .. }, Keras) if momentum != 0.0 => slots.push(("momentum", 0.0)),
        (Kind::Sgd { momentum, .. }, PyTorch) if momentum != 0.0 => {
            slots.push(("momentum_buffer", 0.0))
        }
        (Kind::Sgd { .. }, _) => {}
        (
            Kind::Adagrad {
                initial_accumulator,
                ..
            },
            c,
        ) => slots.push((
            if c == Keras { "accumulator" } else { "sum" },
            initial_accumulator,
        )),
        (
            Kind::RmsProp {
                momentum, centered, ..
            },
            Keras,
        ) => {
            slots.push(("velocity", 0.0));
            if centered {
                slots.push(("average_gradient", 0.0));
            }
            if momentum > 0.0 {
                slots.push(("momentum", 0.0));
            }
        }
        (
            Kind::RmsProp {
                momentum, centered, ..
            },
            PyTorch,
        ) => {
            slots.push(("square_avg", 0.0));
            if centered {
                slots.push(("grad_avg", 0.0));
            }
            if momentum > 0.0 {
                slots.push(("momentum_buffer", 0.0));
            }
        }
        (Kind::Adam { amsgrad, .. }, Keras) => {
            slots.extend([("momentum", 0.0), ("velocity", 0.0)]);
            if amsgrad {
                slots.push(("velocity_hat", 0.0));
            }
        }
        (Kind::Adam { amsgrad, .. }, PyTorch) => {
            slots.extend([("exp_avg", 0.0), ("exp_avg_sq", 0.0)]);
            if amsgrad {
                slots.push(("max_exp_avg_sq", 0.0));
            }
        }
    }
    slots
}

/// The framework's update of one coordinate; returns the new param.
fn reference_element<T: Float>(
    opt: &Optimizer,
    s: &mut Slots<T>,
    i: usize,
    w: T,
    g: T,
    k: &StepScalars<T>,
    t: u64,
) -> T {
    let lr = k.lr;
    match (opt.kind, opt.convention) {
        // Keras: `assign_sub(variable, gradient * lr)`; PyTorch:
        // `param.add_(grad, alpha=-lr)`.
        (Kind::Sgd { momentum: 0.0, .. }, _) => w - g * lr,
        (Kind::Sgd { momentum, nesterov }, Keras) => {
            let mu = c::<T>(momentum);
            let m = s.get("momentum", i) * mu - g * lr;
            s.set("momentum", i, m);
            if nesterov {
                w + (m * mu - g * lr)
            } else {
                w + m
            }
        }
        (Kind::Sgd { momentum, nesterov }, PyTorch) => {
            let mu = c::<T>(momentum);
            // The first step clones the gradient into the buffer.
            let b = if t == 1 {
                g
            } else {
                s.get("momentum_buffer", i) * mu + g
            };
            s.set("momentum_buffer", i, b);
            let d = if nesterov { g + mu * b } else { b };
            w - lr * d
        }
        (Kind::Adagrad { epsilon, .. }, Keras) => {
            let acc = s.get("accumulator", i) + g * g;
            s.set("accumulator", i, acc);
            w - (lr * g) / (acc + c(epsilon)).sqrt()
        }
        (Kind::Adagrad { epsilon, .. }, PyTorch) => {
            let sum = s.get("sum", i) + g * g;
            s.set("sum", i, sum);
            w - (lr * g) / (sum.sqrt() + c(epsilon))
        }
        (
            Kind::RmsProp {
                rho,
                epsilon,
                momentum,
                centered,
            },
            Keras,
        ) => {
            let (one_minus_rho, rho, eps) = (c::<T>(one_minus(rho)), c::<T>(rho), c::<T>(epsilon));
            let v = rho * s.get("velocity", i) + one_minus_rho * (g * g);
            s.set("velocity", i, v);
            let denom = if centered {
                let a = rho * s.get("average_gradient", i) + one_minus_rho * g;
                s.set("average_gradient", i, a);
                v - a * a + eps
            } else {
                v + eps
            };
            let inc = (lr * g) / denom.sqrt();
            if momentum > 0.0 {
                let m = c::<T>(momentum) * s.get("momentum", i) + inc;
                s.set("momentum", i, m);
                w - m
            } else {
                w - inc
            }
        }
        (
            Kind::RmsProp {
                rho: alpha,
                epsilon,
                momentum,
                centered,
            },
            PyTorch,
        ) => {
            let weight = one_minus(alpha);
            let v = s.get("square_avg", i) * c(alpha) + (c::<T>(weight) * g) * g;
            s.set("square_avg", i, v);
            let vt = if centered {
                let a = lerp(s.get("grad_avg", i), g, weight);
                s.set("grad_avg", i, a);
                v - a * a
            } else {
                v
            };
            let avg = vt.sqrt() + c(epsilon);
            if momentum > 0.0 {
                let b = s.get("momentum_buffer", i) * c(momentum) + g / avg;
                s.set("momentum_buffer", i, b);
                w - lr * b
            } else {
                w - (lr * g) / avg
            }
        }
        (
            Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                ..
            },
            convention,
        ) => {
            let [m_name, v_name, max_name] = match convention {
                Keras => ["momentum", "velocity", "velocity_hat"],
                PyTorch => ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
            };
            let (m, v) = (s.get(m_name, i), s.get(v_name, i));
            let (m, v) = match convention {
                Keras => (
                    m + (g - m) * c(one_minus(beta_1)),
                    v + (g * g - v) * c(one_minus(beta_2)),
                ),
                PyTorch => (
                    lerp(m, g, one_minus(beta_1)),
                    v * c(beta_2) + (c::<T>(one_minus(beta_2)) * g) * g,
                ),
            };
            s.set(m_name, i, m);
            s.set(v_name, i, v);
            // Both keep the running max of the *uncorrected* v.
            let v = if amsgrad {
                let v_max = s.get(max_name, i).max(v);
                s.set(max_name, i, v_max);
                v_max
            } else {
                v
            };
            let root = match convention {
                Keras => v.sqrt(),
                PyTorch => v.sqrt() / k.root_correction,
            };
            w - (m * k.step_size) / (root + c(epsilon))
        }
    }
}

/// The reference trajectory over `grads`, in `T` arithmetic.
pub fn reference<T: Float>(opt: &Optimizer, grads: &[[f64; 4]]) -> Vec<State> {
    let mut s = Slots::<T>(
        expected_slots(opt)
            .into_iter()
            .map(|(name, init)| (format!("w.{name}"), vec![c::<T>(init); 4]))
            .collect(),
    );
    let mut w: Vec<T> = W0.iter().map(|&v| T::of(v)).collect();
    let mut states = Vec::new();
    for (k, grad) in grads.iter().enumerate() {
        let t = k as u64 + 1;
        let scalars = step_scalars::<T>(opt, t);
        for i in 0..4 {
            let mut g = T::of(grad[i]);
            match opt.weight_decay {
                WeightDecay::None => {}
                // PyTorch's `grad.add(param, alpha=wd)`.
                WeightDecay::L2(wd) => g = g + c::<T>(wd) * w[i],
                WeightDecay::Decoupled(wd) => match opt.convention {
                    Keras => w[i] = w[i] - w[i] * c(wd) * scalars.lr,
                    PyTorch => w[i] = w[i] * scalars.decay_factor,
                },
            }
            w[i] = reference_element(opt, &mut s, i, w[i], g, &scalars, t);
        }
        states.push(State {
            w: w.iter().map(|v| v.to()).collect(),
            slots: s
                .0
                .iter()
                .map(|(name, values)| (name.clone(), values.iter().map(|v| v.to()).collect()))
                .collect(),
        });
    }
    states
}
