"""The Flask app factory: the shipped predictor behind the versioned JSON API, and the drop page at /.

    app = create_app()                       # defaults, then FACECHECK_* environment variables
    app = create_app(predictor=p, max_images=8)   # tests: a loaded predictor, explicit overrides

Settings live in server/config.py, the API's routes in server/api.py, the process's predictor and
its lock in server/inference.py; this file puts them together and answers errors as JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, send_from_directory
from flask_cors import CORS
from werkzeug.exceptions import HTTPException

from server import API_PREFIX
from server.api import FaceCheckState, api, json_error, state
from server.config import Config
from server.explain_api import explain_view  # noqa: F401 - puts /explain on the api blueprint
from server.inference import DecodeTurns, share, shared_predictor
from server.model_info import model_brief, model_info
from server.openapi import build_spec

if TYPE_CHECKING:
    from facecheck.predictor import Predictor

log = logging.getLogger("facecheck.server")

STATIC = Path(__file__).resolve().parent / "static"
# The page words results with the extension's own module (no chrome.* call on load): one source for
# the words of every front end, served beside the page's files rather than copied into them.
# A wheel, which has no source tree, packs a copy in the static folder (package_scripts/build_wheel.py).
SETTINGS_JS = next((p for p in (Path(__file__).resolve().parent.parent / "extension" / "src" / "settings.js",
                                STATIC / "settings.js") if p.is_file()), STATIC / "settings.js")
# The page is self-contained: nothing may come from another host (offline, no CDN).
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def create_app(config: Config | None = None, predictor: Predictor | None = None,
               **overrides: Any) -> Flask:
    """A FaceCheck app. `predictor`: an already loaded Predictor (else the process's shared one)."""
    if config is None:
        config = Config.from_env(**overrides)
    elif overrides:
        config = config.updated(**overrides)
    shared = share(predictor) if predictor is not None else shared_predictor(config.model_dir,
                                                                             config.batch_size)
    info = model_info(config, shared.predictor)

    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.json.sort_keys = False  # keep "results" before "model", fields in a readable order
    origins = config.allowed_origins()
    app.extensions["facecheck"] = FaceCheckState(
        config=config, predictor=shared, turns=DecodeTurns(config.max_decoding, config.decode_wait),
        origins=origins, model=info,
        brief=model_brief(shared.predictor, info),
        spec=build_spec(config),  # depends on the settings only: built once
    )
    # always_send=False: no Access-Control-Allow-Origin on a request without an Origin (flask-cors
    # would otherwise list the allowed origins there, e.g. to a curl or a foreign-Host request).
    CORS(app, resources={f"{API_PREFIX}/*": {"origins": origins}},
         allow_headers=["Content-Type", "Authorization"], methods=["GET", "POST", "OPTIONS"],
         max_age=600, always_send=False)
    app.register_blueprint(api)
    app.add_url_rule("/", "index", index)
    # A fixed rule outranks the static folder's /static/<path:filename>.
    app.add_url_rule("/static/settings.js", "settings_js", settings_js)
    app.after_request(add_security_headers)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, internal_error)
    return app


def index() -> Response:
    """The drop page."""
    return send_from_directory(STATIC, "index.html")


def settings_js() -> Response:
    """extension/src/settings.js, which the drop page loads for its words (FaceCheckSettings)."""
    return send_from_directory(SETTINGS_JS.parent, SETTINGS_JS.name, mimetype="text/javascript")


def add_security_headers(resp: Response) -> Response:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Cache-Control", "no-store")
    if resp.mimetype == "text/html":
        resp.headers["Content-Security-Policy"] = PAGE_CSP
        resp.headers["Cache-Control"] = "no-cache"
    return resp


def http_error(e: HTTPException) -> Response:
    """Werkzeug's HTTP errors (404, 405, 413, ...) as the API's JSON, keeping their Allow header."""
    config = state()["config"]
    message = e.description or e.name
    if e.code == 413:  # werkzeug's: too many bytes, or too many multipart parts / form bytes
        message = (f"request too large (limit {config.max_request_bytes:,} bytes, at most "
                   f"{config.max_images} images)")
    resp = json_error(e.code or 500, message)
    allow = e.get_response().headers.get("Allow")
    if allow:
        resp.headers["Allow"] = allow
    return resp


def internal_error(e: Exception) -> Response:
    log.exception("unhandled error")
    return json_error(500, f"internal error: {type(e).__name__}")


__all__ = ["create_app"]
