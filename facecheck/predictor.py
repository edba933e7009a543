"""The Python predictor: load a model once, then `predict(image) -> {faces, p_fake, verdict}`.

The scan command, evaluation and benchmarks all go through this class; nothing else turns pixels
into probabilities.

    from facecheck.predictor import Predictor
    predictor = Predictor.load()            # the shipped model
    predictor.predict(load_image("a.jpg"))  # {"faces": [{"box": [x, y, w, h], "p_fake": ...}], ...}

Until a face detector lands, the judged region is the contract's crop (the centred square), and
it is reported as the one face of the image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facecheck.contract import MODEL_FILE, Contract
from facecheck.preprocess import model_input

# The model shipped in the repository, with its card and contract.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "facecheck-v1"


def default_model_dir() -> Path:
    return Path(os.environ.get("FACECHECK_MODEL_DIR", SHIPPED_MODEL_DIR))


class Predictor:
    def __init__(self, model, contract: Contract, batch_size: int = 64):
        import tensorflow as tf

        self.model = model
        self.contract = contract
        self.batch_size = batch_size
        # A traced call is ~10x cheaper than model.predict() at batch 1.
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, batch_size: int = 64) -> Predictor:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras

        model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (model_dir / MODEL_FILE).exists():
            raise FileNotFoundError(f"no {MODEL_FILE} in {model_dir}")
        contract = Contract.load(model_dir)
        model = keras.saving.load_model(model_dir / MODEL_FILE, compile=False)
        return cls(model, contract, batch_size=batch_size)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Fake-vs-real logits for model inputs (N x S x S x 3 float32), as the contract says."""
        batch = np.asarray(batch, np.float32)
        out = [self._logits(batch[i : i + self.batch_size])
               for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def _logits(self, batch: np.ndarray) -> np.ndarray:
        z = self._raw_logits(batch)
        if self.contract.test_time_flip:
            z = (z + self._raw_logits(batch[:, :, ::-1])) / 2.0
        return z

    def _raw_logits(self, batch: np.ndarray) -> np.ndarray:
        out = np.asarray(self._forward(np.ascontiguousarray(batch)), dtype=np.float64)
        if self.contract.output == "softmax2":
            eps = 1e-7
            return np.log(out[:, 1] + eps) - np.log(out[:, 0] + eps)
        return out.reshape(-1)

    def predict(self, image: np.ndarray) -> dict:
        return self.predict_many([image])[0]

    def predict_many(self, images: list[np.ndarray]) -> list[dict]:
        """Predict several RGB uint8 images, batching the model calls."""
        results = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            inputs, boxes = zip(*(model_input(img, self.contract) for img in chunk), strict=False)
            probs = self.contract.probability(self.logits(np.stack(inputs)))
            for box, p in zip(boxes, probs, strict=False):
                p = float(p)
                results.append({
                    "faces": [{"box": list(box), "p_fake": p}],
                    "p_fake": p,
                    "verdict": self.contract.verdict(p),
                })
        return results
