//! Optimizer golden tests for Adam and AdamW in both conventions: AMSGrad,
//! without bias correction, with L2 weight decay and with learning-rate
//! decay, each run as IR on the reference interpreter (f64 and f32) and
//! compared step by step against the independent reference in
//! `optimizer_support`, which follows each framework's arithmetic (Keras
//! bit for bit in f32). The long runs (`β₂ = 0.9999`, 1000 steps) catch a
//! constant rounded differently from the framework: `1 - β` from the
//! rounded `f32` β, or `1 - βᵗ` through `exp(t·ln β)` in `f32`.

use crate::optimizer_support::{check, check_long};
use triceratops::keras::optimizers::{
    Convention::{Keras, PyTorch},
    Optimizer, WeightDecay,
};

golden! {
    keras_adam: Optimizer::adam(Keras);
    pytorch_adam: Optimizer::adam(PyTorch);
    keras_amsgrad: Optimizer::adam(Keras).with_amsgrad(true);
    pytorch_amsgrad: Optimizer::adam(PyTorch).with_amsgrad(true);
    keras_adam_without_bias_correction: Optimizer::adam(Keras).with_bias_correction(false);
    pytorch_adam_without_bias_correction: Optimizer::adam(PyTorch).with_bias_correction(false);
    keras_adamw: Optimizer::adamw(Keras);
    pytorch_adamw: Optimizer::adamw(PyTorch);
    keras_adam_l2: Optimizer::adam(Keras).with_weight_decay(WeightDecay::L2(0.01));
    pytorch_adam_l2: Optimizer::adam(PyTorch).with_weight_decay(WeightDecay::L2(0.01));
    keras_adam_decay: Optimizer::adam(Keras).with_decay(0.1);
    pytorch_adam_decay: Optimizer::adam(PyTorch).with_decay(0.1);
    // lr_t also scales decoupled weight decay.
    pytorch_adamw_decay: Optimizer::adamw(PyTorch).with_learning_rate(0.01).with_decay(0.3);
}

golden_long! {
    keras_adam_beta2_9999_long: Optimizer::adam(Keras).with_betas(0.9, 0.9999);
    pytorch_adam_beta2_9999_long: Optimizer::adam(PyTorch).with_betas(0.9, 0.9999);
    keras_adamw_beta2_9999_long: Optimizer::adamw(Keras).with_betas(0.9, 0.9999);
    pytorch_adamw_beta2_9999_long: Optimizer::adamw(PyTorch).with_betas(0.9, 0.9999);
    keras_amsgrad_beta2_9999_long:
        Optimizer::adam(Keras).with_betas(0.95, 0.9999).with_amsgrad(true);
    // `lerp_(grad, 0.7)` takes PyTorch's large-weight branch.
    pytorch_adam_beta1_03_long: Optimizer::adam(PyTorch).with_betas(0.3, 0.9999);
}
