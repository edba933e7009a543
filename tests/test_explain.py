"""Evidence maps (facecheck/explain.py) with the real shipped model: the map's grid and support,
that it points at what moves p_fake, `facecheck explain`'s files and lines, and POST /api/v1/explain
through the real Flask test client, bad input included."""

from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest
import schemathesis
from PIL import Image

from facecheck.cli import main
from facecheck.explain import explain, face_map, fill_for, heat_rgba, resize_map, windows
from facecheck.images import load_image
from facecheck.preprocess import model_input
from server.app import create_app
from server.config import Config
from server.explain_spec import EXPLAIN_MAX_IMAGES
from server.inference import load_predictor
from tests.helpers import FIXTURES, fixture_faces


@pytest.fixture(scope="module")
def predictor():
    return load_predictor()


def on_canvas(face: np.ndarray, height: int = 420, width: int = 640, at=(250, 90)) -> np.ndarray:
    """`face` pasted on a larger canvas of noise, so that the picture has pixels outside any face."""
    canvas = np.random.default_rng(0).integers(90, 160, (height, width, 3), dtype=np.uint8)
    x, y = at
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


# -- the maps -------------------------------------------------------------------------------------
def test_windows_cover_every_pixel_and_end_at_the_edge():
    assert windows(128) == [0, 24, 48, 72, 96]  # 5 x 5 windows at the defaults
    assert windows(128, stride=0.125) == [0, 16, 32, 48, 64, 80, 96]
    for size in (128, 100, 37):
        starts = windows(size)
        side = round(size * 0.25)
        assert starts[0] == 0 and starts[-1] == size - side
        covered = np.zeros(size, int)
        for s in starts:
            covered[s:s + side] += 1
        assert covered.min() >= 1, size


@pytest.mark.parametrize("side", [300, 128, 45])
def test_face_map_resize_is_plain_bilinear_with_half_pixel_centres(side):
    """Step 6 as TF's (and TF.js's) bilinear resize without antialiasing, growing or shrinking."""
    import tensorflow as tf

    heat = np.random.default_rng(side).normal(size=(128, 128)).astype(np.float32)
    want = tf.image.resize(heat[..., None], (side, side), "bilinear", antialias=False).numpy()[..., 0]
    got = resize_map(heat, side)
    assert got.shape == (side, side) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4)  # float32 rounding, on values ~N(0, 1)


def test_map_is_the_pictures_grid_and_zero_outside_the_judged_squares(predictor):
    picture = on_canvas(load_image(fixture_faces("fake")[0]))
    result = explain(predictor, picture)
    heat = result["heat"]
    assert heat.shape == picture.shape[:2] and heat.dtype == np.float32
    judged = [f for f in result["faces"] if f["heat"] is not None]
    assert judged, result["faces"]
    inside = np.zeros(heat.shape, bool)
    for face in judged:
        x, y, side, _ = face["crop"]
        inside[y:y + side, x:x + side] = True
        size = predictor.contract.input_size
        assert face["heat"].shape == (size, size) and face["heat"].dtype == np.float32
    assert not heat[~inside].any(), "the map must be zero outside the faces"
    assert np.count_nonzero(heat[inside]) > 0.5 * inside.sum()
    # The same verdicts as the predictor's own.
    predicted = predictor.predict(picture)
    assert result["p_fake"] == pytest.approx(predicted["p_fake"], abs=1e-5)
    assert [f["verdict"] for f in result["faces"]] == [f["verdict"] for f in predicted["faces"]]


def test_picture_without_a_face_has_an_all_zero_map(predictor):
    picture = load_image(FIXTURES / "noface" / "brick.jpg")
    result = explain(predictor, picture)
    assert result["verdict"] == "no-face" and result["faces"] == []
    assert result["heat"].shape == picture.shape[:2] and not result["heat"].any()


@pytest.mark.parametrize("path", fixture_faces("fake")[:3], ids=lambda p: p.stem)
def test_hiding_what_the_map_ranks_highest_lowers_p_fake_more_than_the_lowest(predictor, path):
    """A miniature of benchmarks/explain.py: the map's top 10% of pixels, hidden with the map's
    own fill, move p_fake down further than its bottom 10%."""
    x = model_input(load_image(path), predictor.contract)[0]
    p0, heat = face_map(predictor, x)
    filler = fill_for(x, predictor.contract)
    k = heat.size // 10
    order = np.argsort(heat.ravel())
    hidden = []
    for chosen in (order[-k:], order[:k]):
        mask = np.zeros(heat.size, bool)
        mask[chosen] = True
        mask = mask.reshape(heat.shape)
        hidden.append(np.where(mask[..., None], filler, x))
    p_top, p_bottom = predictor.contract.probability(predictor.logits(np.stack(hidden)))
    assert p0 - p_top > p0 - p_bottom, (p0, p_top, p_bottom)


def test_overlay_colours_say_generated_red_real_blue_nothing_clear():
    rgba = heat_rgba(np.array([[0.2, -0.2, 0.0]], np.float32))
    red, blue, clear = rgba[0]
    assert red[0] > red[2] and red[3] > 150
    assert blue[2] > blue[0] and blue[3] > 150
    assert clear[3] == 0


