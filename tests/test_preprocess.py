"""The contract's crop rules (facecheck/preprocess.py), on hand-computed squares."""

import pytest

from facecheck.contract import Contract
from facecheck.preprocess import crop_box, face_square


@pytest.mark.parametrize("shape,box", [((300, 300), (0, 0, 300, 300)),
                                       ((200, 400), (100, 0, 200, 200)),
                                       ((401, 100), (0, 150, 100, 100))])
def test_centre_square_rule(shape, box):
    assert crop_box(*shape, Contract(crop_rule="centre-square")) == box


def test_face_crop_rule():
    c = Contract(crop_scale=2.0, crop_shift_y=-0.25)
    # Inside the picture: side = 2 x box width, centre moved up by a quarter of the width.
    assert face_square((100, 100, 50, 50), c, 400, 400) == (75, 63, 100, 100)
    # At an edge: moved inside, never padded.
    assert face_square((0, 0, 50, 50), c, 400, 400) == (0, 0, 100, 100)
    assert face_square((370, 370, 30, 30), c, 400, 400) == (340, 340, 60, 60)
    # Bigger than the picture: shrunk to fit.
    assert face_square((10, 10, 180, 180), c, 200, 300) == (0, 0, 200, 200)
    assert face_square((100, 10, 180, 180), c, 200, 300) == (90, 0, 200, 200)
