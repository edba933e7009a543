"""The preprocessing contract: the one place that says how an image becomes model input.

Training writes `contract.json` beside every model it saves; the Python predictor (and, from the
export step on, the browser predictor) read it back. Nothing else in the code base hard-codes the
input size, value range, resize method, threshold or temperature.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from facecheck.detector_settings import DetectorSettings
from facecheck.images import MAX_PIXELS, MAX_SIDE, MIN_SIDE

CONTRACT_FILE = "contract.json"
MODEL_FILE = "model.keras"
FORMAT = "facecheck-contract/1"
P_FAKE_MEANING = (
    "calibrated probability that the face crop is GAN-generated: sigmoid(logit / temperature), "
    "the logit averaged over the crop and its mirror image when test_time_flip is set; "
    "verdict is 'fake' when p_fake >= threshold, 'unsure' when unsure_from <= p_fake < threshold, "
    "'real' below unsure_from"
)

# Every verdict a result can carry, in every front end (CLI, server, extension):
# fake: a face judged likely generated (p_fake >= threshold); unsure: between the two thresholds,
# neither claim is made; real: likely a real photo; no-face: no face found (never a guess);
# too-small: faces found but all too small to judge; error: the picture could not be read.
VERDICTS = ("fake", "unsure", "real", "no-face", "too-small", "error")


def verdict_is_right(label: str, verdict: str) -> bool:
    """How every report counts a verdict against the truth: a real photo called `unsure` is right
    (not an accusation), a fake called `unsure` is wrong (not caught); no-face, too-small and error
    are never right."""
    return verdict == label or (label == "real" and verdict == "unsure")


# The contract fields every result carries in its "model" summary.
BRIEF_FIELDS = ("model_version", "architecture", "threshold", "unsure_from", "temperature", "input_size",
                "crop_rule")


def verdict_at(p_fake: float, threshold: float, unsure_from: float | None) -> str:
    """The verdict rule: "fake" at or above the threshold, "unsure" in [unsure_from, threshold),
    else "real". Contract.verdict applies the model's band; `facecheck scan --threshold` another."""
    if p_fake >= threshold:
        return "fake"
    if unsure_from is not None and p_fake >= unsure_from:
        return "unsure"
    return "real"


@dataclass
class Contract:
    # Side of the square RGB crop the model takes, in pixels.
    input_size: int = 128
    # How the judged square is cut from the image.
    # "face-box" (default): for every face the detector finds, a square of side
    #     crop_scale * box width, centred on the box centre moved down by crop_shift_y box widths
    #     (negative: up), which reproduces the pool's FFHQ framing (forehead to chin with some
    #     hair and background). A square that does not fit in the image is shrunk to fit and
    #     moved inside it (never padded: padding would be a pattern the pool has only on some
    #     sources, i.e. a shortcut).
    # "centre-square": the largest centred square, scaled by (1 - crop_margin); no detector.
    crop_rule: str = "face-box"
    crop_margin: float = 0.0
    crop_scale: float = 1.675
    crop_shift_y: float = -0.2
    # Face detector post-processing (facecheck/detector_settings.py): score threshold, NMS IoU,
    # maximum faces, and the smallest face (box width in image pixels) that is judged.
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    # tf.image.resize with these settings, in Python and in the browser alike.
    resize_method: str = "bilinear"
    resize_antialias: bool = True
    # The model takes raw RGB in this range (float32); normalisation lives inside the model.
    value_range: tuple[float, float] = (0.0, 255.0)
    # Average the logits of the crop and its mirror image (costs a second model call per face).
    test_time_flip: bool = True
    # "logit": one unit, fake-vs-real logit. "softmax2": two units [p_real, p_fake].
    output: str = "logit"
    # p_fake = sigmoid(logit / temperature); chosen on the validation split.
    temperature: float = 1.0
    # verdict = "fake" if p_fake >= threshold; chosen on the validation split so that no real
    # source there has more than 5 % of its pictures called generated (training/calibrate.py).
    threshold: float = 0.5
    # The "unsure" band: unsure_from <= p_fake < threshold reads "unsure", below it "real".
    # Calibrated with the threshold; None (older contracts) means no band.
    unsure_from: float | None = None
    # The pictures judged at all, by every front end (facecheck/images.py and the extension's
    # decoder): at most max_pixels decoded pixels, at least min_side pixels on either side and at
    # most max_side on the longer one.
    max_pixels: int = MAX_PIXELS
    min_side: int = MIN_SIDE
    max_side: int = MAX_SIDE
    architecture: str = ""
    model_version: str = ""
    format: str = FORMAT
    extra: dict = field(default_factory=dict)

    def probability(self, logits):
        """Calibrated p_fake for an array of logits (numpy or float)."""
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        return 1.0 / (1.0 + np.exp(-z))

    def brief(self) -> dict:
        """What a result reports about the model that produced it (CLI --json, server answers)."""
        return {k: getattr(self, k) for k in BRIEF_FIELDS}

    def verdict(self, p_fake: float) -> str:
        return verdict_at(p_fake, self.threshold, self.unsure_from)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONTRACT_FILE
        data = asdict(self)
        data["value_range"] = list(self.value_range)
        data["p_fake"] = P_FAKE_MEANING
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Contract:
        path = Path(directory)
        if path.is_dir():
            path = path / CONTRACT_FILE
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} file")
        data["value_range"] = tuple(data["value_range"])
        if "detector" in data:
            data["detector"] = DetectorSettings.from_dict(data["detector"])
        known = {f for f in cls.__dataclass_fields__}
        contract = cls(**{k: v for k, v in data.items() if k in known})
        if not (contract.temperature > 0 and math.isfinite(contract.temperature)):
            raise ValueError(f"{path}: temperature must be positive")
        return contract
