//! Optimizer golden tests for RMSprop in both conventions: plain, with
//! momentum, centered, and centered with momentum, each run as IR on the
//! reference interpreter (f64 and f32) and compared step by step against the
//! independent reference in `optimizer_support`, which follows each
//! framework's arithmetic (Keras bit for bit in f32). The long runs with
//! other `rho` catch a `1 - ρ` rounded differently from the framework.

use crate::optimizer_support::{check, check_long};
use triceratops::keras::optimizers::{
    Convention::{Keras, PyTorch},
    Optimizer,
};

golden! {
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
}

golden_long! {
    keras_rmsprop_rho_9999_long: Optimizer::rmsprop(Keras).with_rho(0.9999);
    pytorch_rmsprop_alpha_9999_long: Optimizer::rmsprop(PyTorch).with_rho(0.9999);
    keras_rmsprop_rho_95_centered_momentum_long:
        Optimizer::rmsprop(Keras).with_rho(0.95).with_centered(true).with_momentum(0.9);
    pytorch_rmsprop_alpha_999_centered_momentum_long:
        Optimizer::rmsprop(PyTorch).with_rho(0.999).with_centered(true).with_momentum(0.9);
    // `lerp_(grad, 0.6)` takes PyTorch's large-weight branch.
    pytorch_rmsprop_alpha_04_centered_long:
        Optimizer::rmsprop(PyTorch).with_rho(0.4).with_centered(true);
}
