//! Optimizer golden tests: every optimizer × convention is built as IR, run
//! for several steps on the reference interpreter (f64 and f32) with a fixed
//! gradient sequence, and compared step by step against an independent
//! plain-f64 implementation of the published formulas (Keras 3 sources,
//! PyTorch 2.x sources), written here without the library's code.

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::{evaluate, Inputs, Scalar};
use triceratops::ir::{verify, Graph, IrError, Shape};
use triceratops::keras::optimizers::{
    Convention::{self, Keras, PyTorch},
    Kind, Optimizer, SlotInit, WeightDecay,
};

const W0: [f64; 4] = [1.0, -0.5, 0.25, 2.0];

/// Mixed signs, a tiny coordinate (±1e-4) and a large one (up to 55) whose
/// gradient changes sign and also gets small (step 4).
const GRADS: [[f64; 4]; 6] = [
    [0.5, -1.2, 1e-4, 30.0],
    [0.3, 0.8, -2e-4, -25.0],
    [-0.7, 1.5, 1e-4, 40.0],
    [0.05, -0.4, 3e-4, -1e-3],
    [-1.1, 2.2, -1e-4, 12.0],
    [0.9, -0.1, 2e-4, 55.0],
];

/// The param and every slot after a step; slots keyed by full name.
#[derive(Clone, Debug)]
struct State {
    w: Vec<f64>,
    slots: BTreeMap<String, Vec<f64>>,
}

/// The interpreter's element types, with conversions to and from f64.
trait Float: Scalar {
    fn of(v: f64) -> Self;
    fn to(self) -> f64;
}

impl Float for f32 {
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn to(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    fn of(v: f64) -> f64 {
        v
    }
    fn to(self) -> f64 {
        self
    }
}

/// `param %w: f32[4]`, `input %g`, `input %lr`, `state %step` with
/// `update step <- step + 1`, and the optimizer's updates.
fn build(opt: &Optimizer) -> (Graph, Vec<SlotInit>) {
    let mut g = Graph::new("train_step");
    let w = g.param("w", [4]).unwrap();
    let grad = g.input("g", [4]).unwrap();
    let lr = g.input("lr", Shape::scalar()).unwrap();
    let step = g.state("step", Shape::scalar()).unwrap();
    let slots = opt.apply(&mut g, lr, step, &[(w, grad)]).unwrap();
    let one = g.scalar(1.0).unwrap();
    let next = g.add(step, one).unwrap();
    g.add_update(step, next).unwrap();
    verify(&g).unwrap();
    (g, slots)
}

fn array<T: Float>(shape: &[usize], data: &[f64]) -> ArrayD<T> {
    let data = data.iter().map(|&v| T::of(v)).collect();
    ArrayD::from_shape_vec(IxDyn(shape), data).unwrap()
}

fn to_vec<T: Float>(a: &ArrayD<T>) -> Vec<f64> {
    a.iter().map(|&v| v.to()).collect()
}

/// Runs the optimizer's graph for `grads.len()` steps, carrying the param,
/// the slots and the step counter between runs through the updates.
fn run<T: Float>(opt: &Optimizer, grads: &[[f64; 4]]) -> Vec<State> {
    let (g, inits) = build(opt);
    let mut inputs: Inputs<T> = Inputs::new();
    inputs.insert("w".into(), array(&[4], &W0));
    inputs.insert("lr".into(), array(&[], &[opt.learning_rate as f64]));
    inputs.insert("step".into(), array(&[], &[0.0]));
    for s in &inits {
        let init = vec![s.value as f64; s.shape.numel()];
        inputs.insert(s.name.clone(), array(s.shape.dims(), &init));
    }
    let mut states = Vec::new();
    for grad in grads {
        inputs.insert("g".into(), array(&[4], grad));
        let eval = evaluate(&g, &inputs).unwrap();
        let updated: Vec<(String, ArrayD<T>)> = eval
            .updates()
            .map(|(name, a)| (name.to_string(), a.clone()))
            .collect();
        assert_eq!(updated.len(), 2 + inits.len(), "w, step and every slot");
        inputs.extend(updated);
        assert_eq!(inputs["step"][[]].to(), (states.len() + 1) as f64);
        states.push(State {
            w: to_vec(&inputs["w"]),
            slots: inits
                .iter()
                .map(|s| (s.name.clone(), to_vec(&inputs[&s.name])))
                .collect(),
        });
    }
    states
}

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
fn reference(opt: &Optimizer, grads: &[[f64; 4]]) -> Vec<State> {
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

/// Every step's values within `tol` relative to the largest magnitude that
/// coordinate reaches over the run (so a slot crossing zero is judged on
/// its own scale, not on a cancelled near-zero value).
fn assert_close(what: &str, actual: &[Vec<f64>], expected: &[Vec<f64>], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for i in 0..expected[0].len() {
        let scale = expected.iter().map(|e| e[i].abs()).fold(1e-300, f64::max);
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            let err = (a[i] - e[i]).abs() / scale;
            assert!(
                err <= tol,
                "{what}[{i}] at step {}: got {}, expected {} (relative error {err:.2e})\n\
                 got {a:?}\nexpected {e:?}",
                k + 1,
                a[i],
                e[i]
            );
        }
    }
}

fn assert_trajectory(label: &str, actual: &[State], expected: &[State], tol: f64) {
    let ws = |states: &[State]| states.iter().map(|s| s.w.clone()).collect::<Vec<_>>();
    assert_close(&format!("{label} w"), &ws(actual), &ws(expected), tol);
    let names: Vec<&String> = expected[0].slots.keys().collect();
    assert_eq!(actual[0].slots.keys().collect::<Vec<_>>(), names, "{label}");
    for name in names {
        let of = |states: &[State]| {
            states
                .iter()
                .map(|s| s.slots[name].clone())
                .collect::<Vec<_>>()
        };
        assert_close(&format!("{label} {name}"), &of(actual), &of(expected), tol);
    }
}

/// The optimizer's f64 and f32 runs against the reference, step by step.
fn check(opt: Optimizer) {
    let expected = reference(&opt, &GRADS);
    let moved = expected
        .last()
        .unwrap()
        .w
        .iter()
        .zip(W0)
        .all(|(w, w0)| *w != w0);
    assert!(moved, "the reference must move every coordinate");
    let label = format!("{opt:?}");
    assert_trajectory(
        &format!("f64 {label}"),
        &run::<f64>(&opt, &GRADS),
        &expected,
        1e-12,
    );
    assert_trajectory(
        &format!("f32 {label}"),
        &run::<f32>(&opt, &GRADS),
        &expected,
        1e-5,
    );
}

macro_rules! golden {
    ($($name:ident: $opt:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check($opt);
            }
        )*
    };
}

