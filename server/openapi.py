"""The OpenAPI 3.1 description of the API, built from the running configuration (its limits).

Served at /api/v1/openapi.json. tests/test_server.py checks that it lists exactly the app's API
routes and that real answers validate against it; tests/test_server_fuzz.py fuzzes the app from it.
"""

from __future__ import annotations

from facecheck.contract import VERDICTS
from facecheck.provenance import KINDS as PROVENANCE_KINDS
from server import API_PREFIX
from server.config import Config
from server.explain_spec import explain_spec

RAW_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp", "image/tiff",
                   "application/octet-stream")
NULLABLE_NUMBER = {"type": ["number", "null"]}
# A face is judged (fake / unsure / real) or too small to judge; an image can also have no face
# or be unreadable. The same six words in every front end (facecheck.contract.VERDICTS).
FACE_VERDICTS = ["fake", "unsure", "real", "too-small"]
FACE_VERDICT_TEXT = ("fake: p_fake >= the model's threshold; unsure: unsure_from <= p_fake < threshold "
                     "(no claim either way); real: p_fake below the band; too-small: not judged.")
VERDICT_TEXT = ("The verdict of the most suspicious judged face (fake, unsure or real, as for a face), "
                "or no-face (no face found: never a guess), too-small (every face too small to "
                "judge, or the picture under the contract's min_side on a side; `error` says which), "
                "error (the image could not be read; see `error`).")
PROVENANCE_TEXT = ("Where the picture says it came from, read offline from its bytes: C2PA Content "
                   "Credentials, else an IPTC DigitalSourceType in its XMP. ai-generated, ai-edited, "
                   "captured: what the claim says; invalid: a manifest that fails validation (changed "
                   "after signing, or damaged); none: nothing found, which says nothing about the face. "
                   "Shown beside the verdict; it never changes p_fake or the verdict.")
UNSURE_FROM_TEXT = ("Start of the unsure band: p_fake in [unsure_from, threshold) reads \"unsure\"; "
                    "null: the model has no band (fake or real only).")


