//! The Keras-style front end, with Keras 3 semantics and defaults.

pub mod losses;

/// Keras' fuzz factor (`keras.config.epsilon()`), used by the losses' clip.
pub const EPSILON: f32 = 1e-7;
