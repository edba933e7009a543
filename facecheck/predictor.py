"""The Python predictor: load a model once, then `predict(image) -> {faces, p_fake, verdict}`.

    image -> faces (BlazeFace) -> one square crop per face (the contract's crop rule)
          -> the classifier (logits averaged with the mirror image) -> calibrated p_fake

The scan command, the server, evaluation and benchmarks all go through this class; nothing else
turns pixels into probabilities. The browser has the same pipeline in extension/src/predictor.js.

    from facecheck.predictor import Predictor
    predictor = Predictor.load()            # the shipped model and detector
    predictor.predict(load_image("a.jpg"))
    # {"faces": [{"box": [x, y, w, h], "score": 0.93, "p_fake": 0.97, "verdict": "fake"}],
    #  "p_fake": 0.97, "verdict": "fake"}

Verdicts (facecheck.contract.VERDICTS): per face "fake", "unsure" or "real" from its p_fake by
`Contract.verdict` (the threshold and the unsure band), or "too-small" (a face narrower than the
contract's `detector.min_face_px` is reported, not judged); per image the verdict of its most
suspicious judged face (again by `Contract.verdict`), "too-small" when every face found is too
small, and "no-face" when none is found (never a guess). "error" (an unreadable file) comes from
facecheck.images.error_result, before the predictor. Models whose contract says crop_rule
"centre-square" judge the centred square as the image's one face, without a detector.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from facecheck.contract import MODEL_FILE, Contract
from facecheck.detector import Detector
from facecheck.layers import CUSTOM_OBJECTS
from facecheck.paths import SHIPPED_MODEL_DIR, default_model_dir
from facecheck.preprocess import centre_square, face_square, model_input

__all__ = ["SHIPPED_MODEL_DIR", "Predictor", "default_model_dir"]


class Predictor:
    def __init__(self, model, contract: Contract, batch_size: int = 64, detector: Detector | None = None):
        self.model = model
        self.contract = contract
        self.batch_size = batch_size
        # A traced call is ~10x cheaper than model.predict() at batch 1.
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        self.detector = detector
        if detector is None and contract.crop_rule == "face-box":
            self.detector = Detector.load(settings=contract.detector, batch_size=batch_size)

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, batch_size: int = 64) -> Predictor:
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (model_dir / MODEL_FILE).exists():
            raise FileNotFoundError(f"no {MODEL_FILE} in {model_dir}")
        contract = Contract.load(model_dir)
        model = keras.saving.load_model(model_dir / MODEL_FILE, compile=False, custom_objects=CUSTOM_OBJECTS)
        return cls(model, contract, batch_size=batch_size)

    # -- the classifier ---------------------------------------------------------------------
    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Fake-vs-real logits for model inputs (N x S x S x 3 float32), as the contract says."""
        batch = np.asarray(batch, np.float32)
        out = [self._batch_logits(batch[i : i + self.batch_size])
               for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def _batch_logits(self, batch: np.ndarray) -> np.ndarray:
        """One batch's logits, each averaged with its mirror image's when the contract says so."""
        if not self.contract.test_time_flip:
            return self._network_logits(batch)
        # The crops and their mirror images in one model call (half the per-call overhead).
        z = self._network_logits(np.concatenate([batch, batch[:, :, ::-1]]))
        n = len(batch)
        return (z[:n] + z[n:]) / 2.0

    def _network_logits(self, batch: np.ndarray) -> np.ndarray:
        """One model call: a fake-vs-real logit per input, whatever the model's output kind."""
        out = np.asarray(self._forward(np.ascontiguousarray(batch)), dtype=np.float64)
        if self.contract.output == "softmax2":
            eps = 1e-7
            return np.log(out[:, 1] + eps) - np.log(out[:, 0] + eps)
        return out.reshape(-1)

    # -- the whole pipeline -----------------------------------------------------------------
    def find_faces(self, images: list[np.ndarray]) -> list[list[dict]]:
        """Per image, its faces: {"box": [x, y, w, h], "score", "square": crop square or None}."""
        if self.detector is None:
            out = []
            for img in images:
                sq = centre_square(img.shape[0], img.shape[1], self.contract.crop_margin)
                out.append([{"box": list(sq), "score": None, "square": sq}])
            return out
        min_px = self.contract.detector.min_face_px
        found = self.detector.detect_many(images)
        out = []
        for img, faces in zip(images, found, strict=True):
            h, w = img.shape[:2]
            listed = []
            for f in faces:
                box = [round(v, 1) for v in f["box"]]
                big = f["box"][2] >= min_px
                listed.append({"box": box, "score": round(f["score"], 4),
                               "square": face_square(f["box"], self.contract, h, w) if big else None})
            out.append(listed)
        return out

    def predict(self, image: np.ndarray) -> dict:
        return self.predict_many([image])[0]

    def predict_many(self, images: list[np.ndarray]) -> list[dict]:
        """Predict several RGB uint8 images; detector and classifier calls are batched."""
        results = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            faces = self.find_faces(chunk)
            crops, where = [], []
            for i, (img, fs) in enumerate(zip(chunk, faces, strict=True)):
                for j, f in enumerate(fs):
                    if f["square"] is not None:
                        crops.append(model_input(img, self.contract, f["square"])[0])
                        where.append((i, j))
            probs = self.contract.probability(self.logits(np.stack(crops))) if crops else []
            judged = {key: float(p) for key, p in zip(where, probs, strict=True)}
            for i, fs in enumerate(faces):
                results.append(self._result(fs, [judged.get((i, j)) for j in range(len(fs))]))
        return results

    def _result(self, faces: list[dict], probs: list[float | None]) -> dict:
        out_faces = []
        for f, p in zip(faces, probs, strict=True):
            face = {"box": f["box"], "score": f["score"], "p_fake": p,
                    "verdict": "too-small" if p is None else self.contract.verdict(p)}
            if f["square"] is not None:
                face["crop"] = list(f["square"])
            out_faces.append(face)
        judged = [p for p in probs if p is not None]
        if judged:
            p = max(judged)
            return {"faces": out_faces, "p_fake": p, "verdict": self.contract.verdict(p)}
        return {"faces": out_faces, "p_fake": None, "verdict": "too-small" if faces else "no-face"}
