"""POST /api/v1/explain: each face's verdict with its evidence map (facecheck/explain.py) as a PNG.

Same uploads, limits, origin and token rules as /predict (server/api.py's read_uploads and
judge_within_budgets), but at most EXPLAIN_MAX_IMAGES images per request: a map costs 1 + 25
model inputs per face. The app imports this module so that the route is on the API blueprint
before it is registered (server/app.py); server/explain_spec.py describes it in the OpenAPI.

Each judged face gains "heat_png": a base64 RGBA PNG of input_size x input_size pixels, to stretch
over the face's "crop" square (red: looks generated, blue: looks real, opacity: strength), and
"heat_scale" (the map value drawn at full strength) and "heat_range" ([min, max] of the map, in
p_fake). A face too small to judge has null for all three.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import numpy as np
from flask import Response, jsonify

from facecheck.explain import colour_scale, explain, heat_png
from facecheck.images import error_result
from server.api import RETRY_AFTER_S, Refused, api, judge_within_budgets, read_uploads, state
from server.explain_spec import EXPLAIN_MAX_IMAGES, RESULT_FIELDS
from server.inference import Busy, SharedPredictor, api_result, json_safe

log = logging.getLogger("facecheck.server")


@dataclass
class Explainer:
    """The shared predictor's lock and model, answering with maps: what judge_within_budgets calls."""

    shared: SharedPredictor

    def judge(self, images: list[np.ndarray]) -> list[dict]:
        with self.shared.lock:
            return [self._one(img) for img in images]

    def _one(self, image: np.ndarray) -> dict:
        try:
            result = explain(self.shared.predictor, image)
        except Exception as e:  # noqa: BLE001 - one bad image is an error entry, not a 500
            log.exception("explain failed")
            return error_result(f"explain failed: {type(e).__name__}")
        out = api_result(result)
        for face, judged in zip(out["faces"], result["faces"], strict=True):
            face.update(map_fields(judged["heat"]))
        return out


def map_fields(heat: np.ndarray | None) -> dict:
    """A face's map as the answer's fields: heat_png (base64), heat_scale, heat_range."""
    if heat is None:
        return {"heat_png": None, "heat_scale": None, "heat_range": None}
    scale = colour_scale(heat)
    return {"heat_png": base64.b64encode(heat_png(heat, scale)).decode("ascii"),
            "heat_scale": round(scale, 6),
            "heat_range": [round(float(heat.min()), 6), round(float(heat.max()), 6)]}


@api.post("/explain", endpoint="explain")  # "api.explain" in server/api.py TOKEN_ENDPOINTS
def explain_view() -> Response:
    """Each uploaded image's faces, verdicts and maps, in request order."""
    app_state = state()
    config = app_state["config"]
    limited = config.updated(max_images=min(config.max_images, EXPLAIN_MAX_IMAGES))
    uploads = read_uploads(limited)
    try:
        results = judge_within_budgets(uploads, limited, Explainer(app_state["predictor"]),
                                       app_state["turns"])
    except Busy as e:
        raise Refused(503, f"server busy: {e}; try again shortly",
                      {"Retry-After": str(RETRY_AFTER_S)}) from None
    answers = [{k: r[k] for k in RESULT_FIELDS if k in r} for r in results]
    return jsonify({"results": [json_safe(r) for r in answers], "model": app_state["brief"]})
