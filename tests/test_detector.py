"""The face detector's arithmetic (facecheck/detector.py) on hand-computed values: anchors, the
search squares, IoU and the decoding of raw outputs into faces (weighted NMS). The browser has
the same arithmetic in extension/src/predictor.js; the parity test holds the two together."""

import json
import math
from dataclasses import asdict, replace

import numpy as np
import pytest

from facecheck.contract import CONTRACT_FILE, Contract
from facecheck.detector import anchor_centres, faces_from_outputs, iou, search_squares, square_pixels
from facecheck.detector_settings import DetectorSettings
from facecheck.predictor import SHIPPED_MODEL_DIR

SETTINGS = DetectorSettings()
# Anchor 728 is the first of the 8x8 grid's cell (4, 4) (after 16 x 16 x 2 = 512 anchors of the
# 16x16 grid, 6 per cell), centred at (4.5 / 8, 4.5 / 8); anchor 729 shares that centre. Anchor 0
# is the 16x16 grid's first, at (0.5 / 16, 0.5 / 16); anchor 100 is that grid's cell (2, 3).
CELL_4_4, CELL_4_4_SECOND, CORNER, CELL_2_3 = 728, 729, 0, 100


def raw_outputs(candidates: dict[int, tuple[float, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs with the given anchors' (score logit, regressor row) and no face elsewhere.
    Regressor rows: centre offset x, y, width, height (network input pixels), keypoint offsets."""
    regressors = np.zeros((896, 16), np.float32)
    score_logits = np.full((896, 1), -100.0, np.float32)
    for anchor, (logit, row) in candidates.items():
        score_logits[anchor] = logit
        regressors[anchor, : len(row)] = row
    return regressors, score_logits


def test_anchor_centres_follow_the_two_grids():
    a = anchor_centres(SETTINGS)
    assert a.shape == (896, 2)
    assert a[0].tolist() == a[1].tolist() == [1 / 32, 1 / 32]  # two anchors per 16x16 cell
    assert a[2].tolist() == [3 / 32, 1 / 32]
    assert a[512].tolist() == [1 / 16, 1 / 16]                  # the 8x8 grid starts here
    assert a[CELL_4_4].tolist() == a[CELL_4_4_SECOND].tolist() == [0.5625, 0.5625]
    assert a[CELL_2_3].tolist() == [2.5 / 16, 3.5 / 16]
    assert a[895].tolist() == [15 / 16, 15 / 16]


@pytest.mark.parametrize("height,width,squares", [
    # Square picture: itself, then zoomed out by 1.25 (floor(375) = 375, centred).
    (300, 300, [(0, 0, 300), (-38, -38, 375)]),
    # Slightly tall: no centred square (1.2 < retry_centre_aspect).
    (120, 100, [(-10, 0, 120), (-25, -15, 150)]),
    # Exactly 1.6 times wider than tall: the centred square is tried last.
    (100, 160, [(0, -30, 160), (-20, -50, 200), (30, 0, 100)]),
    (100, 200, [(0, -50, 200), (-25, -75, 250), (50, 0, 100)]),
])
def test_search_squares(height, width, squares):
    assert search_squares(height, width, SETTINGS) == squares


def test_square_pixels_are_black_outside_the_image():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    out = square_pixels(image, (-1, -1, 3))
    assert out.shape == (3, 3, 3) and out.dtype == np.uint8
    assert not out[0].any() and not out[:, 0].any()
    assert (out[1:, 1:] == image[:2, :2]).all()


def test_iou():
    box = np.array([0.0, 0.0, 2.0, 2.0])
    boxes = np.array([[1, 1, 3, 3], [2, 2, 4, 4], [0, 0, 2, 2], [0, 0, 1, 1], [-1, 0, 1, 2]], np.float64)
    assert iou(box, boxes) == pytest.approx([1 / 7, 0.0, 1.0, 0.25, 1 / 3])


def test_one_candidate_decodes_to_image_pixels():
    # Anchor (0.5625, 0.5625) moved by -8 px of 128 -> centre (0.5, 0.5); 64 px wide -> half the
    # square. In the square (10, 20, 200): box (60, 70, 100, 100); keypoint 0 moved by (+8, -8) px.
    regressors, score_logits = raw_outputs({CELL_4_4: (math.log(4), [-8, -8, 64, 64, 8, -8])})
    (face,) = faces_from_outputs(regressors, score_logits, (10, 20, 200), SETTINGS)
    assert face["box"] == pytest.approx([60.0, 70.0, 100.0, 100.0])
    assert face["score"] == pytest.approx(0.8)  # sigmoid(log 4)
    assert np.allclose(face["keypoints"], [[135.0, 120.0]] + [[122.5, 132.5]] * 5)


# A and B overlap (IoU 7/9) with equal scores; C is far away and scores higher; D is A's box
# from another anchor, scored just under the threshold (sigmoid(0.5) = 0.62 < 0.65).
OVERLAPPING = {
    CELL_4_4: (math.log(4), [-8, -8, 64, 64]),          # A: (0.25, 0.25, 0.75, 0.75)
    CELL_4_4_SECOND: (math.log(4), [0, -8, 64, 64]),    # B: (0.3125, 0.25, 0.8125, 0.75)
    CORNER: (math.log(9), [0, 0, 8, 8]),                # C: (0, 0, 0.0625, 0.0625)
    CELL_2_3: (0.5, [44, 36, 64, 64]),                  # D: A's box, not counted
}


def test_overlapping_candidates_merge_into_their_weighted_mean():
    faces = faces_from_outputs(*raw_outputs(OVERLAPPING), (0, 0, 128), SETTINGS)
    assert [f["score"] for f in faces] == pytest.approx([0.9, 0.8])  # best first
    assert faces[0]["box"] == pytest.approx([0.0, 0.0, 8.0, 8.0])
    # A and B with equal weights: x from (0.25 + 0.3125) / 2 to (0.75 + 0.8125) / 2 of 128 px.
    assert faces[1]["box"] == pytest.approx([36.0, 32.0, 64.0, 64.0])
    assert np.allclose(faces[1]["keypoints"], [[72.0, 72.0]] * 6)


def test_nms_iou_and_max_faces_are_obeyed():
    outputs = raw_outputs(OVERLAPPING)
    apart = faces_from_outputs(*outputs, (0, 0, 128), replace(SETTINGS, nms_iou=0.8))
    assert np.allclose([f["box"] for f in apart], [[0, 0, 8, 8], [32, 32, 64, 64], [40, 32, 64, 64]])
    best = faces_from_outputs(*outputs, (0, 0, 128), replace(SETTINGS, max_faces=1))
    assert [f["score"] for f in best] == pytest.approx([0.9])
    assert faces_from_outputs(*outputs, (0, 0, 128), replace(SETTINGS, score_threshold=0.95)) == []


def test_detector_settings_are_the_contract_json_section():
    """contract.json's `detector` section, which the browser reads too, keeps its shape."""
    shipped = json.loads((SHIPPED_MODEL_DIR / CONTRACT_FILE).read_text())["detector"]
    assert asdict(Contract.load(SHIPPED_MODEL_DIR).detector) == shipped
    assert asdict(DetectorSettings()) == shipped
    older = DetectorSettings.from_dict({"score_threshold": 0.7, "not_yet_known": 1})
    assert older == replace(DetectorSettings(), score_threshold=0.7)
