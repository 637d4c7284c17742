//! The Keras-style front end, with Keras 3 semantics and defaults.

pub mod activations;
pub mod initializers;
pub mod json;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod optimizers;
pub mod sequential;
mod summary;
pub mod to_json;

pub use activations::Activation;
pub use layers::{
    ActivationLayer, Conv2D, DataFormat, Dense, Dropout, Flatten, Layer, MaxPooling2D,
};
pub use sequential::Sequential;

/// Keras' fuzz factor (`keras.config.epsilon()`), used by the losses' clip.
pub const EPSILON: f32 = 1e-7;
