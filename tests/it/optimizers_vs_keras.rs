//! The Keras-convention optimizers against real Keras: parameter
//! trajectories recorded from Keras 3.15.1 (numpy backend) over 1000 steps
//! (`tests/fixtures/optimizers/`, with the script that made them), compared
//! bit for bit with the train-step graphs run on the f32 interpreter. The
//! other golden tests compare with a reference written from the Keras
//! sources; this one compares with Keras itself.
//!
//! One thing differs by backend: Adam's `βᵗ` is `ops.power` in `f32`. The
//! project computes it as the correctly rounded `powf` (glibc's, what
//! TensorFlow's CPU kernels call); NumPy's `float32` power on an AVX-512
//! machine is not always correctly rounded. So the Adam cases are checked
//! with Keras' own recorded `βᵗ` fed through the project's `alpha` formula
//! — bit for bit — and the recorded powers are checked to be within an ulp
//! of `powf`.

use std::collections::BTreeMap;

use crate::cli_support::root;
use crate::optimizer_support::{cycled, run_with, LONG_STEPS};
use triceratops::keras::optimizers::{Convention::Keras, Kind, Optimizer, StepScalar};

fn optimizer(case: &str) -> Optimizer {
    match case {
        "sgd" => Optimizer::sgd(Keras),
        "momentum" => Optimizer::momentum(Keras, 0.9),
        "nesterov" => Optimizer::nesterov(Keras, 0.9),
        "adagrad" => Optimizer::adagrad(Keras),
        "rmsprop" => Optimizer::rmsprop(Keras),
        "rmsprop_rho_9999" => Optimizer::rmsprop(Keras).with_rho(0.9999),
        "rmsprop_momentum_centered" => Optimizer::rmsprop(Keras)
            .with_momentum(0.9)
            .with_centered(true),
        "adam" => Optimizer::adam(Keras),
        "adam_beta2_9999" => Optimizer::adam(Keras).with_betas(0.9, 0.9999),
        "amsgrad_beta2_9999" => Optimizer::adam(Keras)
            .with_betas(0.95, 0.9999)
            .with_amsgrad(true),
        "adamw_beta2_9999" => Optimizer::adamw(Keras).with_betas(0.9, 0.9999),
        other => panic!("no optimizer for fixture case `{other}`"),
    }
}

#[test]
fn keras_convention_matches_real_keras_bit_for_bit() {
    let path = root().join("tests/fixtures/optimizers/keras_numpy.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture["keras"], "3.15.1");
    let cases = fixture["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 11, "every recorded case is checked");
    let powers = |beta: f32| -> Vec<f32> {
        fixture["powers"][format!("{beta}")]
            .as_array()
            .unwrap_or_else(|| panic!("no recorded powers of {beta}"))
            .iter()
            .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
            .collect()
    };
    let grads = cycled(LONG_STEPS);
    let mut mismatches = BTreeMap::new();
    for (case, steps) in cases {
        let opt = optimizer(case);
        let scalars = opt.step_scalars();
        // Keras' recorded βᵗ for Adam; the project's own values otherwise.
        let keras_powers = match opt.kind {
            Kind::Adam { beta_1, beta_2, .. } => Some((powers(beta_1), powers(beta_2))),
            _ => None,
        };
        let values = |step: u64| {
            let mut v = opt.step_values(step);
            if let Some((p1, p2)) = &keras_powers {
                let at = |s| scalars.iter().position(|&k| k == s).unwrap();
                // No learning-rate decay in these cases: lr_t is the rate.
                assert_eq!(opt.decay, 0.0);
                let lr = opt.learning_rate;
                let (b1, b2) = (p1[step as usize], p2[step as usize]);
                // Keras: `lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)`.
                v[at(StepScalar::Alpha)] = lr * (1.0 - b2).sqrt() / (1.0 - b1);
            }
            v
        };
        let states = run_with::<f32>(&opt, &grads, values);
        for (step, bits) in steps.as_object().unwrap() {
            let step: usize = step.parse().unwrap();
            let keras: Vec<u32> = bits
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u32)
                .collect();
            let ours: Vec<u32> = states[step - 1]
                .w
                .iter()
                .map(|&v| (v as f32).to_bits())
                .collect();
            if ours != keras {
                let show = |b: &[u32]| b.iter().map(|&b| f32::from_bits(b)).collect::<Vec<_>>();
                mismatches.entry(case.clone()).or_insert_with(|| {
                    format!(
                        "step {step}: ours {:?}, Keras {:?}",
                        show(&ours),
                        show(&keras)
                    )
                });
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn keras_numpy_powers_are_within_an_ulp_of_powf() {
    let path = root().join("tests/fixtures/optimizers/keras_numpy.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut differ = 0;
    for (beta, bits) in fixture["powers"].as_object().unwrap() {
        let beta: f32 = beta.parse().unwrap();
        for (i, b) in bits.as_array().unwrap().iter().enumerate() {
            let numpy = b.as_u64().unwrap() as u32;
            let powf = beta.powf((i + 1) as f32).to_bits();
            assert!(numpy.abs_diff(powf) <= 1, "{beta}^{}", i + 1);
            differ += usize::from(numpy != powf);
        }
    }
    // The reason the Adam cases feed Keras' own powers (see the module doc).
    assert!(differ > 0, "NumPy's power was correctly rounded everywhere");
}