golden! {
    keras_sgd: Optimizer::sgd(Keras);
    pytorch_sgd: Optimizer::sgd(PyTorch);
    keras_momentum: Optimizer::momentum(Keras, 0.9);
    pytorch_momentum: Optimizer::momentum(PyTorch, 0.9);
    keras_nesterov: Optimizer::nesterov(Keras, 0.8);
    pytorch_nesterov: Optimizer::nesterov(PyTorch, 0.8);
    keras_adagrad: Optimizer::adagrad(Keras);
    pytorch_adagrad: Optimizer::adagrad(PyTorch);
    keras_rmsprop: Optimizer::rmsprop(Keras);
    pytorch_rmsprop: Optimizer::rmsprop(PyTorch);
    keras_rmsprop_momentum: Optimizer::rmsprop(Keras).with_momentum(0.9);
    pytorch_rmsprop_momentum: Optimizer::rmsprop(PyTorch).with_momentum(0.9);
    keras_rmsprop_centered: Optimizer::rmsprop(Keras).with_centered(true);
    pytorch_rmsprop_centered: Optimizer::rmsprop(PyTorch).with_centered(true);
    keras_rmsprop_centered_momentum:
        Optimizer::rmsprop(Keras).with_centered(true).with_momentum(0.5);
    pytorch_rmsprop_centered_momentum:
        Optimizer::rmsprop(PyTorch).with_centered(true).with_momentum(0.5);
    keras_adam: Optimizer::adam(Keras);
    pytorch_adam: Optimizer::adam(PyTorch);
    keras_amsgrad: Optimizer::adam(Keras).with_amsgrad(true);
    pytorch_amsgrad: Optimizer::adam(PyTorch).with_amsgrad(true);
    keras_adam_without_bias_correction: Optimizer::adam(Keras).with_bias_correction(false);
    pytorch_adam_without_bias_correction: Optimizer::adam(PyTorch).with_bias_correction(false);
    keras_adamw: Optimizer::adamw(Keras);
    pytorch_adamw: Optimizer::adamw(PyTorch);
    keras_sgd_l2: Optimizer::sgd(Keras).with_weight_decay(WeightDecay::L2(0.05));
    pytorch_sgd_l2: Optimizer::momentum(PyTorch, 0.9).with_weight_decay(WeightDecay::L2(0.05));
    keras_adam_l2: Optimizer::adam(Keras).with_weight_decay(WeightDecay::L2(0.01));
    pytorch_adam_l2: Optimizer::adam(PyTorch).with_weight_decay(WeightDecay::L2(0.01));
    // Keras 3's `weight_decay=` works on every optimizer, decoupled.
    keras_sgd_decoupled: Optimizer::momentum(Keras, 0.9)
        .with_weight_decay(WeightDecay::Decoupled(0.1));
    keras_adam_decay: Optimizer::adam(Keras).with_decay(0.1);
    pytorch_adam_decay: Optimizer::adam(PyTorch).with_decay(0.1);
    // PyTorch Adagrad's `lr_decay`.
    pytorch_adagrad_lr_decay: Optimizer::adagrad(PyTorch).with_decay(0.5);
    // lr_t also scales decoupled weight decay.
    pytorch_adamw_decay: Optimizer::adamw(PyTorch).with_learning_rate(0.01).with_decay(0.3);
}

