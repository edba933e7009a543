import json

import numpy as np
import pytest

from facecheck import metrics as M
from facecheck.contract import VERDICTS, Contract
from facecheck.images import load_image
from facecheck.preprocess import model_input
from tests.helpers import fixture_faces


def test_contract_round_trip(tmp_path):
    c = Contract(temperature=1.7, threshold=0.42, architecture="facecheck", model_version="x")
    c.save(tmp_path)
    d = Contract.load(tmp_path)
    assert d == c
    assert d.probability(0.0) == pytest.approx(0.5)
    assert d.verdict(0.42) == "fake" and d.verdict(0.4199) == "real"
    assert d.unsure_from is None  # no band unless one is set


def test_contract_unsure_band_and_round_trip(tmp_path):
    c = Contract(threshold=0.6, unsure_from=0.35, model_version="banded")
    # fake at and above the threshold, unsure from unsure_from (included) up to it, real below.
    assert [c.verdict(p) for p in (0.0, 0.3499, 0.35, 0.5, 0.5999, 0.6, 1.0)] == \
        ["real", "real", "unsure", "unsure", "unsure", "fake", "fake"]
    assert set(VERDICTS) == {"fake", "unsure", "real", "no-face", "too-small", "error"}
    c.save(tmp_path)
    assert json.loads((tmp_path / "contract.json").read_text())["unsure_from"] == 0.35
    d = Contract.load(tmp_path)
    assert d == c and d.unsure_from == 0.35 and d.verdict(0.4) == "unsure"
    # What every result reports about the model names the band too.
    assert d.brief()["unsure_from"] == 0.35 and d.brief()["threshold"] == 0.6


def test_old_contract_without_a_band_loads_and_is_never_unsure(tmp_path):
    c = Contract(threshold=0.52, model_version="old")
    c.save(tmp_path)
    data = json.loads((tmp_path / "contract.json").read_text())
    del data["unsure_from"]  # written before the field existed
    (tmp_path / "contract.json").write_text(json.dumps(data))
    old = Contract.load(tmp_path)
    assert old.unsure_from is None and old.brief()["unsure_from"] is None
    verdicts = {old.verdict(p) for p in np.linspace(0.0, 1.0, 2001)}
    assert verdicts == {"fake", "real"}
    assert old.verdict(0.52) == "fake" and old.verdict(0.5199) == "real"


def test_contract_rejects_foreign_files(tmp_path):
    (tmp_path / "contract.json").write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="not a facecheck-contract"):
        Contract.load(tmp_path)


def test_model_input_follows_the_contract():
    img = load_image(fixture_faces("real")[0])
    x, box = model_input(img, Contract(input_size=96))
    assert x.shape == (96, 96, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 255.0
    # Antialiased downscaling keeps the mean brightness.
    assert abs(float(x.mean()) - float(img.mean())) < 1.5


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.0, 20000)
    y = (rng.random(20000) < M.sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 3.0
    t = M.fit_temperature(y, overconfident)
    assert t == pytest.approx(3.0, rel=0.08)
    assert M.expected_calibration_error(y, M.sigmoid(overconfident / t)) < 0.02
    assert M.expected_calibration_error(y, M.sigmoid(overconfident)) > 0.05


def test_binary_report_counts_per_class():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.2, 0.9, 0.4])
    r = M.binary_report(y, p, 0.5)
    assert r["real_acc"] == pytest.approx(2 / 3)
    assert r["fake_acc"] == pytest.approx(0.5)
    assert r["accuracy"] == pytest.approx(3 / 5)
    assert r["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5) / 2)
    assert r["auc"] == pytest.approx(5 / 6)


def test_threshold_choice_maximises_balanced_accuracy():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(500), np.ones(500)].astype(int)
    p = np.r_[rng.uniform(0.0, 0.7, 500), rng.uniform(0.6, 1.0, 500)]
    t = M.choose_threshold(y, p)
    best = max(M.binary_report(y, p, c)["balanced_accuracy"] for c in np.linspace(0.05, 0.95, 181))
    assert M.binary_report(y, p, t)["balanced_accuracy"] >= best - 0.005
    assert 0.55 <= t <= 0.7
    # Ties go to the threshold nearest 0.5.
    assert M.choose_threshold(y, p, tolerance=1.0) == pytest.approx(0.5)
