"""The extension's "This is wrong" reports, read back for `facecheck scan --reports FILE.csv`.

The options page exports them as CSV (`time,image_url,page_url,verdict,p_fake,model_version`, one
row per report). A report whose picture is a file on this machine (a file:// URL or a plain path)
can be checked again; a web address cannot, since nothing here fetches from the web: those are
counted, so the user can save the pictures and scan the files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

REPORT_COLUMNS = ("time", "image_url", "page_url", "verdict", "p_fake", "model_version")


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

    def brief(self) -> dict:
        """What a scan row carries about its report (the --json output's "reported")."""
        return {"time": self.time, "image_url": self.image_url, "page_url": self.page_url,
                "verdict": self.verdict, "p_fake": self.p_fake, "model_version": self.model_version}


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


def read_reports(csv_path: str | Path) -> tuple[list[Report], int]:
    """The reports of an exported CSV whose pictures are local files, and how many were web
    addresses. Raises ValueError when the file is not such an export."""
    csv_path = Path(csv_path)
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
                              model_version=row.get("model_version") or ""))
    return reports, web


def _probability(text: str | None) -> float | None:
    try:
        return float(text) if text and text.strip() else None
    except ValueError:
        return None
