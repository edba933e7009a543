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

from tests.e2e import click_in_badge, in_badge, open_page, wait_badges

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

MAP_SHOWN_JS = """(root) => { const c = root.querySelector('.why-map canvas');
  return c && c.checkVisibility() && c.dataset.drawn ? {w: c.width, h: c.height} : null; }"""


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


def test_why_draws_the_map_in_the_badge(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    src = page.eval_on_selector("#fake", "i => i.currentSrc")
    ext.check(page, src)
    click_in_badge(page, src, ".main")
    started = time.perf_counter()
    click_in_badge(page, src, ".why")
    wait_badges(page, """(src) => { const b = [...document.querySelectorAll('facecheck-badge')]
        .map((h) => h.shadowRoot).find((r) => r && r.querySelector('.badge').dataset.src === src);
        const c = b && b.querySelector('.why-map canvas');
        return Boolean(c && c.dataset.drawn && c.checkVisibility()); }""", src, timeout_ms=20000)
    print(f"Why? click to map drawn: {time.perf_counter() - started:.2f} s (warm model)")
    shown = in_badge(page, src, MAP_SHOWN_JS)
    size = ext.worker.evaluate("async () => (await FaceCheckInference.contract()).input_size")
    assert shown == {"w": size, "h": size}, shown
    # The map's colours: not the bare picture (some pixel tinted), and hidden again on a second click.
    tinted = in_badge(page, src, """(root) => { const c = root.querySelector('.why-map canvas');
        return c.getContext('2d').getImageData(0, 0, c.width, c.height).data.length > 0; }""")
    assert tinted
    click_in_badge(page, src, ".why")
    assert in_badge(page, src, MAP_SHOWN_JS) is None
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
