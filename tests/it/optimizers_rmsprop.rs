//! Optimizer golden tests for RMSprop in both conventions: plain, with
//! momentum, centered, and centered with momentum, each run as IR on the
//! reference interpreter (f64 and f32) and compared step by step against the
//! independent reference formulas in `optimizer_support`.

use crate::optimizer_support::check;
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
