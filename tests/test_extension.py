"""End-to-end tests of the Chrome extension in real Chromium (Playwright), on the built extension.

The extension is built by package_scripts/build_extension.py (as `make extension` does) into a
temporary folder and loaded unpacked into a fresh headless profile. Test pages are served on
127.0.0.1 by tests.browser.StaticServer; the same server reached as `localhost` is a second
origin, for cross-origin images and frames.

Native context menus cannot be clicked by automation: tests call the service worker's global
`checkFace(info, tab)` with the `info` Chrome would pass and the real tab, which is what the menu
listener does. Verdicts and probabilities are compared with the Python predictor on the same files.

The shipped model may predate the face detector (contract crop_rule "centre-square": every image
is one "face", its centred square). The tests that need detection (several faces, a face-free
picture) then run on a copy of the build whose contract turns the detector on (crop_rule
"face-box"), compared with the Python predictor under that same contract.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from facecheck.wording import rule_percent
from tests.e2e import (
    HOSTS_JS,
    VERDICTS_JS,
    Browser,
    assert_matches_python,
    assert_on_own_face,
    badges,
    click_in_badge,
    face_rects,
    in_badge,
    open_page,
    popup_results,
    shipped_contract,
    ui_band,
    ui_verdict,
    wait_badges,
    wait_settled,
)
from tests.helpers import ROOT, band_around, band_verdict

pytestmark = pytest.mark.slow

# ---- the tests -----------------------------------------------------------------------------------

def test_manifest_and_package(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["manifest_version"] == 3
    # Site access is optional, asked for on first use (activeTab covers the tab the user acts in).
    assert sorted(manifest["permissions"]) == ["activeTab", "contextMenus", "scripting", "storage"]
    assert "host_permissions" not in manifest and manifest["optional_host_permissions"] == ["<all_urls>"]
    assert "tabs" not in manifest["permissions"] and "web_accessible_resources" not in manifest
    assert "'wasm-unsafe-eval'" in manifest["content_security_policy"]["extension_pages"]
    for name in ("tf-core.es2017.min.js", "tf-converter.es2017.min.js", "tf-backend-wasm.es2017.min.js",
                 "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"):
        assert (built / "vendor" / name).exists(), name
    for name in ("contract.json", "classifier/model.json", "detector/model.json"):
        assert (built / "model" / name).exists(), name
    # The whole contract reaches the extension, the calibrated band (or its absence) included.
    from facecheck.contract import Contract
    from facecheck.predictor import default_model_dir

    shipped = json.loads((built / "model" / "contract.json").read_text())
    model = Contract.load(default_model_dir())  # the model the Python side (Reference) runs
    assert "unsure_from" in shipped and shipped["unsure_from"] == model.unsure_from
    assert shipped["threshold"] == model.threshold
    # No request leaves the machine except to the user's server: no URL baked in but its default.
    for js in (built / "src").glob("*.js"):
        urls = set(re.findall(r"https?://[^\s'\"`)]+", js.read_text()))
        assert urls <= {"http://127.0.0.1:8000"}, (js.name, urls)


def test_right_click_generated_and_real_face(ext, site, reference):
    page = open_page(ext, f"{site.url}/faces.html")
    band = shipped_band(ext)
    for sel in ("#fake", "#real"):
        src = page.eval_on_selector(sel, "i => i.currentSrc")
        out = ext.check(page, src)
        assert out["drawn"] >= 1 and out["view"]["ranOn"] == "browser"
        py = reference(src)
        found = [b for b in badges(page) if b["src"] == src]
        assert_matches_python(found, py, band)
        assert "Checked in this browser" in found[0]["detail"]
        assert out["view"]["modelVersion"] and out["view"]["modelVersion"] in found[0]["detail"]
        # The badge is off the face it judges, or on its top edge.
        for b, face in zip(found, face_rects(page, sel, [f["box"] for f in py["faces"]]), strict=True):
            assert_on_own_face(b["rect"], face, [])
    verdicts = {b["src"].rsplit("/", 1)[1]: b["verdict"] for b in badges(page)}
    # The fixtures are clear cases (a real face may read unsure, never generated, and vice versa).
    assert verdicts["fake0.jpg"] == "fake" and verdicts["real0.jpg"] in ("real", "unsure"), verdicts


def shipped_band(b: Browser) -> tuple[float, float | None]:
    """The threshold and unsure band's start of the model inside the extension (its contract.json)."""
    c = b.worker.evaluate("async () => { const c = await FaceCheckInference.contract(); "
                          "return [c.threshold, c.unsure_from ?? null]; }")
    return c[0], c[1]


