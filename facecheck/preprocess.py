"""Image -> model input, as the contract says. Used by training, evaluation and the predictor.

The resize is a TensorFlow op (tf.image.resize, bilinear with antialiasing: TensorFlow's
ScaleAndTranslate with a triangle kernel), not PIL, so that training crops are resized exactly
like inference crops. The browser predictor (extension/src/predictor.js) implements the same
kernel, weights and edge handling; the parity test holds the two together.

Face crops: `face_square` turns a detector box into the square the classifier judges (the
contract's crop rule), `cut_square` cuts it, `model_input` resizes it.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from facecheck.contract import Contract


def centre_square(height: int, width: int, margin: float = 0.0) -> tuple[int, int, int, int]:
    """The largest centred square, shrunk by `margin`, as (x, y, w, h)."""
    side = max(1, int(round(min(height, width) * (1.0 - margin))))
    return (width - side) // 2, (height - side) // 2, side, side


def _round(v: float) -> int:
    # Round half up, as JavaScript's Math.round does (Python's round() rounds half to even).
    return int(math.floor(v + 0.5))


def face_square(box, contract: Contract, height: int, width: int) -> tuple[int, int, int, int]:
    """Detector box (x, y, w, h) -> the square the classifier judges, (x, y, side, side).

    The contract's crop rule: side = crop_scale * box width, centred on the box centre moved down
    by crop_shift_y box widths; then shrunk to fit the image if needed and moved inside it."""
    x, y, w, h = (float(v) for v in box)
    side = min(max(1, _round(w * contract.crop_scale)), height, width)
    cx = x + w / 2.0
    cy = y + h / 2.0 + contract.crop_shift_y * w
    x0 = min(max(_round(cx - side / 2.0), 0), width - side)
    y0 = min(max(_round(cy - side / 2.0), 0), height - side)
    return x0, y0, side, side


def crop_box(height: int, width: int, contract: Contract) -> tuple[int, int, int, int]:
    """The region judged when no detector runs (crop rule "centre-square")."""
    if contract.crop_rule != "centre-square":
        raise ValueError(f"crop rule {contract.crop_rule!r} needs a face box (face_square)")
    return centre_square(height, width, contract.crop_margin)


def cut_square(image: np.ndarray, square) -> np.ndarray:
    x, y, w, h = (int(v) for v in square)
    if x < 0 or y < 0 or x + w > image.shape[1] or y + h > image.shape[0]:
        raise ValueError(f"square {square} is outside the {image.shape[1]}x{image.shape[0]} image")
    return image[y : y + h, x : x + w]


def resize(images: tf.Tensor, size: int, contract: Contract) -> tf.Tensor:
    """Resize a batch (or one image) to size x size, float32, as the contract says."""
    # uint8 goes in as is (the op computes in float32 either way): same result, 4x faster and no
    # float copy of a large photo.
    return tf.image.resize(
        images,
        (size, size),
        method=contract.resize_method,
        antialias=contract.resize_antialias,
    )


def resize_array(image: np.ndarray, size: int, method: str = "bilinear",
                 antialias: bool = True) -> np.ndarray:
    """An H x W x 3 image (or a batch of them) -> size x size x 3 float32 (values unclipped):
    the shared resize op with explicit settings, for the face detector's input."""
    out = tf.image.resize(image, (size, size), method=method, antialias=antialias)
    return out.numpy().astype(np.float32, copy=False)


def to_model_range(x: np.ndarray, contract: Contract) -> np.ndarray:
    lo, hi = contract.value_range
    return np.clip(x, 0.0, 255.0) * ((hi - lo) / 255.0) + lo


def model_input(image: np.ndarray, contract: Contract,
                square=None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One RGB uint8 image -> (input_size x input_size x 3 float32 crop, the square judged).

    `square` is a face square (from face_square); without one the contract's centre square."""
    if square is None:
        square = centre_square(image.shape[0], image.shape[1], contract.crop_margin)
    crop = cut_square(image, square)
    out = resize(crop, contract.input_size, contract).numpy()
    return to_model_range(out, contract), tuple(int(v) for v in square)


def eval_inputs(crops: np.ndarray, contract: Contract, chunk: int = 256) -> np.ndarray:
    """Decoded face crops (N x S x S x 3 uint8) resized with the contract's op: what inference
    feeds the model. Training validates and calibrates on these."""
    out = [resize(crops[start : start + chunk], contract.input_size, contract).numpy()
           for start in range(0, len(crops), chunk)]
    return np.concatenate(out) if out else np.zeros((0, contract.input_size, contract.input_size, 3),
                                                    np.float32)