# -- the command ----------------------------------------------------------------------------------
def test_explain_command_writes_both_files_and_a_line_per_face(tmp_path, capsys, bad_inputs):
    bad_folder, expected = bad_inputs
    pictures = tmp_path / "in"
    pictures.mkdir()
    faces = [fixture_faces("fake")[1], fixture_faces("real")[1]]
    for f in faces:
        shutil.copy(f, pictures / f.name)
    for name in ("notes.jpg", "truncated.jpg"):
        shutil.copy(bad_folder / name, pictures / name)
    out = tmp_path / "maps"
    assert main(["explain", str(pictures), "--out", str(out), "--quiet"]) == 1  # two unreadable
    lines = capsys.readouterr().out.splitlines()
    for f in faces:
        heat = np.load(out / f"{f.stem}.heat.npy")
        size = Image.open(f).size
        assert heat.dtype == np.float32 and heat.shape == size[::-1]
        assert heat.any()
        with Image.open(out / f"{f.stem}.heat.png") as png:
            assert png.size == size
        face_lines = [line for line in lines if line.startswith(str(pictures / f.name) + ": face ")]
        assert len(face_lines) == 1 and "p_fake 0." in face_lines[0], lines
    for name in ("notes.jpg", "truncated.jpg"):
        (line,) = [line for line in lines if line.startswith(str(pictures / name))]
        assert f"could not read: {expected[name]}" in line or expected[name] in line, line
        assert not (out / f"{name[:-4]}.heat.npy").exists()


def test_explain_command_good_files_exit_0_missing_path_exit_2(tmp_path, capsys):
    face = fixture_faces("real")[2]
    assert main(["explain", str(face), "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / f"{face.stem}.heat.npy").exists() and (tmp_path / f"{face.stem}.heat.png").exists()
    assert main(["explain", str(tmp_path / "missing.jpg"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "explain" in capsys.readouterr().out


# -- the server -----------------------------------------------------------------------------------
def post(client, files: list[tuple[str, bytes]], **kw):
    data = {"image": [(io.BytesIO(b), name) for name, b in files]}
    return client.post("/api/v1/explain", data=data, content_type="multipart/form-data", **kw)


def test_explain_endpoint_answers_maps_that_validate(predictor, bad_inputs):
    client = create_app(Config.from_env(environ={}), predictor=predictor).test_client()
    bad_folder, _ = bad_inputs
    fake, real = fixture_faces("fake")[2], fixture_faces("real")[3]
    files = [(p.name, p.read_bytes()) for p in (fake, real)]
    files += [(n, (bad_folder / n).read_bytes()) for n in ("notes.jpg", "truncated.jpg")]
    r = post(client, files)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    results = body["results"]
    assert [x["filename"] for x in results] == [n for n, _ in files]
    predicted = client.post("/api/v1/predict", data=files[0][1], content_type="image/jpeg").get_json()
    assert results[0]["p_fake"] == pytest.approx(predicted["results"][0]["p_fake"], abs=1e-5)
    size = predictor.contract.input_size
    for res in results[:2]:
        assert res["verdict"] in ("fake", "unsure", "real")
        for face in res["faces"]:
            with Image.open(io.BytesIO(base64.b64decode(face["heat_png"]))) as png:
                assert png.size == (size, size) and png.mode == "RGBA"
            low, high = face["heat_range"]
            assert low <= high and face["heat_scale"] >= max(abs(low), abs(high)) - 1e-6
    assert results[2]["verdict"] == "error" and "not an image" in results[2]["error"]
    assert results[3]["verdict"] == "error" and "corrupt or truncated" in results[3]["error"]
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").get_json())
    schema["/api/v1/explain"]["POST"].validate_response(r)


def test_explain_endpoint_refuses_like_predict(predictor):
    client = create_app(Config.from_env(environ={}), predictor=predictor).test_client()
    face = fixture_faces("fake")[0].read_bytes()
    r = client.post("/api/v1/explain", data=b"a text", content_type="text/plain")
    assert r.status_code == 415 and "unsupported content type" in r.get_json()["error"]
    r = post(client, [(f"{i}.jpg", face) for i in range(EXPLAIN_MAX_IMAGES + 1)])
    assert r.status_code == 413 and "too many images" in r.get_json()["error"]
    tokened = create_app(Config.from_env(environ={}, token="s3cret"), predictor=predictor).test_client()
    r = tokened.post("/api/v1/explain", data=face, content_type="image/jpeg")
    assert r.status_code == 401
    r = tokened.post("/api/v1/explain", data=face, content_type="image/jpeg",
                     headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200 and r.get_json()["results"][0]["faces"][0]["heat_png"]


# -- the drop page's "Why?" -----------------------------------------------------------------------
@pytest.mark.slow
def test_drop_page_why_lays_each_faces_map_over_its_square(predictor):
    """Real Chromium on the real server: "Why?" under a judged picture draws one map per judged
    face over the face's square, and hides it again."""
    from playwright.sync_api import expect, sync_playwright

    from server.serve import BackgroundServer
    from tests.browser import launch_chromium

    face = fixture_faces("fake")[0]
    with (BackgroundServer(lambda c: create_app(c, predictor=predictor), Config.from_env(environ={})) as srv,
          sync_playwright() as pw):
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url + "/")
            page.get_by_label("Choose images").set_input_files([str(face)])
            item = page.locator("#results > li.result")
            expect(item).to_have_count(1, timeout=60_000)
            why = item.get_by_role("button", name="Why?")
            why.click()
            heat = item.locator(".frame img.heat")
            expect(heat).to_have_count(1, timeout=60_000)
            expect(heat).to_be_visible()
            expect(why).to_have_attribute("aria-pressed", "true")
            assert heat.evaluate("i => i.complete && i.naturalWidth") == predictor.contract.input_size
            picture = item.locator(".frame img:not(.heat)").bounding_box()
            square = heat.bounding_box()
            crop = predictor.predict(load_image(face))["faces"][0]["crop"]
            scale = picture["width"] / 300
            assert square["width"] == pytest.approx(crop[2] * scale, abs=2)
            assert square["x"] == pytest.approx(picture["x"] + crop[0] * scale, abs=2)
            why.click()
            expect(heat).to_be_hidden()
            expect(why).to_have_attribute("aria-pressed", "false")
            assert not errors, errors
        finally:
            browser.close()
