"""The extension's "This is wrong" reports, read back for `facecheck scan --reports FILE.csv`.

The options page exports them as CSV (`time,image_url,page_url,verdict,p_fake,model_version,face`,
one row per report; `face` is "2/3" for the second face from the left of three, empty for a picture
of one face; exports made before it have no such column). A report whose picture is a file on
this machine (a file:// URL or a plain path) can be checked again; a web address cannot, since
nothing here fetches from the web: those are counted, so the user can save the pictures and scan
the files.

A CSV is not trusted like a command line: whoever wrote it chose its paths. A report's picture is
read only if it resolves (symlinks followed) to a regular file under the CSV's own folder or under
a PATH given on the command line, and is at most MAX_PICTURE_BYTES; anything else (`../`, /etc,
/proc, a FIFO, a device, a folder) is that row's error, refused from a stat before it is opened.
"""

from __future__ import annotations

import csv
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from facecheck.images import MAX_FILE_BYTES, ImageError

REPORT_COLUMNS = ("time", "image_url", "page_url", "verdict", "p_fake", "model_version", "face")
# The largest picture a report may name, checked before reading it.
MAX_PICTURE_BYTES = MAX_FILE_BYTES
# Opened without following a last symlink (one swapped in after the check) and without blocking
# (a FIFO swapped in after the check); O_NOFOLLOW and O_NONBLOCK do not exist on Windows.
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(
    os, "O_BINARY", 0)


@dataclass
class Report:
    """One report of the CSV whose picture is a local file."""

    path: Path
    time: str
    image_url: str
    page_url: str
    verdict: str  # what the extension said when the user reported it
    p_fake: float | None
    model_version: str
    face: str = ""  # which face of several the user reported ("2/3"), "" for one
    # Resolved folders (or files) its picture may be read from: the CSV's folder, the command line's.
    roots: tuple[Path, ...] = field(default=(), repr=False)

    def read(self) -> bytes:
        """The picture's bytes, if it may be read (read_picture); else ImageError with the reason."""
        return read_picture(self.path, self.roots)

    def brief(self) -> dict:
        """What a scan row carries about its report (the --json output's "reported")."""
        return {"time": self.time, "image_url": self.image_url, "page_url": self.page_url,
                "verdict": self.verdict, "p_fake": self.p_fake, "model_version": self.model_version,
                "face": self.face}


def local_path(image_url: str, base: Path) -> Path | None:
    """The file a report's image_url names (file:// URL, or a path relative to `base`); None for
    anything else (http, https, data:, blob: ...)."""
    url = image_url.strip()
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    # A one-letter "scheme" is a Windows drive (C:\\...), not an address.
    if not url or (parts.scheme and len(parts.scheme) > 1):
        return None
    path = Path(url).expanduser()
    return path if path.is_absolute() else base / path


def read_picture(path: str | os.PathLike, roots: tuple[Path, ...],
                 max_bytes: int = MAX_PICTURE_BYTES) -> bytes:
    """The bytes of `path` if it resolves to a regular file of at most `max_bytes` under one of
    `roots` (resolved); else ImageError saying why. Decided from a stat, before opening; checked
    again on the open file."""
    real = Path(os.path.realpath(path))
    if not any(real == root or real.is_relative_to(root) for root in roots):
        where = roots[0] if roots else "(none)"
        raise ImageError(f"refused: {real} is outside the reports' folder {where}; a reports CSV "
                         "may name only pictures in its own folder (name other files on the "
                         "command line)")
    try:
        _check_regular(os.stat(real), max_bytes)
        fd = os.open(real, OPEN_FLAGS)
    except OSError as e:
        raise ImageError(f"cannot read file: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        _check_regular(os.fstat(f.fileno()), max_bytes)
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew after the check
        raise ImageError(f"file too large: over {max_bytes:,} bytes")
    return data


def _check_regular(info: os.stat_result, max_bytes: int) -> None:
    """ImageError unless `info` is a regular file with 1 to `max_bytes` bytes. A /proc or /sys file
    says it has 0 bytes: refused as empty without reading it."""
    if not stat.S_ISREG(info.st_mode):
        kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a file")
        raise ImageError(f"refused: not a regular file ({kind})")
    if info.st_size == 0:
        raise ImageError("empty file")
    if info.st_size > max_bytes:
        raise ImageError(f"file too large: {info.st_size:,} bytes (limit {max_bytes:,})")


def read_reports(csv_path: str | Path,
                 trusted: tuple[str | os.PathLike, ...] = ()) -> tuple[list[Report], int]:
    """The reports of an exported CSV whose pictures are local files, and how many were web
    addresses. Their pictures may be read from the CSV's folder and from `trusted` (the command
    line's PATHs). Raises ValueError when the file is not such an export."""
    csv_path = Path(csv_path)
    roots = tuple(Path(os.path.realpath(p)) for p in (csv_path.parent, *trusted))
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("image_url", "verdict", "p_fake") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{csv_path} is not a FaceCheck reports export (no column "
                             f"{', '.join(missing)}; expected {','.join(REPORT_COLUMNS)})")
        rows = list(reader)
    reports, web = [], 0
    for row in rows:
        path = local_path(row.get("image_url") or "", csv_path.parent)
        if path is None:
            web += 1
            continue
        reports.append(Report(path=path, time=row.get("time") or "", image_url=row["image_url"],
                              page_url=row.get("page_url") or "", verdict=row.get("verdict") or "",
                              p_fake=_probability(row.get("p_fake")),
                              model_version=row.get("model_version") or "",
                              face=row.get("face") or "", roots=roots))
    return reports, web


def _probability(text: str | None) -> float | None:
    try:
        return float(text) if text and text.strip() else None
    except ValueError:
        return None
