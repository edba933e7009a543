"""Shared fixtures: the face pool when it is here, a bad-input corpus made from the fixture faces,
and a tiny model really trained for a few steps (so tests never depend on a mock). Helpers the
test files import live in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_executable
from tests.helpers import FACES, SHARED_DATA, make_bad_inputs

# The end-to-end fixtures (built extension, test site, Chromium with the extension) for every test file.
pytest_plugins = ["tests.e2e"]


def pytest_report_header(config):
    """Which Chromium the browser tests drive, and whether the face pool is here."""
    chromium = chromium_executable() or "Playwright's own Chromium (no system Chromium found)"
    pool = SHARED_DATA if (SHARED_DATA / "faces" / "manifest.csv").exists() else "absent: pool tests skip"
    return [f"facecheck: chromium {chromium}", f"facecheck: face pool {pool}"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "faces" / "manifest.csv").exists():
        pytest.skip(f"the face pool is not at {SHARED_DATA} (set FACECHECK_DATA); "
                    "pool tests need it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_inputs")
    return folder, make_bad_inputs(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real facecheck model trained for a few steps on the fixture faces."""
    # Imported here, not at the top: training.train starts TensorFlow, which tests that never
    # ask for this fixture (the CLI's --help, the JS-only checks) should not pay for.
    from training.train import main as train_main

    out = tmp_path_factory.mktemp("runs") / "tiny"
    train_main(["--data", str(FACES), "--out", str(out), "--epochs", "2",
                "--steps-per-epoch", "3", "--batch-size", "8", "--no-cache", "--quiet"])
    return out
