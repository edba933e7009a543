"""Face detection: BlazeFace (MediaPipe's short-range face detector), rebuilt in Keras.

The network is MediaPipe's `face_detection_short_range` model (Apache-2.0), whose weights
`export/import_blazeface.py` copies once from the .tflite file into `models/detector/`. Keeping it
as a plain Keras model means it runs on TensorFlow here and, exported exactly like the classifier,
on TF.js in the browser: one set of weights, one runtime family, the same boxes on both sides.

Everything after the network (search squares, anchors, box decoding, weighted non-maximum
suppression) is plain arithmetic, written once here and once in `extension/src/predictor.js`, and
pinned by the contract's `detector` section (facecheck/detector_settings.py) and the parity test.

    detector = Detector.load()
    detector.detect(rgb_uint8_image)   # [{"box": [x, y, w, h], "score": .97, "keypoints": [...]}]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from facecheck.detector_settings import GRIDS, INPUT_SIZE, DetectorSettings
from facecheck.layers import CUSTOM_OBJECTS, ChannelPad
from facecheck.paths import DETECTOR_DIR
from facecheck.preprocess import resize_array

DETECTOR_FILE = "blazeface.keras"

# (in channels, out channels, stride) of the 16 BlazeBlocks, as in MediaPipe's model.
BLOCKS = [
    (24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1),
    (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1),
    (88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1),
]

# A square (x, y, side) in image pixels; parts of it may lie outside the image.
Square = tuple[int, int, int]


def build_blazeface():
    """The network: RGB in [0, 255], 128x128 -> (regressors 896x16, score logits 896x1)."""
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(24, 5, strides=2, padding="same", name="stem")(x)
    x = layers.ReLU()(x)
    taps = []
    for i, (cin, cout, stride) in enumerate(BLOCKS):
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"block{i}_dw")(x)
        y = layers.Conv2D(cout, 1, name=f"block{i}_pw")(y)
        skip = x
        if stride == 2:
            skip = layers.MaxPooling2D(2, name=f"block{i}_pool")(skip)
        if cout != cin:
            skip = ChannelPad(cout - cin, name=f"block{i}_pad")(skip)
        x = layers.ReLU()(layers.Add()([skip, y]))
        if i == 10:
            taps.append(x)      # 16x16x88
    taps.append(x)              # 8x8x96
    regressor_heads, score_heads = [], []
    for tap, (grid, per_cell) in zip(taps, GRIDS, strict=True):
        stride = INPUT_SIZE // grid
        c = layers.Conv2D(per_cell, 1, name=f"classificator_{stride}")(tap)
        r = layers.Conv2D(per_cell * 16, 1, name=f"regressor_{stride}")(tap)
        score_heads.append(layers.Reshape((grid * grid * per_cell, 1))(c))
        regressor_heads.append(layers.Reshape((grid * grid * per_cell, 16))(r))
    regressors = layers.Concatenate(axis=1, name="regressors")(regressor_heads)
    scores = layers.Concatenate(axis=1, name="classificators")(score_heads)
    return keras.Model(inputs, [regressors, scores], name="blazeface")


def anchor_centres(settings: DetectorSettings) -> np.ndarray:
    """Anchor centres (896 x 2, x then y, in 0..1), in the order of the network's outputs."""
    out = []
    for grid, per_cell in settings.anchor_grids:
        for y in range(grid):
            for x in range(grid):
                out.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.asarray(out, np.float32)


