"""The real WSGI server over real HTTP: `facecheck serve` in a subprocess on a free port, and
`facecheck scan --server` giving the same CSV as a local scan."""

from __future__ import annotations

import csv
import os

import pytest
import requests

from facecheck.cli import main
from server.app import create_app
from server.config import EXTENSION_ORIGIN, Config
from server.inference import load_predictor
from server.serve import BackgroundServer, serve
from tests.helpers import fixture_faces, make_bad_inputs, running_server

EXTENSION = EXTENSION_ORIGIN
LIMIT = 400_000


@pytest.fixture(scope="module")
def served():
    env = {**os.environ, "FACECHECK_MAX_REQUEST_BYTES": str(LIMIT), "FACECHECK_MAX_IMAGES": "8"}
    env.pop("FACECHECK_TOKEN", None)
    env.pop("FACECHECK_CORS_ORIGINS", None)
    with running_server(env) as served:
        yield served


def check_limits_answered(api: str) -> None:
    """Too large, too many, empty, the wrong type and a foreign origin: each refused with its status
    (as JSON where the app answers)."""
    r = requests.post(api + "/predict", data=b"\0" * (LIMIT + 1), headers={"Content-Type": "image/png"},
                      timeout=60)
    assert r.status_code == 413 and r.json()["status"] == 413
    huge = b"\0" * (2 * LIMIT + (1 << 20) + 1)
    r = requests.post(api + "/predict", data=huge, headers={"Content-Type": "image/png"}, timeout=60)
    assert r.status_code == 413  # refused by waitress itself, before buffering it (plain text)
    r = requests.post(api + "/predict", files=[("image", ("x.jpg", b"x"))] * 9, timeout=60)
    assert r.status_code == 413 and "too many" in r.json()["error"]
    r = requests.post(api + "/predict", timeout=60)
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = requests.post(api + "/predict", data="hi", headers={"Content-Type": "text/plain"}, timeout=60)
    assert r.status_code == 415
    r = requests.post(api + "/predict", data=b"x", headers={"Origin": "https://evil.example",
                                                            "Content-Type": "image/png"}, timeout=60)
    assert r.status_code == 403 and "Access-Control-Allow-Origin" not in r.headers


def check_bad_inputs_answered(api: str, folder) -> None:
    """Every file of the bad-input corpus, posted raw: an error entry with the decoder's reason or
    a judged face, never a guess."""
    for name, want_error in make_bad_inputs(folder).items():
        r = requests.post(api + "/predict", data=(folder / name).read_bytes(),
                          headers={"Content-Type": "image/jpeg"}, timeout=60)
        if name == "empty.jpg":  # a raw body of zero bytes is an empty request
            assert r.status_code == 400 and "empty" in r.json()["error"]
            continue
        assert r.status_code == 200, name
        res = r.json()["results"][0]
        if want_error:  # an error entry with the decoder's reason, not a guess
            want = "too-small" if name == "one_pixel.png" else "error"
            assert res["verdict"] == want and want_error in res["error"], (name, res)
            assert res["p_fake"] is None
        else:  # every readable kind holds a face: judged, with a probability
            assert res["verdict"] in ("fake", "unsure", "real") and 0 <= res["p_fake"] <= 1, (name, res)


