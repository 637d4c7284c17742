//! Optimizer golden tests for plain SGD, momentum, Nesterov and Adagrad in
//! both conventions, with L2, decoupled weight decay and learning-rate
//! decay: each is run as IR on the reference interpreter (f64 and f32) and
//! compared step by step against the independent reference formulas in
//! `optimizer_support`.

use crate::optimizer_support::check;
use triceratops::keras::optimizers::{
    Convention::{Keras, PyTorch},
    Optimizer, WeightDecay,
};

golden! {
    keras_sgd: Optimizer::sgd(Keras);
    pytorch_sgd: Optimizer::sgd(PyTorch);
    keras_momentum: Optimizer::momentum(Keras, 0.9);
    pytorch_momentum: Optimizer::momentum(PyTorch, 0.9);
    keras_nesterov: Optimizer::nesterov(Keras, 0.8);
    pytorch_nesterov: Optimizer::nesterov(PyTorch, 0.8);
    keras_adagrad: Optimizer::adagrad(Keras);
    pytorch_adagrad: Optimizer::adagrad(PyTorch);
    keras_sgd_l2: Optimizer::sgd(Keras).with_weight_decay(WeightDecay::L2(0.05));
    pytorch_sgd_l2: Optimizer::momentum(PyTorch, 0.9).with_weight_decay(WeightDecay::L2(0.05));
    // Keras 3's `weight_decay=` works on every optimizer, decoupled.
    keras_sgd_decoupled: Optimizer::momentum(Keras, 0.9)
        .with_weight_decay(WeightDecay::Decoupled(0.1));
    // PyTorch Adagrad's `lr_decay`.
    pytorch_adagrad_lr_decay: Optimizer::adagrad(PyTorch).with_decay(0.5);
}