def _json(ref: str, text: str) -> dict:
    """A response described by `text` whose JSON body is the schema `ref`."""
    return {"description": text,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _error_response(text: str) -> dict:
    return _json("Error", text)


def build_spec(config: Config) -> dict:
    """The description of the API served with these settings (its limits)."""
    common = {
        "403": _error_response("The request's Origin is not an allowed origin (FACECHECK_CORS_ORIGINS)."),
        "421": _error_response("No token is configured and the Host header is not a name this server "
                               "goes by (loopback, its bound address, FACECHECK_ALLOWED_HOSTS): "
                               "refused on every route, against DNS rebinding."),
        "default": _error_response("Any other error, as JSON with a message."),
    }
    authed = {"401": _error_response("A token is configured (FACECHECK_TOKEN) and the request lacks it.")}
    security = [{}, {"bearer": []}]
    schemas = {
        "Error": {
            "type": "object", "required": ["error", "status"], "additionalProperties": False,
            "properties": {"error": {"type": "string", "description": "What went wrong, for a person."},
                           "status": {"type": "integer", "description": "The HTTP status again."}},
        },
        "Health": {"type": "object", "required": ["status"],
                   "properties": {"status": {"type": "string", "enum": ["ok"]}}},
        "Face": {
            "type": "object", "required": ["box", "score", "p_fake", "verdict"],
            "additionalProperties": False,
            "properties": {
                "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                        "description": "[x, y, width, height] in pixels of the upright image."},
                "score": {**NULLABLE_NUMBER, "description": "Detector confidence (null: no detector)."},
                "p_fake": {**NULLABLE_NUMBER, "minimum": 0, "maximum": 1,
                           "description": "Calibrated probability that the face is GAN-generated; "
                                          "null when the face is too small to judge."},
                "verdict": {"type": "string", "enum": FACE_VERDICTS, "description": FACE_VERDICT_TEXT},
                "crop": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                         "description": "[x, y, side, side]: the square the classifier judged."},
            },
        },
        "Result": {
            "type": "object", "required": ["filename", "width", "height", "faces", "p_fake", "verdict",
                                              "provenance"],
            "additionalProperties": False,
            "properties": {
                "filename": {"type": "string"},
                "width": {"type": ["integer", "null"], "description": "Upright width (null on error)."},
                "height": {"type": ["integer", "null"]},
                "faces": {"type": "array", "items": {"$ref": "#/components/schemas/Face"}},
                "p_fake": {**NULLABLE_NUMBER, "minimum": 0, "maximum": 1,
                           "description": "p_fake of the most suspicious judged face."},
                "verdict": {"type": "string", "enum": list(VERDICTS), "description": VERDICT_TEXT},
                "error": {"type": "string", "description": "Why the image could not be used."},
                "provenance": {"$ref": "#/components/schemas/Provenance"},
            },
        },
        "Provenance": {
            "type": "object", "required": ["kind", "detail", "signed", "trusted"],
            "additionalProperties": False,
            "description": PROVENANCE_TEXT,
            "properties": {
                "kind": {"type": "string", "enum": list(PROVENANCE_KINDS)},
                "detail": {"type": "string", "description": "For a person: the claim, the claim "
                           "generator and signer, the trust, and what it cannot prove."},
                "signed": {"type": "boolean", "description": "A C2PA signature (false: XMP, unsigned)."},
                "trusted": {"type": "boolean", "description": "The signer chains to a trust list "
                            "(none is shipped: false unless one is configured)."},
            },
        },
        "ModelBrief": {
            "type": "object",
            "required": ["model_version", "architecture", "threshold", "unsure_from", "temperature",
                         "input_size", "crop_rule", "device"],
            "properties": {
                "model_version": {"type": "string"}, "architecture": {"type": "string"},
                "threshold": {"type": "number", "description": "p_fake at or above it: \"fake\"."},
                "unsure_from": {**NULLABLE_NUMBER, "description": UNSURE_FROM_TEXT},
                "temperature": {"type": "number"},
                "input_size": {"type": "integer"}, "crop_rule": {"type": "string"},
                "device": {"type": "string", "enum": ["CPU", "GPU"]},
            },
        },
        "Predictions": {
            "type": "object", "required": ["results", "model"], "additionalProperties": False,
            "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"},
                                       "description": "One entry per image, in request order."},
                           "model": {"$ref": "#/components/schemas/ModelBrief"}},
        },
        "Model": {
            "type": "object", "required": ["contract", "card", "device", "limits", "auth"],
            "properties": {
                "contract": {
                    "type": "object", "description": "The preprocessing contract (contract.json).",
                    "required": ["input_size", "crop_rule", "threshold", "temperature", "model_version",
                                 "format"],
                    "properties": {"input_size": {"type": "integer"}, "crop_rule": {"type": "string"},
                                   "threshold": {"type": "number"},
                                   "unsure_from": {**NULLABLE_NUMBER, "description": UNSURE_FROM_TEXT},
                                   "temperature": {"type": "number"},
                                   "model_version": {"type": "string"}, "format": {"type": "string"}},
                },
                "card": {
                    "type": "object", "required": ["name", "title", "summary", "intended_use", "validation"],
                    "properties": {"name": {"type": "string"}, "title": {"type": ["string", "null"]},
                                   "summary": {"type": ["string", "null"]},
                                   "intended_use": {"type": ["string", "null"]},
                                   "validation": {"type": ["object", "null"]}},
                },
                "device": {"type": "string", "enum": ["CPU", "GPU"]},
                "limits": {
                    "type": "object",
                    "required": ["max_request_bytes", "max_images", "max_pixels", "max_request_pixels"],
                    "properties": {k: {"type": "integer"} for k in
                                   ("max_request_bytes", "max_images", "max_pixels", "max_request_pixels")},
                },
                "auth": {"type": "boolean",
                         "description": "Whether /predict, /explain and /model need a token."},
            },
        },
    }
    # An empty file inside a multipart request is that image's error entry; an empty raw body is a 400.
    binary = {"type": "string", "format": "binary"}
    predict_body = {
        "required": True,
        "description": (
            f"Either multipart/form-data with 1 to {config.max_images} files in the field `image`, "
            "or one image as the raw body with an image content type (any image/*; what the browser "
            f"extension sends). At most {config.max_request_bytes:,} bytes in all; each image at most "
            f"{config.max_pixels:,} pixels, all images of a request at most "
            f"{config.max_request_pixels:,} pixels counting each image as the square of its longer "
            "side (the square the face detector searches), both read from the images' headers "
            "before anything is decoded: an image over either is an `error` entry and is never "
            "decoded. "
            f"At most {config.max_decoding} requests decode at once; the others wait up to "
            f"{config.decode_wait} s, then get a 503."),
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["image"],
                           "properties": {"image": {"type": "array", "items": binary, "minItems": 1,
                                                    "maxItems": config.max_images}}},
            },
            **{t: {"schema": {**binary, "minLength": 1}} for t in RAW_IMAGE_TYPES},
        },
    }
    spec = {
        "openapi": "3.1.0",
        "info": {
            "title": "FaceCheck local server",
            "version": "1",
            "description": "Detects GAN-generated faces with the FaceCheck model. Every error is JSON "
                           "`{error, status}`; an unreadable image is an `error` entry in `results`, "
                           "not a failed request.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Only when the server has FACECHECK_TOKEN."}},
        },
        "paths": {
            f"{API_PREFIX}/health": {"get": {
                "operationId": "health", "summary": "200 once the model is loaded.",
                "responses": {"200": _json("Health", "The server is ready."), **common},
            }},
            f"{API_PREFIX}/model": {"get": {
                "operationId": "model", "summary": "The model's contract, card summary and device.",
                "security": security,
                "responses": {"200": _json("Model", "The model in use."), **authed, **common},
            }},
            f"{API_PREFIX}/predict": {"post": {
                "operationId": "predict", "summary": "Judge every face in one or more images.",
                "security": security,
                "parameters": [{"name": "filename", "in": "query", "required": False,
                                "description": "Name to report for a raw-body image.",
                                "schema": {"type": "string"}}],
                "requestBody": predict_body,
                "responses": {
                    "200": _json("Predictions", "One result per image, in request order."),
                    "400": _error_response("Empty request, or no file in the field `image`."),
                    **authed,
                    "413": _error_response("Body over the size limit, or too many images."),
                    "415": _error_response("Neither multipart/form-data nor an image content type."),
                    "503": {**_error_response("Busy: no decoding turn came free in time (or the model "
                                              "is still loading); retry after Retry-After seconds."),
                            "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                    **common,
                },
            }},
            f"{API_PREFIX}/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This description.",
                "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              **common},
            }},
        },
    }
    return explain_spec(spec, config)  # POST /explain: server/explain_spec.py
