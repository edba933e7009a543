"""The project's custom Keras layers, shaped so that the TF.js export runs: the face detector's
ChannelPad, and MirrorImage for ensembles that average a member with its mirror image in-graph.

BlazeBlock shortcuts that widen need zero channels appended. Two obvious ways to do that fail:
a fixed 1x1 convolution (the TF.js converter fuses the following Add into it as a bias, which the
wasm backend rejects) and a Pad op on the channel axis (TensorFlow 2.19's oneDNN graph rewrite
crashes on it inside tf.function). Concatenating zeros works in both runtimes.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="facecheck")
class ChannelPad(keras.layers.Layer):
    """Append `extra` zero channels, by concatenation."""

    def __init__(self, extra: int, **kwargs):
        super().__init__(**kwargs)
        self.extra = extra

    def call(self, x):
        return keras.ops.concatenate([x, keras.ops.zeros_like(x[..., : self.extra])], axis=-1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + self.extra)

    def get_config(self):
        return {**super().get_config(), "extra": self.extra}


@keras.saving.register_keras_serializable(package="facecheck")
class MirrorImage(keras.layers.Layer):
    """The image mirrored left to right (NHWC): a member's test-time flip inside a merged model
    (training/ensemble.py), so the predictors need not know about it."""

    def call(self, x):
        return keras.ops.flip(x, axis=2)


# What keras.saving.load_model needs to rebuild saved models (saved as "facecheck>ChannelPad"...).
CUSTOM_OBJECTS = {keras.saving.get_registered_name(c): c for c in (ChannelPad, MirrorImage)}
