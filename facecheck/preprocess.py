"""Image -> model input, as the contract says. Used by training, evaluation and the predictor.

The resize is a TensorFlow op (antialiased bilinear), not PIL, so that the browser predictor can
run the very same op in TF.js, and so that training crops are resized exactly like inference crops.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from facecheck.contract import Contract


def crop_box(height: int, width: int, contract: Contract) -> tuple[int, int, int, int]:
    """The region the model judges, as (x, y, w, h) in image pixels."""
    if contract.crop_rule != "centre-square":
        raise ValueError(f"unknown crop rule {contract.crop_rule!r}")
    side = min(height, width)
    side = max(1, int(round(side * (1.0 - contract.crop_margin))))
    x = (width - side) // 2
    y = (height - side) // 2
    return x, y, side, side


def resize(images: tf.Tensor, size: int, contract: Contract) -> tf.Tensor:
    """Resize a batch (or one image) to size x size, float32, as the contract says."""
    return tf.image.resize(
        tf.cast(images, tf.float32),
        (size, size),
        method=contract.resize_method,
        antialias=contract.resize_antialias,
    )


def model_input(image: np.ndarray, contract: Contract) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One RGB uint8 image -> (input_size x input_size x 3 float32 crop, its box)."""
    x, y, w, h = crop_box(image.shape[0], image.shape[1], contract)
    crop = image[y : y + h, x : x + w]
    lo, hi = contract.value_range
    out = resize(crop, contract.input_size, contract).numpy()
    out = np.clip(out, 0.0, 255.0) * ((hi - lo) / 255.0) + lo
    return out, (x, y, w, h)
