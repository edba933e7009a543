"""HTTP client of the FaceCheck server, for `facecheck scan --server URL`.

Sends the files in requests that respect the server's own limits (images, bytes and decoded pixels
per request, read from /api/v1/model), and gives back the same rows as a local scan, so the CSV is
the same whichever way the images were judged. FACECHECK_TOKEN, when set, is sent as the token.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import requests

from facecheck.contract import BRIEF_FIELDS
from facecheck.images import ImageError, error_result, image_size
from server import API_PREFIX
from server.config import search_pixels

# Room left in each request for the multipart headers.
MULTIPART_SLACK = 64 * 1024
# A 503 (the server busy with others' images, or loading its model) is tried again this many
# times, after its Retry-After (at most MAX_RETRY_AFTER_S seconds).
BUSY_RETRIES = 3
MAX_RETRY_AFTER_S = 30.0


class ServerError(RuntimeError):
    """The server refused a request (or answered something that is not its API); the message says why."""


class ServerUnreachable(ServerError):
    """Nothing answered at the address: `FaceCheck server not reachable at URL: why`."""

    def __init__(self, url: str, why: str):
        super().__init__(f"FaceCheck server not reachable at {url}: {why}")
        self.url, self.why = url, why


def unreachable_reason(e: requests.RequestException) -> str:
    """Why a request reached no server, in plain words rather than urllib3's nested repr."""
    if isinstance(e, requests.Timeout):
        return "no answer in time"
    if isinstance(e, requests.exceptions.SSLError):
        return "the TLS handshake failed (http:// instead of https://?)"
    if isinstance(e, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                      requests.exceptions.InvalidSchema)):
        return "not a valid address"
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:  # the OS error is buried in urllib3's wrappers (MaxRetryError.reason, causes)
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror) or type(err).__name__ == "NameResolutionError":
            return "no such host"
        todo += [err.__cause__, err.__context__, getattr(err, "reason", None),
                 *(a for a in err.args if isinstance(a, BaseException))]
    return "cannot connect"


class Client:
    """The server's API at `url` (scheme optional), with the token if one is given or set."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 300.0):
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            self.url = "http://" + self.url
        self.session = requests.Session()
        token = token if token is not None else os.environ.get("FACECHECK_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs) -> dict:
        for attempt in range(BUSY_RETRIES + 1):
            try:
                resp = self.session.request(method, self.url + API_PREFIX + path, timeout=self.timeout,
                                            **kwargs)
            except requests.RequestException as e:
                raise ServerUnreachable(self.url, unreachable_reason(e)) from None
            if resp.status_code != 503 or attempt == BUSY_RETRIES:
                break
            time.sleep(_retry_after(resp))  # busy decoding others' images, or still loading
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


def scan_files(server: str | Client, files: Iterable[Path], batch_size: int = 64, token: str | None = None,
               progress: Callable[[int], None] | None = None, info: dict | None = None,
               readers: dict[int, Callable[[], bytes]] | None = None) -> tuple[list[dict], dict]:
    """Rows like a local scan ({"path", "faces", "p_fake", "verdict", "error"?}) and the model brief.
    `server`: its URL or a Client; `info`: its GET /model answer when the caller already has it;
    `readers`: {index in files: a function giving its bytes} for files not to be read by path
    (a reports CSV's pictures: facecheck.reports.Report.read)."""
    client = server if isinstance(server, Client) else Client(server, token=token)
    info = info or client.model()
    rows: list[dict] = []
    pending = PendingRequest(client, info["limits"], batch_size, rows, progress)
    readers = readers or {}
    for i, path in enumerate(files):
        rows.append({"path": str(path)})
        try:
            data = readers[i]() if i in readers else Path(path).read_bytes()
        except OSError as e:
            rows[-1].update(error_result(f"cannot read file: {e.strerror or e}"))
            continue
        except ImageError as e:
            rows[-1].update(error_result(e))
            continue
        if len(data) > pending.room:
            rows[-1].update(error_result(f"file too large for the server: {len(data):,} bytes "
                                         f"(limit {pending.room:,})"))
            continue
        pending.add(len(rows) - 1, data)
    pending.send()
    return rows, pending.model or _brief(info)


class PendingRequest:
    """The files of the next request, sent as soon as one more would break one of the server's
    limits (images, bytes or decoded pixels per request); each answer fills in its rows."""

    def __init__(self, client: Client, limits: dict, batch_size: int, rows: list[dict],
                 progress: Callable[[int], None] | None = None):
        self.client = client
        self.rows = rows
        self.progress = progress
        self.per_request = max(1, min(batch_size, int(limits["max_images"])))
        self.room = int(limits["max_request_bytes"]) - MULTIPART_SLACK
        self.pixel_room = int(limits.get("max_request_pixels") or 0)
        self.model: dict = {}  # the brief of the latest answer
        self.files: list[tuple[int, bytes]] = []  # (index in rows, bytes)
        self.bytes = self.pixels = 0

    def add(self, row: int, data: bytes) -> None:
        pixels = _header_pixels(data)
        if self.files and (len(self.files) >= self.per_request or self.bytes + len(data) > self.room
                           or (self.pixel_room and self.pixels + pixels > self.pixel_room)):
            self.send()
        self.files.append((row, data))
        self.bytes += len(data)
        self.pixels += pixels

    def send(self) -> None:
        if not self.files:
            return
        answer = self.client.predict([(Path(self.rows[i]["path"]).name, data) for i, data in self.files])
        self.model = answer["model"]
        for (i, _), res in zip(self.files, answer["results"], strict=True):
            self.rows[i].update({k: v for k, v in res.items() if k not in ("filename", "width", "height")})
        if self.progress:
            self.progress(len(self.files))
        self.files = []
        self.bytes = self.pixels = 0


def _header_pixels(data: bytes) -> int:
    """What the image counts against the server's per-request pixel budget (search_pixels), from
    its header, without decoding it (0 when unreadable: the server will say why). Keeps each
    request under that budget, so large photos are judged a few at a time instead of failing as
    "request pixel budget exceeded"."""
    try:
        width, height = image_size(data)
    except ImageError:
        return 0
    return search_pixels(width, height)


def _retry_after(resp: requests.Response) -> float:
    """The seconds a 503 asks to wait (Retry-After in seconds; 1 when absent or a date)."""
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(resp.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


def _brief(info: dict) -> dict:
    """The server's model summary, from GET /api/v1/model: the fields a predict answer carries."""
    return {**{k: info["contract"].get(k) for k in BRIEF_FIELDS}, "device": info.get("device")}
