"""HTTP client of the FaceCheck server, for `facecheck scan --server URL`.

Sends the files in requests that respect the server's own limits (images, bytes and decoded pixels
per request, read from /api/v1/model), and gives back the same rows as a local scan, so the CSV is
the same whichever way the images were judged. FACECHECK_TOKEN, when set, is sent as the token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from facecheck.contract import BRIEF_FIELDS
from facecheck.images import error_result
from server import API_PREFIX

# Room left in each request for the multipart headers.
MULTIPART_SLACK = 64 * 1024


class ServerError(RuntimeError):
    """The server cannot be reached or refused a request; the message says why."""


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0):
        import requests

        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            self.url = "http://" + self.url
        self.session = requests.Session()
        token = token if token is not None else os.environ.get("FACECHECK_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs) -> dict:
        import requests

        try:
            resp = self.session.request(method, self.url + API_PREFIX + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as e:
            raise ServerError(f"cannot reach the FaceCheck server at {self.url}: {e}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code != 200 or not isinstance(body, dict):
            reason = body.get("error") if isinstance(body, dict) else resp.text[:200]
            raise ServerError(f"{self.url}{API_PREFIX}{path}: HTTP {resp.status_code}: {reason}")
        return body

    def model(self) -> dict:
        return self._call("GET", "/model")

    def predict(self, items: list[tuple[str, bytes]]) -> dict:
        """One request: [(filename, bytes)] -> the server's {"results", "model"}."""
        files = [("image", (name, data, "application/octet-stream")) for name, data in items]
        return self._call("POST", "/predict", files=files)


def scan_files(url: str, files: Iterable[Path], batch_size: int = 64, token: str | None = None,
               progress: Callable[[int], None] | None = None) -> tuple[list[dict], dict]:
    """Rows like a local scan ({"path", "faces", "p_fake", "verdict", "error"?}) and the model brief."""
    client = Client(url, token=token)
    limits = client.model()["limits"]
    per_request = max(1, min(batch_size, int(limits["max_images"])))
    room = int(limits["max_request_bytes"]) - MULTIPART_SLACK
    pixel_room = int(limits.get("max_request_pixels") or 0)
    rows: list[dict] = []
    model: dict = {}
    pending: list[tuple[int, bytes]] = []
    pending_bytes = pending_pixels = 0

    def flush() -> None:
        nonlocal pending_bytes, pending_pixels, model
        if not pending:
            return
        answer = client.predict([(Path(rows[i]["path"]).name, data) for i, data in pending])
        model = answer["model"]
        for (i, _), res in zip(pending, answer["results"], strict=True):
            rows[i].update({k: v for k, v in res.items() if k not in ("filename", "width", "height")})
        if progress:
            progress(len(pending))
        pending.clear()
        pending_bytes = pending_pixels = 0

    for path in files:
        rows.append({"path": str(path)})
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            rows[-1].update(error_result(f"cannot read file: {e.strerror or e}"))
            continue
        if len(data) > room:
            rows[-1].update(error_result(f"file too large for the server: {len(data):,} bytes "
                                         f"(limit {room:,})"))
            continue
        pixels = _header_pixels(data)
        if pending and (len(pending) >= per_request or pending_bytes + len(data) > room
                        or (pixel_room and pending_pixels + pixels > pixel_room)):
            flush()
        pending.append((len(rows) - 1, data))
        pending_bytes += len(data)
        pending_pixels += pixels
    flush()
    if not model:
        model = _brief(client.model())
    return rows, model


def _header_pixels(data: bytes) -> int:
    """Width x height from the image's header, without decoding it (0 when unreadable: the server
    will say why). Keeps each request under the server's decoded-pixel budget, so large photos
    are judged a few at a time instead of failing as "too many pixels in this request"."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
    except Exception:
        return 0
    return int(w) * int(h)


def _brief(info: dict) -> dict:
    """The server's model summary, from GET /api/v1/model: the fields a predict answer carries."""
    return {**{k: info["contract"].get(k) for k in BRIEF_FIELDS}, "device": info.get("device")}
