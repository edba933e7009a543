"""The versioned JSON API (/api/v1/...): a blueprint whose views reach the app's predictor, settings
and model description through `current_app.extensions["facecheck"]` (see server/app.py).

Every answer is JSON, errors included (`{"error": message, "status": code}`). A bad image inside a
request is an `"verdict": "error"` entry for that image, never a failed request, so one corrupt file
in a folder scan costs one row, not the batch.

Limits come before work: a request to a foreign Host name is refused before anything else, and each
image is weighed from its header against the per-image limit and what is left of the request's
pixel budget before any pixel is decoded; decoding waits for one of the app's DecodeTurns.
"""

from __future__ import annotations

import hmac
import re
from typing import Any, TypedDict
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.datastructures import FileStorage

from facecheck.images import ImageError, check_pixels, error_result, image_size, load_image
from facecheck.provenance import read_provenance
from server import API_PREFIX
from server.config import LOOPBACK, Config, origin_allowed, search_pixels
from server.inference import Busy, DecodeTurns, SharedPredictor, json_safe

api = Blueprint("api", __name__, url_prefix=API_PREFIX)
# Endpoints that need the bearer token when one is set (health and the description stay open).
TOKEN_ENDPOINTS = ("api.model", "api.predict", "api.explain")
# One image of a request: its filename and its multipart part, or None for the raw request body.
Upload = tuple[str, FileStorage | None]
# Seconds a client is told to wait (Retry-After) when no decoding turn came free.
RETRY_AFTER_S = 5


class FaceCheckState(TypedDict):
    """What create_app keeps in app.extensions["facecheck"] for the views."""

    config: Config
    predictor: SharedPredictor
    turns: DecodeTurns  # requests holding decoded images at once (config.max_decoding)
    origins: list[str | re.Pattern]  # config.allowed_origins(), worked out once
    model: dict  # the answer of GET /model
    brief: dict  # the "model" part of every predict answer
    spec: dict  # the OpenAPI description


class Refused(Exception):
    """The request as a whole is refused: answered as JSON with this status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def state() -> FaceCheckState:
    """This app's FaceCheck state (set by create_app)."""
    return current_app.extensions["facecheck"]


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error answer: `{"error": message, "status": status}` with that status."""
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


@api.errorhandler(Refused)
def refused(e: Refused) -> Response:
    return json_error(e.status, e.message, e.headers)


# Registered before refuse_foreign_callers, for the whole app: the drop page and its files too.
@api.before_app_request
def refuse_foreign_hosts() -> Response | None:
    """421 to a request addressed to a name this server does not go by: without a token, a page on
    a DNS name rebound to 127.0.0.1 would otherwise be answered as if it were the server's own."""
    config = state()["config"]
    host = request.environ.get("HTTP_HOST")
    if config.host_allowed(host):
        return None
    return json_error(421, f"host not allowed: {host[:100]!r}; without FACECHECK_TOKEN this server "
                      "answers only to 127.0.0.1, localhost, [::1], its bound address and "
                      "FACECHECK_ALLOWED_HOSTS")


# Registered for the whole app, not just this blueprint's routes, so that a foreign caller gets its
# 403 on any /api/v1/ path, unknown ones included, before being told what exists.
@api.before_app_request
def refuse_foreign_callers() -> Response | None:
    """403 to a browser page from an origin that may not call; 401 without the token, if set."""
    if not request.path.startswith(API_PREFIX + "/") or request.method == "OPTIONS":
        return None
    app_state = state()
    config = app_state["config"]
    # A page from another site can still POST a form here (no preflight); its browser would
    # hide the answer, but the work would be done. Refuse such requests outright.
    origin = request.headers.get("Origin")
    if origin and not (origin_allowed(origin, app_state["origins"]) or _own_page(origin, config)):
        return json_error(403, f"origin not allowed: {origin} (see FACECHECK_CORS_ORIGINS)")
    if config.token and request.endpoint in TOKEN_ENDPOINTS:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 config.token.encode()):
            return json_error(401, "missing or wrong bearer token (Authorization: Bearer <token>)",
                              {"WWW-Authenticate": 'Bearer realm="facecheck"'})
    return None


def _own_page(origin: str, config: Config) -> bool:
    """The request comes from this server's own page: its Origin is the address the request was
    sent to. Without a token only loopback names (or the bound host) count, since a rebound DNS
    name would otherwise pass as the page (DNS rebinding); with a token (required off loopback),
    any address does: the page must send the token too."""
    own = request.host_url.rstrip("/")
    return origin == own and (bool(config.token) or urlsplit(own).hostname in (*LOOPBACK, config.host))


