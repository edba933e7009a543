"""The face detector's settings: the contract's `detector` section, as a dataclass.

Kept apart from facecheck/detector.py (which needs TensorFlow) so that the contract can carry
these settings without starting TensorFlow, and without the contract importing the detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# The network's input side, and per output head its grid and anchors per cell (MediaPipe's SSD
# anchor options for this model: strides 8, 16, 16, 16 -> a 16x16 grid with 2 anchors and an 8x8
# grid with 6).
INPUT_SIZE = 128
GRIDS = ((16, 2), (8, 6))


@dataclass
class DetectorSettings:
    """How the detector's raw outputs become faces. The defaults only seed new contracts; the
    contract's `detector` section carries the values in use, for Python and the browser alike.
    MediaPipe uses score 0.5 and weighted NMS at IoU 0.3; 0.65 here: at 0.6 a cat in
    tests/fixtures/noface counted as a face."""

    name: str = "blazeface-short-range"
    input_size: int = INPUT_SIZE
    # [grid, anchors per cell] of each output head, in the order of the network's outputs.
    anchor_grids: list[list[int]] = field(default_factory=lambda: [list(g) for g in GRIDS])
    letterbox: str = "centre"
    score_threshold: float = 0.65
    nms_iou: float = 0.3
    max_faces: int = 20
    # The smallest face (box width in image pixels) that is judged; smaller ones are reported.
    min_face_px: int = 24
    # When the whole picture shows no face, look again (1) zoomed out by this factor, for faces
    # that fill the frame (close-ups), then (2) at the picture's centred square when it is at
    # least `retry_centre_aspect` times wider than tall (or taller than wide): studio portraits.
    retry_zoom_out: float = 1.25
    retry_centre_aspect: float = 1.6

    @classmethod
    def from_dict(cls, data: dict) -> DetectorSettings:
        """From a contract.json `detector` section; keys it lacks (older contracts) keep their
        defaults, keys this version does not know are ignored (as Contract.load does)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
