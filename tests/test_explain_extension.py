"""The extension's "Why?" (issue #25): a face's evidence map in the real extension in real Chromium.

The map is computed in the service worker (extension/src/explain.js) by the algorithm of
facecheck/explain.py, on the same square of the same picture: the two maps must agree (as the
parity tests hold the two predictors' probabilities together), and a person's click on "Why?" in a
badge's details draws it there.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.e2e import click_in_badge, face_rects, in_badge, open_page, read_badges, wait_badges

pytestmark = pytest.mark.slow

# The worker's map of the first judged face of `src`, shown on `page` (the same fetch rules as a check).
MAP_JS = """async ([src, page]) => {
  const from = {top: page, frame: page};
  const image = await FaceCheckInference.decode(await FaceCheckInference.fetchImage(src, from));
  const p = await FaceCheckInference.predictor();
  const faces = (await p.predict(image.imageData)).faces.filter((f) => f.crop);
  const m = FaceCheckExplain.explainFace(p, image.imageData, faces[0].crop);
  return {p: m.p_fake, size: m.size, heat: Array.from(m.heat), square: faces[0].crop};
}"""

# The <facecheck-map> of the page (its root unsealed by read_badges): where it is and what it shows.
MAP_JS_PAGE = """() => [...document.querySelectorAll('facecheck-map')].map((host) => {
  const c = host.shadowRoot && host.shadowRoot.querySelector('canvas');
  const px = c ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data : [];
  let opaque = 0;
  for (let i = 3; i < px.length; i += 4) if (px[i] > 0) opaque++;
  return {rect: host.getBoundingClientRect().toJSON(), open: host.matches(':popover-open'),
          size: c ? c.width : 0, opaque, pointer: getComputedStyle(host).pointerEvents};
})"""


@pytest.mark.parametrize("name", ["fake0.jpg", "real0.jpg"])
def test_browser_map_matches_python(ext, site, reference, name):
    from facecheck.explain import explain
    from facecheck.images import load_image

    page = open_page(ext, f"{site.url}/faces.html")
    js = ext.worker.evaluate(MAP_JS, [f"{site.url}/img/{name}", page.url])
    py = explain(reference.predictor, load_image(site.folder / name))
    [face] = [f for f in py["faces"] if f["heat"] is not None][:1]
    heat = np.asarray(js["heat"], np.float32).reshape(js["size"], js["size"])
    assert heat.shape == face["heat"].shape
    assert abs(js["p"] - face["p_fake"]) <= 0.01, (js["p"], face["p_fake"])
    # Same windows, same fill, the same model in two runtimes: the maps agree pixel by pixel.
    delta = float(np.max(np.abs(heat - face["heat"])))
    scale = max(float(np.max(np.abs(face["heat"]))), 0.05)
    assert delta <= 0.1 * scale + 0.005, (delta, scale)
    if float(np.std(face["heat"])) > 1e-3:
        assert np.corrcoef(heat.ravel(), face["heat"].ravel())[0, 1] >= 0.95


def test_why_draws_the_map_over_the_face(ext, site, reference):
    page = open_page(ext, f"{site.url}/faces.html")
    src = page.eval_on_selector("#fake", "i => i.currentSrc")
    ext.check(page, src)
    click_in_badge(page, src, ".main")
    started = time.perf_counter()
    click_in_badge(page, src, ".why")
    wait_badges(page, "() => (MAPS)().some((m) => m.open && m.size > 0)".replace("MAPS", MAP_JS_PAGE),
                timeout_ms=20000)
    print(f"Why? click to map drawn: {time.perf_counter() - started:.2f} s (warm model)")
    [shown] = read_badges(page, MAP_JS_PAGE)
    size = ext.worker.evaluate("async () => (await FaceCheckInference.contract()).input_size")
    assert shown["size"] == size and shown["opaque"] > 0 and shown["pointer"] == "none", shown
    # Over the square the model judged, in the page's pixels.
    face = next(f for f in reference(src)["faces"] if f.get("crop"))
    x, y, side, _ = face["crop"]
    [square] = face_rects(page, "#fake", [[x, y, side, side]])
    for k in ("x", "y", "width", "height"):
        assert abs(shown["rect"][k] - square[k]) <= 2, (shown["rect"], square)
    # The details close so as not to cover the face; opened again, they offer to hide the map.
    assert in_badge(page, src, "(r) => r.querySelector('.detail').checkVisibility()") is False
    click_in_badge(page, src, ".main")
    assert in_badge(page, src, "(r) => r.querySelector('.why').getAttribute('aria-expanded')") == "true"
    click_in_badge(page, src, ".why")
    assert not read_badges(page, MAP_JS_PAGE)[0]["open"]
    assert in_badge(page, src, "(r) => r.querySelector('.why').getAttribute('aria-expanded')") == "false"


ASK_JS = """(msg) => new Promise((r) => chrome.runtime.sendMessage(msg,
    (a) => { void chrome.runtime.lastError; r(a === undefined ? null : a); }))"""


def test_only_a_content_script_may_ask_for_a_map(ext, site):
    """A web page has no way to message the worker; the extension's own pages (no tab) are not
    answered either: "Why?" is a badge's, in the tab that shows the picture."""
    page = open_page(ext, f"{site.url}/faces.html")
    assert page.evaluate("() => !(globalThis.chrome && chrome.runtime && chrome.runtime.sendMessage)")
    options = open_page(ext, ext.url("src/options.html"))
    src = f"{site.url}/img/fake0.jpg"
    assert options.evaluate(ASK_JS, {"type": "facecheck-explain", "src": src, "box": [0, 0, 50, 50]}) is None
