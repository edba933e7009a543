"""The real app with the real shipped model, through Flask's test client: API answers, the bad-input
corpus (each kind with its expected answer), limits, CORS, the token and the OpenAPI description."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facecheck.contract import VERDICTS
from facecheck.images import load_image
from server.app import create_app
from server.config import EXTENSION_ORIGIN, Config
from server.inference import load_predictor
from server.openapi import build_spec
from tests.helpers import (
    FIXTURES,
    band_around,
    band_verdict,
    banded_model_dir,
    fixture_faces,
    make_bad_inputs,
)

EXTENSION = EXTENSION_ORIGIN  # FaceCheck's own, pinned by its manifest key
JUDGED = ("fake", "unsure", "real")


@pytest.fixture(scope="session")
def predictor():
    """The shipped model and detector, loaded once per test process (server.inference caches it)."""
    return load_predictor()


def make_app(predictor, **settings):
    """An app on the real predictor with default settings, ignoring this shell's FACECHECK_* vars."""
    return create_app(Config.from_env(environ={}, **settings), predictor=predictor)


@pytest.fixture(scope="module")
def app(predictor):
    return make_app(predictor)


@pytest.fixture()
def client(app):
    return app.test_client()


def post_files(client, files: list[tuple[str, bytes]], **kw):
    data = {"image": [(io.BytesIO(b), name) for name, b in files]}
    return client.post("/api/v1/predict", data=data, content_type="multipart/form-data", **kw)


def face_bytes(n: int = 2) -> list[tuple[str, bytes]]:
    faces = [f for pair in zip(fixture_faces("fake"), fixture_faces("real"), strict=True) for f in pair]
    return [(f.name, f.read_bytes()) for f in faces[:n]]


def check_result(r: dict, contract) -> None:
    """What every judged result must satisfy, whatever the model's crop rule and band."""
    assert r["verdict"] in JUDGED, r
    assert "error" not in r
    judged = [f["p_fake"] for f in r["faces"] if f["p_fake"] is not None]
    assert judged and r["p_fake"] == pytest.approx(max(judged))
    assert r["verdict"] == band_verdict(r["p_fake"], contract.threshold, contract.unsure_from)
    for f in r["faces"]:
        assert len(f["box"]) == 4 and f["verdict"] in (*JUDGED, "too-small")
        if f["p_fake"] is not None:
            assert 0.0 <= f["p_fake"] <= 1.0 and len(f["crop"]) == 4
            assert f["verdict"] == band_verdict(f["p_fake"], contract.threshold, contract.unsure_from)


