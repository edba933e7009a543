import csv
import json
import subprocess
import sys

from facecheck.cli import CSV_COLUMNS, main
from tests.conftest import FACES, ROOT


def _scan_rows(tmp_path, *args):
    out = tmp_path / "scan.csv"
    assert main(["scan", *map(str, args), "--csv", str(out), "--quiet"]) == 0
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        return list(reader)


def test_scan_bad_inputs_one_row_per_file_with_reasons(tmp_path, tiny_model, bad_inputs,
                                                        monkeypatch):
    monkeypatch.setenv("FACECHECK_MODEL_DIR", str(tiny_model))
    folder, expected = bad_inputs
    rows = _scan_rows(tmp_path, folder)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert set(by_name) == set(expected)
    for name, error in expected.items():
        r = by_name[name]
        if error is None:
            assert r["error"] == "", (name, r)
            assert r["verdict"] in ("fake", "real")
            assert 0.0 <= float(r["p_fake"]) <= 1.0
            assert r["faces"] == "1"
        else:
            assert r["verdict"] == "error", (name, r)
            assert error in r["error"], (name, r)
            assert r["p_fake"] == "" and r["faces"] == "0"


def test_scan_json_has_full_detail(tmp_path, tiny_model):
    out = tmp_path / "scan.json"
    files = sorted((FACES / "fake").glob("*.jpg"))[:2]
    assert main(["scan", *map(str, files), "--json", str(out), "--model", str(tiny_model),
                 "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert doc["model"]["threshold"] == json.loads((tiny_model / "contract.json").read_text())[
        "threshold"]
    assert [r["path"] for r in doc["results"]] == [str(f) for f in files]
    for r in doc["results"]:
        # One face, found by the detector inside the 300x300 picture, and its crop square.
        assert len(r["faces"]) == 1
        face = r["faces"][0]
        x, y, w, h = face["box"]
        assert 0.25 * 300 < w < 300 and -10 < x and x + w < 310 and -10 < y and y + h < 310
        cx, cy, side, _ = face["crop"]
        assert cx >= 0 and cy >= 0 and cx + side <= 300 and cy + side <= 300 and side > w
        assert face["score"] > 0.5 and face["p_fake"] == r["p_fake"]


def test_scan_verdicts_follow_the_stored_threshold(tmp_path, tiny_model):
    out = tmp_path / "scan.json"
    assert main(["scan", str(FACES), "--json", str(out), "--model", str(tiny_model), "--quiet"]) == 0
    rows = json.loads(out.read_text())["results"]
    assert len(rows) == 32
    threshold = json.loads((tiny_model / "contract.json").read_text())["threshold"]
    for r in rows:
        assert r["verdict"] == ("fake" if r["p_fake"] >= threshold else "real")
    csv_rows = _scan_rows(tmp_path, FACES, "--model", tiny_model)
    assert [r["verdict"] for r in csv_rows] == [r["verdict"] for r in rows]


def test_scan_missing_path_exits_2(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_help_lists_every_option():
    exe = ROOT / ".venv" / "bin" / "facecheck"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "facecheck.cli"]
    out = subprocess.run(cmd + ["scan", "--help"], capture_output=True, text=True, check=True)
    for opt in ("--csv", "--json", "--model", "--batch-size"):
        assert opt in out.stdout
    for sub in ("train", "evaluate"):
        out = subprocess.run(cmd + [sub, "--help"], capture_output=True, text=True, check=True)
        assert "--data" in out.stdout and "--out" in out.stdout
