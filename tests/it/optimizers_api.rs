//! The optimizers' public surface beyond the golden trajectories: each
//! convention's default hyper-parameters, names, the slots `apply` creates
//! (named as in Keras' variables and PyTorch's state dict), where the Keras
//! and PyTorch formulas measurably differ (epsilon placement), and rejected
//! misuse.

use crate::optimizer_support::{run, W0};
use triceratops::ir::{verify, Graph, IrError, Shape};
use triceratops::keras::optimizers::{
    Convention::{self, Keras, PyTorch},
    Kind, Optimizer, SlotInit, WeightDecay,
};

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
        let scalars = opt.declare_step_inputs(&mut g).unwrap();
        let slots = opt
            .apply(&mut g, &scalars, &[(kernel, dk), (bias, db)])
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
    let alpha = g.input("alpha", Shape::scalar()).unwrap();
    let alphas = g.input("alphas", [2]).unwrap();
    let err = opt.apply(&mut g, &[alpha], &[(w, short)]).unwrap_err();
    assert!(matches!(err, IrError::Type { .. }), "{err}");
    let err = opt.apply(&mut g, &[alphas], &[(w, x)]).unwrap_err();
    assert!(
        err.to_string().contains("`alpha` must be a scalar"),
        "{err}"
    );
    let err = opt.apply(&mut g, &[alpha, alpha], &[(w, x)]).unwrap_err();
    assert!(err.to_string().contains("takes the step scalars"), "{err}");
    let err = opt.apply(&mut g, &[alpha], &[(x, w)]).unwrap_err();
    assert!(err.to_string().contains("%x is not a param"), "{err}");
    // Nothing was added by the rejected calls.
    assert_eq!(g.len(), 5);
    assert!(g.updates().is_empty());
}

#[test]
#[should_panic(expected = "adam has no `momentum` setting")]
fn setters_refuse_foreign_settings() {
    let _ = Optimizer::adam(Keras).with_momentum(0.9);
}
