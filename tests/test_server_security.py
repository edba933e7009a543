"""Attacks on the real server over real HTTP (issue #26): pixel bombs that cost nothing to send,
parallel requests that would multiply memory, DNS rebinding (a foreign Host), and another Chrome
extension calling the API. `facecheck serve` runs in a subprocess with its default settings, so
that its memory can be read from /proc; the turns test runs waitress in this process to hold the
model busy."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from server.app import create_app
from server.config import EXTENSION_ID, EXTENSION_ORIGIN, Config
from server.inference import load_predictor, share
from server.serve import BackgroundServer
from tests.helpers import fixture_faces, running_server

ROOT = Path(__file__).resolve().parent.parent
OTHER_EXTENSION = "chrome-extension://" + "p" * 32  # a well-formed id that is not FaceCheck's
# What an attack may add to the server's memory (its peak, VmHWM, over its size before).
MAX_GROWTH_MIB = 200
GET_ROUTES = ("/api/v1/health", "/api/v1/model", "/api/v1/openapi.json", "/api/v1/nothing", "/",
              "/static/app.js", "/static/settings.js")


def solid_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour, written row by row: width x height pixels in a few hundred
    bytes per megapixel, without ever holding the pixels (a decompression bomb)."""
    row = b"\0" + b"\x80" * (width * 3)  # filter byte "none", then the row's pixels
    deflate = zlib.compressobj(9)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def memory_mib(pid: int) -> dict[str, int]:
    """The process's resident size now (VmRSS) and at its peak (VmHWM), in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) // 1024
    return out


def reset_peak(pid: int) -> None:
    """Start VmHWM again from the current size (Linux: "5" to clear_refs), so the peak read
    afterwards is the attack's, not the model loading's. Left as is where it is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


@pytest.fixture(scope="module")
def served():
    """`facecheck serve` with its default settings: no FACECHECK_* variable but the model's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FACECHECK_") or k == "FACECHECK_MODEL_DIR"}
    with running_server(env) as served:
        yield served


def test_the_pinned_extension_id_is_the_manifests():
    """The id Chrome gives the extension: the first 32 hex digits of the SHA-256 of its manifest
    key (DER public key), each digit 0-f written a-p."""
    key = json.loads((ROOT / "extension" / "manifest.json").read_text())["key"]
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(d, 16)) for d in digest) == EXTENSION_ID
    assert EXTENSION_ORIGIN == f"chrome-extension://{EXTENSION_ID}"
    assert Config().cors_origins == (EXTENSION_ORIGIN,)


@pytest.mark.slow
def test_pixel_bombs_are_refused_from_their_headers(served):
    """Eight 40-megapixel PNGs of about 130 KB each in one request (and one as a raw body, and an
    8000 x 500 strip, within max_side, whose face search would take an 8000 x 8000 square): each
    an error entry, never decoded, and the server's peak memory hardly moves."""
    proc, url = served
    api = url + "/api/v1"
    bomb, strip = solid_png(6400, 6250), solid_png(8000, 500)
    assert len(bomb) < 200_000
    before = memory_mib(proc.pid)
    reset_peak(proc.pid)
    r = requests.post(api + "/predict", files=[("image", (f"bomb{i}.png", bomb)) for i in range(8)],
                      timeout=60)
    assert r.status_code == 200, r.text[:300]
    results = r.json()["results"]
    assert len(results) == 8
    for res in results:
        assert res["verdict"] == "error" and res["width"] is None, res
        assert res["error"] == "image too large: 6400x6250 pixels (limit 30,000,000)"
    raw = requests.post(api + "/predict", data=bomb, headers={"Content-Type": "image/png"}, timeout=60)
    assert "too large" in raw.json()["results"][0]["error"]
    long = requests.post(api + "/predict", data=strip, headers={"Content-Type": "image/png"}, timeout=60)
    assert "too long for this server" in long.json()["results"][0]["error"]
    after = memory_mib(proc.pid)
    print(f"server memory (MiB): before {before}, after {after}")
    assert after["VmRSS"] - before["VmRSS"] < MAX_GROWTH_MIB, (before, after)
    assert after["VmHWM"] - before["VmRSS"] < MAX_GROWTH_MIB, (before, after)
    assert requests.get(api + "/health", timeout=30).json() == {"status": "ok"}
    assert proc.poll() is None


