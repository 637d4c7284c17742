//! Randomness in the Keras layers: Glorot-uniform initialization with Keras'
//! fans and its seeding, and Dropout: the identity at inference, zeroing
//! `rate` of the units and scaling the rest in training, noise inputs only in
//! the train step, fresh masks every `train_on_batch`, and training with
//! dropout reproducible per seed.

use std::collections::HashMap;

use crate::keras_support::{array, close, compiled, compiled_seeded, state};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triceratops::backend::Interpreter;
use triceratops::compile::{self, ArgRole, CompileSpec};
use triceratops::data::Dataset;
use triceratops::ir::interp::evaluate;
use triceratops::ir::{Graph, Role};
use triceratops::keras::layers::Mode;
use triceratops::keras::losses::Loss;
use triceratops::keras::metrics::Metric;
use triceratops::keras::optimizers::{Convention, Optimizer};
use triceratops::keras::{Activation, Conv2D, Dense, Dropout, Sequential};
use triceratops::train::Silent;
use triceratops::{FitOptions, Model, Validation};

// ------------------------------------------------------------------ glorot

fn moments(v: &ArrayD<f32>) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&e| e as f64).sum::<f64>() / n;
    let var = v.iter().map(|&e| (e as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn glorot_uniform_uses_keras_fans() {
    let mut dense = Sequential::new("mlp", &[784]);
    dense.add(Dense::new(128)).unwrap();
    let mut conv = Sequential::new("cnn", &[32, 32, 3]);
    conv.add(Conv2D::new(32, (3, 3))).unwrap();
    let cases = [
        (dense, "dense", vec![784, 128], 784 + 128),
        // fan_in = 3*3*3 = 27, fan_out = 3*3*32 = 288.
        (conv, "conv2d", vec![3, 3, 3, 32], 27 + 288),
    ];
    for (m, layer, shape, fans) in cases {
        let model = compiled_seeded(m, 42);
        let kernel = &state(&model, &format!("{layer}.kernel"));
        assert_eq!(kernel.shape(), shape.as_slice());
        let limit = (6.0 / fans as f64).sqrt();
        let max = kernel.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
        assert!(
            max <= limit * (1.0 + 1e-6),
            "{layer}: |w| {max} > limit {limit}"
        );
        // Values reach close to the limit (so the fans are not too small).
        assert!(
            max >= 0.97 * limit,
            "{layer}: max |w| {max} far below limit {limit}"
        );
        let (mean, var) = moments(kernel);
        let n = kernel.len() as f64;
        // Uniform(-l, l): mean 0 (sd l/sqrt(3n)), variance l²/3.
        assert!(
            mean.abs() < 5.0 * limit / (3.0 * n).sqrt(),
            "{layer}: mean {mean}"
        );
        let want = limit * limit / 3.0;
        assert!(
            (var - want).abs() < 0.1 * want,
            "{layer}: variance {var}, want {want}"
        );
        // Roughly uniform: each quarter of [-l, l] holds about a quarter.
        for q in 0..4 {
            let lo = -limit + q as f64 * limit / 2.0;
            let hi = lo + limit / 2.0;
            let count = kernel
                .iter()
                .filter(|&&v| (v as f64) >= lo && (v as f64) < hi)
                .count() as f64;
            assert!(
                (count / n - 0.25).abs() < 0.06,
                "{layer}: quarter {q} holds {count} of {n}"
            );
        }
        let bias = &state(&model, &format!("{layer}.bias"));
        assert!(
            bias.iter().all(|&b| b == 0.0),
            "{layer}: biases start at zero"
        );
    }
}

#[test]
fn initialization_is_seeded() {
    let build = || {
        let mut m = Sequential::new("m", &[6]);
        m.add(Dense::new(5).activation(Activation::Relu)).unwrap();
        m.add(Dense::new(2)).unwrap();
        m
    };
    let a = compiled_seeded(build(), 7);
    let b = compiled_seeded(build(), 7);
    let c = compiled_seeded(build(), 8);
    assert_eq!(a.state(), b.state());
    for name in ["dense.kernel", "dense_1.kernel"] {
        assert_ne!(state(&a, name), state(&c, name), "{name} ignores the seed");
    }
    assert_eq!(a.steps(), 0);
}

// ----------------------------------------------------------------- dropout

/// A Dropout-only model lowered by hand, run on `x` with the given noise.
fn dropout_graph(rate: f32, features: usize, mode: Mode) -> Graph {
    let mut m = Sequential::new("d", &[features]);
    m.add(Dropout::new(rate)).unwrap();
    let mut g = Graph::new("d");
    let x = g.input("x", vec![1, features]).unwrap();
    let fwd = m.lower(&mut g, x, mode).unwrap();
    g.add_output("y", fwd.output).unwrap();
    g
}

#[test]
fn dropout_is_identity_at_inference() {
    let g = dropout_graph(0.5, 100, Mode::Infer);
    assert!(
        g.args(Role::Input).all(|v| g.value_name(v) == "x"),
        "no noise input"
    );
    let x = array(&[1, 100], |i| i as f32 - 50.0);
    let mut inputs = HashMap::new();
    inputs.insert("x".to_string(), x.clone());
    assert_eq!(evaluate(&g, &inputs).unwrap().output("y").unwrap(), x);

    // And through a model: predict ignores dropout entirely.
    let mut m = Sequential::new("m", &[100]);
    m.add(Dropout::new(0.9)).unwrap();
    let mut model = compiled(m);
    let xs = array(&[4, 100], |i| i as f32 * 0.5);
    assert_eq!(model.predict(&xs, 3).unwrap(), xs);
}

#[test]
fn dropout_in_training_zeroes_rate_and_scales_the_rest() {
    let (rate, n) = (0.3f32, 10_000);
    let g = dropout_graph(rate, n, Mode::Train);
    let noise: Vec<_> = g.args(Role::Input).skip(1).collect();
    assert_eq!(noise.len(), 1, "one noise input besides x");
    assert_eq!(g.value_name(noise[0]), "dropout.noise");
    assert_eq!(g.shape(noise[0]).dims(), [1, n]);
    let x = array(&[1, n], |i| 1.0 + (i % 7) as f32);

    // Exactly uniform noise k/n (k a permutation of 0..n): exactly 30% below `rate`.
    let noise = array(&[1, n], |i| ((i * 7919) % n) as f32 / n as f32);
    let mut inputs = HashMap::new();
    inputs.insert("x".to_string(), x.clone());
    inputs.insert("dropout.noise".to_string(), noise.clone());
    let eval = evaluate(&g, &inputs).unwrap();
    let y = eval.output("y").unwrap();
    let mut dropped = 0;
    for ((&yi, &xi), &u) in y.iter().zip(x.iter()).zip(noise.iter()) {
        if u < rate {
            assert_eq!(yi, 0.0);
            dropped += 1;
        } else {
            assert!(close(yi, xi / (1.0 - rate), 1e-6), "{yi} vs {xi}/(1-rate)");
        }
    }
    assert_eq!(dropped, 3000);

    // Random noise: about `rate` dropped, and the mean is preserved.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let noise = array(&[1, n], |_| rng.random::<f32>());
    inputs.insert("dropout.noise".to_string(), noise);
    let eval = evaluate(&g, &inputs).unwrap();
    let y = eval.output("y").unwrap();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f32 / n as f32;
    assert!((zeros - rate).abs() < 0.02, "dropped fraction {zeros}");
    let (mx, my) = (x.mean().unwrap(), y.mean().unwrap());
    assert!((my - mx).abs() < 0.03 * mx, "mean {my} vs {mx}");
}

#[test]
fn dropout_noise_is_only_in_the_train_step() {
    let mut m = Sequential::new("m", &[6]);
    m.add(Dense::new(8).activation(Activation::Relu)).unwrap();
    m.add(Dropout::new(0.5)).unwrap();
    m.add(Dense::new(2)).unwrap();
    let spec = CompileSpec {
        optimizer: Optimizer::adam(Convention::Keras),
        loss: Loss::MeanSquaredError,
        metrics: vec![],
        passes: compile::Passes::default(),
    };
    let noise = |c: &compile::CompiledGraph| -> Vec<(String, Vec<usize>)> {
        c.signature
            .args
            .iter()
            .filter(|a| a.role == ArgRole::Noise)
            .map(|a| (a.name.clone(), a.ty.shape.dims().to_vec()))
            .collect()
    };
    let (train, _) = compile::train_step(&m, &spec, 4).unwrap();
    assert_eq!(
        noise(&train),
        vec![("dropout.noise".to_string(), vec![4, 8])]
    );
    assert!(noise(&compile::eval_step(&m, &spec, 4).unwrap()).is_empty());
    assert!(noise(&compile::predict_step(&m, 4, compile::Passes::default()).unwrap()).is_empty());
}

#[test]
fn dropout_is_active_in_train_on_batch() {
    // pred = sum(keep_i / (1 - rate)) with unit inputs and weights, so
    // sqrt(loss) * (1 - rate) counts the kept units.
    let (rate, n) = (0.25f32, 4000);
    let mut m = Sequential::new("m", &[n]);
    m.add(Dropout::new(rate)).unwrap();
    m.add(Dense::new(1).use_bias(false)).unwrap();
    let mut model = Model::new(
        m,
        Optimizer::sgd(Convention::Keras).with_learning_rate(0.0),
        Loss::MeanSquaredError,
        &[],
        Box::new(Interpreter),
        11,
    )
    .unwrap();
    model
        .state_mut()
        .set("dense.kernel", &ArrayD::ones(IxDyn(&[n, 1])).view())
        .unwrap();
    let x = ArrayD::ones(IxDyn(&[1, n]));
    let y = ArrayD::zeros(IxDyn(&[1, 1]));
    let mut kept_counts = Vec::new();
    for _ in 0..5 {
        let logs = model.train_on_batch(x.clone(), y.clone()).unwrap();
        let kept = logs.loss.sqrt() * (1.0 - rate);
        assert!(
            (kept - kept.round()).abs() < 0.05,
            "kept {kept} is not a whole number of units: the scale is not 1/(1-rate)"
        );
        let fraction = kept / n as f32;
        assert!(
            (fraction - (1.0 - rate)).abs() < 0.03,
            "kept fraction {fraction}"
        );
        kept_counts.push(kept.round() as usize);
    }
    // Fresh noise every step.
    kept_counts.dedup();
    assert!(
        kept_counts.len() > 1,
        "the same mask every step: {kept_counts:?}"
    );
    assert_eq!(model.steps(), 5);
    // Inference sees every unit, unscaled.
    assert_eq!(model.predict(&x, 1).unwrap()[[0, 0]], n as f32);
}

#[test]
fn training_with_dropout_is_reproducible_per_seed() {
    let build = || {
        let mut m = Sequential::new("m", &[5]);
        m.add(Dense::new(16).activation(Activation::Relu)).unwrap();
        m.add(Dropout::new(0.4)).unwrap();
        m.add(Dense::new(3).activation(Activation::Softmax))
            .unwrap();
        m
    };
    let n = 60;
    let x = array(&[n, 5], |i| ((i * 17) % 29) as f32 / 14.0 - 1.0);
    let y = array(&[n, 3], |i| if (i / 3) % 3 == i % 3 { 1.0 } else { 0.0 });
    let data = Dataset { x, y };
    let options = FitOptions {
        epochs: 3,
        batch_size: 8,
        shuffle: true,
        validation: Validation::None,
    };
    let run = |seed: u64| {
        let mut model = Model::new(
            build(),
            Optimizer::adam(Convention::Keras),
            Loss::CategoricalCrossentropy { from_logits: false },
            &[Metric::Accuracy],
            Box::new(Interpreter),
            seed,
        )
        .unwrap();
        let history = model.fit(&data, &options, &mut Silent).unwrap();
        (model.state().clone(), history)
    };
    let (a, ha) = run(123);
    let (b, hb) = run(123);
    assert_eq!(a, b, "same seed, same data: the weights must match exactly");
    assert_eq!(ha.loss(), hb.loss());
    let (c, _) = run(124);
    assert_ne!(a.view("dense.kernel"), c.view("dense.kernel"));
    assert_eq!(a.step(), (3 * n.div_ceil(8)) as f32);
}
