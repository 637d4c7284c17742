"""Writes the deep models the compile-time scaling measurement uses, as
Keras `model.to_json()` files, from the seed CNN and MNIST MLP fixtures
(real Keras 3 output, tests/fixtures/keras): every layer config is copied
from a layer of the same class there, only names, units, filters and
padding change.

    python3 benches/models/make_deep.py   # writes mlp10.json and cnn6.json here
"""
import copy
import json
import pathlib

here = pathlib.Path(__file__).parent
fixtures = here.parent.parent / "tests" / "fixtures" / "keras"
cnn = json.loads((fixtures / "seed_cnn.json").read_text())
mlp = json.loads((fixtures / "mnist_mlp.json").read_text())


def layer(model, class_name):
    return copy.deepcopy(next(l for l in model["config"]["layers"] if l["class_name"] == class_name))


def named(l, name, input_shape=None, **config):
    l["config"]["name"] = name
    l["config"].update(config)
    if input_shape is not None:
        l["build_config"] = {"input_shape": [None, *input_shape]}
    return l


def write(model, name, layers):
    m = copy.deepcopy(model)
    m["config"]["name"] = name
    m["config"]["layers"] = layers
    (here / f"{name}.json").write_text(json.dumps(m, indent=1) + "\n")


# 10 Dense layers: 784 -> 9 x Dense(256, relu) -> Dense(10, softmax).
mlp_layers = [layer(mlp, "InputLayer")]
width = 784
for i in range(9):
    mlp_layers.append(
        named(layer(mlp, "Dense"), f"dense_{i}", [width], units=256, activation="relu")
    )
    width = 256
mlp_layers.append(
    named(layer(mlp, "Dense"), "dense_out", [width], units=10, activation="softmax")
)
write(mlp, "mlp10", mlp_layers)

# 6 Conv2D layers on 32x32x3: three blocks of two 'same' 3x3 convs (32,
# 32, 64, 64, 64, 64 filters) each followed by 2x2 max pooling, then
# Flatten and Dense(10, softmax).
cnn_layers = [layer(cnn, "InputLayer")]
filters = [32, 32, 64, 64, 64, 64]
side, channels = 32, 3
for i, f in enumerate(filters):
    cnn_layers.append(
        named(
            layer(cnn, "Conv2D"),
            f"conv2d_{i}",
            [side, side, channels],
            filters=f,
            padding="same",
            activation="relu",
        )
    )
    channels = f
    if i % 2 == 1:
        cnn_layers.append(named(layer(cnn, "MaxPooling2D"), f"max_pooling2d_{i // 2}"))
        side //= 2
cnn_layers.append(named(layer(cnn, "Flatten"), "flatten", [side, side, channels]))
cnn_layers.append(
    named(layer(cnn, "Dense"), "dense", [side * side * channels], units=10, activation="softmax")
)
write(cnn, "cnn6", cnn_layers)
