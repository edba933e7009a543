"""The drop page at / in real Chromium (Playwright) against the real server and model: pick files,
see each image with its faces boxed, numbered from the left and labelled in the words of every
front end (facecheck/wording.py, extension/src/settings.js); nothing loaded from elsewhere; and the
page usable by keyboard, by screen readers and with red-green colour blindness."""

from __future__ import annotations

import base64
import contextlib
import itertools
import math
import re
from pathlib import Path

import pytest
import requests
from PIL import Image

from facecheck import wording
from facecheck.images import ImageError, load_image
from facecheck.predictor import Predictor
from server.app import create_app
from server.config import Config
from server.inference import load_predictor
from server.serve import BackgroundServer
from tests.browser import launch_chromium
from tests.colours import VISIONS, contrast, parse_rgb, seen_as
from tests.helpers import FIXTURES, ROOT, band_around, fixture_faces

JUDGED = ("Likely generated", "Likely real", "Unsure")
JUDGED_WORDS = r"(Likely generated, \d+%|Likely real|Unsure)"


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


def api_result(server_url: str, path: Path) -> dict:
    """The API's own answer for one file (raw body, as the extension sends it)."""
    return requests.post(server_url + "/api/v1/predict", data=path.read_bytes(), timeout=60,
                         headers={"Content-Type": "image/jpeg"}).json()["results"][0]


def model_band(server_url: str) -> dict:
    """The served model's threshold and unsure band, as probability_text() takes them."""
    c = requests.get(server_url + "/api/v1/model", timeout=30).json()["contract"]
    return {"threshold": c["threshold"], "unsure_from": c["unsure_from"]}


def check_technical_details(item, band: dict) -> None:
    """A judged result's "Technical details": the model's threshold and its unsure band (or that
    it has none), in the lines of the extension's badges and popup (settings.js technicalLines)."""
    from playwright.sync_api import expect

    details = item.locator("details.technical")
    expect(details.locator("summary")).to_have_text("Technical details")
    details.locator("summary").click()
    lines = details.locator("p")
    expect(lines.first).to_have_text(f"Threshold: {wording.rule_percent(band['threshold'])} (the model's)")
    edge = band["unsure_from"]
    band_line = ("No unsure band" if edge is None else
                 f"Unsure from {wording.rule_percent(edge)} up to the threshold (the model's band)")
    expect(lines.nth(1)).to_have_text(band_line)
    expect(lines.nth(1)).to_be_visible()


