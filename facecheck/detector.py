"""Face detection: BlazeFace (MediaPipe's short-range face detector), rebuilt in Keras.

The network is MediaPipe's `face_detection_short_range` model (Apache-2.0), whose weights
`export/import_blazeface.py` copies once from the .tflite file into `models/detector/`. Keeping it
as a plain Keras model means it runs on TensorFlow here and, exported exactly like the classifier,
on TF.js in the browser: one set of weights, one runtime family, the same boxes on both sides.

Everything after the network (anchors, box decoding, weighted non-maximum suppression) is plain
arithmetic, written once here and once in `extension/src/predictor.js`, and pinned by the contract's
`detector` section and the parity test.

    detector = Detector.load()
    detector.detect(rgb_uint8_image)   # [{"box": [x, y, w, h], "score": .97, "keypoints": [...]}]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

DETECTOR_DIR = Path(__file__).resolve().parent.parent / "models" / "detector"
DETECTOR_FILE = "blazeface.keras"

# (in channels, out channels, stride) of the 16 BlazeBlocks, as in MediaPipe's model.
BLOCKS = [
    (24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1),
    (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1),
    (88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1),
]
INPUT_SIZE = 128
# Grid of each head and anchors per cell (MediaPipe's SSD anchor options for this model:
# strides 8, 16, 16, 16 -> a 16x16 grid with 2 anchors and an 8x8 grid with 6).
GRIDS = ((16, 2), (8, 6))

# Post-processing defaults (MediaPipe uses score 0.5 and weighted NMS at IoU 0.3; 0.65 here: at
# 0.6 a cat in tests/fixtures/noface counted as a face). The contract's
# `detector` section carries the values in use; these only seed it.
DEFAULTS = {
    "name": "blazeface-short-range",
    "input_size": INPUT_SIZE,
    "anchor_grids": [list(g) for g in GRIDS],
    "letterbox": "centre",
    "score_threshold": 0.65,
    "nms_iou": 0.3,
    "max_faces": 20,
    "min_face_px": 24,
    # When the whole picture shows no face, look again (1) zoomed out by this factor, for faces
    # that fill the frame (close-ups), then (2) at the picture's centred square when it is at
    # least `retry_centre_aspect` times wider than tall (or taller than wide): studio portraits.
    "retry_zoom_out": 1.25,
    "retry_centre_aspect": 1.6,
}


def _channel_pad_class():
    import keras

    @keras.saving.register_keras_serializable(package="facecheck")
    class ChannelPad(keras.layers.Layer):
        """Append `extra` zero channels (BlazeBlock shortcuts that widen), by concatenation.
        Two obvious alternatives fail: a fixed 1x1 convolution (the TF.js converter fuses the
        following Add into it as a bias, which the wasm backend rejects) and a Pad op on the
        channel axis (TensorFlow 2.19's oneDNN graph rewrite crashes on it inside tf.function)."""

        def __init__(self, extra: int, **kwargs):
            super().__init__(**kwargs)
            self.extra = extra

        def call(self, x):
            return keras.ops.concatenate([x, keras.ops.zeros_like(x[..., : self.extra])], axis=-1)

        def compute_output_shape(self, shape):
            return (*shape[:-1], shape[-1] + self.extra)

        def get_config(self):
            return {**super().get_config(), "extra": self.extra}

    return ChannelPad


def build_blazeface():
    """The network: RGB in [0, 255], 128x128 -> (regressors 896x16, logits 896x1)."""
    import keras
    from keras import layers

    ChannelPad = _channel_pad_class()
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
    regs, logits = [], []
    for tap, (grid, per_cell) in zip(taps, GRIDS, strict=True):
        stride = INPUT_SIZE // grid
        c = layers.Conv2D(per_cell, 1, name=f"classificator_{stride}")(tap)
        r = layers.Conv2D(per_cell * 16, 1, name=f"regressor_{stride}")(tap)
        logits.append(layers.Reshape((grid * grid * per_cell, 1))(c))
        regs.append(layers.Reshape((grid * grid * per_cell, 16))(r))
    regressors = layers.Concatenate(axis=1, name="regressors")(regs)
    scores = layers.Concatenate(axis=1, name="classificators")(logits)
    return keras.Model(inputs, [regressors, scores], name="blazeface")


def anchors(cfg: dict = DEFAULTS) -> np.ndarray:
    """Anchor centres (896 x 2, x then y, in 0..1), in the order of the network's outputs."""
    out = []
    for grid, per_cell in cfg["anchor_grids"]:
        for y in range(grid):
            for x in range(grid):
                out.extend([((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell)
    return np.asarray(out, np.float32)


def views(height: int, width: int, cfg: dict) -> list[tuple[int, int, int]]:
    """The squares (x, y, side) in image pixels the detector looks at, in order, each tried only
    when the ones before found no face. Parts outside the image are black."""
    big, small = max(height, width), min(height, width)
    out = [big]
    out.append(int(math.floor(big * cfg["retry_zoom_out"])))
    squares = [((width - s) // 2, (height - s) // 2, s) for s in out]
    if big >= cfg["retry_centre_aspect"] * small:
        squares.append(((width - small) // 2, (height - small) // 2, small))
    return squares


def view_pixels(image: np.ndarray, view: tuple[int, int, int]) -> np.ndarray:
    """The square `view` of the image as side x side x 3 uint8, black outside the image."""
    x, y, side = view
    h, w = image.shape[:2]
    out = np.zeros((side, side, 3), np.uint8)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    out[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1, :3]
    return out


def decode(regressors: np.ndarray, logits: np.ndarray, view: tuple[int, int, int], cfg: dict) -> list[dict]:
    """Raw outputs for one view of an image -> faces in image pixels (weighted NMS), best first."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.nonzero(scores >= cfg["score_threshold"])[0]
    if keep.size == 0:
        return []
    left, top, side = view
    a = anchors(cfg).astype(np.float64)[keep]
    r = regressors.reshape(-1, 16).astype(np.float64)[keep] / cfg["input_size"]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    # Boxes and keypoints in letterbox units (0..1), then image pixels.
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = r[:, 4:].reshape(-1, 6, 2) + a[:, None, :]
    order = np.argsort(-scores[keep], kind="stable")
    boxes, kps, s = boxes[order], kps[order], scores[keep][order]
    faces = []
    remaining = np.arange(len(s))
    while remaining.size and len(faces) < cfg["max_faces"]:
        first = remaining[0]
        ious = _iou(boxes[first], boxes[remaining])
        group = remaining[ious > cfg["nms_iou"]]
        wts = s[group][:, None]
        box = (boxes[group] * wts).sum(0) / wts.sum()
        kp = (kps[group] * wts[:, :, None]).sum(0) / wts.sum()
        remaining = remaining[ious <= cfg["nms_iou"]]
        x0, y0 = box[0] * side + left, box[1] * side + top
        bw, bh = (box[2] - box[0]) * side, (box[3] - box[1]) * side
        faces.append({
            "box": [float(x0), float(y0), float(bw), float(bh)],
            "score": float(s[first]),
            "keypoints": [[float(px * side + left), float(py * side + top)] for px, py in kp],
        })
    return faces


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


class Detector:
    """The network plus its post-processing; `detect_many` batches the network calls."""

    def __init__(self, model, cfg: dict | None = None, batch_size: int = 32):
        import tensorflow as tf

        self.model = model
        self.cfg = {**DEFAULTS, **(cfg or {})}
        self.batch_size = batch_size
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def load(cls, directory: str | os.PathLike | None = None, cfg: dict | None = None,
             batch_size: int = 32) -> Detector:
        import keras

        _channel_pad_class()  # registers the custom layer for loading
        path = Path(directory or DETECTOR_DIR) / DETECTOR_FILE
        if not path.exists():
            raise FileNotFoundError(f"no face detector at {path} (python -m export.import_blazeface)")
        return cls(keras.saving.load_model(path, compile=False), cfg, batch_size)

    def detect(self, image: np.ndarray) -> list[dict]:
        return self.detect_many([image])[0]

    def _inputs(self, images, chunk) -> np.ndarray:
        """Network inputs for (image index, view) pairs; views of one size share one resize call
        (same op, same result, far less per-call overhead for folders of same-sized photos)."""
        from facecheck.preprocess import resize_array

        size = self.cfg["input_size"]
        out = np.zeros((len(chunk), size, size, 3), np.float32)
        groups: dict[int, list[int]] = {}
        for k, (_, v) in enumerate(chunk):
            groups.setdefault(v[2], []).append(k)
        for ks in groups.values():
            pixels = np.stack([view_pixels(images[chunk[k][0]], chunk[k][1]) for k in ks])
            out[ks] = resize_array(pixels, size)
        return out

    def detect_many(self, images: list[np.ndarray]) -> list[list[dict]]:
        results: list[list[dict]] = [[] for _ in images]
        todo = [(i, views(img.shape[0], img.shape[1], self.cfg)) for i, img in enumerate(images)]
        while todo:
            # One batch per round: the next view of every image that has no face yet.
            round_ = [(i, vs[0]) for i, vs in todo]
            for start in range(0, len(round_), self.batch_size):
                chunk = round_[start : start + self.batch_size]
                batch = self._inputs(images, chunk)
                regs, logits = self._forward(batch)
                regs, logits = np.asarray(regs), np.asarray(logits)
                for k, (i, v) in enumerate(chunk):
                    results[i] = decode(regs[k], logits[k], v, self.cfg)
            todo = [(i, vs[1:]) for i, vs in todo if not results[i] and len(vs) > 1]
        return results
