//! `model.to_json()`: a Sequential model in Keras 3's serialization schema
//! (`{"module", "class_name", "config", "registered_name"}` objects), so a
//! model defined here can be read by Keras and by [`super::json`].

use serde_json::{json, Value};

use super::layers::{DataFormat, Layer};
use super::Sequential;

fn object(module: &str, class: &str, config: Value) -> Value {
    json!({"module": module, "class_name": class, "config": config, "registered_name": null})
}

fn dtype() -> Value {
    object("keras", "DTypePolicy", json!({"name": "float32"}))
}

fn initializer(class: &str) -> Value {
    let config = if class == "Zeros" {
        json!({})
    } else {
        json!({"seed": null})
    };
    object("keras.initializers", class, config)
}

fn batch_shape(shape: &[usize]) -> Value {
    let mut dims = vec![Value::Null];
    dims.extend(shape.iter().map(|&d| json!(d)));
    Value::Array(dims)
}

fn format(f: DataFormat) -> &'static str {
    f.name()
}

/// The Keras class and config of one layer.
fn layer_config(name: &str, layer: &Layer) -> (&'static str, Value) {
    let mut c = json!({"name": name, "trainable": true, "dtype": dtype()});
    let extra = match layer {
        Layer::Dense(d) => json!({
            "units": d.units,
            "activation": d.activation.name(),
            "use_bias": d.use_bias,
            "kernel_initializer": initializer("GlorotUniform"),
            "bias_initializer": initializer("Zeros"),
            "kernel_regularizer": null, "bias_regularizer": null,
            "kernel_constraint": null, "bias_constraint": null,
        }),
        Layer::Conv2D(l) => json!({
            "filters": l.filters,
            "kernel_size": l.kernel_size,
            "strides": l.strides,
            "padding": l.padding.name(),
            "data_format": format(l.data_format),
            "dilation_rate": [1, 1],
            "groups": 1,
            "activation": l.activation.name(),
            "use_bias": l.use_bias,
            "kernel_initializer": initializer("GlorotUniform"),
            "bias_initializer": initializer("Zeros"),
            "kernel_regularizer": null, "bias_regularizer": null,
            "activity_regularizer": null,
            "kernel_constraint": null, "bias_constraint": null,
        }),
        Layer::MaxPooling2D(l) => json!({
            "pool_size": l.pool_size,
            "padding": l.padding.name(),
            "strides": l.strides,
            "data_format": format(l.data_format),
        }),
        Layer::Flatten(l) => json!({"data_format": format(l.data_format)}),
        Layer::Activation(l) => json!({"activation": l.activation.name()}),
        Layer::Dropout(l) => json!({"rate": l.rate, "seed": null, "noise_shape": null}),
    };
    if let (Value::Object(c), Value::Object(extra)) = (&mut c, extra) {
        c.extend(extra);
    }
    (layer.class_name(), c)
}

/// The model as Keras' `model.to_json()` would write it.
pub fn to_json(model: &Sequential) -> String {
    let mut layers = vec![object(
        "keras.layers",
        "InputLayer",
        json!({
            "batch_shape": batch_shape(&model.input_shape),
            "dtype": "float32",
            "sparse": false,
            "name": "input_layer",
        }),
    )];
    for placed in model.layers() {
        let (class, config) = layer_config(&placed.name, &placed.layer);
        let mut layer = object("keras.layers", class, config);
        layer["build_config"] = json!({"input_shape": batch_shape(&placed.input_shape)});
        layers.push(layer);
    }
    let mut root = object(
        "keras",
        "Sequential",
        json!({"name": model.name, "trainable": true, "dtype": dtype(), "layers": layers}),
    );
    root["build_config"] = json!({"input_shape": batch_shape(&model.input_shape)});
    root.to_string()
}