@pytest.mark.slow
def test_a_camera_photo_still_passes_one_at_a_time(served):
    """A 24-megapixel photo (6000 x 4000) is judged; three in one request: the first is judged and
    the others are over the request's budget, refused from their headers."""
    proc, url = served
    photo = solid_png(6000, 4000)
    r = requests.post(url + "/api/v1/predict", timeout=120,
                      files=[("image", (f"photo{i}.png", photo)) for i in range(3)])
    assert r.status_code == 200, r.text[:300]
    first, *rest = r.json()["results"]
    assert (first["width"], first["height"], first["verdict"]) == (6000, 4000, "no-face"), first
    assert all("pixel budget exceeded" in res["error"] for res in rest), rest


@pytest.mark.slow
def test_a_foreign_host_is_refused_on_every_route(served):
    """DNS rebinding: a page on a name that now resolves to 127.0.0.1 sends its own name as Host.
    Without a token only loopback names (any port) are answered, on every route."""
    _, url = served
    port = url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}",
                 f"attacker.localhost:{port}", f"evil@127.0.0.1:{port}"):
        for path in GET_ROUTES:
            r = requests.get(url + path, headers={"Host": host}, timeout=30)
            assert r.status_code == 421, (host, path, r.status_code)
            assert r.json() == {"error": r.json()["error"], "status": 421}
            assert "host not allowed" in r.json()["error"]
            assert "Access-Control-Allow-Origin" not in r.headers
        r = requests.post(url + "/api/v1/predict", data=fixture_faces("real")[0].read_bytes(),
                          headers={"Host": host, "Content-Type": "image/jpeg"}, timeout=30)
        assert r.status_code == 421 and "host not allowed" in r.json()["error"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        for path in GET_ROUTES:
            r = requests.get(url + path, headers={"Host": host}, timeout=30)
            assert r.status_code == (404 if path.endswith("nothing") else 200), (host, path)


@pytest.mark.slow
def test_cors_answers_only_the_pinned_extension(served):
    """Another extension (another id) gets no Access-Control-Allow-Origin and is refused; the
    extension whose id the manifest key pins is allowed."""
    _, url = served
    api = url + "/api/v1"
    face = fixture_faces("real")[0].read_bytes()
    for origin, allowed in ((OTHER_EXTENSION, False), ("chrome-extension://" + "a" * 32, False),
                            (EXTENSION_ORIGIN, True)):
        pre = requests.options(api + "/predict", timeout=30, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert pre.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)
        health = requests.get(api + "/health", headers={"Origin": origin}, timeout=30)
        r = requests.post(api + "/predict", data=face, timeout=60,
                          headers={"Origin": origin, "Content-Type": "image/jpeg"})
        for answer in (health, r):
            assert answer.status_code == (200 if allowed else 403), (origin, answer.text[:200])
            assert answer.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


def wait_until(check, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_decoding_turns_bound_parallel_requests():
    """With one turn, a request that holds decoded images (the model busy) makes the next one
    wait FACECHECK_DECODE_WAIT seconds and get a 503 with Retry-After, while a request whose
    images are all refused from their headers needs no turn and is answered at once."""
    predictor = load_predictor()
    apps = []
    config = Config.from_env(environ={}, max_decoding=1, decode_wait=1)
    with BackgroundServer(lambda c: apps.append(create_app(c, predictor=predictor)) or apps[0],
                          config) as srv, ThreadPoolExecutor(2) as pool:
        turns = apps[0].extensions["facecheck"]["turns"]
        face = {"data": fixture_faces("real")[0].read_bytes(), "headers": {"Content-Type": "image/jpeg"},
                "timeout": 60}
        predict = srv.url + "/api/v1/predict"
        with share(predictor).lock:  # the model is busy with someone else's batch
            first = pool.submit(requests.post, predict, **face)
            wait_until(lambda: turns.taken == 1)  # decoded, holding its turn, waiting for the model
            started = time.monotonic()
            second = requests.post(predict, **face)
            assert second.status_code == 503 and second.headers["Retry-After"] == "5"
            assert "busy" in second.json()["error"] and time.monotonic() - started >= 0.9
            bombs = requests.post(predict, timeout=60, files=[("image", ("b.png", solid_png(6400, 6250)))])
            assert bombs.status_code == 200 and "too large" in bombs.json()["results"][0]["error"]
        assert first.result(timeout=60).status_code == 200
        assert turns.taken == 0
        again = requests.post(predict, **face)
        assert again.status_code == 200
        assert again.json()["results"][0]["verdict"] in ("fake", "unsure", "real")
