"""Helpers the test files share: where the fixtures are, the verdict rule written out once, and
builders for banded model folders and the bad-input corpus. Fixtures live in conftest.py."""

from __future__ import annotations

import dataclasses
import io
import math
import os
import shutil
import signal
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FACES = FIXTURES / "faces"
SHARED_DATA = Path(os.environ.get("FACECHECK_DATA", ROOT.parent / "shared" / "data"))


def fixture_faces(label: str) -> list[Path]:
    return sorted((FACES / label).glob("*.jpg"))


def band_verdict(p: float, threshold: float, unsure_from: float | None) -> str:
    """The verdict rule written out once for the tests (README "What a verdict means"); the code
    under test (Contract.verdict, the JS predictor, settings.js) must agree with it."""
    if p >= threshold:
        return "fake"
    if unsure_from is not None and p >= unsure_from:
        return "unsure"
    return "real"


def band_around(contract, p: float, margin: float = 1.0):
    """A copy of `contract` whose unsure band [unsure_from, threshold) holds `p` (0 < p < 1) with
    `margin` logits of room on each side: a picture with that p_fake must read "unsure", whatever
    small float differences (batching, float16 weights in the browser) move its p_fake by."""
    assert 0.0 < p < 1.0, p
    z = math.log(p) - math.log1p(-p)
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    return dataclasses.replace(contract, unsure_from=sig(z - margin), threshold=sig(z + margin))


def banded_model_dir(model_dir: Path, out: Path, contract) -> Path:
    """A model folder at `out` that is `model_dir` (its files linked, not copied) with `contract`
    saved as its contract.json: what a calibrated band looks like to every front end."""
    out.mkdir(parents=True, exist_ok=True)
    for f in Path(model_dir).iterdir():
        if f.is_file() and f.name != "contract.json":
            (out / f.name).symlink_to(f.resolve())
    contract.save(out)
    return out


def make_bad_inputs(folder: Path) -> dict[str, str | None]:
    """Write the bad-input corpus into `folder`; returns {file name: expected error substring or
    None when the file must be read fine}."""
    folder.mkdir(parents=True, exist_ok=True)
    face = Image.open(fixture_faces("real")[0]).convert("RGB")
    jpeg = (fixture_faces("real")[0]).read_bytes()
    expected: dict[str, str | None] = {}

    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    expected["truncated.jpg"] = "corrupt or truncated"
    (folder / "empty.jpg").write_bytes(b"")
    expected["empty.jpg"] = "empty file"
    (folder / "notes.jpg").write_text("this is a text file, not a photo\n")
    expected["notes.jpg"] = "not an image"

    rgba = face.convert("RGBA")
    alpha = np.full(face.size[::-1], 255, np.uint8)
    alpha[:, : face.size[0] // 4] = 0
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(folder / "alpha.png")
    expected["alpha.png"] = None
    face.convert("CMYK").save(folder / "cmyk.jpg", "JPEG", quality=90)
    expected["cmyk.jpg"] = None
    face.convert("L").save(folder / "grey.jpg", "JPEG", quality=90)
    expected["grey.jpg"] = None
    grey16 = (np.asarray(face.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(folder / "sixteen_bit.png")
    expected["sixteen_bit.png"] = None
    # Stored sideways with an EXIF "rotate 90 CW" tag, as phones write portraits.
    exif = Image.Exif()
    exif[0x0112] = 6
    face.transpose(Image.Transpose.ROTATE_90).save(folder / "exif_rotated.jpg", "JPEG",
                                                   quality=90, exif=exif)
    expected["exif_rotated.jpg"] = None
    # A valid PNG header that claims 60000 x 60000 pixels (a decompression bomb).
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = (60000).to_bytes(4, "big") + (60000).to_bytes(4, "big")
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")  # keep the IHDR checksum valid
    (folder / "bomb.png").write_bytes(bytes(png))
    expected["bomb.png"] = "too large"
    # A real, decodable strip 50,000 px wide (800,000 pixels, a few KB): refused from its header,
    # since the face detector would search a 50,000 px square.
    Image.new("RGB", (50000, 16), (90, 120, 150)).save(folder / "strip.png")
    expected["strip.png"] = "too long"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one_pixel.png")
    expected["one_pixel.png"] = "too small"
    shutil.copy(fixture_faces("fake")[0], folder / "fake_face.jpg")
    expected["fake_face.jpg"] = None
    return expected


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """`facecheck serve` in its own process with `env`, on a free port: (process, base URL);
    stopped with Ctrl-C (SIGINT) as a user would, killed if it does not stop in 20 s."""
    from server.serve import spawn

    proc, url = spawn(env, timeout=180)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