def check_judged_result(item, name: str, want: dict, band: dict) -> None:
    """A judged picture's result: its name, the headline and probability line in the words of
    facecheck/wording.py for the API's p_fake and the model's band, one labelled box over the
    loaded picture, the face listed, and the band in its technical details."""
    from playwright.sync_api import expect

    expect(item.locator("h3")).to_have_text(name)
    expect(item).to_have_class(re.compile(rf"\bverdict-{want['verdict']}\b"))
    headline = wording.headline(want["verdict"], want["p_fake"])
    assert re.fullmatch(JUDGED_WORDS, headline)
    expect(item.locator(".verdict .words")).to_have_text(headline)
    expect(item.locator(".detail")).to_have_text(wording.probability_text(want["p_fake"], **band))
    box = item.locator(".box")
    expect(box).to_have_count(1)
    face = want["faces"][0]
    face_words = f"Face 1: {wording.headline(face['verdict'], face['p_fake'])}"
    expect(box.locator(".box-label .words")).to_have_text(face_words)
    detail = wording.probability_text(face["p_fake"], **band)
    expect(item.locator(".faces li")).to_have_text(f"{face_words}. {detail}")
    # The box is drawn over the picture, inside it, and the picture really loaded.
    img = item.locator("img").bounding_box()
    b = box.bounding_box()
    assert img and b and img["width"] > 50 and b["width"] > 10
    assert b["x"] >= img["x"] - 2 and b["x"] + b["width"] <= img["x"] + img["width"] + 2
    assert item.locator("img").evaluate("i => i.complete && i.naturalWidth") == 300
    check_technical_details(item, band)


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
            expect(page.locator("#status")).to_contain_text("Checked 4 images. ")
            expect(page.locator("#status")).to_contain_text("Could not check: 1")

            fake, real, text, brick = (results.nth(i) for i in range(4))
            # The page says the API's own verdict and p_fake, in the words of every front end.
            band = model_band(server.url)
            for item, f in ((fake, files[0]), (real, files[1])):
                check_judged_result(item, f.name, api_result(server.url, f), band)
            # Below the threshold, the number says what it means (never a bare figure).
            expect(real.locator(".detail")).to_contain_text(
                re.compile(r"needed to call it generated|makes no claim either way"))
            expect(text.locator(".verdict .words")).to_have_text("Could not check")
            expect(text.locator(".detail")).to_have_text("not an image (unrecognised format)")
            expect(text.locator(".box")).to_have_count(0)
            expect(brick.locator(".verdict .words")).to_have_text(
                re.compile(rf"^(No face found|{JUDGED_WORDS})$"))

            # Dropping a file on the drop zone does the same.
            drop_file(page, files[0], "dropped.jpg")
            expect(results).to_have_count(5, timeout=60_000)
            expect(results.nth(4).locator("h3")).to_have_text("dropped.jpg")
            expect(results.nth(4).locator(".box-label .words")).to_have_text(
                re.compile(rf"^Face 1: {JUDGED_WORDS}$"))
            # One picture: the status region announces its result.
            expect(page.locator("#status")).to_have_text(
                re.compile(rf"^Checked dropped\.jpg: {JUDGED_WORDS}\.$"))
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
                f'"Unsure" from {wording.rule_percent(contract.unsure_from)} up to it')
            page.get_by_label("Choose images").set_input_files(str(face))
            item = page.locator("#results > li.result")
            expect(item).to_have_count(1, timeout=60_000)
            expect(item).to_have_class(re.compile(r"\bverdict-unsure\b"))
            expect(item.locator(".verdict .words")).to_have_text("Unsure")
            band = {"threshold": contract.threshold, "unsure_from": contract.unsure_from}
            said = wording.probability_text(api_result(srv.url, face)["p_fake"], **band)
            assert said.endswith(": FaceCheck makes no claim either way"), said
            expect(item.locator(".detail")).to_have_text(said)
            box = item.locator(".box")
            expect(box).to_have_class(re.compile(r"\bunsure\b"))
            expect(box.locator(".box-label .words")).to_have_text("Face 1: Unsure")
            expect(item.locator(".faces li")).to_have_text(f"Face 1: Unsure. {said}")
            check_technical_details(item, band)
            # Its own look too, not the neutral one of no-face / too-small / error.
            assert box.evaluate("b => getComputedStyle(b).borderTopStyle") == "double"
            expect(page.locator("#status")).to_have_text(f"Checked {face.name}: Unsure.")
        finally:
            browser.close()


def write_row_of_faces(path: Path) -> None:
    """Three fixture faces side by side (600 x 200): numbered 1, 2, 3 from the left on the page."""
    row = Image.new("RGB", (600, 200))
    for i, f in enumerate((fixture_faces("real")[14], fixture_faces("fake")[14], fixture_faces("real")[15])):
        row.paste(Image.open(f).convert("RGB").resize((200, 200)), (i * 200, 0))
    row.save(path, quality=92)


def check_faces_left_to_right(item, want: dict, band: dict) -> None:
    """Face i is the i-th from the left, on the picture and in the list, in the API's words."""
    from playwright.sync_api import expect

    faces = sorted(want["faces"], key=lambda f: f["box"][0])
    assert len(faces) == 3, want
    words = [f"Face {i + 1}: {wording.headline(f['verdict'], f['p_fake'])}" for i, f in enumerate(faces)]
    labels = item.locator(".box-label .words")
    expect(labels).to_have_text(words)
    xs = [b["x"] for b in (item.locator(".box").nth(i).bounding_box() for i in range(3))]
    assert xs == sorted(xs) and xs[2] - xs[0] > 100, xs
    expect(item.locator(".faces li")).to_have_text(
        [f"{w}. {wording.probability_text(f['p_fake'], **band)}" for w, f in zip(words, faces, strict=True)])