@pytest.mark.slow
def test_facecheck_serve_over_http(served, tmp_path):
    proc, url = served
    assert url.startswith("http://127.0.0.1:")
    api = url + "/api/v1"
    assert requests.get(api + "/health", timeout=30).json() == {"status": "ok"}
    info = requests.get(api + "/model", timeout=30).json()
    assert info["limits"]["max_request_bytes"] == LIMIT and info["device"] in ("CPU", "GPU")
    assert requests.get(url + "/", timeout=30).headers["Content-Type"].startswith("text/html")
    assert requests.get(api + "/openapi.json", timeout=30).json()["openapi"].startswith("3.")

    faces = fixture_faces("fake")[:3] + fixture_faces("real")[:3]
    files = [("image", (f.name, f.read_bytes(), "image/jpeg")) for f in faces]
    files.insert(2, ("image", ("broken.jpg", b"\xff\xd8\xff garbage", "image/jpeg")))
    r = requests.post(api + "/predict", files=files, timeout=60)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["filename"] for x in results] == [f[1][0] for f in files]
    assert results[2]["verdict"] == "error" and "error" in results[2]
    assert all(x["verdict"] in ("fake", "unsure", "real") for i, x in enumerate(results) if i != 2)

    # The extension's way: the raw image, from its origin, and a chunked upload.
    data = faces[0].read_bytes()
    r = requests.post(api + "/predict", data=data, timeout=60,
                      headers={"Content-Type": "image/jpeg", "Origin": EXTENSION})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == EXTENSION
    assert r.json()["results"][0]["p_fake"] == pytest.approx(results[0]["p_fake"], abs=1e-6)
    chunked = requests.post(api + "/predict", data=iter([data[:1000], data[1000:]]),
                            headers={"Content-Type": "image/jpeg"}, timeout=60)
    assert chunked.status_code == 200
    assert chunked.json()["results"][0]["p_fake"] == pytest.approx(results[0]["p_fake"], abs=1e-6)

    # Limits and bad input, each answered as JSON, and the server keeps answering.
    check_limits_answered(api)
    check_bad_inputs_answered(api, tmp_path / "bad")
    assert requests.get(api + "/health", timeout=30).status_code == 200
    assert proc.poll() is None


def test_serve_refuses_a_public_address_without_token(monkeypatch, capsys):
    monkeypatch.delenv("FACECHECK_TOKEN", raising=False)
    assert serve(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "FACECHECK_TOKEN" in capsys.readouterr().err


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_scan_through_the_server_gives_the_same_csv(tmp_path, monkeypatch):
    monkeypatch.delenv("FACECHECK_TOKEN", raising=False)
    folder = tmp_path / "images"
    make_bad_inputs(folder)
    for f in fixture_faces("real")[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    predictor = load_predictor()
    # max_images 4: the client must split the folder into several requests, in order.
    config = Config.from_env(environ={}, max_images=4)
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), config) as srv:
        assert main(["scan", str(folder), "--server", srv.url, "--csv", str(tmp_path / "s.csv"),
                     "--quiet"]) == 0
    assert main(["scan", str(folder), "--csv", str(tmp_path / "l.csv"), "--quiet"]) == 0
    remote, local = _csv(tmp_path / "s.csv"), _csv(tmp_path / "l.csv")
    assert len(remote) == len(local) == 15  # make_bad_inputs (12 files) and 3 faces
    for r, want in zip(remote, local, strict=True):
        assert (r["path"], r["faces"], r["verdict"], r["error"]) == (
            want["path"], want["faces"], want["verdict"], want["error"])
        if want["p_fake"]:
            assert float(r["p_fake"]) == pytest.approx(float(want["p_fake"]), abs=2e-4)
        else:
            assert r["p_fake"] == ""


@pytest.mark.slow
def test_scan_through_the_server_splits_by_the_pixel_budget(tmp_path, monkeypatch):
    """Photos whose pixels together exceed the server's per-request budget are sent a few at a
    time, so every one is judged, none refused for its neighbours' size."""
    monkeypatch.delenv("FACECHECK_TOKEN", raising=False)
    faces = fixture_faces("real")[:3] + fixture_faces("fake")[:3]  # 300x300 each
    predictor = load_predictor()
    config = Config.from_env(environ={}, max_request_pixels=2 * 300 * 300)
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), config) as srv:
        # Without splitting, one request of all six is refused for its pixels.
        whole = requests.post(srv.url + "/api/v1/predict", timeout=60,
                              files=[("image", (f.name, f.read_bytes())) for f in faces]).json()
        assert all(r["verdict"] == "error" for r in whole["results"][2:]), whole["results"]
        assert main(["scan", *map(str, faces), "--server", srv.url, "--csv", str(tmp_path / "s.csv"),
                     "--quiet"]) == 0
    rows = _csv(tmp_path / "s.csv")
    judged = ("fake", "unsure", "real")
    assert len(rows) == 6 and all(r["verdict"] in judged and not r["error"] for r in rows), rows


def test_scan_with_no_server_says_so(tmp_path, capsys):
    f = fixture_faces("real")[0]
    assert main(["scan", str(f), "--server", "http://127.0.0.1:9", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "FaceCheck server not reachable at http://127.0.0.1:9: connection refused" in err, err
