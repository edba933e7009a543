import csv
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from facecheck import __version__, wording
from facecheck.cli import CSV_COLUMNS, main, summary
from facecheck.contract import Contract
from facecheck.paths import SHIPPED_MODEL_DIR
from tests.helpers import FACES, FIXTURES, ROOT, band_around, band_verdict, banded_model_dir, fixture_faces

# What TensorFlow and its CUDA plugins print on their own when they start (absl, XLA, cuDNN...).
TF_NOISE = re.compile(r"cuFFT|cuDNN|cuBLAS|TensorFlow|tensorflow|absl|E0000|W0000|I0000|cuda|XLA", re.I)


def facecheck_command() -> list[str]:
    """The installed console script, as a user runs it (python -m facecheck.cli without it)."""
    exe = ROOT / ".venv" / "bin" / "facecheck"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "facecheck.cli"]


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(facecheck_command() + [str(a) for a in args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def table(stdout: str) -> list[dict[str, str]]:
    """The scan table back as rows: columns are split where the header's names start (names are
    apart by two spaces or more)."""
    lines = stdout.splitlines()
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    names = [m.group() for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = []
    for line in lines[1:]:
        cut = starts + [None]
        rows.append({n: line[cut[i]:cut[i + 1]].strip() for i, n in enumerate(names)})
    return rows


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
            # A readable picture under the contract's min_side is too small to judge, not unreadable.
            assert r["verdict"] == ("too-small" if name == "one_pixel.png" else "error"), (name, r)
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
    # The words of facecheck/wording.py, each verdict apart: no-face and too-small never as real.
    assert summary(rows, model) == (
        "21 images checked. Likely generated: 3, Unsure: 2, Likely real: 4, No face found: 5, "
        "Too small to judge: 6, Could not check: 1. Model m1: likely generated from 60%, unsure from 35%")
    assert all(f"{words}: " in summary(rows, model) for words in wording.HEADLINES.values())
    old = {"threshold": 0.52, "unsure_from": None, "model_version": "m0"}
    assert summary(rows[:9], old).endswith("Model m0: likely generated from 52%, no unsure band")
    assert summary(rows[:1], old).startswith("1 image checked. Likely generated: 1, Unsure: 0, ")


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
    shown = {Path(r["path"]).name: r for r in table(printed.out)}
    assert shown[target]["result"] == "Unsure", printed.out
    assert shown["brick.jpg"]["result"] == "No face found"
    assert shown["broken.jpg"]["result"] == "Could not check"
    n = {v: sum(x == v for x in verdicts.values()) for v in ("fake", "unsure", "real")}
    rule = wording.rule_percent
    assert (f"6 images checked. Likely generated: {n['fake']}, Unsure: {n['unsure']}, "
            f"Likely real: {n['real']}, No face found: 1, Too small to judge: 0, Could not check: 1. "
            f"Model {contract.model_version}: likely generated from {rule(contract.threshold)}, "
            f"unsure from {rule(contract.unsure_from)}") in printed.err


def test_scan_missing_path_exits_2(tmp_path, capsys):
    assert main(["scan", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_help_lists_every_option():
    cmd = facecheck_command()
    out = subprocess.run(cmd + ["scan", "--help"], capture_output=True, text=True, check=True)
    for opt in ("--csv", "--json", "--model", "--batch-size", "--reports", "--server"):
        assert opt in out.stdout
    # The exit codes are documented, the unreachable server's among them.
    assert "Exit status" in out.stdout and "3 when the server" in " ".join(out.stdout.split())
    for sub in ("train", "evaluate"):
        out = subprocess.run(cmd + [sub, "--help"], capture_output=True, text=True, check=True)
        assert "--data" in out.stdout and "--out" in out.stdout


def test_help_shows_no_internal_paths():
    """No checkout, virtualenv or source-file path in any help text: they mean nothing to a user."""
    cmd = facecheck_command()
    for sub in ([], ["scan"], ["serve"], ["train"], ["evaluate"]):
        out = subprocess.run(cmd + sub + ["--help"], capture_output=True, text=True, check=True).stdout
        assert "usage" in out.lower() or "commands:" in out
        for internal in (str(ROOT), "site-packages", ".venv", "/work/"):
            assert internal not in out, (sub, internal)
        assert not re.search(r"\b[\w/]+\.py\b", out), (sub, out)


def test_version_names_the_package_and_the_shipped_model(capsys):
    assert main(["--version"]) == 0
    model = Contract.load(SHIPPED_MODEL_DIR).model_version
    assert model and capsys.readouterr().out.strip() == f"facecheck {__version__}, model {model}"


def test_unknown_command_suggests_the_nearest(capsys):
    assert main(["scna", "x.jpg"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'scna'" in err and "Did you mean `facecheck scan`?" in err
    assert main(["--verison"]) == 2
    assert "Did you mean `facecheck --version`?" in capsys.readouterr().err
    assert main(["zzzz"]) == 2
    assert "Did you mean" not in capsys.readouterr().err


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line_and_exit_3(capsys):
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["scan", str(fixture_faces("real")[0]), "--server", url]) == 3
    err = capsys.readouterr().err
    assert err.splitlines() == [f"FaceCheck server not reachable at {url}: connection refused. "
                                "Start it with `facecheck serve` or check --server."], err
    assert "Traceback" not in err and "urllib3" not in err


def _one_pixel(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "speck.png")
    return folder / "speck.png"


@pytest.mark.slow
def test_scan_says_loading_and_no_tensorflow_noise(tmp_path):
    """A local scan: one "Loading model..." line first, then only the scan's own lines on stderr;
    a 1x1 picture reads "Too small to judge" with its reason, not unreadable."""
    speck = _one_pixel(tmp_path)
    face = fixture_faces("fake")[0]
    out = run_cli("scan", face, speck, "--json", tmp_path / "r.json", "--table")
    assert out.returncode == 0, out.stderr
    err = out.stderr.splitlines()
    assert err[0] == "Loading model...", out.stderr
    assert not [line for line in err if TF_NOISE.search(line)], out.stderr
    assert re.search(r"^2 images checked\. .*Too small to judge: 1", out.stderr, re.M), out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    speck_row = doc["results"][1]
    assert speck_row["verdict"] == "too-small" and speck_row["p_fake"] is None
    assert speck_row["error"] == "image too small: 1x1 pixels (smaller than 16 px on a side)"
    check_table_words(table(out.stdout), doc["results"])


def check_table_words(shown: list[dict], results: list[dict]) -> None:
    """Each table row says its result as facecheck/wording.py does, for the row's own p_fake."""
    assert len(shown) == len(results)
    for row, r in zip(shown, results, strict=True):
        # A long path is cut at the front to its last 67 characters.
        cut = row["path"].startswith("...") and r["path"].endswith(row["path"][3:])
        assert row["path"] == r["path"] or cut, (row, r)
        assert row["result"] == wording.headline(r["verdict"], r["p_fake"]), (row, r)
        assert row["probability generated"] == ("" if r["p_fake"] is None else f"{wording.pct(r['p_fake'])}%")
        assert row["faces"] == str(len(r["faces"])) and row["error"] == r.get("error", "")


@pytest.mark.slow
def test_scan_through_a_server_starts_no_tensorflow(tmp_path):
    """`scan --server` against a real server on a real port: the same words, and this process
    never imports TensorFlow, so none of its start-up lines reach the terminal."""
    from server.app import create_app
    from server.config import Config
    from server.inference import load_predictor
    from server.serve import BackgroundServer

    files = [fixture_faces("fake")[0], fixture_faces("real")[0], _one_pixel(tmp_path)]
    probe = ("import sys; from facecheck.cli import main; rc = main(sys.argv[1:]); "
             "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-ABSENT', file=sys.stderr); "
             "sys.exit(rc)")
    predictor = load_predictor()
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), Config.from_env(environ={})) as srv:
        out = subprocess.run([sys.executable, "-c", probe, "scan", *map(str, files), "--server", srv.url,
                              "--table", "--json", str(tmp_path / "r.json")],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines()[-1] == "TF-ABSENT", out.stderr
    assert not [line for line in out.stderr.splitlines() if TF_NOISE.search(line)], out.stderr
    assert "Loading model" not in out.stderr  # the server has it loaded
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [r["verdict"] for r in results][2] == "too-small"
    check_table_words(table(out.stdout), results)


def write_reports(path: Path, rows: list[tuple[str, ...]]) -> None:
    """A reports CSV as the extension's options page exports it (RFC 4180, 4-decimal p_fake); a
    row is (url, verdict, p_fake) or (url, verdict, p_fake, face) with face "i/n"."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time", "image_url", "page_url", "verdict", "p_fake", "model_version", "face"])
        for url, verdict, p, *face in rows:
            w.writerow(["2026-12-01T10:00:00.000Z", url, "https://news.example/a?b=1,2", verdict, p,
                        "facecheck-v2", "".join(face)])


@pytest.mark.slow
def test_scan_reports_checks_local_pictures_again(tmp_path, capsys):
    """--reports: file:// URLs, absolute and relative paths are checked again (the old result beside
    the new); web addresses are skipped and counted in one line; CSV columns unchanged."""
    pictures = tmp_path / "saved pictures"
    pictures.mkdir()
    fake, real = fixture_faces("fake")[0], fixture_faces("real")[0]
    shutil.copy(fake, pictures / "fake.jpg")
    shutil.copy(real, pictures / "real.jpg")
    shutil.copy(FIXTURES / "noface" / "brick.jpg", pictures / "brick.jpg")
    reports = tmp_path / "facecheck-reports.csv"
    write_reports(reports, [
        ((pictures / "fake.jpg").as_uri(), "real", "0.1234", "2/3"),  # file:// (the space is %20)
        ("https://news.example/img/1.jpg", "fake", "0.9100"),
        (str(pictures / "real.jpg"), "fake", "0.9000"),
        ("http://127.0.0.1:8080/2.png", "unsure", "0.5000"),
        ("saved pictures/brick.jpg", "error", ""),  # relative to the CSV's folder
        ("data:image/png;base64,iVBORw0KGgo=", "real", "0.0100"),
    ])
    out_csv, out_json = tmp_path / "again.csv", tmp_path / "again.json"
    capsys.readouterr()
    assert main(["scan", "--reports", str(reports), "--csv", str(out_csv), "--json", str(out_json),
                 "--table", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "skipped 3 web addresses: save them and scan the files" in printed.err.splitlines()
    results = json.loads(out_json.read_text())["results"]
    assert [Path(r["path"]) for r in results] == [pictures / n for n in ("fake.jpg", "real.jpg", "brick.jpg")]
    assert [(r["reported"]["verdict"], r["reported"]["p_fake"]) for r in results] == [
        ("real", 0.1234), ("fake", 0.9), ("error", None)]
    assert [r["reported"]["face"] for r in results] == ["2/3", "", ""]  # which face was reported
    assert results[2]["verdict"] == "no-face"
    with open(out_csv, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS and len(list(reader)) == 3
    shown = table(printed.out)
    check_table_words([{k: v for k, v in r.items() if k != "reported"} for r in shown], results)
    assert [r["reported"] for r in shown] == ["Likely real (12%)", "Likely generated, 90%", "Could not check"]


def test_scan_reports_refuses_a_file_that_is_not_an_export(tmp_path, capsys):
    wrong = tmp_path / "list.csv"
    wrong.write_text("path\na.jpg\n")
    assert main(["scan", "--reports", str(wrong)]) == 2
    assert "not a FaceCheck reports export" in capsys.readouterr().err


def test_scan_gives_provenance_beside_an_unchanged_verdict(tmp_path, capsys):
    """Content Credentials signed here (tests/c2pa_fixtures.py): each row's provenance in the CSV,
    the JSON, the table and the summary, and the same p_fake and verdict as the unsigned picture."""
    from tests import c2pa_fixtures as fx

    face = fixture_faces("fake")[0].read_bytes()
    credentials = fx.make_credentials()
    variants = {
        "a-plain.jpg": face,
        "b-generated.jpg": fx.sign(face, "image/jpeg", "trainedAlgorithmicMedia", credentials),
        "c-captured.png": fx.sign(fx.as_png(face), "image/png", "digitalCapture", credentials),
        "d-xmp.jpg": fx.jpeg_with_xmp(face, fx.xmp_packet("compositeWithTrainedAlgorithmicMedia")),
        "e-tampered.jpg": fx.tamper_jpeg(fx.sign(face, "image/jpeg", "digitalCapture", credentials)),
    }
    for name, data in variants.items():
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / name).write_bytes(data)
    out = tmp_path / "scan.json"
    rows = _scan_rows(tmp_path, tmp_path / "in", "--json", out, "--table")
    kinds = ["none", "ai-generated", "captured", "ai-edited", "invalid"]
    assert [r["provenance"] for r in rows] == kinds
    assert all(r["provenance_detail"] for r in rows)
    assert "signed by FaceCheck test signer" in rows[1]["provenance_detail"]
    assert "unsigned" in rows[3]["provenance_detail"]
    assert [r["provenance"] for r in json.loads(out.read_text())["results"]] == kinds
    plain = rows[0]
    for r in rows[1:4]:  # the same pixels: the same judgement, whatever the credentials say
        assert (r["p_fake"], r["verdict"]) == (plain["p_fake"], plain["verdict"]), r
    captured = capsys.readouterr()
    shown = table(captured.out)
    assert [row["provenance"] for row in shown] == kinds
    assert re.search(r"^5 images checked\. .*Model .*\. Content Credentials: ai-generated 1, ai-edited 1, "
                     r"captured 1, invalid 1, none 1$", captured.err, re.M), captured.err