#[test]
fn keras_defaults() {
    let sgd = Optimizer::sgd(Keras);
    assert_eq!(sgd.learning_rate, 0.01);
    assert_eq!(
        sgd.kind,
        Kind::Sgd {
            momentum: 0.0,
            nesterov: false
        }
    );
    assert_eq!(sgd.weight_decay, WeightDecay::None);
    assert_eq!(sgd.decay, 0.0);
    assert_eq!(sgd.convention, Convention::default());

    let momentum = Optimizer::momentum(Keras, 0.9);
    assert_eq!(momentum.learning_rate, 0.01);
    assert_eq!(
        momentum.kind,
        Kind::Sgd {
            momentum: 0.9,
            nesterov: false
        }
    );

    let adagrad = Optimizer::adagrad(Keras);
    assert_eq!(adagrad.learning_rate, 0.001);
    assert_eq!(
        adagrad.kind,
        Kind::Adagrad {
            initial_accumulator: 0.1,
            epsilon: 1e-7
        }
    );

    let rmsprop = Optimizer::rmsprop(Keras);
    assert_eq!(rmsprop.learning_rate, 0.001);
    assert_eq!(
        rmsprop.kind,
        Kind::RmsProp {
            rho: 0.9,
            epsilon: 1e-7,
            momentum: 0.0,
            centered: false
        }
    );

    let adam = Optimizer::adam(Keras);
    assert_eq!(adam.learning_rate, 0.001);
    assert_eq!(adam.weight_decay, WeightDecay::None);
    assert_eq!(
        adam.kind,
        Kind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            bias_correction: true
        }
    );

    let adamw = Optimizer::adamw(Keras);
    assert_eq!(adamw.learning_rate, 0.001);
    assert_eq!(adamw.kind, adam.kind);
    assert_eq!(adamw.weight_decay, WeightDecay::Decoupled(0.004));
}

#[test]
fn pytorch_defaults() {
    let sgd = Optimizer::sgd(PyTorch);
    assert_eq!(sgd.learning_rate, 0.001);
    assert_eq!(
        sgd.kind,
        Kind::Sgd {
            momentum: 0.0,
            nesterov: false
        }
    );
    assert_eq!(sgd.weight_decay, WeightDecay::None);
    assert_eq!(sgd.decay, 0.0);

    let nesterov = Optimizer::nesterov(PyTorch, 0.9);
    assert_eq!(nesterov.learning_rate, 0.001);
    assert_eq!(
        nesterov.kind,
        Kind::Sgd {
            momentum: 0.9,
            nesterov: true
        }
    );

    let adagrad = Optimizer::adagrad(PyTorch);
    assert_eq!(adagrad.learning_rate, 0.01);
    assert_eq!(
        adagrad.kind,
        Kind::Adagrad {
            initial_accumulator: 0.0,
            epsilon: 1e-10
        }
    );

    let rmsprop = Optimizer::rmsprop(PyTorch);
    assert_eq!(rmsprop.learning_rate, 0.01);
    assert_eq!(
        rmsprop.kind,
        Kind::RmsProp {
            rho: 0.99,
            epsilon: 1e-8,
            momentum: 0.0,
            centered: false
        }
    );

    let adam = Optimizer::adam(PyTorch);
    assert_eq!(adam.learning_rate, 0.001);
    assert_eq!(
        adam.kind,
        Kind::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            amsgrad: false,
            bias_correction: true
        }
    );

    let adamw = Optimizer::adamw(PyTorch);
    assert_eq!(adamw.learning_rate, 0.001);
    assert_eq!(adamw.kind, adam.kind);
    assert_eq!(adamw.weight_decay, WeightDecay::Decoupled(0.01));
}

