"""`facecheck scan --threshold P --unsure-from P`: the operating point for users who prefer
catching fakes (the options page's equivalents), checked before any work."""

from __future__ import annotations

import argparse
import json

import pytest

from facecheck.cli import band, main, rejudge
from facecheck.wording import rule_percent
from tests.helpers import FACES, band_verdict


def _args(threshold=None, unsure_from=None):
    return argparse.Namespace(threshold=threshold, unsure_from=unsure_from)


MODEL = {"threshold": 0.85, "unsure_from": 0.81, "model_version": "m"}


def test_band_follows_the_options_rules():
    assert band(_args(), MODEL) == (0.85, 0.81)                      # the model's own
    t, u = band(_args(threshold=0.5), MODEL)                         # the band keeps its width
    assert t == 0.5 and u == pytest.approx(0.46)
    assert band(_args(threshold=0.5, unsure_from=0.2), MODEL) == (0.5, 0.2)
    assert band(_args(unsure_from=0.6), MODEL) == (0.85, 0.6)
    assert band(_args(threshold=0.5), {**MODEL, "unsure_from": None}) == (0.5, None)
    assert band(_args(threshold=0.02), MODEL)[1] == pytest.approx(1e-6)  # never at or below 0
    with pytest.raises(ValueError, match="must not be above the threshold"):
        band(_args(unsure_from=0.9), MODEL)                          # above the model's threshold


@pytest.mark.parametrize("argv, message", [
    (["--threshold", "0"], "--threshold must be between 0 and 1"),
    (["--threshold", "1"], "--threshold must be between 0 and 1"),
    (["--threshold", "1.5"], "--threshold must be between 0 and 1"),
    (["--unsure-from", "0"], "--unsure-from must be between 0 and 1"),
    (["--unsure-from", "-0.1"], "--unsure-from must be between 0 and 1"),
    (["--threshold", "0.4", "--unsure-from", "0.6"], "must not be above the threshold"),
    (["--threshold", "abc"], "invalid float value"),
    (["--threshold", "0.5", "--engine", "ray"], "work with --engine local only"),
])
def test_wrong_bands_are_refused_before_any_work(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["scan", str(FACES), "--json", str(tmp_path / "x.json"), *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_unsure_from_above_the_models_threshold_exits_2(tmp_path, tiny_model, capsys):
    stored = json.loads((tiny_model / "contract.json").read_text())["threshold"]
    above = min(0.999, stored + (1 - stored) / 2)
    assert main(["scan", str(FACES), "--model", str(tiny_model), "--unsure-from", str(above),
                 "--json", str(tmp_path / "x.json"), "--quiet"]) == 2
    assert "must not be above the threshold" in capsys.readouterr().err


def test_scan_at_a_lower_threshold_rejudges_every_face(tmp_path, tiny_model, capsys):
    own, low = tmp_path / "own.json", tmp_path / "low.json"
    assert main(["scan", str(FACES), "--model", str(tiny_model), "--json", str(own), "--quiet"]) == 0
    doc = json.loads(own.read_text())
    ps = sorted(r["p_fake"] for r in doc["results"] if r["p_fake"] is not None)
    threshold, unsure_from = ps[len(ps) // 2], ps[len(ps) // 4]   # moves many verdicts
    capsys.readouterr()
    assert main(["scan", str(FACES), "--model", str(tiny_model), "--json", str(low), "--quiet",
                 "--threshold", str(threshold), "--unsure-from", str(unsure_from)]) == 0
    err = capsys.readouterr().err
    moved = json.loads(low.read_text())
    assert moved["model"]["threshold"] == threshold and moved["model"]["unsure_from"] == unsure_from
    assert moved["model"]["band_set_by"] == "command line"
    assert moved["model"]["model_band"]["threshold"] == doc["model"]["threshold"]
    changed = 0
    for before, after in zip(doc["results"], moved["results"], strict=True):
        assert after["p_fake"] == before["p_fake"]                  # the same model run, read again
        if after["p_fake"] is None:
            assert after["verdict"] == before["verdict"]
            continue
        assert after["verdict"] == band_verdict(after["p_fake"], threshold, unsure_from)
        for face in after["faces"]:
            if face["p_fake"] is not None:
                assert face["verdict"] == band_verdict(face["p_fake"], threshold, unsure_from)
        changed += after["verdict"] != before["verdict"]
    assert changed >= 4
    assert f"likely generated from {rule_percent(threshold)}, unsure from {rule_percent(unsure_from)}" in err


def test_rejudge_leaves_other_verdicts_alone():
    rows = [{"verdict": "no-face", "p_fake": None, "faces": []},
            {"verdict": "too-small", "p_fake": None, "faces": [{"p_fake": None, "verdict": "too-small"}]},
            {"verdict": "error", "error": "broken"},
            {"verdict": "real", "p_fake": 0.3, "faces": [{"p_fake": 0.3, "verdict": "real"}]}]
    model = rejudge(rows, MODEL, 0.25, 0.1)
    assert [r["verdict"] for r in rows] == ["no-face", "too-small", "error", "fake"]
    assert rows[3]["faces"][0]["verdict"] == "fake"
    assert model["threshold"] == 0.25 and model["model_band"]["unsure_from"] == 0.81
    assert rejudge([], MODEL, 0.85, 0.81) is MODEL
