"""The server from a built wheel (issue #25): package_scripts/build_wheel.py's wheel, installed in a
fresh virtualenv away from the source tree, serves the drop page, its words (settings.js) and
checks with the model inside it; `facecheck scan` from it judges a face.

The fresh virtualenv gets the project's dependencies without a second 1 GB install: a .pth file
puts this venv's site-packages on its path. Only its own site-packages runs .pth files, so this
venv's editable install of facecheck (a .pth finder) stays out, and `import facecheck` can only
find the wheel's copy: the test checks that it does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest
import requests

from tests.helpers import ROOT, fixture_faces

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its bin/ folder."""
    sys.path.insert(0, str(ROOT / "package_scripts"))
    try:
        from build_wheel import build
    finally:
        sys.path.pop(0)
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build(tmp / "dist")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                          "--no-deps", "--no-index", "-q", str(wheel)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return env_dir / "bin"


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FACECHECK_MODEL_DIR")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_the_wheel_not_the_source_tree_is_imported(installed, tmp_path):
    out = subprocess.run([str(installed / "python"), "-c",
                          "import facecheck, server.app as a, facecheck.paths as p; "
                          "print(facecheck.__file__); print(a.SETTINGS_JS); print(p.SHIPPED_MODEL_DIR)"],
                         cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    package, settings, model = (Path(line) for line in out.stdout.split())
    for path in (package, settings, model):
        assert not path.is_relative_to(ROOT), f"{path} is in the source tree, not the wheel"
    assert settings.is_file() and (model / "model.keras").is_file() and (model / "MODEL_CARD.md").is_file()


def test_server_from_the_wheel(installed, tmp_path):
    proc = subprocess.Popen([str(installed / "facecheck"), "serve", "--port", "0"], cwd=tmp_path,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        seen = []
        end = time.monotonic() + 240
        while url is None and time.monotonic() < end:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if "http://127.0.0.1:" in line:
                url = "http://" + line.split("http://", 1)[1].split()[0].rstrip("/")
        assert url, "".join(seen)[-2000:]
        page = requests.get(url + "/", timeout=30)
        assert page.status_code == 200 and "settings.js" in page.text
        words = requests.get(url + "/static/settings.js", timeout=30)
        assert words.status_code == 200 and "FaceCheckSettings" in words.text
        assert words.text == (ROOT / "extension" / "src" / "settings.js").read_text()
        face = fixture_faces("fake")[0]
        answer = requests.post(url + "/api/v1/predict", data=face.read_bytes(), timeout=120,
                               headers={"Content-Type": "image/jpeg"})
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        assert result["verdict"] in ("fake", "unsure", "real") and 0 <= result["p_fake"] <= 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_scan_from_the_wheel(installed, tmp_path):
    face = fixture_faces("real")[0]
    out = tmp_path / "out.json"
    run = subprocess.run([str(installed / "facecheck"), "scan", str(face), "--json", str(out), "--quiet"],
                         cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    [row] = json.loads(out.read_text())["results"]
    assert row["verdict"] in ("fake", "unsure", "real"), row
