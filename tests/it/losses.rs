//! Loss values and gradients against hand-computed numbers, and the
//! numerical edge cases Keras guards against (clip at 1e-7, stable logits).

use ndarray::{ArrayD, IxDyn};
use triceratops::ir::interp::{evaluate, Inputs};
use triceratops::ir::{grad, Graph, IrError};
use triceratops::keras::losses::Loss;

fn array(shape: &[usize], data: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).unwrap()
}

/// The loss and its gradient w.r.t. the prediction, evaluated in f64 (or
/// f32, converted, when `f32` is set).
fn loss_and_grad(loss: Loss, pred: ArrayD<f64>, target: ArrayD<f64>, f32: bool) -> (f64, Vec<f64>) {
    let mut g = Graph::new("loss");
    let p = g.param("pred", pred.shape().to_vec()).unwrap();
    let t = g.input("target", target.shape().to_vec()).unwrap();
    let e = loss.build(&mut g, p, t).unwrap();
    let d = grad(&mut g, e, &[p]).unwrap()[0];
    g.add_output("loss", e).unwrap();
    g.add_output("grad", d).unwrap();
    if f32 {
        let inputs = Inputs::from([
            ("pred".to_string(), pred.mapv(|v| v as f32)),
            ("target".to_string(), target.mapv(|v| v as f32)),
        ]);
        let eval = evaluate(&g, &inputs).unwrap();
        let l = eval.output("loss").unwrap()[[]] as f64;
        (
            l,
            eval.output("grad")
                .unwrap()
                .iter()
                .map(|&v| v as f64)
                .collect(),
        )
    } else {
        let inputs = Inputs::from([("pred".to_string(), pred), ("target".to_string(), target)]);
        let eval = evaluate(&g, &inputs).unwrap();
        let l = eval.output("loss").unwrap()[[]];
        (l, eval.output("grad").unwrap().iter().copied().collect())
    }
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tol, "{actual:?} != {expected:?}");
    }
}

#[test]
fn mean_squared_error_is_keras_mean_over_last_axis_then_batch() {
    // diffs [[1,0],[2,4]] -> per-sample [0.5, 10] -> 5.25; d/dpred = diff / 2.
    let pred = array(&[2, 2], &[1., 2., 3., 5.]);
    let target = array(&[2, 2], &[0., 2., 1., 1.]);
    let (l, d) = loss_and_grad(Loss::MeanSquaredError, pred, target, false);
    assert_close(&[l], &[5.25], 1e-12);
    assert_close(&d, &[0.5, 0., 1., 2.], 1e-12);
}

#[test]
fn lecture_half_sum_squared_error() {
    // E = 1/2 (1 + 0 + 4 + 16) = 10.5; dE/dy = y - t.
    let pred = array(&[2, 2], &[1., 2., 3., 5.]);
    let target = array(&[2, 2], &[0., 2., 1., 1.]);
    let (l, d) = loss_and_grad(Loss::HalfSumSquaredError, pred, target, false);
    assert_close(&[l], &[10.5], 1e-12);
    assert_close(&d, &[1., 0., 2., 4.], 1e-12);
}

#[test]
fn categorical_crossentropy_on_probabilities() {
    // -(ln 0.5 + ln 0.8) / 2. With Keras' renormalization p / sum(p) inside
    // the graph, d/dp_j = (1/sum - [j = k] / p_k) / batch.
    let pred = array(&[2, 3], &[0.2, 0.3, 0.5, 0.1, 0.8, 0.1]);
    let target = array(&[2, 3], &[0., 0., 1., 0., 1., 0.]);
    let expected = -(0.5f64.ln() + 0.8f64.ln()) / 2.0;
    let (l, d) = loss_and_grad(
        Loss::CategoricalCrossentropy { from_logits: false },
        pred,
        target,
        false,
    );
    assert_close(&[l], &[expected], 1e-12);
    assert_close(&d, &[0.5, 0.5, -0.5, 0.5, -0.125, 0.5], 1e-12);
}

#[test]
fn sparse_labels_give_the_same_loss_as_one_hot() {
    let mut g = Graph::new("sparse");
    let p = g.param("pred", [2, 3]).unwrap();
    let labels = g.input("labels", [2]).unwrap();
    let e = Loss::SparseCategoricalCrossentropy { from_logits: false }
        .build(&mut g, p, labels)
        .unwrap();
    let d = grad(&mut g, e, &[p]).unwrap()[0];
    g.add_output("loss", e).unwrap();
    g.add_output("grad", d).unwrap();
    let inputs = Inputs::from([
        (
            "pred".to_string(),
            array(&[2, 3], &[0.2, 0.3, 0.5, 0.1, 0.8, 0.1]),
        ),
        ("labels".to_string(), array(&[2], &[2., 1.])),
    ]);
    let eval = evaluate(&g, &inputs).unwrap();
    let expected = -(0.5f64.ln() + 0.8f64.ln()) / 2.0;
    assert_close(&[eval.output("loss").unwrap()[[]]], &[expected], 1e-12);
    let d: Vec<f64> = eval.output("grad").unwrap().iter().copied().collect();
    assert_close(&d, &[0.5, 0.5, -0.5, 0.5, -0.125, 0.5], 1e-12);
}