#[test]
fn names_round_trip() {
    for c in [Keras, PyTorch] {
        for name in [
            "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
        ] {
            let opt = Optimizer::from_name(name, c).unwrap();
            assert_eq!(opt.name(), name);
            assert_eq!(opt.convention, c);
        }
        assert_eq!(
            Optimizer::from_name("Adam", c),
            Some(Optimizer::adam(c)),
            "case-insensitive"
        );
        assert_eq!(Optimizer::from_name("lbfgs", c), None);
    }
    assert_eq!(
        Optimizer::from_name("momentum", Keras),
        Some(Optimizer::momentum(Keras, 0.9))
    );
}

#[test]
fn slots_are_named_after_the_param_and_initialized() {
    let cases = [
        (Optimizer::sgd(Keras), vec![]),
        (Optimizer::sgd(PyTorch), vec![]),
        (Optimizer::momentum(Keras, 0.9), vec![("momentum", 0.0)]),
        (
            Optimizer::momentum(PyTorch, 0.9),
            vec![("momentum_buffer", 0.0)],
        ),
        (Optimizer::adagrad(Keras), vec![("accumulator", 0.1)]),
        (Optimizer::adagrad(PyTorch), vec![("sum", 0.0)]),
        (
            Optimizer::rmsprop(Keras)
                .with_centered(true)
                .with_momentum(0.9),
            vec![
                ("velocity", 0.0),
                ("average_gradient", 0.0),
                ("momentum", 0.0),
            ],
        ),
        (
            Optimizer::rmsprop(PyTorch)
                .with_centered(true)
                .with_momentum(0.9),
            vec![
                ("square_avg", 0.0),
                ("grad_avg", 0.0),
                ("momentum_buffer", 0.0),
            ],
        ),
        (
            Optimizer::adam(Keras).with_amsgrad(true),
            vec![("momentum", 0.0), ("velocity", 0.0), ("velocity_hat", 0.0)],
        ),
        (
            Optimizer::adamw(PyTorch).with_amsgrad(true),
            vec![
                ("exp_avg", 0.0),
                ("exp_avg_sq", 0.0),
                ("max_exp_avg_sq", 0.0),
            ],
        ),
    ];
    for (opt, expected) in cases {
        let mut g = Graph::new("step");
        let kernel = g.param("dense.kernel", [3, 2]).unwrap();
        let bias = g.param("dense.bias", [2]).unwrap();
        let dk = g.input("d_kernel", [3, 2]).unwrap();
        let db = g.input("d_bias", [2]).unwrap();
        let lr = g.input("lr", Shape::scalar()).unwrap();
        let step = g.state("step", Shape::scalar()).unwrap();
        let slots = opt
            .apply(&mut g, lr, step, &[(kernel, dk), (bias, db)])
            .unwrap();
        verify(&g).unwrap();
        let mut want = Vec::new();
        for (param, shape) in [("dense.kernel", vec![3, 2]), ("dense.bias", vec![2])] {
            for &(slot, value) in &expected {
                want.push(SlotInit {
                    name: format!("{param}.{slot}"),
                    shape: Shape::new(shape.clone()),
                    value,
                });
            }
        }
        assert_eq!(slots, want, "{opt:?}");
        // Each slot is a state argument of the graph, updated once; the
        // params are updated too (the step is left to the caller).
        for s in &slots {
            let id = g.lookup(&s.name).unwrap();
            assert_eq!(g.shape(id), &s.shape);
            assert!(g.updates().iter().any(|u| u.target == id), "{}", s.name);
        }
        let targets: Vec<&str> = g.updates().iter().map(|u| g.value_name(u.target)).collect();
        assert!(targets.contains(&"dense.kernel") && targets.contains(&"dense.bias"));
        assert!(!targets.contains(&"step"));
        assert_eq!(targets.len(), 2 + slots.len());
    }
}

