"""The OpenAPI description of POST /api/v1/explain (server/explain_api.py), added to the API's
description by server/openapi.py's build_spec: /predict's operation with its own answer (each face
with its evidence map) and image limit. Plain dicts: no Flask, no model."""

from __future__ import annotations

from server import API_PREFIX
from server.config import Config

# Images per /explain request, whatever max_images allows /predict.
EXPLAIN_MAX_IMAGES = 4
# The fields of an /explain result (a /predict result's, nothing added beside the faces' maps).
RESULT_FIELDS = ("filename", "width", "height", "faces", "p_fake", "verdict", "error")


def _json(ref: str, text: str) -> dict:
    return {"description": text,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def explain_spec(spec: dict, config: Config) -> dict:
    """`spec` (server/openapi.py's build_spec) with /explain and its schemas added."""
    schemas = spec["components"]["schemas"]
    face = schemas["Face"]
    nullable_map = {
        "heat_png": {"type": ["string", "null"], "contentEncoding": "base64",
                     "contentMediaType": "image/png",
                     "description": "The face's evidence map: an RGBA PNG of input_size x input_size "
                                    "pixels to stretch over `crop` (red: hiding this part lowers "
                                    "p_fake, it looks generated; blue: it looks real; opacity: "
                                    "strength up to heat_scale). Null when the face is too small."},
        "heat_scale": {"type": ["number", "null"], "description": "The map value drawn at full "
                       "strength (its largest magnitude, at least 0.05), in p_fake."},
        "heat_range": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2,
                       "maxItems": 2, "description": "[min, max] of the map, in p_fake."},
    }
    schemas["ExplainedFace"] = {**face, "required": [*face["required"], *nullable_map],
                                "properties": {**face["properties"], **nullable_map}}
    result = schemas["Result"]
    schemas["ExplainedResult"] = {
        **result, "required": [k for k in result["required"] if k in RESULT_FIELDS],
        "properties": {**{k: v for k, v in result["properties"].items() if k in RESULT_FIELDS},
                       "faces": {"type": "array", "items": {"$ref": "#/components/schemas/ExplainedFace"}}},
    }
    schemas["Explanations"] = {
        "type": "object", "required": ["results", "model"], "additionalProperties": False,
        "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/ExplainedResult"},
                                   "description": "One entry per image, in request order."},
                       "model": {"$ref": "#/components/schemas/ModelBrief"}},
    }
    spec["paths"][f"{API_PREFIX}/explain"] = {"post": _explain_operation(spec, config)}
    return spec


def _explain_operation(spec: dict, config: Config) -> dict:
    """/explain's operation: /predict's, with its own answer and image limit."""
    predict = spec["paths"][f"{API_PREFIX}/predict"]["post"]
    most = min(config.max_images, EXPLAIN_MAX_IMAGES)
    body = predict["requestBody"]
    multipart = body["content"]["multipart/form-data"]["schema"]
    image = {**multipart["properties"]["image"], "maxItems": most}
    content = {**body["content"], "multipart/form-data": {
        "schema": {**multipart, "properties": {**multipart["properties"], "image": image}}}}
    text = (f"As for /predict, but at most {most} images per request (a map costs about 26 model "
            "inputs per face). ") + body["description"]
    return {
        **predict, "operationId": "explain",
        "summary": "Judge every face and map where the model sees traces of generation.",
        "requestBody": {**body, "description": text, "content": content},
        "responses": {**predict["responses"],
                      "200": _json("Explanations", "One result per image, in request order, each "
                                   "judged face with its evidence map."),
                      "413": _json("Error", f"Body over the size limit, or more than {most} images.")},
    }