# -- the three GET endpoints ------------------------------------------------------------------------
def test_health(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_model_has_contract_card_and_device(client, predictor):
    import tensorflow as tf

    info = client.get("/api/v1/model").get_json()
    assert info["contract"] == json.loads(json.dumps(dataclasses.asdict(predictor.contract)))
    assert info["card"]["title"].startswith("Model card")
    assert info["card"]["summary"] and info["card"]["validation"]["auc"] > 0.5
    assert info["device"] == ("GPU" if tf.config.list_physical_devices("GPU") else "CPU")
    assert info["limits"]["max_images"] == Config().max_images and info["auth"] is False


# -- predictions ------------------------------------------------------------------------------------
def test_predict_multipart_in_request_order_matches_the_predictor(client, predictor):
    files = face_bytes(8)
    r = post_files(client, files)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [x["filename"] for x in body["results"]] == [name for name, _ in files]
    direct = predictor.predict_many([load_image(b) for _, b in files])
    threshold = predictor.contract.threshold
    for res, want in zip(body["results"], direct, strict=True):
        check_result(res, predictor.contract)
        assert (res["width"], res["height"]) == (300, 300)
        assert res["p_fake"] == pytest.approx(want["p_fake"], abs=1e-5)
        boxes = [v for f in res["faces"] for v in f["box"]]
        assert boxes == pytest.approx([float(v) for f in want["faces"] for v in f["box"]])
    assert body["model"]["model_version"] == predictor.contract.model_version
    assert body["model"]["threshold"] == threshold
    assert body["model"]["unsure_from"] == predictor.contract.unsure_from


def test_an_answer_in_the_models_unsure_band_says_unsure(predictor, tmp_path):
    """A model folder whose contract.json has a band holding a picture's p_fake: the server loads
    it like any model, and its answer for that picture (and for its face) is "unsure"."""
    import schemathesis

    from facecheck.predictor import default_model_dir

    name, data = face_bytes(1)[0]
    p = predictor.predict(load_image(data))["p_fake"]
    contract = band_around(predictor.contract, p)
    model_dir = banded_model_dir(default_model_dir(), tmp_path / "banded", contract)
    client = create_app(Config.from_env(environ={}, model_dir=str(model_dir))).test_client()
    noface = (FIXTURES / "noface" / "brick.jpg").read_bytes()
    r = post_files(client, [(name, data), ("noface.jpg", noface), ("notes.jpg", b"text")])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    res, empty, bad = body["results"]
    assert res["verdict"] == "unsure" and [f["verdict"] for f in res["faces"]] == ["unsure"], res
    assert res["p_fake"] == pytest.approx(p, abs=1e-5)
    assert empty["verdict"] == ("no-face" if contract.crop_rule == "face-box" else "real")
    assert bad["verdict"] == "error"
    assert body["model"]["unsure_from"] == contract.unsure_from
    assert body["model"]["threshold"] == contract.threshold
    info = client.get("/api/v1/model").get_json()
    assert info["contract"]["unsure_from"] == contract.unsure_from
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    schema["/api/v1/predict"]["POST"].validate_response(r)
    # The same picture from the shipped model: its own band (if any) decides, not this one.
    shipped = post_files(make_app(predictor).test_client(), [(name, data)]).get_json()["results"][0]
    check_result(shipped, predictor.contract)


def test_openapi_names_every_verdict(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Result"]["properties"]["verdict"]["enum"] == list(VERDICTS)
    assert schemas["Face"]["properties"]["verdict"]["enum"] == ["fake", "unsure", "real", "too-small"]
    assert "unsure_from" in schemas["ModelBrief"]["required"]


def test_predict_raw_body_like_the_extension(client):
    name, data = face_bytes(1)[0]
    raw = client.post("/api/v1/predict?filename=a.jpg", data=data, content_type="image/jpeg")
    assert raw.status_code == 200
    (res,) = raw.get_json()["results"]
    assert res["filename"] == "a.jpg"
    multi = post_files(client, [(name, data)]).get_json()["results"][0]
    assert res["p_fake"] == pytest.approx(multi["p_fake"], abs=1e-6)
    untyped = client.post("/api/v1/predict", data=data, content_type="application/octet-stream")
    assert untyped.status_code == 200 and untyped.get_json()["results"][0]["filename"] == "image"


class CountingPredictor:
    """The real predictor, counting how it is called."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: list[int] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def predict_many(self, images):
        self.calls.append(len(images))
        return self.inner.predict_many(images)


def test_all_images_of_a_request_go_to_the_model_together(predictor):
    counting = CountingPredictor(predictor)
    client = make_app(counting).test_client()
    files = face_bytes(6) + [("bad.jpg", b"not an image")]
    r = post_files(client, files)
    assert r.status_code == 200
    assert counting.calls == [6]  # one batched call for the 6 decodable images; the bad one skipped


# -- the bad-input corpus -----------------------------------------------------------------------------
def several_faces(path: Path) -> None:
    """Four fixture faces in a 2x2 grid on a grey background: a group photo (690x690)."""
    canvas = Image.new("RGB", (690, 690), (128, 128, 128))
    faces = fixture_faces("real")[1:3] + fixture_faces("fake")[1:3]
    for i, f in enumerate(faces):
        canvas.paste(Image.open(f).convert("RGB"), (30 + (i % 2) * 330, 30 + (i // 2) * 330))
    canvas.save(path, "JPEG", quality=92)


def exif_portrait(path: Path) -> None:
    """A 200x300 portrait stored sideways (300x200) with EXIF orientation 6, as phones do."""
    face = Image.open(fixture_faces("real")[2]).convert("RGB").crop((50, 0, 250, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    face.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=92, exif=exif)


def animated_gif(path: Path) -> None:
    frames = [Image.open(f).convert("RGB") for f in fixture_faces("fake")[:3]]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def corpus(folder: Path) -> dict[str, str | None]:
    """make_bad_inputs' files plus the server's extra kinds: {name: error substring or None}."""
    expected = make_bad_inputs(folder)
    animated_gif(folder / "animated.gif")
    expected["animated.gif"] = None
    Image.open(fixture_faces("fake")[3]).save(folder / "face.webp", "WEBP", quality=90)
    expected["face.webp"] = None
    exif_portrait(folder / "portrait_exif.jpg")
    expected["portrait_exif.jpg"] = None
    several_faces(folder / "group.jpg")
    expected["group.jpg"] = None
    (folder / "noface.jpg").write_bytes((FIXTURES / "noface" / "brick.jpg").read_bytes())
    expected["noface.jpg"] = None
    return expected


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server_corpus")
    return folder, corpus(folder)


@pytest.fixture(scope="module")
def corpus_answers(app, bad_corpus) -> dict[str, dict]:
    """The whole corpus in one request: one bad image must not fail the others."""
    folder, expected = bad_corpus
    names = sorted(expected)
    r = post_files(app.test_client(), [(n, (folder / n).read_bytes()) for n in names])
    assert r.status_code == 200, r.get_json()
    results = r.get_json()["results"]
    assert [x["filename"] for x in results] == names
    return dict(zip(names, results, strict=True))


CORPUS_KINDS = ["truncated.jpg", "empty.jpg", "notes.jpg", "alpha.png", "sixteen_bit.png", "cmyk.jpg",
                "grey.jpg", "animated.gif", "face.webp", "bomb.png", "strip.png", "one_pixel.png",
                "exif_rotated.jpg", "portrait_exif.jpg", "group.jpg", "noface.jpg", "fake_face.jpg"]


@pytest.mark.parametrize("name", CORPUS_KINDS)
def test_bad_input_corpus_each_with_its_answer(name, bad_corpus, corpus_answers, predictor):
    folder, expected = bad_corpus
    res = corpus_answers[name]
    detector = predictor.contract.crop_rule == "face-box"
    if expected[name] is not None:
        want = "too-small" if name == "one_pixel.png" else "error"
        assert res["verdict"] == want and expected[name] in res["error"], res
        assert res["faces"] == [] and res["p_fake"] is None and res["width"] is None
        return
    if name == "noface.jpg" and detector:
        assert res["verdict"] == "no-face" and res["faces"] == [] and res["p_fake"] is None
        return
    check_result(res, predictor.contract)
    if name == "portrait_exif.jpg":
        assert (res["width"], res["height"]) == (200, 300)  # upright, as the EXIF tag says
    elif name == "group.jpg":
        assert (res["width"], res["height"]) == (690, 690)
        assert len(res["faces"]) == (4 if detector else 1)
    else:
        # Decoding rules (alpha flattened, 16-bit scaled, CMYK converted, first GIF frame) are
        # load_image's: the server must give exactly what the predictor gives on its output.
        want = predictor.predict(load_image(folder / name))
        assert res["p_fake"] == pytest.approx(want["p_fake"], abs=1e-5)


def test_corpus_holds_every_kind_the_server_must_answer(bad_corpus):
    """Each kind the server issue names is in the corpus, with the answer the tests expect."""
    _, expected = bad_corpus
    assert set(CORPUS_KINDS) == set(expected)
    errors = {k for k, v in expected.items() if v}
    assert errors == {"truncated.jpg", "empty.jpg", "notes.jpg", "bomb.png", "strip.png", "one_pixel.png"}


@pytest.mark.parametrize("kind", ["oversized", "empty", "empty-multipart", "no-content-type", "text",
                                  "json", "no-image-field", "too-many", "empty-raw"])
def test_request_level_errors_are_json_and_the_server_keeps_answering(kind, predictor):
    client = make_app(predictor, max_request_bytes=100_000, max_images=3).test_client()
    face = face_bytes(1)[0][1]
    if kind == "oversized":
        r = client.post("/api/v1/predict", data=b"\xff" * 100_001, content_type="image/jpeg")
        want, words = 413, "too large"
    elif kind == "empty":
        r = client.post("/api/v1/predict")
        want, words = 400, "empty request"
    elif kind == "empty-multipart":
        r = client.post("/api/v1/predict", data={}, content_type="multipart/form-data")
        want, words = 400, "field 'image'"
    elif kind == "no-content-type":
        r = client.post("/api/v1/predict", data=face)
        want, words = 415, "content type"
    elif kind == "text":
        r = client.post("/api/v1/predict", data=b"hello", content_type="text/plain")
        want, words = 415, "text/plain"
    elif kind == "json":
        r = client.post("/api/v1/predict", json={"image": "x"})
        want, words = 415, "application/json"
    elif kind == "no-image-field":
        r = client.post("/api/v1/predict", data={"photo": (io.BytesIO(face), "a.jpg")},
                        content_type="multipart/form-data")
        want, words = 400, "field 'image'"
    elif kind == "too-many":
        r = post_files(client, [(f"{i}.jpg", b"x") for i in range(4)])
        want, words = 413, "too many images"
    else:
        r = client.post("/api/v1/predict", data=b"", content_type="image/png")
        want, words = 400, "empty request"
    assert r.status_code == want, r.data[:300]
    assert r.is_json and r.get_json()["status"] == want and words in r.get_json()["error"], r.get_json()
    assert client.get("/api/v1/health").status_code == 200
    ok = post_files(client, [("a.jpg", face)])
    assert ok.status_code == 200 and ok.get_json()["results"][0]["verdict"] in JUDGED


def test_pixel_limits(predictor):
    """Per image (header checked before decoding) and per request (decoded pixels held at once)."""
    face = face_bytes(1)[0][1]
    client = make_app(predictor, max_pixels=300 * 300 - 1).test_client()
    (res,) = post_files(client, [("a.jpg", face)]).get_json()["results"]
    assert res["verdict"] == "error" and "too large" in res["error"]
    client = make_app(predictor, max_request_pixels=2 * 300 * 300).test_client()
    results = post_files(client, face_bytes(3)).get_json()["results"]
    assert [r["verdict"] in JUDGED for r in results] == [True, True, False]
    assert "pixel budget" in results[2]["error"]


def test_unknown_routes_and_methods_answer_json(client):
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.get_json()["status"] == 404
    r = client.get("/api/v1/predict")
    assert r.status_code == 405 and "POST" in r.headers["Allow"] and r.get_json()["status"] == 405


# -- CORS and the token -----------------------------------------------------------------------------
def test_cors_allows_the_extension_and_own_page_only(client):
    face = face_bytes(1)[0][1]
    for origin in (EXTENSION, "http://127.0.0.1:8000", "http://localhost:8000"):
        r = client.post("/api/v1/predict", data=face, content_type="image/jpeg", headers={"Origin": origin})
        assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == origin
        pre = client.options("/api/v1/predict", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert pre.headers["Access-Control-Allow-Origin"] == origin
        assert "authorization" in pre.headers["Access-Control-Allow-Headers"].lower()
    for origin in ("https://example.com", "chrome-extension://" + "z" * 32, "chrome-extension://" + "p" * 32,
                   "http://127.0.0.1:9999", "null"):
        r = client.post("/api/v1/predict", data=face, content_type="image/jpeg", headers={"Origin": origin})
        assert r.status_code == 403 and "origin not allowed" in r.get_json()["error"]
        assert "Access-Control-Allow-Origin" not in r.headers
        pre = client.options("/api/v1/predict", headers={"Origin": origin,
                                                         "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in pre.headers
    assert "*" not in Config().cors_origins and Config().cors_origins == (EXTENSION_ORIGIN,)


def test_cors_origins_are_configurable_by_environment(predictor):
    other = "chrome-extension://" + "b" * 32  # e.g. a Web Store build, whose id is not the pinned one
    config = Config.from_env(environ={"FACECHECK_CORS_ORIGINS": f"https://tool.example, {other}"})
    assert config.cors_origins == ("https://tool.example", other)
    client = create_app(config, predictor=predictor).test_client()
    for origin, status in (("https://tool.example", 200), (other, 200), (EXTENSION, 403),
                           ("chrome-extension://" + "c" * 32, 403)):
        r = client.get("/api/v1/model", headers={"Origin": origin})
        assert r.status_code == status
    assert "*" in Config.from_env(environ={"FACECHECK_CORS_ORIGINS": "*"}).allowed_origins()


def test_own_page_on_another_address_needs_the_token_not_an_origin_list(predictor):
    """Bound to a LAN address with a token, the server's own page (Origin = the Host it was
    reached by) may call the API; without a token a rebound DNS name is refused outright (its
    Host is foreign), and only loopback names count as the server's own page."""
    face = face_bytes(1)[0][1]
    lan = {"base_url": "http://192.168.1.20:8000", "headers": {"Origin": "http://192.168.1.20:8000"}}
    tokened = make_app(predictor, host="0.0.0.0", token="s3cret").test_client()
    r = tokened.post("/api/v1/predict", data=face, content_type="image/jpeg", base_url=lan["base_url"],
                     headers={**lan["headers"], "Authorization": "Bearer s3cret"})
    assert r.status_code == 200, r.get_json()
    r = tokened.post("/api/v1/predict", data=face, content_type="image/jpeg", base_url=lan["base_url"],
                     headers=lan["headers"])
    assert r.status_code == 401  # the page still needs the token
    r = tokened.post("/api/v1/predict", data=face, content_type="image/jpeg", base_url=lan["base_url"],
                     headers={"Origin": "http://evil.example:8000", "Authorization": "Bearer s3cret"})
    assert r.status_code == 403
    plain = make_app(predictor).test_client()
    r = plain.post("/api/v1/predict", data=face, content_type="image/jpeg",
                   base_url="http://rebound.example:8000", headers={"Origin": "http://rebound.example:8000"})
    assert r.status_code == 421 and "host not allowed" in r.get_json()["error"]
    r = plain.post("/api/v1/predict", data=face, content_type="image/jpeg",
                   headers={"Origin": "http://rebound.example:8000"})  # Host: localhost
    assert r.status_code == 403 and "origin not allowed" in r.get_json()["error"]


def test_bearer_token(predictor):
    config = Config.from_env(environ={"FACECHECK_TOKEN": "s3cret"})
    client = create_app(config, predictor=predictor).test_client()
    assert client.get("/api/v1/health").status_code == 200  # stays open for readiness probes
    for r in (client.get("/api/v1/model"),
              client.post("/api/v1/predict", data=b"x", content_type="image/jpeg"),
              client.get("/api/v1/model", headers={"Authorization": "Bearer wrong"}),
              client.get("/api/v1/model", headers={"Authorization": "s3cret"})):
        assert r.status_code == 401 and "token" in r.get_json()["error"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    good = {"Authorization": "Bearer s3cret"}
    assert client.get("/api/v1/model", headers=good).get_json()["auth"] is True
    r = client.post("/api/v1/predict", data=face_bytes(1)[0][1], content_type="image/jpeg", headers=good)
    assert r.status_code == 200


def test_config_defaults_then_environment_then_overrides():
    c = Config.from_env(environ={})
    assert (c.host, c.port, c.token) == ("127.0.0.1", 8000, None)
    c = Config.from_env(environ={"FACECHECK_PORT": "9000", "FACECHECK_MAX_IMAGES": "5"}, port=9100)
    assert (c.port, c.max_images) == (9100, 5)
    with pytest.raises(ValueError, match="FACECHECK_MAX_IMAGES"):
        Config.from_env(environ={"FACECHECK_MAX_IMAGES": "lots"})
    with pytest.raises(ValueError, match="at least 1"):
        Config.from_env(environ={"FACECHECK_MAX_REQUEST_BYTES": "0"})


# -- the OpenAPI description ------------------------------------------------------------------------
def test_openapi_lists_exactly_the_api_routes(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec == json.loads(json.dumps(build_spec(app.extensions["facecheck"]["config"])))
    routes = {(rule.rule, m.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, m) for path, ops in spec["paths"].items() for m in ops}
    assert routes == documented
    limits = spec["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert limits["schema"]["properties"]["image"]["maxItems"] == Config().max_images


def test_real_answers_validate_against_the_openapi_description(app, client, bad_corpus):
    import schemathesis

    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    folder, expected = bad_corpus
    files = [(n, (folder / n).read_bytes()) for n in sorted(expected)]
    checks = [
        ("/api/v1/health", "GET", client.get("/api/v1/health")),
        ("/api/v1/model", "GET", client.get("/api/v1/model")),
        ("/api/v1/openapi.json", "GET", client.get("/api/v1/openapi.json")),
        ("/api/v1/predict", "POST", post_files(client, files)),
        ("/api/v1/predict", "POST", client.post("/api/v1/predict", data=b"x", content_type="text/plain")),
        ("/api/v1/predict", "POST", client.post("/api/v1/predict", content_type="image/png")),
    ]
    for path, method, response in checks:
        schema[path][method].validate_response(response)


# -- the page ----------------------------------------------------------------------------------------
def test_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    static = Path(__file__).resolve().parent.parent / "server" / "static"
    for f in static.iterdir():
        text = f.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, f
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


def test_numpy_values_become_plain_json():
    from server.inference import json_safe

    out = json_safe({"a": np.float32(0.5), "b": [np.int64(3), float("nan")], "c": (1, 2)})
    assert out == {"a": 0.5, "b": [3, None], "c": [1, 2]}
    assert json.dumps(out, allow_nan=False)