/// Same hyper-parameters in both conventions, so only the formulas differ:
/// on a tiny gradient, eps inside vs outside the square root (Adagrad,
/// RMSprop) or on the uncorrected vs corrected root (Adam) changes the
/// steps measurably, while on a large gradient the two agree.
#[test]
fn keras_and_pytorch_differ_where_epsilon_matters() {
    let grads: Vec<[f64; 4]> = (0..5)
        .map(|k| {
            let s = 1.0 + 0.5 * k as f64;
            [1e-4 * s, -1e-5 * s, 30.0 / s, -2.0 * s]
        })
        .collect();
    let adagrad = |c| Optimizer {
        kind: Kind::Adagrad {
            initial_accumulator: 0.0,
            epsilon: 1e-7,
        },
        ..Optimizer::adagrad(c).with_learning_rate(0.01)
    };
    let rmsprop = |c| Optimizer {
        kind: Kind::RmsProp {
            rho: 0.9,
            epsilon: 1e-7,
            momentum: 0.0,
            centered: false,
        },
        ..Optimizer::rmsprop(c).with_learning_rate(0.001)
    };
    let adam = |c| Optimizer::adam(c).with_epsilon(1e-7);
    let families: [(&str, &dyn Fn(Convention) -> Optimizer); 3] = [
        ("adagrad", &adagrad),
        ("rmsprop", &rmsprop),
        ("adam", &adam),
    ];
    for (name, make) in families {
        let (keras, pytorch) = (make(Keras), make(PyTorch));
        assert_eq!(keras.kind, pytorch.kind, "{name}: same hyper-parameters");
        assert_eq!(keras.learning_rate, pytorch.learning_rate);
        let k = run::<f64>(&keras, &grads);
        let p = run::<f64>(&pytorch, &grads);
        for (step, (k, p)) in k.iter().zip(&p).enumerate() {
            let moved = |w: &[f64], i: usize| w[i] - W0[i];
            let rel = |i: usize| (moved(&k.w, i) - moved(&p.w, i)).abs() / moved(&p.w, i).abs();
            for tiny in [0, 1] {
                assert!(
                    rel(tiny) > 0.01,
                    "{name} step {}: tiny coordinate {tiny} moved {} (Keras) vs {} (PyTorch)",
                    step + 1,
                    moved(&k.w, tiny),
                    moved(&p.w, tiny)
                );
            }
            for large in [2, 3] {
                assert!(
                    rel(large) < 1e-4,
                    "{name} step {}: {}",
                    step + 1,
                    rel(large)
                );
            }
        }
    }
}

#[test]
fn apply_rejects_mismatched_operands() {
    let opt = Optimizer::adam(Keras);
    let mut g = Graph::new("bad");
    let w = g.param("w", [4]).unwrap();
    let x = g.input("x", [4]).unwrap();
    let short = g.input("short", [3]).unwrap();
    let lr = g.input("lr", Shape::scalar()).unwrap();
    let lrs = g.input("lrs", [2]).unwrap();
    let step = g.state("step", Shape::scalar()).unwrap();
    let err = opt.apply(&mut g, lr, step, &[(w, short)]).unwrap_err();
    assert!(matches!(err, IrError::Type { .. }), "{err}");
    let err = opt.apply(&mut g, lrs, step, &[(w, x)]).unwrap_err();
    assert!(err.to_string().contains("`lr` must be a scalar"), "{err}");
    let err = opt.apply(&mut g, lr, step, &[(x, w)]).unwrap_err();
    assert!(err.to_string().contains("%x is not a param"), "{err}");
    // Nothing was added by the rejected calls.
    assert_eq!(g.len(), 6);
    assert!(g.updates().is_empty());
}

#[test]
#[should_panic(expected = "adam has no `momentum` setting")]
fn setters_refuse_foreign_settings() {
    let _ = Optimizer::adam(Keras).with_momentum(0.9);
}
