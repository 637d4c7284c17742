//! Flatten, with Keras' own `data_format`: channels_last (the default)
//! flattens in stored order; channels_first first moves the channel axis
//! (axis 1 after the batch) last, then flattens.

use super::DataFormat;
use crate::ir::{Graph, Result, ValueId};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flatten {
    pub data_format: DataFormat,
}

impl Flatten {
    pub fn new() -> Flatten {
        Flatten::default()
    }

    pub fn data_format(mut self, format: DataFormat) -> Flatten {
        self.data_format = format;
        self
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let n = input
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or("the input has too many elements")?;
        Ok(vec![n])
    }

    pub(super) fn lower(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let shape = g.shape(x).clone();
        let x = if self.data_format == DataFormat::ChannelsFirst && shape.rank() > 2 {
            let mut perm: Vec<usize> = vec![0];
            perm.extend(2..shape.rank());
            perm.push(1);
            g.transpose(x, &perm)?
        } else {
            x
        };
        let features = shape[1..].iter().product::<usize>();
        if shape.rank() == 2 {
            return Ok(x);
        }
        g.reshape(x, [shape[0], features])
    }
}