@api.get("/health")
def health() -> Response:
    return jsonify({"status": "ok"})


@api.get("/model")
def model() -> Response:
    return jsonify(state()["model"])


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(state()["spec"])


@api.post("/predict")
def predict() -> Response:
    """Each uploaded image's faces and verdict, in request order."""
    app_state = state()
    uploads = read_uploads(app_state["config"])
    try:
        results = judge_within_budgets(uploads, app_state["config"], app_state["predictor"],
                                       app_state["turns"])
    except Busy as e:
        raise Refused(503, f"server busy: {e}; try again shortly",
                      {"Retry-After": str(RETRY_AFTER_S)}) from None
    return jsonify({"results": [json_safe(r) for r in results], "model": app_state["brief"]})


def read_uploads(config: Config) -> list[Upload]:
    """The request's images, not yet read: the multipart field 'image', or the raw body. Refuses
    a request that is empty, too large, of another content type, or has too many images."""
    length = request.content_length
    if length is not None and length > config.max_request_bytes:
        raise Refused(413, f"request too large: {length:,} bytes (limit {config.max_request_bytes:,})")
    mimetype = request.mimetype or ""
    if not length:  # waitress de-chunks and sets Content-Length, so None means no body
        raise Refused(400, "empty request: send images as multipart/form-data in the field 'image', "
                      "or one image as the raw body with its image content type")
    if mimetype == "multipart/form-data":
        uploads: list[Upload] = [(u.filename or f"image-{i + 1}", u)
                                 for i, u in enumerate(request.files.getlist("image"))]
        if not uploads:
            fields = sorted(set(request.files) | set(request.form))
            sent = (f"fields sent: {', '.join(fields)[:200]}; a file part needs a filename" if fields
                    else "or the multipart body is malformed")
            raise Refused(400, f"no file in the multipart field 'image' ({sent})")
    # A raw body: what the extension sends (the image's own type), or bytes of unknown type.
    elif mimetype.startswith("image/") or mimetype == "application/octet-stream":
        uploads = [(request.args.get("filename") or "image", None)]
    else:
        raise Refused(415, f"unsupported content type {mimetype or '(none)'!r}: send "
                      "multipart/form-data (field 'image') or a raw body of type image/* or "
                      "application/octet-stream")
    if len(uploads) > config.max_images:
        raise Refused(413, f"too many images: {len(uploads)} (limit {config.max_images} per request)")
    return uploads


def judge_within_budgets(uploads: list[Upload], config: Config, shared: SharedPredictor,
                         turns: DecodeTurns) -> list[dict]:
    """A result per upload, in order. Each image is weighed from its header first (weigh): one over
    the per-image limit or over what is left of the request's pixel budget is an error entry and is
    never decoded. The others are decoded (in one of `turns`, held until they are judged) and go
    to the model together. Raises Busy when no turn comes free in time."""
    results: list[dict] = []
    images, judged = [], []
    budget = config.max_request_pixels
    with turns.lazily() as take_turn:
        for name, upload in uploads:
            entry: dict[str, Any] = {"filename": name, "width": None, "height": None}
            results.append(entry)
            data = upload.read() if upload is not None else request.get_data(cache=False)
            # Beside the verdict, from the bytes already here; it never changes the verdict.
            entry["provenance"] = read_provenance(data).as_dict()
            try:
                cost = weigh(data, config, budget)
                take_turn()
                img = load_image(data, max_pixels=config.max_pixels)
            except ImageError as e:
                entry.update(error_result(e))  # "too-small" for a picture under MIN_SIDE, else "error"
                continue
            budget -= cost
            entry.update(width=int(img.shape[1]), height=int(img.shape[0]))
            images.append(img)
            judged.append(entry)
        if images:
            for entry, res in zip(judged, shared.judge(images), strict=True):
                entry.update(res)
    return results


def weigh(data: bytes, config: Config, budget: int) -> int:
    """What an image costs of the request's pixel budget (search_pixels), from its header alone.
    ImageError when it is unreadable, over max_pixels, or over the `budget` left."""
    width, height = image_size(data)
    check_pixels((width, height), config.max_pixels)
    cost = search_pixels(width, height)
    if cost > config.max_request_pixels:
        side = max(width, height)
        raise ImageError(f"image too long for this server: {width}x{height} pixels is searched for "
                         f"faces as a {side}x{side} square ({cost:,} pixels; limit "
                         f"{config.max_request_pixels:,} per request)")
    if cost > budget:
        raise ImageError(f"request pixel budget exceeded ({config.max_request_pixels:,} pixels per "
                         "request, each image counted as the square of its longer side): send this "
                         "image in another request")
    return cost
