//! The independent reference: the published update formulas (Keras 3
//! sources, PyTorch 2.x sources) written out per coordinate in plain f64,
//! without the library's code. Only the optimizer's hyper-parameters are
//! read from [`Optimizer`]; none of its graph building is used.

use std::collections::BTreeMap;

use triceratops::keras::optimizers::{
    Convention::{Keras, PyTorch},
    Kind, Optimizer, WeightDecay,
};

use super::{State, W0};

/// Slot values of the reference, by slot name (without the `w.` prefix).
struct Slots(BTreeMap<String, Vec<f64>>);

impl Slots {
    fn get(&self, slot: &str, i: usize) -> f64 {
        self.0[&format!("w.{slot}")][i]
    }
    fn set(&mut self, slot: &str, i: usize, v: f64) {
        self.0.get_mut(&format!("w.{slot}")).unwrap()[i] = v;
    }
}

/// The slots each framework keeps (names as in Keras' variables and
/// PyTorch's state dict) and their initial values.
fn expected_slots(opt: &Optimizer) -> Vec<(&'static str, f64)> {
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
            initial_accumulator as f64,
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

/// The published update of one coordinate; returns the new param.
fn reference_element(
    opt: &Optimizer,
    s: &mut Slots,
    i: usize,
    mut w: f64,
    g: f64,
    lr: f64,
    t: i32,
) -> f64 {
    let f = |x: f32| x as f64;
    match (opt.kind, opt.convention) {
        (Kind::Sgd { momentum: 0.0, .. }, _) => w -= lr * g,
        (Kind::Sgd { momentum, nesterov }, Keras) => {
            let mu = f(momentum);
            let v = mu * s.get("momentum", i) - lr * g;
            s.set("momentum", i, v);
            w += if nesterov { mu * v - lr * g } else { v };
        }
        (Kind::Sgd { momentum, nesterov }, PyTorch) => {
            let mu = f(momentum);
            // PyTorch's first step sets the buffer to the gradient itself.
            let b = if t == 1 {
                g
            } else {
                mu * s.get("momentum_buffer", i) + g
            };
            s.set("momentum_buffer", i, b);
            let d = if nesterov { g + mu * b } else { b };
            w -= lr * d;
        }
        (Kind::Adagrad { epsilon, .. }, Keras) => {
            let acc = s.get("accumulator", i) + g * g;
            s.set("accumulator", i, acc);
            w -= lr * g / (acc + f(epsilon)).sqrt();
        }
        (Kind::Adagrad { epsilon, .. }, PyTorch) => {
            let sum = s.get("sum", i) + g * g;
            s.set("sum", i, sum);
            w -= lr * g / (sum.sqrt() + f(epsilon));
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
            let (rho, eps, mu) = (f(rho), f(epsilon), f(momentum));
            let v = rho * s.get("velocity", i) + (1.0 - rho) * g * g;
            s.set("velocity", i, v);
            let denom = if centered {
                let a = rho * s.get("average_gradient", i) + (1.0 - rho) * g;
                s.set("average_gradient", i, a);
                v - a * a + eps
            } else {
                v + eps
            };
            let inc = lr * g / denom.sqrt();
            if mu > 0.0 {
                let m = mu * s.get("momentum", i) + inc;
                s.set("momentum", i, m);
                w -= m;
            } else {
                w -= inc;
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
            let (alpha, eps, mu) = (f(alpha), f(epsilon), f(momentum));
            let v = alpha * s.get("square_avg", i) + (1.0 - alpha) * g * g;
            s.set("square_avg", i, v);
            let vt = if centered {
                let ga = alpha * s.get("grad_avg", i) + (1.0 - alpha) * g;
                s.set("grad_avg", i, ga);
                v - ga * ga
            } else {
                v
            };
            if mu > 0.0 {
                let b = mu * s.get("momentum_buffer", i) + g / (vt.sqrt() + eps);
                s.set("momentum_buffer", i, b);
                w -= lr * b;
            } else {
                w -= lr * g / (vt.sqrt() + eps);
            }
        }
        (
            Kind::Adam {
                beta_1,
                beta_2,
                epsilon,
                amsgrad,
                bias_correction,
            },
            convention,
        ) => {
            let (b1, b2, eps) = (f(beta_1), f(beta_2), f(epsilon));
            let [m_name, v_name, max_name] = match convention {
                Keras => ["momentum", "velocity", "velocity_hat"],
                PyTorch => ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
            };
            let m = b1 * s.get(m_name, i) + (1.0 - b1) * g;
            let v = b2 * s.get(v_name, i) + (1.0 - b2) * g * g;
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
            let (c1, c2) = if bias_correction {
                (1.0 - b1.powi(t), 1.0 - b2.powi(t))
            } else {
                (1.0, 1.0)
            };
            match convention {
                Keras => {
                    let alpha = lr * c2.sqrt() / c1;
                    w -= alpha * m / (v.sqrt() + eps);
                }
                PyTorch => {
                    let (m_hat, v_hat) = (m / c1, v / c2);
                    w -= lr * m_hat / (v_hat.sqrt() + eps);
                }
            }
        }
    }
    w
}

/// The reference trajectory, in plain f64.
pub fn reference(opt: &Optimizer, grads: &[[f64; 4]]) -> Vec<State> {
    let mut s = Slots(
        expected_slots(opt)
            .into_iter()
            .map(|(name, init)| (format!("w.{name}"), vec![init; 4]))
            .collect(),
    );
    let mut w = W0.to_vec();
    let mut states = Vec::new();
    for (k, grad) in grads.iter().enumerate() {
        let lr = opt.learning_rate as f64 / (1.0 + opt.decay as f64 * k as f64);
        let t = k as i32 + 1;
        for i in 0..4 {
            let mut g = grad[i];
            match opt.weight_decay {
                WeightDecay::None => {}
                WeightDecay::L2(wd) => g += wd as f64 * w[i],
                WeightDecay::Decoupled(wd) => w[i] -= lr * wd as f64 * w[i],
            }
            w[i] = reference_element(opt, &mut s, i, w[i], g, lr, t);
        }
        states.push(State {
            w: w.clone(),
            slots: s.0.clone(),
        });
    }
    states
}
