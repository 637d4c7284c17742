//! Weight initializers with Keras' definitions, drawn from a seeded RNG so
//! that runs are reproducible.

use ndarray::{ArrayD, IxDyn};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How a parameter starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    /// Uniform in `[-l, l]` with `l = sqrt(6 / (fan_in + fan_out))`.
    GlorotUniform {
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
}

impl Initializer {
    /// Keras' fans for a kernel: the last axis is fan-out, the one before it
    /// fan-in, and any leading (spatial) axes multiply both (the receptive field).
    pub fn glorot_uniform(kernel_shape: &[usize]) -> Initializer {
        let r = kernel_shape.len();
        let receptive: usize = kernel_shape[..r.saturating_sub(2)].iter().product();
        Initializer::GlorotUniform {
            fan_in: receptive * kernel_shape.get(r.wrapping_sub(2)).copied().unwrap_or(1),
            fan_out: receptive * kernel_shape.last().copied().unwrap_or(1),
        }
    }

    pub fn sample(self, shape: &[usize], rng: &mut ChaCha8Rng) -> ArrayD<f32> {
        match self {
            Initializer::Zeros => ArrayD::zeros(IxDyn(shape)),
            Initializer::GlorotUniform { fan_in, fan_out } => {
                let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt() as f32;
                ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random_range(-limit..=limit))
            }
        }
    }
}
