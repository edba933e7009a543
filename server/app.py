"""The Flask app factory: the shipped predictor behind a versioned JSON API, and the drop page at /.

    app = create_app()                       # defaults, then FACECHECK_* environment variables
    app = create_app(predictor=p, max_images=8)   # tests: a loaded predictor, explicit overrides

Every answer of the API is JSON, errors included (`{"error": message, "status": code}`). A bad
image inside a request is an `"verdict": "error"` entry for that image, never a failed request,
so one corrupt file in a folder scan costs one row, not the batch. The predictor is loaded once
per process and shared by every app made in it; inference runs under a lock (TensorFlow already
uses every core for one batch, and the detector's Python post-processing is not re-entrant).
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request, send_from_directory
from flask_cors import CORS
from werkzeug.exceptions import HTTPException

from facecheck.images import MAX_PIXELS, ImageError, error_result, load_image
from server import API_PREFIX

log = logging.getLogger("facecheck.server")

STATIC = Path(__file__).resolve().parent / "static"
# Chrome extension origins: chrome-extension:// and a 32-letter id in a..p. The extension's id is
# not fixed yet, so any extension may call by default; FACECHECK_CORS_ORIGINS narrows it.
EXTENSION_ORIGIN = r"^chrome-extension://[a-p]{32}$"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
                values[f.name] = _parse(f, raw.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown server setting(s): {', '.join(sorted(unknown))}")
        if "cors_origins" in values and isinstance(values["cors_origins"], str):
            values["cors_origins"] = _origins(values["cors_origins"])
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        for name in ("max_request_bytes", "max_images", "max_pixels", "max_request_pixels",
                     "batch_size", "threads"):
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
        hosts = {"127.0.0.1", "localhost", self.host}
        for h in sorted(hosts):
            name = f"[{h}]" if ":" in h else h
            out.append(f"http://{name}:{self.port}")
        return out


def _parse(f: dataclasses.Field, raw: str) -> Any:
    kind = str(f.type)
    try:
        if kind == "int":
            return int(raw)
        if kind.startswith("tuple"):
            return _origins(raw)
    except ValueError:
        raise ValueError(f"FACECHECK_{f.name.upper()}: not a whole number: {raw!r}") from None
    return raw


def _origins(raw: str) -> tuple[str, ...]:
    out = tuple(o.strip() for o in raw.split(",") if o.strip())
    for o in out:
        if o.startswith("^"):
            try:
                re.compile(o)
            except re.error as e:
                raise ValueError(f"FACECHECK_CORS_ORIGINS: bad pattern {o!r}: {e}") from None
    return out


# -- the predictor, once per process ------------------------------------------------------------
_PREDICTORS: dict[tuple[str, int], Any] = {}
_PREDICTORS_LOCK = threading.Lock()


def load_predictor(model_dir: str | None = None, batch_size: int = 64):
    """The process's predictor for `model_dir`, loaded on first use (model and detector once)."""
    from facecheck.predictor import Predictor, default_model_dir

    key = (str(Path(model_dir) if model_dir else default_model_dir()), batch_size)
    with _PREDICTORS_LOCK:
        if key not in _PREDICTORS:
            _PREDICTORS[key] = Predictor.load(key[0], batch_size=batch_size)
        return _PREDICTORS[key]


def device_in_use() -> str:
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def model_card_summary(model_dir: str | Path) -> dict:
    """Title, what-it-is and intended-use paragraphs of MODEL_CARD.md, and validation metrics."""
    model_dir = Path(model_dir)
    out: dict[str, Any] = {"name": model_dir.name, "title": None, "summary": None,
                           "intended_use": None, "validation": None}
    card = model_dir / "MODEL_CARD.md"
    if card.exists():
        sections: dict[str, list[str]] = {}
        current = ""
        for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("# ") and out["title"] is None:
                out["title"] = line[2:].strip()
            elif line.startswith("## "):
                current = line[3:].strip().lower()
            else:
                sections.setdefault(current, []).append(line)

        def first_paragraph(prefix: str) -> str | None:
            for name, lines in sections.items():
                if name.startswith(prefix):
                    text = "\n".join(lines).strip().split("\n\n")[0]
                    return " ".join(text.split()) or None
            return None

        out["summary"] = first_paragraph("what it is")
        out["intended_use"] = first_paragraph("intended use")
    # The calibrated model's own validation figures (calibration.json), else the training run's.
    for name in ("calibration.json", "metrics.json"):
        path = model_dir / name
        try:
            val = json.loads(path.read_text()).get("val") if path.exists() else None
        except (OSError, ValueError):
            val = None
        if isinstance(val, dict):
            out["validation"] = {k: v for k, v in val.items() if isinstance(v, (int, float))}
            break
    return out


