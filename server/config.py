"""The server's settings: defaults, then FACECHECK_* environment variables, then explicit overrides.

    config = Config.from_env()                          # what `facecheck serve` starts from
    config = Config.from_env(environ={}, max_images=8)  # tests: ignore this shell's variables

Also which browser origins may call the API (CORS), since that follows from the settings alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

from facecheck.images import MAX_PIXELS

# Chrome extension origins: chrome-extension:// and a 32-letter id in a..p. The extension's id is
# not fixed yet, so any extension may call by default; FACECHECK_CORS_ORIGINS narrows it.
EXTENSION_ORIGIN = r"^chrome-extension://[a-p]{32}$"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Settings that make no sense below 1 (sizes, counts, threads).
POSITIVE_SETTINGS = ("max_request_bytes", "max_images", "max_pixels", "max_request_pixels",
                     "batch_size", "threads")


@dataclass
class Config:
    """Server settings. Each field can be set by the environment variable FACECHECK_<NAME>."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Model folder (model.keras + contract.json); None: the shipped model or $FACECHECK_MODEL_DIR.
    model_dir: str | None = None
    batch_size: int = 64
    # Whole request body, in bytes (413 above it).
    max_request_bytes: int = 64 * 1024 * 1024
    # Images in one request (413 above it).
    max_images: int = 64
    # Pixels of one image, checked from its header before decoding (decompression bombs).
    max_pixels: int = MAX_PIXELS
    # Decoded pixels of all images of one request together: bounds the memory one request holds.
    max_request_pixels: int = 4 * MAX_PIXELS
    # Allowed browser origins besides the server's own page: exact origins, or regexes starting
    # with "^". "*" allows every origin (never the default).
    cors_origins: tuple[str, ...] = (EXTENSION_ORIGIN,)
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
        if "cors_origins" in values and isinstance(values["cors_origins"], str):
            values["cors_origins"] = parse_origins(values["cors_origins"])
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
