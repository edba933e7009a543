"""The drop page at / in real Chromium (Playwright) against the real server and model: pick files,
see each image with its faces boxed, labelled in words and scored; nothing loaded from elsewhere."""

from __future__ import annotations

import base64
import re

import pytest
import requests

from facecheck.images import load_image
from facecheck.predictor import Predictor
from server.app import create_app
from server.config import Config
from server.inference import load_predictor
from server.serve import BackgroundServer
from tests.browser import launch_chromium
from tests.helpers import FIXTURES, band_around, fixture_faces

# How the page words a judged verdict (server/static/app.js WORDS).
UNSURE_WORDS = "unsure: not clearly real or generated"
JUDGED_WORDS = f"(likely generated|likely real|{UNSURE_WORDS})"


@pytest.fixture(scope="module")
def server():
    predictor = load_predictor()
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), Config.from_env(environ={})) as srv:
        yield srv


def local_only_page(browser, server_url: str, outside: list[str], errors: list[str]):
    """A page that may load only from `server_url` (and blob: URLs): anything else is aborted and
    listed in `outside`; page errors and console errors are listed in `errors`."""
    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def only_local(route):
        if route.request.url.startswith(server_url + "/") or route.request.url.startswith("blob:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return page


def check_judged_result(item, name: str) -> None:
    """A judged picture's result: its name, verdict in words with p_fake, one labelled box drawn
    over the loaded picture, and the face listed."""
    from playwright.sync_api import expect

    expect(item.locator("h3")).to_have_text(name)
    verdict = re.compile(rf"^{JUDGED_WORDS} \(p_fake 0\.\d{{3}}\)$")
    expect(item.locator(".verdict")).to_have_text(verdict)
    box = item.locator(".box")
    expect(box).to_have_count(1)
    label = re.compile(r"^Face 1: (fake|unsure|real) \d+%$")
    expect(box.locator(".box-label")).to_have_text(label)
    expect(item.locator(".faces li")).to_have_text(
        re.compile(rf"^Face 1: {JUDGED_WORDS}, p_fake 0\.\d{{3}}$"))
    # The box is drawn over the picture, inside it, and the picture really loaded.
    img = item.locator("img").bounding_box()
    b = box.bounding_box()
    assert img and b and img["width"] > 50 and b["width"] > 10
    assert b["x"] >= img["x"] - 2 and b["x"] + b["width"] <= img["x"] + img["width"] + 2
    assert item.locator("img").evaluate("i => i.complete && i.naturalWidth") == 300


def drop_file(page, path, name: str) -> None:
    """Drop the file at `path` on the drop zone as `name` (a DataTransfer made in the page)."""
    page.evaluate("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: "image/jpeg"}));
        document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", [base64.b64encode(path.read_bytes()).decode(), name])


@pytest.mark.slow
def test_drop_page_boxes_labels_and_scores_faces(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    text_as_jpg = tmp_path / "notes.jpg"
    text_as_jpg.write_text("not a photo\n")
    files = [fixture_faces("fake")[0], fixture_faces("real")[0], text_as_jpg,
             FIXTURES / "noface" / "brick.jpg"]
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            errors: list[str] = []
            page = local_only_page(browser, server.url, outside, errors)
            page.goto(server.url + "/")
            expect(page.locator("#model-info")).to_contain_text("threshold", ignore_case=True)
            expect(page.locator("#model-info")).to_contain_text(re.compile(r"CPU|GPU"))

            # A real file upload through the labelled file input.
            page.get_by_label("Choose images").set_input_files([str(f) for f in files])
            results = page.locator("#results > li.result")
            expect(results).to_have_count(4, timeout=60_000)
            expect(page.locator("#status")).to_contain_text("Checked 4 image(s)")

            fake, real, text, brick = (results.nth(i) for i in range(4))
            for item, name in ((fake, files[0].name), (real, files[1].name)):
                check_judged_result(item, name)
            # The page shows the API's own verdict and p_fake for each picture.
            for item, f in ((fake, files[0]), (real, files[1])):
                want = requests.post(server.url + "/api/v1/predict", data=f.read_bytes(), timeout=60,
                                     headers={"Content-Type": "image/jpeg"}).json()["results"][0]
                expect(item).to_have_class(re.compile(rf"\bverdict-{want['verdict']}\b"))
                expect(item.locator(".verdict")).to_contain_text(f"p_fake {want['p_fake']:.3f}")
            expect(text.locator(".verdict")).to_have_text(re.compile(r"Could not be read: not an image"))
            expect(text.locator(".box")).to_have_count(0)
            expect(brick.locator(".verdict")).to_have_text(re.compile(rf"^(no face found|{JUDGED_WORDS})"))

            # Dropping a file on the drop zone does the same.
            drop_file(page, files[0], "dropped.jpg")
            expect(results).to_have_count(5, timeout=60_000)
            expect(results.nth(4).locator("h3")).to_have_text("dropped.jpg")
            label = re.compile(r"^Face 1: (fake|unsure|real) \d+%$")
            expect(results.nth(4).locator(".box-label")).to_have_text(label)
            assert not errors, errors
        finally:
            browser.close()
    assert outside == []


@pytest.mark.slow
def test_drop_page_asks_for_the_token_when_the_server_has_one():
    from playwright.sync_api import expect, sync_playwright

    predictor = load_predictor()
    config = Config.from_env(environ={"FACECHECK_TOKEN": "page-token"})
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), config) as srv, \
            sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto(srv.url + "/")
            expect(page.locator("#model-info")).to_contain_text("needs an access token")
            expect(page.locator("#token-box")).to_have_attribute("open", "")
            page.get_by_label(re.compile("Bearer token")).fill("page-token")
            page.get_by_label(re.compile("Bearer token")).press("Tab")
            expect(page.locator("#model-info")).to_contain_text("threshold")
            page.get_by_label("Choose images").set_input_files(str(fixture_faces("real")[0]))
            expect(page.locator("#results .box")).to_have_count(1, timeout=60_000)
        finally:
            browser.close()


@pytest.mark.slow
def test_drop_page_shows_unsure_as_its_own_state():
    """A model whose calibrated band holds a real fixture face's p_fake: the page says "unsure" in
    words, class, box style and label, names the band, and counts it apart in the status line."""
    from playwright.sync_api import expect, sync_playwright

    predictor = load_predictor()
    face = fixture_faces("real")[0]
    contract = band_around(predictor.contract, predictor.predict(load_image(face))["p_fake"])
    banded = Predictor(predictor.model, contract, detector=predictor.detector)
    with BackgroundServer(lambda c: create_app(c, predictor=banded), Config.from_env(environ={})) as srv, \
            sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto(srv.url + "/")
            expect(page.locator("#model-info")).to_contain_text(
                f'"unsure" from {contract.unsure_from:.3f} up to it')
            page.get_by_label("Choose images").set_input_files(str(face))
            item = page.locator("#results > li.result")
            expect(item).to_have_count(1, timeout=60_000)
            expect(item).to_have_class(re.compile(r"\bverdict-unsure\b"))
            expect(item.locator(".verdict")).to_have_text(
                re.compile(rf"^{UNSURE_WORDS} \(p_fake 0\.\d{{3}}\)$"))
            box = item.locator(".box")
            expect(box).to_have_class(re.compile(r"\bunsure\b"))
            expect(box.locator(".box-label")).to_have_text(re.compile(r"^Face 1: unsure \d+%$"))
            expect(item.locator(".faces li")).to_have_text(re.compile(rf"^Face 1: {UNSURE_WORDS}, p_fake"))
            # Its own look too, not the neutral one of no-face / too-small / error.
            assert box.evaluate("b => getComputedStyle(b).borderTopStyle") == "double"
            expect(page.locator("#status")).to_contain_text("0 result(s) on this page look generated, "
                                                            "1 unsure")
        finally:
            browser.close()
