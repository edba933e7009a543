"""The server's settings: defaults, then FACECHECK_* environment variables, then explicit overrides.

    config = Config.from_env()                          # what `facecheck serve` starts from
    config = Config.from_env(environ={}, max_images=8)  # tests: ignore this shell's variables

Also which browser origins may call the API (CORS) and which Host names it answers to, since
both follow from the settings alone.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any

from facecheck.images import MAX_FILE_BYTES

# FaceCheck's own extension: its id is pinned by the `key` of extension/manifest.json (the first 32
# hex digits of the key's SHA-256, 0-f written a-p; tests/test_server_security.py checks it). Only
# it may call by default; FACECHECK_CORS_ORIGINS names another (a Web Store build has another id).
EXTENSION_ID = "enpjponcjgdhlicjmbgmofkepgjofkob"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# A Host header: a name or IPv4 address, or an IPv6 address in brackets, then maybe a port.
HOST_HEADER = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::[0-9]{1,5})?", re.I)
# Addresses that bind every interface: the Host a client uses is then any of the machine's.
WILDCARD = ("0.0.0.0", "::", "")
# Per image: a 24-megapixel camera photo (6000 x 4000, up to 6048 x 4024) with room to spare.
SERVER_MAX_PIXELS = 30_000_000
# Settings that make no sense below 1 (sizes, counts, threads).
POSITIVE_SETTINGS = ("max_request_bytes", "max_images", "max_pixels", "max_request_pixels",
                     "batch_size", "threads", "max_decoding")


@dataclass
class Config:
    """Server settings. Each field can be set by the environment variable FACECHECK_<NAME>."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Model folder (model.keras + contract.json); None: the shipped model or $FACECHECK_MODEL_DIR.
    model_dir: str | None = None
    batch_size: int = 64
    # Whole request body, in bytes (413 above it).
    max_request_bytes: int = MAX_FILE_BYTES
    # Images in one request (413 above it).
    max_images: int = 64
    # Pixels of one image, read from its header before any image is decoded (decompression bombs).
    max_pixels: int = SERVER_MAX_PIXELS
    # Pixels of all images of one request together, each counted as the square of its longer side
    # (search_pixels) and weighed from the headers before decoding: bounds the memory one request
    # takes, about 20 bytes a counted pixel at its peak in the face detector. One 24 MP camera
    # photo (36 M counted), two 12 MP phone photos, or hundreds of web pictures.
    max_request_pixels: int = 40_000_000
    # Requests that may hold decoded images at once (decoding, then waiting for and running the
    # model); the others wait for a turn. Inference runs one request at a time anyway: two let one
    # request decode while another is judged, without a third request budget in memory.
    max_decoding: int = 2
    # Seconds a request waits for such a turn before a 503 with Retry-After (0: no wait).
    decode_wait: int = 30
    # Allowed browser origins besides the server's own page: exact origins, or regexes starting
    # with "^". "*" allows every origin (never the default).
    cors_origins: tuple[str, ...] = (EXTENSION_ORIGIN,)
    # Host names answered without a token, besides loopback and the bound address (DNS rebinding).
    allowed_hosts: tuple[str, ...] = ()
    # When set, /api/v1/predict and /api/v1/model need "Authorization: Bearer <token>".
    token: str | None = None
    # waitress worker threads.
    threads: int = 4

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then FACECHECK_* variables, then explicit overrides (None = not given)."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"FACECHECK_{f.name.upper()}")
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse_env_value(f, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown server setting(s): {', '.join(sorted(unknown))}")
        for name in ("cors_origins", "allowed_hosts"):
            if isinstance(values.get(name), str):
                values[name] = parse_origins(values[name])
        config = cls(**values)
        config.check()
        return config

    def updated(self, **overrides: Any) -> Config:
        """A copy with the given settings changed (None = not given), checked like from_env's."""
        config = dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})
        config.check()
        return config

    def check(self) -> None:
        for name in POSITIVE_SETTINGS:
            if getattr(self, name) < 1:
                raise ValueError(f"FACECHECK_{name.upper()} must be at least 1")
        if not 0 <= self.port < 65536:
            raise ValueError("FACECHECK_PORT must be in 0..65535")
        if self.decode_wait < 0:
            raise ValueError("FACECHECK_DECODE_WAIT must be at least 0")

    def allowed_origins(self) -> list[str | re.Pattern]:
        """The configured origins plus the server's own page (loopback names and the bound host)."""
        if "*" in self.cors_origins:
            return ["*"]
        out: list[str | re.Pattern] = [re.compile(o) if o.startswith("^") else o.rstrip("/")
                                       for o in self.cors_origins]
        for host in sorted({"127.0.0.1", "localhost", self.host}):
            name = f"[{host}]" if ":" in host else host
            out.append(f"http://{name}:{self.port}")
        return out


    def host_allowed(self, host: str | None) -> bool:
        """A request's Host header may be answered. With a token, any (the token is the guard).
        Without one, only loopback names, the bound address and FACECHECK_ALLOWED_HOSTS, on any
        port: a DNS-rebinding page reaches the server under its own name, which is none of these.
        Bound to every interface (0.0.0.0, --allow-remote), any IP address too: an address
        cannot be rebound. No Host at all (HTTP/1.0) is no browser's request."""
        if self.token or not host:
            return True
        m = HOST_HEADER.fullmatch(host)
        if not m:
            return False
        name = (m["ipv6"] or m["name"]).lower()
        if name in (*LOOPBACK, self.host.lower(), *(h.lower() for h in self.allowed_hosts)):
            return True
        return self.host in WILDCARD and _is_ip_address(name)


def search_pixels(width: int, height: int) -> int:
    """What an image counts against max_request_pixels: the square of its longer side. The face
    detector searches a square of the whole picture (black outside it), so its memory grows with
    that square, not with the pixels: a 30000 x 1000 picture would cost it 30000 x 30000."""
    return max(width, height) ** 2


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed(origin: str, allowed: list[str | re.Pattern]) -> bool:
    """`origin` is one of `allowed` (Config.allowed_origins()): "*", an exact origin or a pattern."""
    return any(a == "*" or a == origin or (isinstance(a, re.Pattern) and a.fullmatch(origin))
               for a in allowed)


def parse_origins(raw: str) -> tuple[str, ...]:
    """A comma-separated FACECHECK_CORS_ORIGINS, each "^" pattern checked to compile."""
    out = tuple(o.strip() for o in raw.split(",") if o.strip())
    for o in out:
        if o.startswith("^"):
            try:
                re.compile(o)
            except re.error as e:
                raise ValueError(f"FACECHECK_CORS_ORIGINS: bad pattern {o!r}: {e}") from None
    return out


def _parse_env_value(f: dataclasses.Field, raw: str) -> Any:
    """One FACECHECK_* variable as its field's type (with `from __future__ import annotations`
    the field types are strings: "int", "tuple[...]", "str | None")."""
    kind = str(f.type)
    if kind.startswith("tuple"):
        return parse_origins(raw)
    if kind != "int":
        return raw
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"FACECHECK_{f.name.upper()}: not a whole number: {raw!r}") from None