#[test]
fn crossentropy_at_probabilities_zero_and_one_stays_finite() {
    // The target class has probability 0: the clip makes it 1e-7, so the loss
    // is -ln(1e-7) = 16.118..., and every gradient element is finite.
    for f32 in [false, true] {
        let pred = array(&[1, 3], &[0., 1., 0.]);
        let target = array(&[1, 3], &[1., 0., 0.]);
        let (l, d) = loss_and_grad(
            Loss::CategoricalCrossentropy { from_logits: false },
            pred,
            target,
            f32,
        );
        let eps = if f32 { 1e-7f32 as f64 } else { 1e-7 };
        assert!((l - -(eps.ln())).abs() < 1e-4, "loss {l}");
        assert!(d.iter().all(|v| v.is_finite()), "gradient {d:?}");
        // A perfect prediction costs -ln(1 - 1e-7) ~ 1e-7, not 0 and not NaN.
        let pred = array(&[1, 3], &[1., 0., 0.]);
        let target = array(&[1, 3], &[1., 0., 0.]);
        let (l, d) = loss_and_grad(
            Loss::CategoricalCrossentropy { from_logits: false },
            pred,
            target,
            f32,
        );
        assert!((0.0..1e-6).contains(&l), "loss {l}");
        assert!(d.iter().all(|v| v.is_finite()), "gradient {d:?}");
    }
}

#[test]
fn from_logits_is_stable_for_logits_of_magnitude_100() {
    // log_softmax([100, -100, 0]) = [-(~e^-100), -200, -100] up to e^-100 terms;
    // the gradient is softmax - target.
    for f32 in [false, true] {
        let logits = array(&[2, 3], &[100., -100., 0., -100., 100., 0.]);
        let target = array(&[2, 3], &[0., 1., 0., 0., 1., 0.]);
        let (l, d) = loss_and_grad(
            Loss::CategoricalCrossentropy { from_logits: true },
            logits,
            target,
            f32,
        );
        // Sample 1 costs 200, sample 2 costs ~0: mean 100.
        assert!((l - 100.0).abs() < 1e-4, "loss {l}");
        assert_close(&d, &[0.5, -0.5, 0., 0., 0., 0.], 1e-6);
    }
}

#[test]
fn from_logits_matches_softmax_then_crossentropy_for_moderate_logits() {
    let logits = [0.3, -1.2, 2.0, 0.5, 0.1, -0.7];
    let target = [0., 0., 1., 1., 0., 0.];
    let (l, d) = loss_and_grad(
        Loss::CategoricalCrossentropy { from_logits: true },
        array(&[2, 3], &logits),
        array(&[2, 3], &target),
        false,
    );
    let mut expected_loss = 0.0;
    let mut expected_grad = Vec::new();
    for row in 0..2 {
        let z: Vec<f64> = logits[row * 3..row * 3 + 3].to_vec();
        let sum: f64 = z.iter().map(|v| v.exp()).sum();
        for j in 0..3 {
            let p = z[j].exp() / sum;
            expected_grad.push((p - target[row * 3 + j]) / 2.0);
            if target[row * 3 + j] == 1.0 {
                expected_loss -= p.ln() / 2.0;
            }
        }
    }
    assert_close(&[l], &[expected_loss], 1e-12);
    assert_close(&d, &expected_grad, 1e-12);
}

#[test]
fn mismatched_shapes_name_the_loss_and_the_shapes() {
    let mut g = Graph::new("bad");
    let p = g.param("pred", [4, 10]).unwrap();
    let t = g.input("target", [4, 9]).unwrap();
    let err = Loss::CategoricalCrossentropy { from_logits: false }
        .build(&mut g, p, t)
        .unwrap_err();
    assert!(matches!(err, IrError::Type { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("categorical_crossentropy")
            && msg.contains("f32[4,10]")
            && msg.contains("f32[4,9]"),
        "{msg}"
    );
    let labels = g.input("labels", [3]).unwrap();
    let err = Loss::SparseCategoricalCrossentropy { from_logits: true }
        .build(&mut g, p, labels)
        .unwrap_err();
    assert!(err.to_string().contains("labels"), "{err}");
}

#[test]
fn loss_names_follow_keras() {
    assert_eq!(Loss::from_name("mse"), Some(Loss::MeanSquaredError));
    assert_eq!(
        Loss::from_name("categorical_crossentropy"),
        Some(Loss::CategoricalCrossentropy { from_logits: false })
    );
    assert_eq!(Loss::from_name("hinge"), None);
}
