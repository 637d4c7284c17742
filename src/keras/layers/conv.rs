//! Conv2D and MaxPooling2D. Kernels are stored as Keras stores them (HWIO)
//! whatever the data format; channels_first transposes them to OIHW in the
//! graph, where the passes can fold the transpose away.

use super::{keras_shape, pair, DataFormat, LowerCtx, ParamSpec};
use crate::ir::geometry::window;
use crate::ir::{ConvAttrs, Graph, Layout, Padding, PoolAttrs, Result, ValueId};
use crate::keras::Activation;

fn layout(format: DataFormat) -> Layout {
    match format {
        DataFormat::ChannelsLast => Layout::Nhwc,
        DataFormat::ChannelsFirst => Layout::Nchw,
    }
}

/// `(h, w, c)` of an image shape without its batch axis.
fn hwc(input: &[usize], format: DataFormat) -> Result<[usize; 3], String> {
    match (input, format) {
        (&[h, w, c], DataFormat::ChannelsLast) => Ok([h, w, c]),
        (&[c, h, w], DataFormat::ChannelsFirst) => Ok([h, w, c]),
        _ => Err(format!(
            "expects a rank-3 image ({}), got {}",
            match format {
                DataFormat::ChannelsLast => "height, width, channels",
                DataFormat::ChannelsFirst => "channels, height, width",
            },
            keras_shape(input)
        )),
    }
}

fn image(h: usize, w: usize, c: usize, format: DataFormat) -> Vec<usize> {
    match format {
        DataFormat::ChannelsLast => vec![h, w, c],
        DataFormat::ChannelsFirst => vec![c, h, w],
    }
}

/// Output extents of a sliding window over an `h x w` image.
fn windows(
    [h, w]: [usize; 2],
    size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    input: &[usize],
) -> Result<[usize; 2], String> {
    match (
        window(h, size[0], strides[0], padding),
        window(w, size[1], strides[1], padding),
    ) {
        (Some(a), Some(b)) => Ok([a.out, b.out]),
        _ => Err(format!(
            "a {}x{} window with strides {:?} and {} padding does not fit input {}",
            size[0],
            size[1],
            strides,
            padding.name(),
            keras_shape(input)
        )),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2D {
    pub filters: usize,
    pub kernel_size: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub data_format: DataFormat,
    pub activation: Activation,
    pub use_bias: bool,
}

impl Conv2D {
    /// Keras defaults: strides 1, `valid` padding, channels_last, no activation, a bias.
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Conv2D {
        Conv2D {
            filters,
            kernel_size: pair(kernel_size),
            strides: [1, 1],
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
            activation: Activation::Linear,
            use_bias: true,
        }
    }

    pub fn strides(mut self, strides: (usize, usize)) -> Conv2D {
        self.strides = pair(strides);
        self
    }

    pub fn padding(mut self, padding: Padding) -> Conv2D {
        self.padding = padding;
        self
    }

    pub fn data_format(mut self, format: DataFormat) -> Conv2D {
        self.data_format = format;
        self
    }

    pub fn activation(mut self, activation: Activation) -> Conv2D {
        self.activation = activation;
        self
    }

    pub fn use_bias(mut self, use_bias: bool) -> Conv2D {
        self.use_bias = use_bias;
        self
    }

    fn attrs(&self) -> ConvAttrs {
        ConvAttrs {
            strides: self.strides,
            padding: self.padding,
            layout: layout(self.data_format),
        }
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let [h, w, _] = hwc(input, self.data_format)?;
        if self.filters == 0 {
            return Err("filters must be positive".into());
        }
        let [oh, ow] = windows([h, w], self.kernel_size, self.strides, self.padding, input)?;
        Ok(image(oh, ow, self.filters, self.data_format))
    }

    pub(super) fn params(&self, input: &[usize]) -> Vec<ParamSpec> {
        let c = hwc(input, self.data_format).map_or(0, |[_, _, c]| c);
        let kernel = vec![self.kernel_size[0], self.kernel_size[1], c, self.filters];
        ParamSpec::kernel_and_bias(kernel, self.use_bias)
    }

    pub(super) fn lower(&self, g: &mut Graph, x: ValueId, ctx: &LowerCtx) -> Result<ValueId> {
        let kernel = match self.data_format {
            DataFormat::ChannelsLast => ctx.params[0],
            DataFormat::ChannelsFirst => g.transpose(ctx.params[0], &[3, 2, 0, 1])?,
        };
        let mut y = g.conv2d(x, kernel, self.attrs())?;
        if self.use_bias {
            let shape = g.shape(y).clone();
            let channel_axis = match self.data_format {
                DataFormat::ChannelsLast => 3,
                DataFormat::ChannelsFirst => 1,
            };
            let bias = g.broadcast_in_dim(ctx.params[1], shape, vec![channel_axis])?;
            y = g.add(y, bias)?;
        }
        self.activation.apply(g, y)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPooling2D {
    pub pool_size: [usize; 2],
    pub strides: [usize; 2],
    pub padding: Padding,
    pub data_format: DataFormat,
}

impl MaxPooling2D {
    /// Keras defaults: strides = pool size, `valid` padding, channels_last.
    pub fn new(pool_size: (usize, usize)) -> MaxPooling2D {
        MaxPooling2D {
            pool_size: pair(pool_size),
            strides: pair(pool_size),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
        }
    }

    pub fn strides(mut self, strides: (usize, usize)) -> MaxPooling2D {
        self.strides = pair(strides);
        self
    }

    pub fn padding(mut self, padding: Padding) -> MaxPooling2D {
        self.padding = padding;
        self
    }

    pub fn data_format(mut self, format: DataFormat) -> MaxPooling2D {
        self.data_format = format;
        self
    }

    pub(super) fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let [h, w, c] = hwc(input, self.data_format)?;
        let [oh, ow] = windows([h, w], self.pool_size, self.strides, self.padding, input)?;
        Ok(image(oh, ow, c, self.data_format))
    }

    pub(super) fn lower(&self, g: &mut Graph, x: ValueId) -> Result<ValueId> {
        let attrs = PoolAttrs {
            window: self.pool_size,
            strides: self.strides,
            padding: self.padding,
            layout: layout(self.data_format),
        };
        g.maxpool2d(x, attrs)
    }
}
