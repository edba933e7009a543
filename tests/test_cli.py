import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from facecheck.cli import CSV_COLUMNS, main, summary
from facecheck.contract import Contract
from tests.helpers import FACES, FIXTURES, ROOT, band_around, band_verdict, banded_model_dir, fixture_faces


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
            assert r["verdict"] in ("fake", "unsure", "real")
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
    stored = json.loads((tiny_model / "contract.json").read_text())
    for r in rows:
        assert r["verdict"] == band_verdict(r["p_fake"], stored["threshold"], stored.get("unsure_from"))
    csv_rows = _scan_rows(tmp_path, FACES, "--model", tiny_model)
    assert [r["verdict"] for r in csv_rows] == [r["verdict"] for r in rows]


def test_summary_counts_every_verdict_apart():
    rows = [{"verdict": v} for v in
            ["fake"] * 3 + ["unsure"] * 2 + ["real"] * 4 + ["no-face"] * 5 + ["too-small"] * 6 + ["error"]]
    model = {"threshold": 0.6, "unsure_from": 0.35, "model_version": "m1"}
    assert summary(rows, model) == (
        "21 image(s): 3 likely generated, 2 unsure, 4 likely real, 5 no face found, "
        "6 too small to judge, 1 unreadable (threshold 0.600, unsure from 0.350, model m1)")
    old = {"threshold": 0.52, "unsure_from": None, "model_version": "m0"}
    assert summary(rows[:9], old).endswith("(threshold 0.520, no unsure band, model m0)")


def test_scan_with_the_models_unsure_band(tmp_path, tiny_model, capsys):
    """A model whose calibrated band holds a face's p_fake: the scan calls it unsure in the CSV,
    the JSON and the table, and the summary counts it apart, never as real."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    faces = fixture_faces("real")[:2] + fixture_faces("fake")[:2]
    for f in faces:
        shutil.copy(f, folder / f.name)
    shutil.copy(FIXTURES / "noface" / "brick.jpg", folder / "brick.jpg")
    (folder / "broken.jpg").write_bytes(b"not an image")
    plain = tmp_path / "plain.json"
    assert main(["scan", str(folder), "--json", str(plain), "--model", str(tiny_model), "--quiet"]) == 0
    p_plain = {Path(r["path"]).name: r["p_fake"] for r in json.loads(plain.read_text())["results"]}
    target = faces[0].name
    contract = band_around(Contract.load(tiny_model), p_plain[target])
    banded = banded_model_dir(tiny_model, tmp_path / "banded", contract)
    capsys.readouterr()

    out_csv, out_json = tmp_path / "banded.csv", tmp_path / "banded.json"
    assert main(["scan", str(folder), "--csv", str(out_csv), "--json", str(out_json), "--table",
                 "--model", str(banded), "--quiet"]) == 0
    printed = capsys.readouterr()
    doc = json.loads(out_json.read_text())
    assert doc["model"]["unsure_from"] == contract.unsure_from
    assert doc["model"]["threshold"] == contract.threshold
    with open(out_csv, newline="") as f:
        csv_rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    verdicts = {}
    for r in doc["results"]:
        name = Path(r["path"]).name
        verdicts[name] = r["verdict"]
        assert csv_rows[name]["verdict"] == r["verdict"]
        if r["p_fake"] is not None:
            want = band_verdict(r["p_fake"], contract.threshold, contract.unsure_from)
            assert r["verdict"] == want and [f["verdict"] for f in r["faces"]] == [want], r
    assert verdicts[target] == "unsure"
    assert verdicts["brick.jpg"] == "no-face" and verdicts["broken.jpg"] == "error"
    table = {line.split()[0].rsplit("/", 1)[-1]: line.split() for line in printed.out.splitlines()[1:]}
    assert table[target][3] == "unsure", printed.out
    n = {v: sum(x == v for x in verdicts.values()) for v in ("fake", "unsure", "real")}
    assert (f"6 image(s): {n['fake']} likely generated, {n['unsure']} unsure, {n['real']} likely real, "
            "1 no face found, 0 too small to judge, 1 unreadable (threshold "
            f"{contract.threshold:.3f}, unsure from {contract.unsure_from:.3f}, ") in printed.err


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
