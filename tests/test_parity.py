"""Parity: the Python predictor and the JS predictor (extension/src/predictor.js, TF.js wasm in
headless Chromium) give the same faces, boxes, probabilities and verdicts on the same files.

Each side decodes the files itself (PIL here, Chromium's decoders there), as users' copies will.
Per image: the same number of faces, boxes within 2 % of the image size, |delta p_fake| <= 0.01 per
face (issue #27's limit), and the same verdict unless p_fake is within 0.01 of the threshold or of
the unsure band's start (`unsure_from`).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from facecheck.contract import Contract
from facecheck.images import load_image
from facecheck.predictor import Predictor, default_model_dir
from tests.browser import run_js_predictor
from tests.helpers import FIXTURES, ROOT, fixture_faces

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """The shipped model and detector exported to TF.js by the real export command."""
    out = tmp_path_factory.mktemp("tfjs")
    subprocess.run([sys.executable, "-m", "export.tfjs", "--model", str(default_model_dir()),
                    "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
    return out


def parity_cases(folder):
    """At least 30 real files: crosscheck faces of both classes (JPEG, some as PNG), a montage of
    several faces, face-free pictures, a large portrait and a small thumbnail."""
    real, fake = fixture_faces("real"), fixture_faces("fake")
    files = real[:12] + fake[:12]
    for p in real[12:14] + fake[12:14]:
        png = folder / f"{p.stem}.png"
        Image.open(p).save(png)
        files.append(png)
    tiles = [Image.open(p).convert("RGB").resize((200, 200))
             for p in (real[14], fake[14], real[15], fake[15])]
    montage = Image.new("RGB", (400, 400))
    for i, t in enumerate(tiles):
        montage.paste(t, ((i % 2) * 200, (i // 2) * 200))
    montage.save(folder / "montage.jpg", quality=92)
    files.append(folder / "montage.jpg")
    portrait = Image.new("RGB", (1600, 2400), (200, 196, 190))
    portrait.paste(Image.open(fake[15]).convert("RGB").resize((1200, 1200), Image.LANCZOS), (200, 500))
    portrait.save(folder / "large_portrait.jpg", quality=90)
    files.append(folder / "large_portrait.jpg")
    thumb = Image.open(real[15]).convert("RGB").resize((72, 72), Image.LANCZOS)
    thumb.save(folder / "thumbnail.jpg", quality=85)
    files.append(folder / "thumbnail.jpg")
    files += sorted((FIXTURES / "noface").glob("*.jpg"))[:3]
    return files


def test_parity_python_vs_browser(exported, tmp_path):
    files = parity_cases(tmp_path)
    assert len(files) >= 30
    contract = Contract.load(exported)
    predictor = Predictor.load(default_model_dir())
    js = run_js_predictor(exported, files)
    assert js["backend"] == "wasm"
    assert js["tensorsAfter"] == js["tensorsBefore"], "the JS predictor leaks tensors"

    problems, worst_dp, kinds = [], 0.0, set()
    for item in js["items"]:
        path = item["path"]
        py = predictor.predict(load_image(path))
        jsr = item["result"]
        kinds.add(py["verdict"])
        size = max(item["width"], item["height"])
        if len(py["faces"]) != len(jsr["faces"]):
            problems.append(f"{path}: {len(py['faces'])} faces in Python, {len(jsr['faces'])} in JS")
            continue
        for fp, fj in zip(py["faces"], jsr["faces"], strict=True):
            dbox = max(abs(a - b) for a, b in zip(fp["box"], fj["box"], strict=True)) / size
            if dbox > 0.02:
                problems.append(f"{path}: boxes differ by {dbox:.1%} of the image")
            if fp["p_fake"] is None or fj["p_fake"] is None:
                if fp["verdict"] != fj["verdict"]:
                    problems.append(f"{path}: face verdict {fp['verdict']} vs {fj['verdict']}")
                continue
            dp = abs(fp["p_fake"] - fj["p_fake"])
            worst_dp = max(worst_dp, dp)
            if dp > 0.01:
                problems.append(f"{path}: p_fake {fp['p_fake']:.4f} vs {fj['p_fake']:.4f}")
        edges = [e for e in (contract.threshold, contract.unsure_from) if e is not None]
        near = py["p_fake"] is not None and min(abs(py["p_fake"] - e) for e in edges) <= 0.01
        if py["verdict"] != jsr["verdict"] and not near:
            problems.append(f"{path}: verdict {py['verdict']} vs {jsr['verdict']}")
    assert not problems, "\n".join(problems)
    # The cases really exercise what they claim to.
    assert {"fake", "real", "no-face"} <= kinds, kinds
    montage = next(i for i in js["items"] if i["path"].endswith("montage.jpg"))
    assert len(montage["result"]["faces"]) >= 3
    print(f"parity: {len(files)} files, max |dp| {worst_dp:.4f}")


def test_browser_jpeg_decoding_is_close_to_pil(exported):
    """Chromium and PIL decode JPEG slightly differently: bounded here, stated in the README."""
    files = fixture_faces("real") + fixture_faces("fake")
    js = run_js_predictor(exported, files, pixels_for=tuple(files))
    diffs = []
    for item in js["items"]:
        rgba = np.frombuffer(base64.b64decode(item["rgba"]), np.uint8)
        rgba = rgba.reshape(item["height"], item["width"], 4)
        diffs.append(np.abs(rgba[..., :3].astype(int) - load_image(item["path"]).astype(int)))
    d = np.concatenate([x.ravel() for x in diffs])
    print(f"JPEG decoding, Chromium vs PIL, {len(files)} files: mean |diff| {d.mean():.4f}, "
          f"max {d.max()}, identical pixels {np.mean(d == 0):.2%}")
    assert d.mean() < 1.0 and np.percentile(d, 99.9) <= 8, (d.mean(), d.max())


def test_the_js_predictor_runs_in_node_too(exported, tmp_path):
    """The same module, with no DOM and no chrome.*, under Node (extension/test/node-predictor.js
    loads it with TF.js's wasm backend): the same answers as Python for the same pixels."""
    predictor = Predictor.load(default_model_dir())
    noface = sorted((FIXTURES / "noface").glob("*.jpg"))[0]
    paths = [fixture_faces("fake")[0], fixture_faces("real")[0], noface]
    cases, pixels = [], {}
    for i, p in enumerate(paths):
        rgb = load_image(p)
        pixels[p.name] = rgb
        rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
        raw = tmp_path / f"{i}.rgba"
        raw.write_bytes(rgba.tobytes())
        cases.append({"name": p.name, "width": rgb.shape[1], "height": rgb.shape[0], "rgba": str(raw)})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run(["node", "test/predict-raw.js", str(exported), str(tmp_path / "cases.json"),
                    str(tmp_path / "out.json")], check=True, cwd=ROOT / "extension", timeout=300)
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["backend"] == "wasm" and out["tensorsAfter"] == out["tensorsBefore"]
    verdicts = []
    for r in out["results"]:
        py = predictor.predict(pixels[r["name"]])
        verdicts.append(r["verdict"])
        assert r["verdict"] == py["verdict"] and len(r["faces"]) == len(py["faces"]), (r, py)
        if py["p_fake"] is not None:
            assert abs(r["p_fake"] - py["p_fake"]) <= 0.01, (r, py)
    # A clear fake, a real face (unsure at worst, with a calibrated band) and no face.
    assert verdicts[0] == "fake" and verdicts[1] in ("real", "unsure") and verdicts[2] == "no-face", verdicts