def test_badge_detail_and_close(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    src = page.eval_on_selector("#fake", "i => i.currentSrc")
    ext.check(page, src)
    detail_js = ("(r) => { const d = r.querySelector('.detail'); "
                 "return d.checkVisibility() ? d.innerText : ''; }")
    assert in_badge(page, src, detail_js) == ""
    click_in_badge(page, src, ".main")  # click pins the detail open (hover shows it too)
    assert "Probability generated" in in_badge(page, src, detail_js)
    assert in_badge(page, src, "(r) => r.querySelector('.main').getAttribute('aria-expanded')") == "true"
    click_in_badge(page, src, ".close")
    assert page.locator("facecheck-badge").count() == 0


def test_several_faces(detector_browser, site, detector_reference):
    b = detector_browser
    b.reset()
    page = open_page(b, f"{site.url}/faces.html")
    src = page.eval_on_selector("#montage", "i => i.currentSrc")
    b.check(page, src)
    py = detector_reference(src)
    assert len(py["faces"]) >= 3
    found = [x for x in badges(page) if x["src"] == src]
    c = detector_reference.predictor.contract
    assert_matches_python(found, py, (c.threshold, c.unsure_from))
    # Each badge on (or next to) its own face, over no other: "(face i of n)" counts faces left to
    # right (by the box's x, then y).
    boxes = sorted((f["box"] for f in py["faces"]), key=lambda b: (b[0], b[1]))
    faces = face_rects(page, "#montage", boxes)
    for badge in found:
        i = int(re.search(r"\(face (\d+) of \d+\)", badge["detail"]).group(1)) - 1
        assert_on_own_face(badge["rect"], faces[i], faces[:i] + faces[i + 1:])


def test_face_free_picture(detector_browser, site, detector_reference, reference, browser):
    b = detector_browser
    b.reset()
    page = open_page(b, f"{site.url}/faces.html")
    src = page.eval_on_selector("#noface", "i => i.currentSrc")
    b.check(page, src)
    assert detector_reference(src)["verdict"] == "no-face"
    [found] = badges(page)
    assert found["verdict"] == "no-face" and found["p"] is None and "No face found" in found["text"]
    if b is not browser:  # the shipped (centre-square) build: whatever Python says, it says too
        browser.reset()
        page = open_page(browser, f"{site.url}/faces.html")
        browser.check(page, src)
        assert_matches_python(badges(page), reference(src), shipped_band(browser))


def test_cross_origin_srcset_and_frame(ext, site, reference):
    page = open_page(ext, f"{site.url}/faces.html")
    band = shipped_band(ext)
    cross = page.eval_on_selector("#cross", "i => i.currentSrc")
    assert cross.startswith(site.other)
    ext.check(page, cross)
    assert_matches_python([b for b in badges(page) if b["src"] == cross], reference(cross), band)

    shown = page.eval_on_selector("#srcset", "i => i.currentSrc")
    assert shown.endswith("srcset-150.jpg")  # the candidate the browser picked, not the src attribute
    ext.check(page, shown)
    assert_matches_python([b for b in badges(page) if b["src"] == shown], reference(shown), band)

    # An image in a cross-origin frame: Chrome passes the frame's id with the click.
    frames = ext.worker.evaluate("""async (tabId) => (await chrome.scripting.executeScript({
        target: {tabId, allFrames: true}, func: () => location.href})).map((r) => [r.frameId, r.result])""",
                                 ext.tab_id(page))
    [frame_id] = [fid for fid, href in frames if href.endswith("/frame.html")]
    frame = next(f for f in page.frames if f.url.endswith("/frame.html"))
    src = frame.eval_on_selector("#inframe", "i => i.currentSrc")
    assert ext.check(page, src, frame_id)["drawn"] == 1
    assert_matches_python(badges(frame), reference(src), band)


def test_broken_and_corrupt_images(ext, site):
    """A failed check's badge says "Could not check" and where to read why; the reason itself
    stays with the extension (the popup's row), never in the page (tests/test_hostile_page.py)."""
    page = open_page(ext, f"{site.url}/faces.html")
    for sel, why in (("#broken", "HTTP 404"), ("#corrupt", "decode")):
        src = page.eval_on_selector(sel, "i => i.src")
        out = ext.check(page, src)
        assert out["drawn"] == 1
        [b] = [x for x in badges(page) if x["src"] == src]
        assert b["verdict"] == "error" and b["p"] is None, b
        assert "Could not check" in b["text"] and "FaceCheck popup" in b["detail"], b
        assert why not in b["detail"] and "Reason" not in b["detail"], b
        [row] = [r for r in popup_results(ext, page, src) if r["src"] == src]
        assert why in row["reason"], row
    # A 50,000 px wide strip: few pixels, but the detector would search a 50,000 px square.
    out = ext.check(page, f"{site.url}/img/strip.png")
    assert out["view"]["verdict"] == "error" and "image too long: 50000x16" in out["view"]["reason"], out
    ext.errors.clear()


def test_too_small_picture_is_not_guessed(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    src = page.eval_on_selector("#speck", "i => i.currentSrc")
    assert ext.check(page, src)["drawn"] == 1
    [b] = [x for x in badges(page) if x["src"] == src]
    assert b["verdict"] == "too-small" and b["p"] is None and "Too small" in b["text"], b
    assert "12x12" not in b["detail"], b  # the popup says why, not the page
    [row] = popup_results(ext, page, src)
    assert "12x12" in row["reason"], row


def scan_and_wait(b: Browser, page, n: int, timeout_ms: int = 60000):
    wait_settled(page, n, timeout_ms)


def test_page_scan_with_lazy_and_added_images(ext, site, reference):
    from playwright.sync_api import expect

    page = open_page(ext, f"{site.url}/scan.html")
    tab = ext.tab_id(page)
    popup = open_page(ext, ext.url(f"src/popup.html?tab={tab}"))
    assert popup.get_attribute("#scan", "aria-pressed") == "false"  # off by default
    popup.click("#scan")
    page.bring_to_front()
    scan_and_wait(ext, page, 9)  # the 8 faces and the big one; not the tiny one
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the lazy ones load
    page.evaluate("addMore()")  # and more arrive, as with infinite scroll
    scan_and_wait(ext, page, 15)
    found = badges(page)
    srcs = {b["src"] for b in found}
    assert len(srcs) == 15 and not any(s.endswith("tiny.jpg") for s in srcs), sorted(srcs)
    band = shipped_band(ext)
    for src in srcs:
        assert_matches_python([b for b in found if b["src"] == src], reference(src), band)
    # The popup lists them, with thumbnails made by the extension (nothing fetched by the popup).
    popup.bring_to_front()
    expect(popup.locator("#results li")).to_have_count(15)
    thumbs = popup.eval_on_selector_all("#results li img", "imgs => imgs.map(i => i.src.slice(0, 23))")
    assert thumbs == ["data:image/jpeg;base64,"] * 15
    # Each row gives the verdict and, since every one of them has a judged face, its probability.
    rows = popup.eval_on_selector_all("#results li", "lis => lis.map(li => li.innerText)")
    assert all(re.search(r"Probability generated: \d{1,2}%", r) for r in rows), rows
    assert popup.get_attribute("#scan", "aria-pressed") == "true"
    assert popup.inner_text("#summary") == "15 checked, 1 skipped (smaller than 48 px on a side)."
    # The keyboard shortcut's command handler toggles the same state.
    commands = ext.worker.evaluate("chrome.commands.getAll()")
    assert any(c["name"] == "toggle-scan" and c["shortcut"] for c in commands), commands
    assert ext.worker.evaluate(f"onCommand('some-other-command', {{id: {tab}}})") is None
    assert ext.worker.evaluate(f"onCommand('toggle-scan', {{id: {tab}}})") == {"on": False}


def save_options(opts):
    from playwright.sync_api import expect

    opts.click("#save")
    # (Not wait_for_function: on extension pages the CSP forbids the eval it uses.)
    expect(opts.locator("#status")).to_have_text("Saved.")


def least_extreme_face(site, reference) -> tuple[str, float]:
    """The site's fixture face whose probability (the Python predictor's; parity holds) is
    nearest 0.5, and that probability: options allow thresholds in [0.01, 0.99] only."""
    faces = [f.name for f in sorted(site.folder.iterdir()) if re.fullmatch(r"(fake|real)\d\.jpg", f.name)]
    ps = {n: reference(f"/img/{n}")["p_fake"] for n in faces}
    name = min(ps, key=lambda n: abs(ps[n] - 0.5))
    assert len(ps) >= 16 and 0.02 < ps[name] < 0.98, ps
    return name, ps[name]


def add_image(page, name: str) -> str:
    """Show /img/NAME on the page (160 px); returns the URL the page shows it from."""
    return page.evaluate("""n => new Promise((resolve) => {
      const img = new Image(160, 160);
      img.onload = () => resolve(img.currentSrc);
      img.src = '/img/' + n;
      document.body.append(img);
    })""", name)


def test_options_saved_and_honoured(ext, site, reference):
    from playwright.sync_api import expect

    c = reference.predictor.contract
    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    # Empty fields mean the model's own threshold and band, and the page says what they are, in
    # percent (the fields too: the settings keep probabilities).
    assert opts.input_value("#threshold") == "" and opts.input_value("#unsureBand") == ""
    expect(opts.locator("#model-threshold")).to_contain_text(f"{round(c.threshold * 10000) / 100:g}%")
    band_text = "has no band" if c.unsure_from is None else \
        f"{round((c.threshold - c.unsure_from) * 10000) / 100:g} percentage points wide"
    expect(opts.locator("#model-band")).to_contain_text(band_text)

    # A wide band of the user's own: everything from 0.01 up to a threshold of 0.99 reads "Unsure";
    # the predictor's own verdict (the model's band) is kept beside it.
    name, p = least_extreme_face(site, reference)
    opts.fill("#threshold", "99")
    opts.fill("#unsureBand", "98")
    opts.fill("#minImageSize", "200")
    save_options(opts)
    opts.reload()
    opts.wait_for_selector("body[data-ready]")
    assert [opts.input_value(f"#{k}") for k in ("threshold", "unsureBand", "minImageSize")] == \
        ["99", "98", "200"]
    page = open_page(ext, f"{site.url}/faces.html")
    src = add_image(page, name)
    ext.check(page, src)
    [b] = [x for x in badges(page) if x["src"] == src]
    assert b["verdict"] == "unsure" and b["model"] == c.verdict(p) and "Unsure" in b["text"], b
    assert "from your options" in b["detail"], b
    assert "Unsure from 1% up to the threshold (your band)" in b["detail"], b

    # A threshold on the other side of the face's probability, and no band (0), turn the verdict
    # shown; the predictor's own verdict stays.
    shown, threshold = ("real", p + 0.01) if p >= c.threshold else ("fake", p - 0.01)
    opts.fill("#unsureBand", "0")
    opts.fill("#threshold", f"{threshold * 100:.1f}")
    save_options(opts)
    ext.check(page, src)
    [b] = [x for x in badges(page) if x["src"] == src]
    assert b["verdict"] == shown and b["model"] == c.verdict(p) and "from your options" in b["detail"], b
    assert "No unsure band" in b["detail"], b

    # Minimum size: a scan skips the 160 px faces and checks only the 320 px picture.
    scan = open_page(ext, f"{site.url}/scan.html")
    ext.worker.evaluate(f"toggleScan({ext.tab_id(scan)})")
    scan_and_wait(ext, scan, 1)
    time.sleep(0.5)
    assert [b["src"].rsplit("/", 1)[1] for b in badges(scan)] == ["big.jpg"]

    # Scan mode on by default: a new tab is scanned without asking.
    opts.check("#scanByDefault")
    save_options(opts)
    scan2 = open_page(ext, f"{site.url}/scan.html")
    scan_and_wait(ext, scan2, 1)


# Options x model bands x probabilities, for the mirror test below: (threshold, unsureBand) options
# and the model's (threshold, unsure_from); the probabilities include every band edge exactly.
OPTION_CASES = [(None, None), (0.7, None), (None, 0.1), (0.7, 0.0), (0.3, 0.25), (0.99, 0.98)]
MODEL_BANDS = [(0.6, 0.4), (0.52, None), (0.45, 0.45), (0.9, 0.2)]


def test_verdict_words_follow_the_band(ext):
    """settings.js describe(): the verdict and words a badge shows for a probability, for every
    combination of options and model band, equal the Python mirror (ui_band + Contract's rule);
    with default options that is exactly the model's own verdict (fake / unsure / real)."""
    from facecheck.contract import Contract

    ps = sorted({0.0, 0.005, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.52, 0.6, 0.65, 0.7, 0.8, 0.9, 0.99, 1.0}
                | {x for t, u in MODEL_BANDS for x in (t, u) if x is not None})
    cases = [{"options": {"threshold": t, "unsureBand": w}, "model": {"threshold": mt, "unsureFrom": mu}}
             for t, w in OPTION_CASES for mt, mu in MODEL_BANDS]
    got = ext.worker.evaluate("""([cases, ps]) => cases.map(({options, model}) => {
        const settings = FaceCheckSettings.clean(options);
        const faces = ps.map((p) => ({box: [0, 0, 10, 10], score: 0.9, p_fake: p, verdict: 'x'}));
        faces.push({box: [0, 0, 5, 5], score: 0.9, p_fake: null, verdict: 'too-small'});
        const view = FaceCheckSettings.describe({faces, p_fake: ps[0], verdict: 'x', modelVersion: 'm'},
          {settings, model, ranOn: 'browser'});
        const unjudged = (verdict) => FaceCheckSettings.describe({faces: [], p_fake: null, verdict},
          {settings, model});
        const none = unjudged('no-face');
        const odd = unjudged('maybe');
        return {faces: view.faces.map((f) => [f.verdict, f.label]), threshold: view.threshold,
                unsureFrom: view.unsureFrom, none: [none.verdict, none.label], odd: odd.verdict};
    })""", [cases, ps])
    words = {"fake": "Likely generated", "unsure": "Unsure", "real": "Likely real"}
    for case, out in zip(cases, got, strict=True):
        opt, model = case["options"], case["model"]
        t, u = ui_band(opt, model["threshold"], model["unsureFrom"])
        assert (out["threshold"], out["unsureFrom"]) == (t, u), (case, out)
        for p, (verdict, label) in zip(ps, out["faces"], strict=False):
            assert verdict == ui_verdict(p, t, u), (case, p, verdict)
            assert label.startswith(words[verdict]), (case, p, label)
        assert out["faces"][-1] == ["too-small", "Too small to judge"]
        assert out["none"] == ["no-face", "No face found"] and out["odd"] == "error"
        if opt == {"threshold": None, "unsureBand": None}:
            contract = Contract(threshold=model["threshold"], unsure_from=model["unsureFrom"])
            assert [v for v, _ in out["faces"][:-1]] == [contract.verdict(p) for p in ps], case
    # Every judged verdict occurs, so the comparison above can tell them apart.
    assert {v for out in got for v, _ in out["faces"]} == {"fake", "unsure", "real", "too-small"}


@pytest.fixture(scope="module")
def banded(built, site, reference, tmp_path_factory):
    """A copy of the build whose contract.json has a calibrated band holding one fixture face's
    p_fake (as the training side will ship it), and that face: (build, name, contract)."""
    name, p = least_extreme_face(site, reference)
    contract = band_around(shipped_contract(built), p)
    copy = tmp_path_factory.mktemp("dist-banded") / "extension"
    shutil.copytree(built, copy)
    contract.save(copy / "model")
    return copy, name, contract


def test_the_models_unsure_band_reads_unsure(playwright_instance, banded, site, reference):
    """With a model whose band holds a face's p_fake, the badge says "Unsure" by default: from the
    JS predictor (its own verdict is unsure too) and from a FaceCheck server running that model;
    a server running another model is worded by that model's band, not the extension's."""
    from facecheck.predictor import Predictor
    from server.app import Config, create_app
    from server.serve import BackgroundServer

    build, name, contract = banded
    b = Browser(playwright_instance, build)
    try:
        page = open_page(b, f"{site.url}/faces.html")
        src = add_image(page, name)
        out = b.check(page, src)
        assert out["view"]["ranOn"] == "browser" and out["view"]["unsureFrom"] == contract.unsure_from
        [badge] = [x for x in badges(page) if x["src"] == src]
        assert badge["verdict"] == "unsure" and badge["model"] == "unsure", badge
        assert badge["text"].endswith("Unsure"), badge
        band_line = f"Unsure from {rule_percent(contract.unsure_from)} up to the threshold (the model's band)"
        assert band_line in badge["detail"], badge

        banded_predictor = Predictor(reference.predictor.model, contract)
        shipped = reference.predictor
        for predictor in (banded_predictor, shipped):
            with BackgroundServer(lambda config, pr=predictor: create_app(config, predictor=pr),
                                  Config.from_env(environ={})) as srv:
                b.settings(runWhere="server", serverUrl=srv.url)
                out = b.check(page, src)
            assert out["view"]["ranOn"] == "server", out["view"]
            [badge] = [x for x in badges(page) if x["src"] == src]
            c = predictor.contract
            want = band_verdict(reference(src)["p_fake"], c.threshold, c.unsure_from)
            assert badge["verdict"] == badge["model"] == want, (badge, want)
            assert "Checked on your FaceCheck server" in badge["detail"]
            if predictor is banded_predictor:
                assert want == "unsure" and badge["text"].endswith("Unsure"), badge
        assert not [e for e in b.errors if "FaceCheck" in e], b.errors
    finally:
        b.close()


def test_service_worker_stopped_and_woken(ext, site, reference):
    page = open_page(ext, f"{site.url}/faces.html")
    band = shipped_band(ext)
    fake = page.eval_on_selector("#fake", "i => i.currentSrc")
    ext.check(page, fake)
    ext.stop_worker(page)
    # Woken by a message from an extension page, as the popup or a content script would.
    opts = open_page(ext, ext.url("src/options.html"))
    assert opts.evaluate("chrome.runtime.sendMessage({type: 'facecheck-ping'})") == {"ok": True}
    assert ext.worker.evaluate("typeof tf") == "undefined"  # a fresh worker: the model loads lazily
    ext.wait_for_menu()
    real = page.eval_on_selector("#real", "i => i.currentSrc")
    ext.check(page, real)
    assert_matches_python([b for b in badges(page) if b["src"] == real], reference(real), band)

    # Stopped in the middle of a right-click check (the image's server takes 4 s to answer the
    # worker's download, so the check is surely under way): the badge says so, it does not spin.
    slow = f"{site.url}/img/fake2.jpg?slow=4"
    page.evaluate("""(src) => new Promise((done) => { const i = new Image(120, 120);
        i.id = 'slow'; i.onload = done; i.src = src; document.body.append(i); })""", slow)
    ext.worker.evaluate("""async ([tabId, info]) => { checkFace(info, await chrome.tabs.get(tabId)); }""",
                        [ext.tab_id(page), {"menuItemId": "check-face", "srcUrl": slow, "frameId": 0}])
    wait_badges(page, f"(src) => ({VERDICTS_JS})(src).includes('pending')", slow, 10000, "a pending badge")
    ext.stop_worker(page)
    answered = f"(s) => {{ const v = ({VERDICTS_JS})(s); return v.length && !v.includes('pending'); }}"
    wait_badges(page, answered, slow, 10000, "the pending badge to be answered")
    [b] = [x for x in badges(page) if x["src"] == slow]
    assert b["verdict"] == "error" and b["p"] is None and "interrupted" in b["detail"], b
    assert "Could not check" in b["text"], b

    # Stopped in the middle of a page scan: the lost images are sent again and all get checked.
    opts.evaluate("chrome.runtime.sendMessage({type: 'facecheck-ping'})")
    scan = open_page(ext, f"{site.url}/scan.html")
    ext.worker.evaluate(f"toggleScan({ext.tab_id(scan)})")
    # 30 s: a woken worker loads TF.js and the model first, slow when other work shares the cores
    # (10 s timed out once beside a training run).
    wait_badges(scan, f"() => {HOSTS_JS}.some((b) => b.box && b.box.dataset.verdict === 'pending')",
                timeout_ms=30000, what="a pending badge")
    ext.stop_worker(scan)
    scan_and_wait(ext, scan, 9)


# ---- the server --------------------------------------------------------------------------------

TOKEN = "extension-test-token"


@pytest.fixture(scope="module")
def facecheck_server():
    """The real FaceCheck server (`python -m server.serve`) on a free port, with a token."""
    import queue
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "server.serve", "--port", "0"], cwd=ROOT,
                            env={**os.environ, "FACECHECK_TOKEN": TOKEN}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    url, log, deadline = None, [], time.time() + 120
    try:
        while url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                pytest.fail("the server did not start in 120 s:\n" + "".join(log[-20:]))
            log.append(line)
            match = re.search(r"FaceCheck server on (http://\S+?)/? ", line)
            if match:
                url = match.group(1).rstrip("/")
            elif proc.poll() is not None:
                pytest.fail("the server exited:\n" + "".join(log[-20:]))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_server_and_fallback(ext, site, reference, facecheck_server):
    from playwright.sync_api import expect

    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    opts.fill("#serverUrl", facecheck_server)
    opts.fill("#serverToken", "wrong")
    opts.click("#test")
    expect(opts.locator("#connection")).to_contain_text("Not connected: the server refused the token")
    opts.fill("#serverToken", TOKEN)
    opts.click("#test")
    expect(opts.locator("#connection")).to_contain_text("Connected: model ")
    opts.check("input[name=runWhere][value=server]")
    save_options(opts)

    page = open_page(ext, f"{site.url}/faces.html")
    band = shipped_band(ext)  # the server runs the same shipped model
    for sel in ("#fake", "#cross"):
        src = page.eval_on_selector(sel, "i => i.currentSrc")
        out = ext.check(page, src)
        assert out["view"]["ranOn"] == "server", out["view"]
        found = [b for b in badges(page) if b["src"] == src]
        assert_matches_python(found, reference(src), band)
        assert "Checked on your FaceCheck server" in found[0]["detail"]

    # The server stops answering: the check still happens, in the browser, and says so.
    opts.fill("#serverUrl", "http://127.0.0.1:9")  # nothing listens on the discard port
    save_options(opts)
    src = page.eval_on_selector("#real", "i => i.currentSrc")
    out = ext.check(page, src)
    assert out["view"]["ranOn"] == "browser"
    [b] = [b for b in badges(page) if b["src"] == src]
    assert "checked in the browser instead" in b["detail"] and "Checked in this browser" in b["detail"]
    assert_matches_python([b], reference(src), band)

    # Automatic: a page scan of more images than the option says goes to the server.
    opts.fill("#serverUrl", facecheck_server)
    opts.check("input[name=runWhere][value=auto]")
    opts.fill("#autoServerOver", "3")
    save_options(opts)
    scan = open_page(ext, f"{site.url}/scan.html")
    tab = ext.tab_id(scan)
    ext.worker.evaluate(f"toggleScan({tab})")
    scan_and_wait(ext, scan, 9)
    key = f"results:{tab}"
    deadline = time.time() + 5
    while len(results := ext.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k] || []",
                                             key)) < 9 and time.time() < deadline:
        time.sleep(0.1)  # results are saved for the popup in batches
    assert len(results) == 9 and {r["ranOn"] for r in results} == {"server"}, results
    for src in {b["src"] for b in badges(scan)}:
        assert_matches_python([b for b in badges(scan) if b["src"] == src], reference(src), band)
