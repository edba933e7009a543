"""A hostile reports CSV (issue #26): `facecheck scan --reports` reads only regular files under the
CSV's folder (or under a PATH given on the command line), at most MAX_PICTURE_BYTES each; `../`,
absolute paths elsewhere, symlinks out, FIFOs, devices, folders and /proc files are that row's
error, refused from a stat before anything is opened."""

from __future__ import annotations

import json
import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from facecheck.cli import main
from facecheck.images import ImageError
from facecheck.reports import MAX_PICTURE_BYTES, read_picture, read_reports
from server.app import create_app
from server.config import Config
from server.inference import load_predictor
from server.serve import BackgroundServer
from tests.helpers import fixture_faces
from tests.test_cli import write_reports

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (a FIFO opened for reading waits for a writer forever)."""
    def expired(*_):
        raise TimeoutError(f"still running after {seconds} s: something blocked")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture()
def hostile(tmp_path):
    """A reports folder whose CSV names a good picture and every kind of path it may not read.
    Returns (csv, {image_url: the words its row's error must contain, or None for the good one})."""
    face = fixture_faces("real")[0]
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(face, folder / "good.jpg")
    shutil.copy(face, tmp_path / "outside.jpg")
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(face, tmp_path / "elsewhere" / "face.jpg")
    (folder / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    (folder / "inner-link.jpg").symlink_to(folder / "good.jpg")
    (folder / "sub.jpg").mkdir()
    with open(folder / "huge.jpg", "wb") as f:  # sparse: no disk used, but its size is over the cap
        f.truncate(MAX_PICTURE_BYTES + 1)
    rows = {
        "good.jpg": None,
        "inner-link.jpg": None,  # a symlink that stays inside the folder
        "../outside.jpg": "outside the reports' folder",
        str(tmp_path / "elsewhere" / "face.jpg"): "outside the reports' folder",
        (tmp_path / "elsewhere" / "face.jpg").as_uri(): "outside the reports' folder",
        "link.jpg": "outside the reports' folder",
        "/proc/self/environ": "outside the reports' folder",
        "/dev/zero": "outside the reports' folder",
        "sub.jpg": "not a regular file (a folder)",
        "huge.jpg": f"file too large: {MAX_PICTURE_BYTES + 1:,} bytes",
        "missing.jpg": "cannot read file",
    }
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.jpg")
        rows["pipe.jpg"] = "not a regular file (a FIFO)"
    csv_path = folder / "facecheck-reports.csv"
    write_reports(csv_path, [(url, "fake", "0.9000") for url in rows])
    return csv_path, rows


def test_each_hostile_path_is_its_rows_error(hostile):
    csv_path, rows = hostile
    reports, web = read_reports(csv_path)
    assert web == 0 and [r.image_url for r in reports] == list(rows)
    with deadline(20):
        for report in reports:
            want = rows[report.image_url]
            if want is None:
                assert report.read() == fixture_faces("real")[0].read_bytes()
                continue
            with pytest.raises(ImageError, match=want.replace("(", r"\(").replace(")", r"\)")):
                report.read()


@needs_fifo
def test_special_files_are_refused_before_they_are_opened(tmp_path, monkeypatch):
    """A FIFO, a device and a /proc file (which says it has 0 bytes), each inside the allowed
    folder: refused from their stat, os.open never called."""
    os.mkfifo(tmp_path / "pipe.jpg")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with deadline(20):
        for path, root, want in ((tmp_path / "pipe.jpg", tmp_path, "a FIFO"),
                                 ("/dev/zero", Path("/dev"), "a device"),
                                 ("/proc/self/environ", Path("/proc"), "empty file")):
            with pytest.raises(ImageError, match=want):
                read_picture(path, (root,))
    assert opened == []


def test_the_byte_cap_is_checked_before_reading(tmp_path):
    picture = tmp_path / "face.jpg"
    shutil.copy(fixture_faces("real")[0], picture)
    size = picture.stat().st_size
    assert read_picture(picture, (tmp_path,), max_bytes=size) == picture.read_bytes()
    with pytest.raises(ImageError, match=f"file too large: {size:,} bytes"):
        read_picture(picture, (tmp_path,), max_bytes=size - 1)


def test_a_path_given_on_the_command_line_is_trusted(tmp_path):
    """A picture outside the CSV's folder may be read when the user named it, or a folder above
    it, on the command line."""
    folder, elsewhere = tmp_path / "reports", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    shutil.copy(fixture_faces("real")[0], elsewhere / "face.jpg")
    write_reports(folder / "r.csv", [(str(elsewhere / "face.jpg"), "fake", "0.9000")])
    (report,), _ = read_reports(folder / "r.csv")
    with pytest.raises(ImageError, match="outside"):
        report.read()
    for trusted in (elsewhere, elsewhere / "face.jpg"):
        (report,), _ = read_reports(folder / "r.csv", trusted=(str(trusted),))
        assert report.read() == (elsewhere / "face.jpg").read_bytes()


@pytest.mark.slow
def test_scan_reports_gives_an_error_row_per_hostile_path(hostile, capsys, monkeypatch):
    """The whole command, in this process and through a server: one row per report, the good
    pictures judged, every other one an error with its reason; nothing hangs, nothing crashes."""
    monkeypatch.delenv("FACECHECK_TOKEN", raising=False)
    csv_path, rows = hostile
    predictor = load_predictor()
    with deadline(600), BackgroundServer(lambda c: create_app(c, predictor=predictor),
                                         Config.from_env(environ={})) as srv:
        for where in ([], ["--server", srv.url]):
            capsys.readouterr()
            assert main(["scan", "--reports", str(csv_path), "--json", "-", "--quiet", *where]) == 0
            results = json.loads(capsys.readouterr().out)["results"]
            assert len(results) == len(rows)
            for res, want in zip(results, rows.values(), strict=True):
                if want is None:
                    assert res["verdict"] in ("fake", "unsure", "real"), (where, res)
                else:
                    assert res["verdict"] == "error" and want in res["error"], (where, res)