@pytest.mark.slow
def test_drop_page_numbers_faces_and_says_errors_plainly(server, tmp_path):
    """Clear is hidden while there is nothing to clear; faces are numbered from the left; a
    truncated JPEG and a 1x1 picture read in the same plain words as the CLI; each verdict has
    its own shape beside its words."""
    from playwright.sync_api import expect

    row = tmp_path / "three.jpg"
    write_row_of_faces(row)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(fixture_faces("fake")[3].read_bytes()[:300])  # PIL: "Truncated File Read"
    speck = tmp_path / "speck.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(speck)
    with pytest.raises(ImageError) as cli_reason:  # what the CLI's table and CSV say for it
        load_image(cut)
    with drop_page(server.url) as page:
        expect(page.locator("#clear")).to_be_hidden()
        expect(page.locator("#scope")).to_have_text(wording.SCOPE)
        page.get_by_label("Choose images").set_input_files([str(row), str(cut), str(speck)])
        results = page.locator("#results > li.result")
        expect(results).to_have_count(3, timeout=60_000)
        check_faces_left_to_right(results.nth(0), api_result(server.url, row), model_band(server.url))
        expect(results.nth(1).locator(".verdict .words")).to_have_text("Could not check")
        expect(results.nth(1).locator(".detail")).to_have_text(str(cli_reason.value))
        assert str(cli_reason.value) == "corrupt or truncated image: the file is damaged or cut short"
        expect(results.nth(2).locator(".verdict .words")).to_have_text("Too small to judge")
        expect(results.nth(2).locator(".detail")).to_have_text(
            "image too small: 1x1 pixels (smaller than 16 px on a side)")
        text = page.locator("body").inner_text()
        assert "Truncated File Read" not in text and "p_fake" not in text
        icons = page.locator(".result .verdict .icon")
        assert icons.evaluate_all("els => els.every((e) => e.getAttribute('aria-hidden') === 'true')")
        assert len(set(icons.all_inner_texts())) == 3  # the row's verdict, error, too small
        expect(page.locator("#status")).to_contain_text("Checked 3 images. ")
        expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
        page.locator("#clear").click()
        expect(results).to_have_count(0)
        expect(page.locator("#clear")).to_be_hidden()


@contextlib.contextmanager
def drop_page(url: str):
    """The drop page at `url` in a fresh headless Chromium, once it shows the model's threshold."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            expect(page.locator("#model-info")).to_contain_text("threshold")
            yield page
        finally:
            browser.close()


def focused(page) -> str:
    """What has the keyboard focus: its id, or its tag and text."""
    return page.evaluate("""() => { const e = document.activeElement;
        return e.id || `${e.tagName.toLowerCase()}:${e.textContent.trim()}`; }""")


def tab_to(page, target: str, limit: int = 12) -> list[str]:
    """Press Tab until `target` has the focus; returns what had it on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if seen[-1] == target:
            return seen
    raise AssertionError(f"Tab never reached {target}: {seen}")


def check_target_sizes(page) -> None:
    """Every control is at least 24 x 24 CSS pixels (WCAG 2.5.8)."""
    for selector in ("label.button", "#token-box summary", "#token", "#clear", "footer a"):
        box = page.locator(selector).bounding_box()
        assert box and box["width"] >= 24 and box["height"] >= 24, (selector, box)


