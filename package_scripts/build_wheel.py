"""Build the facecheck wheel: the CLI, the server and its drop page, with the shipped model inside.

    .venv/bin/python package_scripts/build_wheel.py [--out dist]

A wheel has no source tree, and the source tree holds three things the installed package needs:
the shipped model (models/facecheck-v2, with its card), the face detector (models/detector, with
its NOTICE) and the words of every front end (extension/src/settings.js, which the drop page
loads). This script stages a copy of the packages with those inside them
(facecheck/models/<name>/, server/static/settings.js), where facecheck/paths.py and server/app.py
look when there is no source tree, and builds the wheel from the stage with the venv's own
setuptools (no download, no build environment of its own). Nothing in the repository changes.

The wheel's dependencies are pyproject.toml's; install it with them, e.g.
`pip install dist/facecheck-*.whl`, then `facecheck serve` or `facecheck scan`. The model
inside is licensed CC BY-NC-SA 4.0 (its MODEL_CARD.md travels with it).
tests/test_wheel.py builds it, installs it in a fresh virtualenv and runs the server from it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("facecheck", "training", "export", "server")
MODELS = ("facecheck-v2", "detector")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def stage(into: Path) -> Path:
    """A copy of the project's packages with the model and settings.js inside; returns its root."""
    for name in PACKAGES:
        shutil.copytree(ROOT / name, into / name, ignore=IGNORE)
    for name in MODELS:
        shutil.copytree(ROOT / "models" / name, into / "facecheck" / "models" / name, ignore=IGNORE)
    shutil.copyfile(ROOT / "extension" / "src" / "settings.js", into / "server" / "static" / "settings.js")
    shutil.copyfile(ROOT / "README.md", into / "README.md")
    project = (ROOT / "pyproject.toml").read_text()
    data = "[tool.setuptools.package-data]\n"
    if data not in project:
        raise SystemExit("pyproject.toml has no [tool.setuptools.package-data] table to extend")
    project = project.replace(data, data + 'facecheck = ["models/*/*"]\n', 1)
    (into / "pyproject.toml").write_text(project)
    return into


def build(out: Path) -> Path:
    """The wheel, in `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="facecheck-wheel-") as tmp:
        src = stage(Path(tmp) / "src")
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                              "--no-index", "-q", "-w", str(out), str(src)], capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(f"pip wheel failed:\n{run.stdout}{run.stderr}")
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    [wheel] = out.glob(f"facecheck-{version}-*.whl")
    return wheel


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "dist", help="folder for the wheel (default dist/)")
    args = ap.parse_args(argv)
    wheel = build(args.out)
    print(f"{wheel}  {wheel.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
