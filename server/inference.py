"""The process's predictor and the lock its calls share, the turns of requests that hold decoded
images, and the predictor's answers as the API's JSON.

The predictor is loaded once per process (model folder and batch size) and shared by every app
made in it, and so is its lock: inference runs one request at a time, since TensorFlow already
uses every core for one batch and the detector's Python post-processing is not re-entrant.
Decoding is bounded too (DecodeTurns): a request holds its decoded images until the model has
judged them, so without a bound N parallel requests would hold N request budgets of pixels.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facecheck.images import error_result

if TYPE_CHECKING:
    import numpy as np

    from facecheck.predictor import Predictor

log = logging.getLogger("facecheck.server")


@dataclass(eq=False)
class SharedPredictor:
    """A predictor and the lock that serialises its calls, however many apps use it."""

    predictor: Predictor
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judge(self, images: list[np.ndarray]) -> list[dict]:
        """The API's result for each image: all in one batched call; if that fails, one by one so
        only the image that breaks the batch gets an error."""
        with self.lock:
            try:
                return [api_result(r) for r in self.predictor.predict_many(images)]
            except Exception:  # noqa: BLE001 - isolate the image that breaks the batch
                log.exception("batch prediction failed; retrying image by image")
            return [self._judge_one(img) for img in images]

    def _judge_one(self, image: np.ndarray) -> dict:
        try:
            return api_result(self.predictor.predict_many([image])[0])
        except Exception as e:  # noqa: BLE001 - one bad image is an error entry, not a 500
            log.exception("prediction failed")
            return error_result(f"prediction failed: {type(e).__name__}")


class Busy(Exception):
    """No decoding turn came free in time (answered 503 with Retry-After)."""


class DecodeTurns:
    """At most `n` requests of an app hold decoded images at once; a request takes its turn before
    decoding its first image and gives it back once its images are judged (or refused). The others
    wait up to `wait_s` seconds for a turn, then get Busy. Requests that decode nothing (every image
    refused from its header) never take a turn."""

    def __init__(self, n: int, wait_s: float):
        self._turns = threading.BoundedSemaphore(n)
        self.wait_s = wait_s
        self.taken = 0  # turns held now (read by tests; changed under _count)
        self._count = threading.Lock()

    @contextmanager
    def lazily(self) -> Iterator[Callable[[], None]]:
        """`with turns.lazily() as take:` call take() before each decode; the turn, once taken,
        is held until the block ends."""
        held = False

        def take() -> None:
            nonlocal held
            if not held:
                if not self._turns.acquire(timeout=self.wait_s):
                    raise Busy(f"too many requests decoding images at once; waited {self.wait_s:g} s")
                held = True
                self._add(1)

        try:
            yield take
        finally:
            if held:
                self._add(-1)
                self._turns.release()

    def _add(self, n: int) -> None:
        with self._count:
            self.taken += n


_SHARED: dict[tuple[str, int], SharedPredictor] = {}
_SHARED_LOCK = threading.Lock()


def shared_predictor(model_dir: str | None = None, batch_size: int = 64) -> SharedPredictor:
    """The process's predictor for `model_dir` (None: the default model), loaded on first use."""
    # facecheck.predictor imports TensorFlow: only pay for it once a model is really wanted.
    from facecheck.predictor import Predictor, default_model_dir

    key = (str(Path(model_dir) if model_dir else default_model_dir()), batch_size)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = SharedPredictor(Predictor.load(key[0], batch_size=batch_size))
        return _SHARED[key]


def load_predictor(model_dir: str | None = None, batch_size: int = 64) -> Predictor:
    """The process's predictor itself (model and detector loaded once), e.g. to hand to create_app."""
    return shared_predictor(model_dir, batch_size).predictor


def share(predictor: Predictor) -> SharedPredictor:
    """`predictor` with its lock: the process's entry when it is a predictor loaded here (so all
    its apps take turns), else a new entry for a predictor the caller made and owns."""
    with _SHARED_LOCK:
        for entry in _SHARED.values():
            if entry.predictor is predictor:
                return entry
    return SharedPredictor(predictor)


def api_result(result: dict) -> dict:
    """A predictor result with the fields the API documents (server/openapi.py), no others."""
    faces = []
    for f in result["faces"]:
        face = {"box": f["box"], "score": f.get("score"), "p_fake": f.get("p_fake"),
                "verdict": f["verdict"]}
        if f.get("crop") is not None:
            face["crop"] = f["crop"]
        faces.append(face)
    return {"faces": faces, "p_fake": result.get("p_fake"), "verdict": result["verdict"]}


def json_safe(value: Any) -> Any:
    """Numpy scalars to Python numbers, non-finite floats to null (strict JSON), recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
