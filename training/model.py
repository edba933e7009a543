"""Model definitions, by name.

    python -m training.model            # prints both architectures' summaries and parameter counts

- `reference`: exactly the reference project's Keras CNN (128x128x3, 7.4 M parameters, 99.5 % of
  them in its Flatten->Dense layer), kept so the comparison can always be rerun on the same data.
- `facecheck` (default): a compact residual CNN. A full-resolution 3x3 convolution comes first
  (no downsampling before it, so the pixel-level traces generators leave survive), then
  strided residual stages (the last two depthwise-separable) and a global-average-pooling head:
  0.45 M parameters and 94 M multiply-adds per face, so its TF.js float16 weights (0.9 MB) fit
  the extension's 1 MB budget and one face classifies in under 10 ms in the browser.

Both take raw RGB in [0, 255]: normalisation is the model's first layer, so it travels with the
model to every runtime. `facecheck` returns one logit (fake vs real); `reference` keeps its
original two-way softmax.
"""

from __future__ import annotations

import keras
from keras import layers

ARCHITECTURES = ("facecheck", "reference", "lite0")
DEFAULT_ARCHITECTURE = "facecheck"


def build_model(name: str = DEFAULT_ARCHITECTURE, input_size: int = 128, pretrained: bool = False,
                train_from: str = "all") -> keras.Model:
    if name == "lite0":
        return build_lite0_classifier(input_size, pretrained, train_from)
    if name == "facecheck":
        return build_facecheck(input_size)
    if name == "reference":
        return build_reference(input_size)
    raise ValueError(f"unknown architecture {name!r}; choose from {ARCHITECTURES}")


def output_kind(name: str) -> str:
    """How the contract should read this architecture's output."""
    return "softmax2" if name == "reference" else "logit"


def build_reference(input_size: int = 128) -> keras.Model:
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(64, (3, 3), activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(32, (3, 3), activation="relu")(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(64, (3, 3), activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D((2, 2))(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(2, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="reference")


def _conv_bn(x, filters, kernel=3, strides=1, name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=name)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _res_pair(x, filters):
    """Stride-2 conv, then a 3x3 conv with an identity shortcut around it."""
    x = _conv_bn(x, filters, strides=2)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    return layers.ReLU()(layers.Add()([x, y]))


def _sep_res_pair(x, filters):
    """As _res_pair, with depthwise-separable convolutions."""
    x = layers.SeparableConv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    y = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    y = layers.BatchNormalization()(y)
    return layers.ReLU()(layers.Add()([x, y]))


def build_facecheck(input_size: int = 128) -> keras.Model:
    # Sized for the browser: ~94 M multiply-adds per face, so one face classifies in under 10 ms
    # on TF.js's single-threaded wasm backend (benchmarks/speed.py; there, in a per-layer
    # tf.profile, time followed the multiply-adds). Plain 3x3 convolutions where the maps are
    # large: on 2 CPU cores they train ~2x faster per useful FLOP than depthwise-separable ones,
    # and the high-resolution layers (memory-bound) set the training speed, not the multiply-adds.
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = _conv_bn(x, 16, name="stem_full_resolution")       # 128 x 128: nothing downsampled yet
    x = _conv_bn(x, 24, strides=2)                         # 64
    x = _res_pair(x, 48)                                   # 32
    x = _res_pair(x, 96)                                   # 16
    # Last stages at 8x8 and 4x4: depthwise-separable convolutions, wide but with few weights
    # (the TF.js float16 weights stay under 1 MB, the extension's budget) and few multiply-adds.
    # The 4x4 stage (run G) added 0.19 M weights for 3 M multiply-adds: +0.02 AUC on the
    # pool's test split (README, Results).
    x = _sep_res_pair(x, 256)                              # 8
    x = _sep_res_pair(x, 320)                              # 4
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, outputs, name="facecheck")


def build_lite0_classifier(input_size: int = 128, pretrained: bool = False,
                           train_from: str = "all") -> keras.Model:
    """EfficientNet-Lite0 (training/backbone.py) with a one-logit head. pretrained: start from the
    ImageNet weights. train_from: "all", "head" or "blockN": the layers before it are frozen, and
    every BatchNorm keeps its statistics (frozen BatchNorm runs in inference mode in Keras 3)."""
    from training import backbone

    base = backbone.build_lite0(input_size)
    if pretrained:
        backbone.load_imagenet_weights(base)
    first = _first_trained_layer(base, train_from)
    for k, layer in enumerate(base.layers):
        layer.trainable = k >= first and not isinstance(layer, layers.BatchNormalization)
    x = layers.Dropout(0.2, name="head_dropout")(base.output)
    outputs = layers.Dense(1, name="logit")(x)
    return keras.Model(base.input, outputs, name="lite0")


def _first_trained_layer(base: keras.Model, train_from: str) -> int:
    names = [layer.name for layer in base.layers]
    if train_from == "all":
        return 0
    if train_from == "head":
        return len(names)
    if train_from.startswith("block"):
        prefix = train_from + "_"
        for k, name in enumerate(names):
            if name.startswith(prefix):
                return k
    raise ValueError(f"train_from must be all, head or blockN (N in 0-15), not {train_from!r}")


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass (convolutions and dense layers), per image."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            h, w, c = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += h * w * c * kh * kw
        elif isinstance(layer, layers.SeparableConv2D):
            h, w, c = layer.output.shape[1:]
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += h * w * cin * (kh * kw + c)
        elif isinstance(layer, layers.Conv2D):
            h, w, c = layer.output.shape[1:]
            kh, kw = layer.kernel_size
            total += h * w * c * layer.input.shape[-1] * kh * kw
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


if __name__ == "__main__":
    for arch in ARCHITECTURES:
        m = build_model(arch)
        m.summary(line_length=100)
        print(f"{arch}: {m.count_params():,} parameters, {multiply_adds(m) / 1e6:.1f} M multiply-adds")