@pytest.mark.slow
def test_drop_page_by_keyboard_alone(server):
    """Every control is reached with Tab, "Choose images" shows a focus ring, a file is picked
    and the results cleared from the keyboard, and every target is at least 24 px."""
    from playwright.sync_api import expect

    with drop_page(server.url) as page:
        # Playwright turns on catching file choosers (a CDP call) only once a listener exists, and
        # a key pressed before that call lands opens the real, headless dialog: no event. Listen
        # from the start (seen: 3 of 8 Enter presses caught without this, 8 of 8 with it).
        page.on("filechooser", lambda chooser: None)
        assert tab_to(page, "files")[-1] == "files"
        ring = page.locator("label.button").evaluate(
            "l => [getComputedStyle(l).outlineStyle, getComputedStyle(l).outlineWidth, "
            "getComputedStyle(l).outlineColor]")
        assert ring[0] == "solid" and float(ring[1].rstrip("px")) >= 2, ring
        assert contrast(parse_rgb(ring[2]), (255, 255, 255)) >= 3, ring  # visible on the page
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Enter")
        chooser.value.set_files(str(fixture_faces("real")[0]))
        expect(page.locator("#results > li.result")).to_have_count(1, timeout=60_000)
        way = tab_to(page, "clear")
        assert "summary:Access token" in way, way
        page.keyboard.press("Shift+Tab")
        assert focused(page) == "summary:Access token"
        page.keyboard.press("Enter")
        expect(page.locator("#token-box")).to_have_attribute("open", "")
        assert tab_to(page, "token") == ["token"]
        check_target_sizes(page)
        assert tab_to(page, "clear")[-1] == "clear"
        page.keyboard.press("Enter")
        expect(page.locator("#results > li")).to_have_count(0)
        expect(page.locator("#status")).to_have_text("Results cleared.")
        assert focused(page) == "files"  # not lost with the button that had it
        assert tab_to(page, "a:API description")[-1] == "a:API description"


SAMPLES_JS = """() => {
  const out = {};
  for (const v of ['fake', 'unsure', 'real', 'no-face', 'too-small', 'error']) {
    const li = document.createElement('li');
    li.className = `result verdict-${v}`;
    li.innerHTML = `<p class="verdict">x</p><div class="frame"><div class="box ${v}">` +
      `<span class="box-label">x</span></div></div>`;
    document.getElementById('results').appendChild(li);
    const label = getComputedStyle(li.querySelector('.box-label'));
    out[v] = {text: getComputedStyle(li.querySelector('.verdict')).color,
              label: label.color, labelBg: label.backgroundColor,
              border: getComputedStyle(li.querySelector('.box')).borderTopStyle};
  }
  return out;
}"""


@pytest.mark.slow
def test_drop_page_colours_read_and_stay_apart(server):
    """Every text colour has a contrast of at least 4.5:1, and the verdict colours stay apart
    (CIELAB distance >= 20) for people with protanopia or deuteranopia; the boxes differ in line
    style too."""

    with drop_page(server.url) as page:
        samples = page.evaluate(SAMPLES_JS)
        texts = page.evaluate("""() => [...document.querySelectorAll(
            'h1, header p, .hint, label, summary, footer p, footer a, button, #status')]
            .map((e) => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor])""")
    white = (255, 255, 255)
    for colour, background in texts:
        bg = white if "0, 0, 0, 0" in background else parse_rgb(background)
        assert contrast(parse_rgb(colour), bg) >= 4.5, (colour, background)
    for v, s in samples.items():
        assert contrast(parse_rgb(s["text"]), white) >= 4.5, (v, s)
        assert contrast(parse_rgb(s["label"]), parse_rgb(s["labelBg"])) >= 4.5, (v, s)
    verdict_colours = {v: parse_rgb(samples[v]["text"]) for v in ("fake", "unsure", "real", "error")}
    for kind in VISIONS:
        lab = {v: seen_as(c, kind) for v, c in verdict_colours.items()}
        for a, b in itertools.combinations(lab, 2):
            distance = math.dist(lab[a], lab[b])
            assert distance >= 20, (kind, a, b, distance)
    styles = [samples[v]["border"] for v in ("fake", "unsure", "real", "too-small")]
    assert len(set(styles)) == 4, styles


def test_page_words_come_from_the_extensions_module(server):
    """/static/settings.js is extension/src/settings.js itself (one source for the words), served
    with the same headers as the page's other scripts, and the page loads it before app.js."""
    own = requests.get(server.url + "/static/app.js", timeout=30)
    shared = requests.get(server.url + "/static/settings.js", timeout=30)
    assert shared.status_code == 200
    assert shared.text == (ROOT / "extension" / "src" / "settings.js").read_text()
    for header in ("Content-Type", "X-Content-Type-Options", "Cache-Control"):
        assert shared.headers[header] == own.headers[header], header
    page = requests.get(server.url + "/", timeout=30).text
    assert page.index('src="/static/settings.js"') < page.index('src="/static/app.js"')