def search_squares(height: int, width: int, settings: DetectorSettings) -> list[Square]:
    """The squares in image pixels the detector looks at, in order, each tried only when the
    ones before found no face: the whole picture, the picture zoomed out, and for wide or tall
    pictures the centred square. Parts outside the image are black."""
    big, small = max(height, width), min(height, width)
    sides = [big, int(math.floor(big * settings.retry_zoom_out))]
    squares = [((width - s) // 2, (height - s) // 2, s) for s in sides]
    if big >= settings.retry_centre_aspect * small:
        squares.append(((width - small) // 2, (height - small) // 2, small))
    return squares


def square_pixels(image: np.ndarray, square: Square) -> np.ndarray:
    """The square of the image as side x side x 3 uint8, black outside the image."""
    x, y, side = square
    h, w = image.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1, :3]
    return out


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each of `boxes`, all as (x0, y0, x1, y1)."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def faces_from_outputs(regressors: np.ndarray, score_logits: np.ndarray, square: Square,
                       settings: DetectorSettings) -> list[dict]:
    """The network's outputs for one search square -> faces in image pixels, best first."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(score_logits.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.nonzero(scores >= settings.score_threshold)[0]
    if keep.size == 0:
        return []
    boxes, keypoints = _candidates(regressors, keep, settings)
    order = np.argsort(-scores[keep], kind="stable")
    merged = _weighted_nms(boxes[order], keypoints[order], scores[keep][order], settings)
    return [_in_image_pixels(box, kps, score, square) for box, kps, score in merged]


def _candidates(regressors: np.ndarray, keep: np.ndarray,
                settings: DetectorSettings) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x0, y0, x1, y1) and the 6 keypoints of the anchors `keep`, in square units (0..1):
    each regressor row is (centre offset x, y, width, height, 6 keypoint offsets), in network
    input pixels, relative to its anchor's centre."""
    a = anchor_centres(settings).astype(np.float64)[keep]
    r = regressors.reshape(-1, 16).astype(np.float64)[keep] / settings.input_size
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = r[:, 4:].reshape(-1, 6, 2) + a[:, None, :]
    return boxes, keypoints


def _weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                  settings: DetectorSettings) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression over candidates sorted best first: each face
    is the score-weighted mean of the candidates that overlap the best one left by more than
    `nms_iou`, and keeps that best one's score. Returns (box, keypoints, score) per face."""
    merged = []
    remaining = np.arange(len(scores))
    while remaining.size and len(merged) < settings.max_faces:
        first = remaining[0]
        overlaps = iou(boxes[first], boxes[remaining])
        group = remaining[overlaps > settings.nms_iou]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        kps = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        remaining = remaining[overlaps <= settings.nms_iou]
        merged.append((box, kps, float(scores[first])))
    return merged


def _in_image_pixels(box: np.ndarray, keypoints: np.ndarray, score: float, square: Square) -> dict:
    """A face in square units (0..1) -> {"box": [x, y, w, h], "score", "keypoints"} in image pixels."""
    left, top, side = square
    x0, y0 = box[0] * side + left, box[1] * side + top
    bw, bh = (box[2] - box[0]) * side, (box[3] - box[1]) * side
    return {
        "box": [float(x0), float(y0), float(bw), float(bh)],
        "score": score,
        "keypoints": [[float(px * side + left), float(py * side + top)] for px, py in keypoints],
    }


class Detector:
    """The network plus its post-processing; `detect_many` batches the network calls."""

    def __init__(self, model, settings: DetectorSettings | None = None, batch_size: int = 32):
        self.model = model
        self.settings = DetectorSettings() if settings is None else settings
        self.batch_size = batch_size
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def load(cls, directory: str | os.PathLike | None = None, settings: DetectorSettings | None = None,
             batch_size: int = 32) -> Detector:
        path = Path(directory or DETECTOR_DIR) / DETECTOR_FILE
        if not path.exists():
            raise FileNotFoundError(f"no face detector at {path} (python -m export.import_blazeface)")
        model = keras.saving.load_model(path, compile=False, custom_objects=CUSTOM_OBJECTS)
        return cls(model, settings, batch_size)

    def detect(self, image: np.ndarray) -> list[dict]:
        return self.detect_many([image])[0]

    def _network_inputs(self, images: list[np.ndarray], chunk: list[tuple[int, Square]]) -> np.ndarray:
        """Network inputs for (image index, square) pairs; squares of one size share one resize
        call (same op, same result, far less per-call overhead for folders of same-sized photos)."""
        size = self.settings.input_size
        out = np.zeros((len(chunk), size, size, 3), np.float32)
        by_side: dict[int, list[int]] = {}
        for k, (_, square) in enumerate(chunk):
            by_side.setdefault(square[2], []).append(k)
        for ks in by_side.values():
            pixels = np.stack([square_pixels(images[chunk[k][0]], chunk[k][1]) for k in ks])
            out[ks] = resize_array(pixels, size)
        return out

    def detect_many(self, images: list[np.ndarray]) -> list[list[dict]]:
        results: list[list[dict]] = [[] for _ in images]
        todo = [(i, search_squares(img.shape[0], img.shape[1], self.settings))
                for i, img in enumerate(images)]
        while todo:
            # One batch per round: the next search square of every image that has no face yet.
            round_ = [(i, squares[0]) for i, squares in todo]
            for start in range(0, len(round_), self.batch_size):
                chunk = round_[start : start + self.batch_size]
                regressors, score_logits = self._forward(self._network_inputs(images, chunk))
                regressors, score_logits = np.asarray(regressors), np.asarray(score_logits)
                for k, (i, square) in enumerate(chunk):
                    results[i] = faces_from_outputs(regressors[k], score_logits[k], square, self.settings)
            todo = [(i, squares[1:]) for i, squares in todo if not results[i] and len(squares) > 1]
        return results