# -- JSON helpers -------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Numpy scalars to Python numbers, non-finite floats to null (strict JSON), recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _origin_allowed(origin: str, allowed: list[str | re.Pattern]) -> bool:
    for a in allowed:
        if a == "*" or (isinstance(a, re.Pattern) and a.fullmatch(origin)) or a == origin:
            return True
    return False


def _own_page(origin: str, config: Config) -> bool:
    """The request comes from this server's own page: its Origin is the address the request was
    sent to. Without a token only loopback names (or the bound host) count, since a rebound DNS
    name would otherwise pass as the page (DNS rebinding); with a token (required off loopback),
    any address does: the page must send the token too."""
    own = request.host_url.rstrip("/")
    return origin == own and (bool(config.token) or urlsplit(own).hostname in (*LOOPBACK, config.host))


# -- the app ------------------------------------------------------------------------------------
def create_app(config: Config | None = None, predictor=None, **overrides: Any) -> Flask:
    """A FaceCheck app. `predictor`: an already loaded Predictor (else the process's shared one)."""
    if config is None:
        config = Config.from_env(**overrides)
    elif overrides:
        config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
        config.check()
    if predictor is None:
        predictor = load_predictor(config.model_dir, config.batch_size)
    from facecheck.predictor import default_model_dir

    model_dir = Path(config.model_dir) if config.model_dir else default_model_dir()
    contract = dataclasses.asdict(predictor.contract)
    model_info = {
        "contract": _plain(contract),
        "card": model_card_summary(model_dir),
        "device": device_in_use(),
        "limits": {"max_request_bytes": config.max_request_bytes, "max_images": config.max_images,
                   "max_pixels": config.max_pixels, "max_request_pixels": config.max_request_pixels},
        "auth": bool(config.token),
    }
    model_brief = {**predictor.contract.brief(), "device": model_info["device"]}

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False  # keep "results" before "model", fields in a readable order
    app.extensions["facecheck"] = {"config": config, "predictor": predictor, "model": model_info}
    allowed = config.allowed_origins()
    CORS(app, resources={f"{API_PREFIX}/*": {"origins": allowed}},
         allow_headers=["Content-Type", "Authorization"], methods=["GET", "POST", "OPTIONS"],
         max_age=600)
    predict_lock = threading.Lock()

    @app.before_request
    def guard():
        if not request.path.startswith(API_PREFIX + "/") or request.method == "OPTIONS":
            return None
        # A page from another site can still POST a form here (no preflight); its browser would
        # hide the answer, but the work would be done. Refuse such requests outright.
        origin = request.headers.get("Origin")
        if origin and not (_origin_allowed(origin, allowed) or _own_page(origin, config)):
            return error(403, f"origin not allowed: {origin} (see FACECHECK_CORS_ORIGINS)")
        if config.token and request.endpoint in ("model", "predict"):
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                     config.token.encode()):
                return error(401, "missing or wrong bearer token (Authorization: Bearer <token>)",
                             {"WWW-Authenticate": 'Bearer realm="facecheck"'})
        return None

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Cache-Control", "no-store")
        if resp.mimetype == "text/html":
            # The page is self-contained: nothing may come from another host (offline, no CDN).
            resp.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                "frame-ancestors 'none'")
            resp.headers["Cache-Control"] = "no-cache"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        message = e.description or e.name
        if e.code == 413:  # werkzeug's: too many bytes, or too many multipart parts / form bytes
            message = (f"request too large (limit {config.max_request_bytes:,} bytes, at most "
                       f"{config.max_images} images)")
        resp = error(e.code or 500, message)
        allow = e.get_response().headers.get("Allow")
        if allow:
            resp.headers["Allow"] = allow
        return resp

    @app.errorhandler(Exception)
    def crash(e: Exception):
        log.exception("unhandled error")
        return error(500, f"internal error: {type(e).__name__}")

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get(f"{API_PREFIX}/health")
    def health():
        return jsonify({"status": "ok"})

    @app.get(f"{API_PREFIX}/model")
    def model():
        return jsonify(model_info)

    from server.openapi import build_spec

    spec = build_spec(config)  # depends on the settings only: built once

    @app.get(f"{API_PREFIX}/openapi.json")
    def openapi():
        return jsonify(spec)

    @app.post(f"{API_PREFIX}/predict")
    def predict():
        length = request.content_length
        if length is not None and length > config.max_request_bytes:
            return error(413, f"request too large: {length:,} bytes (limit {config.max_request_bytes:,})")
        mimetype = request.mimetype or ""
        if not length:  # waitress de-chunks and sets Content-Length, so None means no body
            return error(400, "empty request: send images as multipart/form-data in the field 'image', "
                         "or one image as the raw body with its image content type")
        if mimetype == "multipart/form-data":
            uploads = request.files.getlist("image")
            if not uploads:
                fields = sorted(set(request.files) | set(request.form))
                sent = (f"fields sent: {', '.join(fields)[:200]}; a file part needs a filename" if fields
                        else "or the multipart body is malformed")
                return error(400, f"no file in the multipart field 'image' ({sent})")
            items = [(u.filename or f"image-{i + 1}", u) for i, u in enumerate(uploads)]
        # A raw body: what the extension sends (the image's own type), or bytes of unknown type.
        elif mimetype.startswith("image/") or mimetype == "application/octet-stream":
            items = [(request.args.get("filename") or "image", None)]
        else:
            return error(415, f"unsupported content type {mimetype or '(none)'!r}: send "
                         "multipart/form-data (field 'image') or a raw body of type image/* or "
                         "application/octet-stream")
        if len(items) > config.max_images:
            return error(413, f"too many images: {len(items)} (limit {config.max_images} per request)")

        results: list[dict] = []
        images, where = [], []
        budget = config.max_request_pixels
        for name, upload in items:
            entry: dict[str, Any] = {"filename": name, "width": None, "height": None}
            results.append(entry)
            try:
                data = upload.read() if upload is not None else request.get_data(cache=False)
                img = load_image(data, max_pixels=config.max_pixels)
            except ImageError as e:
                entry.update(error_result(str(e)))
                continue
            pixels = img.shape[0] * img.shape[1]
            if pixels > budget:
                entry.update(error_result(f"request pixel budget exceeded ({config.max_request_pixels:,} "
                                          "pixels per request): send this image in another request"))
                continue
            budget -= pixels
            entry.update(width=int(img.shape[1]), height=int(img.shape[0]))
            images.append(img)
            where.append(entry)
        if images:
            for entry, res in zip(where, _predict(predictor, images, predict_lock), strict=True):
                entry.update(res)
        return jsonify({"results": [_plain(r) for r in results], "model": model_brief})

    return app


def _predict(predictor, images: list, lock: threading.Lock) -> list[dict]:
    """All images in one batched call; if that fails, one by one so only the culprit errs."""
    with lock:
        try:
            out = predictor.predict_many(images)
            return [_public(r) for r in out]
        except Exception:  # noqa: BLE001 - isolate the image that breaks the batch
            log.exception("batch prediction failed; retrying image by image")
        results = []
        for img in images:
            try:
                results.append(_public(predictor.predict_many([img])[0]))
            except Exception as e:  # noqa: BLE001
                log.exception("prediction failed")
                results.append(error_result(f"prediction failed: {type(e).__name__}"))
        return results


def _public(res: dict) -> dict:
    faces = []
    for f in res["faces"]:
        face = {"box": f["box"], "score": f.get("score"), "p_fake": f.get("p_fake"),
                "verdict": f["verdict"]}
        if f.get("crop") is not None:
            face["crop"] = f["crop"]
        faces.append(face)
    return {"faces": faces, "p_fake": res.get("p_fake"), "verdict": res["verdict"]}


__all__ = ["Config", "create_app", "load_predictor", "model_card_summary"]
