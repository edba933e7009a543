"""The end-to-end tests' shared parts: the built extension, the test site, the Python reference,
Chromium with the extension loaded (fixtures, registered in tests/conftest.py through
`pytest_plugins`), and helpers that read badges off a page.

Test files import the helpers (`from tests.e2e import badges, open_page, ...`); the fixtures need
no import.

Badges keep everything in CLOSED shadow roots: no page script can read them or press their
buttons (docs/security.md), and the shipped extension offers no way in. The tests get in
through the DevTools protocol, as DevTools itself does: `unseal(page_or_frame)` hands every closed
shadow root of the page (its same-process frames included; an out-of-process frame is unsealed
through its own session) to a WeakMap of the page's main world, and patches that world's
`Element.prototype.shadowRoot` getter to read it, so `host.shadowRoot` (and axe-core) work again in
that page only. The readers below unseal before they read. Playwright's locators do not pierce
closed roots (its selector engine runs in a world of its own): tests act on badges with real
input (`click_in_badge`, `hover_badge`: the mouse at an element's centre), which is also the only
input a badge obeys.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import ExtensionChromium, StaticServer
from tests.helpers import FIXTURES, ROOT, band_verdict, fixture_faces

TOL_P = 0.02  # |p_fake| difference allowed between the browser and Python (as tests/test_parity.py)

# The badges of a frame, as [{host, box}] (`box`: the `.badge` inside the host's shadow root,
# null while that root is not unsealed yet), for the JS below. A JS expression.
HOSTS_JS = """[...document.querySelectorAll('facecheck-badge')].map((host) => ({host,
  box: host.shadowRoot && host.shadowRoot.querySelector('.badge')}))"""

# What the badges of one frame say (their data attributes and text, inside the shadow roots).
BADGES_JS = """() => HOSTS.filter(({box}) => box).map(({host, box}) => ({
  src: box.dataset.src, verdict: box.dataset.verdict,
  p: box.dataset.p === '' ? null : Number(box.dataset.p),
  model: box.dataset.modelVerdict,
  text: box.querySelector('.main').textContent,
  detail: box.querySelector('.detail').textContent,
  rect: host.getBoundingClientRect().toJSON()}))""".replace("HOSTS", HOSTS_JS)

# Badges of at least `n` images drawn, none pending (nor one not unsealed yet).
SETTLED_JS = """(n) => {
  const all = HOSTS;
  if (all.some(({box}) => !box)) return false;
  const done = all.filter(({box}) => box.dataset.verdict !== 'pending');
  return new Set(done.map(({box}) => box.dataset.src)).size >= n && done.length === all.length;
}""".replace("HOSTS", HOSTS_JS)

# The verdicts of the badges of `src` ('pending' while it is checked).
VERDICTS_JS = """(src) => HOSTS.filter(({box}) => box && box.dataset.src === src)
  .map(({box}) => box.dataset.verdict)""".replace("HOSTS", HOSTS_JS)

# Runs FN(root, arg) on the shadow root of the i-th badge of `src` (null: no such badge).
IN_BADGE_JS = """([src, i, arg]) => {
  const found = HOSTS.filter(({box}) => box && box.dataset.src === src)[i];
  return found ? (FN)(found.host.shadowRoot, arg) : null;
}""".replace("HOSTS", HOSTS_JS)

# The centre of the element `sel` in a badge's root, in view; null if not shown. A badge is fixed
# in the top layer (scrolling it into view moves nothing): off screen, its picture (the element
# before the badge) is scrolled to the middle, and the badge read again once it has followed.
CENTRE_JS = """async (root, sel) => {
  const e = root.querySelector(sel);
  if (!e || !e.checkVisibility()) return null;
  const off = (r) => r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth;
  if (off(e.getBoundingClientRect()) && root.host.previousElementSibling) {
    root.host.previousElementSibling.scrollIntoView({block: 'center', inline: 'center'});
    for (let i = 0; i < 20 && off(e.getBoundingClientRect()); i++) {
      await new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 10)));
    }
  }
  if (!e.checkVisibility()) return null;
  const r = e.getBoundingClientRect();
  return {x: r.x + r.width / 2, y: r.y + r.height / 2};
}"""

# Called by the DevTools protocol on a closed shadow root, in its page's main world.
STASH_JS = """function () {
  if (!window.__facecheckRoots) {
    const roots = new WeakMap();
    const own = Object.getOwnPropertyDescriptor(Element.prototype, 'shadowRoot');
    Object.defineProperty(Element.prototype, 'shadowRoot', {configurable: true, enumerable: true,
      get() { return roots.get(this) || own.get.call(this); }});
    window.__facecheckRoots = roots;
  }
  window.__facecheckRoots.set(this.host, this);
}"""


# ---- the extension, the pages, the reference ----------------------------------------------------

@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run([sys.executable, "package_scripts/build_extension.py", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    # The budget (package_scripts/build_extension.py MAX_ZIP_MB): 10 MB, the C2PA wasm included.
    assert (out / "facecheck-extension.zip").stat().st_size <= 10_000_000
    return out / "extension"


def shipped_contract(ext_dir: Path):
    from facecheck.contract import Contract

    return Contract.load(ext_dir / "model")


@pytest.fixture(scope="session")
def detector_build(built, tmp_path_factory) -> Path:
    """The build itself when its model uses the detector, else a copy with the detector turned on."""
    contract = shipped_contract(built)
    if contract.crop_rule == "face-box":
        return built
    copy = tmp_path_factory.mktemp("dist-detector") / "extension"
    shutil.copytree(built, copy)
    dataclasses.replace(contract, crop_rule="face-box").save(copy / "model")
    return copy


def write_site_images(img: Path) -> None:
    """The test site's pictures, in `img`: fixture faces, a montage, face-free, corrupt, srcset,
    tiny and big pictures."""
    real, fake = fixture_faces("real"), fixture_faces("fake")
    for i, p in enumerate(fake[:8]):
        shutil.copy(p, img / f"fake{i}.jpg")
    for i, p in enumerate(real[:8]):
        shutil.copy(p, img / f"real{i}.jpg")
    # Several faces in one photo (the parity test's montage).
    montage = Image.new("RGB", (400, 400))
    for i, p in enumerate((real[14], fake[14], real[15], fake[15])):
        montage.paste(Image.open(p).convert("RGB").resize((200, 200)), ((i % 2) * 200, (i // 2) * 200))
    montage.save(img / "montage.jpg", quality=92)
    shutil.copy(FIXTURES / "noface" / "coffee.jpg", img / "noface.jpg")
    (img / "corrupt.jpg").write_bytes(fake[9].read_bytes()[:300])
    # srcset candidates: the browser picks one by width; checks go to the one it shows.
    Image.open(fake[10]).convert("RGB").resize((150, 150)).save(img / "srcset-150.jpg", quality=92)
    Image.open(fake[10]).convert("RGB").save(img / "srcset-300.jpg", quality=92)
    Image.open(real[10]).convert("RGB").resize((40, 40)).save(img / "tiny.jpg", quality=92)
    Image.open(real[11]).convert("RGB").resize((320, 320)).save(img / "big.jpg", quality=92)
    Image.open(real[12]).convert("RGB").resize((12, 12)).save(img / "speck.jpg", quality=92)
    Image.new("RGB", (50000, 16), (90, 120, 150)).save(img / "strip.png")  # too long to judge

    # fake8 / real8: copies of two more fixture faces, for the infinite-scroll images.
    shutil.copy(fake[8], img / "fake8.jpg")
    shutil.copy(real[8], img / "real8.jpg")


def site_pages(other: str) -> dict[str, str]:
    """The test site's pages; `other` is the same server as a second origin (cross-origin
    pictures and frames)."""
    return {
        "/faces.html": f"""<!doctype html><meta charset="utf-8"><title>faces</title>
<body style="margin:8px">
<p>Right-click targets.</p>
<img id="fake" src="/img/fake0.jpg" width="300" height="300">
<img id="real" src="/img/real0.jpg" width="300" height="300">
<img id="montage" src="/img/montage.jpg" width="400" height="400">
<img id="noface" src="/img/noface.jpg">
<img id="cross" src="{other}/img/fake1.jpg" width="300" height="300">
<img id="srcset" src="/img/srcset-300.jpg" srcset="/img/srcset-150.jpg 150w, /img/srcset-300.jpg 300w"
     sizes="150px" width="150" height="150">
<img id="broken" src="/img/missing.jpg" alt="a missing picture" width="120" height="120">
<img id="corrupt" src="/img/corrupt.jpg" alt="a corrupt picture" width="120" height="120">
<iframe id="frame" src="{other}/frame.html" width="360" height="360"></iframe>
<img id="speck" src="/img/speck.jpg" width="12" height="12">
</body>""",
        "/frame.html": """<!doctype html><meta charset="utf-8"><body style="margin:0">
<img id="inframe" src="/img/real1.jpg" width="300" height="300"></body>""",
        # 8 faces at first, one too small to scan, 4 lazily loaded far below, 2 added by script.
        "/scan.html": """<!doctype html><meta charset="utf-8"><title>scan</title><body style="margin:8px">
""" + "\n".join(f'<img class="face" src="/img/{n}.jpg" width="160" height="160">'
                for n in ("fake2", "real2", "fake3", "real3", "fake4", "real4", "fake5", "real5")) + """
<img id="tiny" src="/img/tiny.jpg" width="40" height="40">
<img id="big" src="/img/big.jpg" width="320" height="320">
<div style="height:4000px">spacer</div>
""" + "\n".join(f'<img class="lazy" loading="lazy" src="/img/{n}.jpg" width="160" height="160">'
                for n in ("fake6", "real6", "fake7", "real7")) + """
<div id="more"></div>
<script>
function addMore() {  // what infinite scroll does
  for (const n of ['fake8', 'real8']) {
    const i = document.createElement('img');
    i.src = '/img/' + n + '.jpg'; i.width = 160; i.height = 160;
    document.getElementById('more').appendChild(i);
  }
}
</script></body>""",
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """Images and pages on 127.0.0.1 (and, as a second origin, localhost)."""
    img = tmp_path_factory.mktemp("site")
    write_site_images(img)
    server = StaticServer({"/img/": img})
    other = server.url.replace("127.0.0.1", "localhost")
    server.pages.update(site_pages(other))
    with server:
        server.folder = img
        server.other = other
        yield server


class Reference:
    """The Python predictor's answers on the served files, cached."""

    def __init__(self, folder: Path, contract=None):
        from facecheck.predictor import Predictor

        base = Predictor.load()
        self.predictor = base if contract is None else Predictor(base.model, contract)
        self.folder = folder
        self.cache: dict[str, dict] = {}

    def __call__(self, url: str) -> dict:
        from facecheck.images import load_image

        name = url.rsplit("/img/", 1)[1]
        if name not in self.cache:
            self.cache[name] = self.predictor.predict(load_image(self.folder / name))
        return self.cache[name]


@pytest.fixture(scope="session")
def reference(site, built):
    return Reference(site.folder)


@pytest.fixture(scope="session")
def detector_reference(site, built, detector_build, reference):
    if detector_build == built:
        return reference
    return Reference(site.folder, shipped_contract(detector_build))


# ---- the browser ---------------------------------------------------------------------------------

class Browser(ExtensionChromium):
    """Chromium with the extension loaded, in a fresh profile, plus the tests' settings helpers."""

    def settings(self, **values):
        self.worker.evaluate("(s) => FaceCheckSettings.save(s)", values)

    def reset(self):
        self.wake()
        self.worker.evaluate("() => Promise.all([chrome.storage.local.clear(), "
                             "chrome.storage.session.clear()])")
        for page in self.ctx.pages[1:]:
            page.close()


@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_instance, built):
    b = Browser(playwright_instance, built)
    yield b
    b.close()


@pytest.fixture(scope="module")
def detector_browser(playwright_instance, browser, built, detector_build):
    if detector_build == built:
        yield browser
        return
    b = Browser(playwright_instance, detector_build)
    yield b
    b.close()


@pytest.fixture
def ext(browser):
    browser.reset()
    yield browser
    assert not [e for e in browser.errors if "FaceCheck" in e], browser.errors
    browser.errors.clear()


def open_page(b: Browser, url: str):
    page = b.ctx.new_page()
    page.goto(url)
    page.wait_for_load_state("load")
    return page


# ---- getting into the badges (tests only) -------------------------------------------------------

# page or frame -> (its CDP session, {"doc": its document, "ids": backend node ids of the roots
# already unsealed in it}). Backend node ids are unique within a renderer process only: a new
# document (another process after a cross-site navigation) starts a new set.
_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _session(target):
    if target not in _sessions:
        from playwright.sync_api import Frame

        if not isinstance(target, Frame) or target.parent_frame is None:
            page = target.page if isinstance(target, Frame) else target
            cdp = page.context.new_cdp_session(page)
        else:
            try:
                cdp = target.page.context.new_cdp_session(target)  # an out-of-process frame
            except Exception:  # noqa: BLE001 - a frame in its page's process: the page's session
                cdp = _session(target.page)[0]
        _sessions[target] = (cdp, {"doc": None, "ids": set()})
    return _sessions[target]


def _closed_roots(node: dict, out: list[dict]) -> list[dict]:
    for root in node.get("shadowRoots", []):
        if root.get("shadowRootType") == "closed":
            out.append(root)
        _closed_roots(root, out)
    for child in node.get("children", []):
        _closed_roots(child, out)
    if "contentDocument" in node:
        _closed_roots(node["contentDocument"], out)
    return out


def unseal(target) -> None:
    """Make the closed shadow roots of a page (or frame) readable as `host.shadowRoot` by scripts
    of that page's main world: Playwright's evaluate, axe-core. Tests only (see the top)."""
    cdp, done = _session(target)
    tree = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    if done["doc"] != (tree["backendNodeId"], tree.get("documentURL")):
        done.update(doc=(tree["backendNodeId"], tree.get("documentURL")), ids=set())
    for root in _closed_roots(tree, []):
        if root["backendNodeId"] in done["ids"]:
            continue
        obj = cdp.send("DOM.resolveNode", {"backendNodeId": root["backendNodeId"]})["object"]
        cdp.send("Runtime.callFunctionOn", {"objectId": obj["objectId"], "functionDeclaration": STASH_JS})
        cdp.send("Runtime.releaseObject", {"objectId": obj["objectId"]})
        done["ids"].add(root["backendNodeId"])


def read_badges(page_or_frame, js: str, arg=None):
    """`js` (a function of `arg`) evaluated in the page once its badges are unsealed."""
    unseal(page_or_frame)
    return page_or_frame.evaluate(js, arg)


def badges(page_or_frame) -> list[dict]:
    return read_badges(page_or_frame, BADGES_JS)


def wait_badges(page_or_frame, js: str, arg=None, timeout_ms: int = 5000, what: str = ""):
    """Wait until `js(arg)` (evaluated with the badges unsealed) is truthy; returns its value."""
    deadline = time.time() + timeout_ms / 1000
    while not (value := read_badges(page_or_frame, js, arg)):
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout_ms} ms waiting for {what or js}")
        time.sleep(0.05)
    return value


def wait_settled(page_or_frame, n: int, timeout_ms: int = 60000) -> None:
    """Wait until badges of at least `n` images are drawn and none is pending."""
    wait_badges(page_or_frame, SETTLED_JS, n, timeout_ms, f"badges of {n} images, none pending")


def popup_results(b, page, src: str | None = None, timeout: float = 5.0) -> list[dict]:
    """The popup's rows for the tab of `page` (chrome.storage.session, saved in batches), once
    there is one for `src` (or any)."""
    key = f"results:{b.tab_id(page)}"
    deadline = time.time() + timeout
    while True:
        rows = b.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k] || []", key)
        if any(src in (None, r["src"]) for r in rows) or time.time() > deadline:
            return rows
        time.sleep(0.05)


def in_badge(page, src: str, fn: str, arg=None, index: int = 0):
    """The JS function `fn(root, arg)` run on the shadow root of the `index`-th badge of `src`."""
    return read_badges(page, IN_BADGE_JS.replace("FN", fn), [src, index, arg])


def badge_point(page, src: str, sel: str, index: int = 0) -> dict:
    at = in_badge(page, src, CENTRE_JS, sel, index)
    assert at, f"no visible {sel!r} in badge {index} of {src}"
    return at


def click_in_badge(page, src: str, sel: str, index: int = 0) -> None:
    """A real (trusted) click on the element `sel` of a badge of `src`, as a person's mouse does."""
    at = badge_point(page, src, sel, index)
    page.mouse.click(at["x"], at["y"])


def hover_badge(page, src: str, sel: str = ".main", index: int = 0) -> None:
    at = badge_point(page, src, sel, index)
    page.mouse.move(at["x"], at["y"])


# ---- what a result should look like ------------------------------------------------------------

def ui_band(settings: dict, model_threshold: float, model_from: float | None) -> tuple[float, float | None]:
    """settings.js band(): the threshold and unsure band's start in force, from the options
    (`threshold`, `unsureBand`: None = the model's) over the model's own (contract.json)."""
    t = model_threshold if settings.get("threshold") is None else settings["threshold"]
    width = settings.get("unsureBand")
    if width is not None:
        return t, (t - width if width > 0 else None)
    if settings.get("threshold") is None:
        return t, model_from
    return t, (None if model_from is None else t - max(0, model_threshold - model_from))


def ui_verdict(p: float, threshold: float, unsure_from: float | None) -> str:
    """The verdict a badge shows for p in a band (as Contract.verdict)."""
    return band_verdict(p, threshold, unsure_from)


def assert_matches_python(found: list[dict], py: dict, band: tuple[float, float | None]):
    """Badges of one image against the Python predictor's result for the same file, with the
    default options: the model's own threshold and band `(threshold, unsure_from)`."""
    threshold, unsure_from = band
    if py["verdict"] == "no-face":
        assert [b["verdict"] for b in found] == ["no-face"], found
        assert found[0]["text"].endswith("No face found")
        return
    assert len(found) == len(py["faces"]), (found, py)
    for b, f in zip(sorted(found, key=lambda b: b["rect"]["x"]),
                    sorted(py["faces"], key=lambda f: f["box"][0]), strict=True):
        if f["p_fake"] is None:
            assert b["verdict"] == "too-small" and b["p"] is None
            continue
        assert abs(b["p"] - f["p_fake"]) <= TOL_P, (b, f)
        near = min(abs(f["p_fake"] - e) for e in (threshold, unsure_from) if e is not None)
        if near > TOL_P:
            assert b["verdict"] == ui_verdict(f["p_fake"], threshold, unsure_from), (b, f)
            # With the model's own band the badge says what the predictor says.
            assert b["model"] == f["verdict"] == b["verdict"], (b, f)
        words = {"fake": "Likely generated", "real": "Likely real", "unsure": "Unsure"}[b["verdict"]]
        assert words in b["text"], b


def face_rects(page, img_selector: str, boxes: list[list[float]]) -> list[dict]:
    """Face boxes (image pixels) -> viewport rectangles of the <img> (no object-fit on test pages)."""
    return page.evaluate("""([sel, boxes]) => {
        const img = document.querySelector(sel); const r = img.getBoundingClientRect();
        const sx = r.width / img.naturalWidth, sy = r.height / img.naturalHeight;
        return boxes.map(([x, y, w, h]) =>
          ({x: r.x + x * sx, y: r.y + y * sy, width: w * sx, height: h * sy}));
    }""", [img_selector, boxes])


def overlap(a: dict, b: dict) -> float:
    w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)




def assert_on_own_face(badge: dict, face: dict, others: list[dict]) -> None:
    """Where a face's badge may be (issue #24): over no other face; off its own face, or on it at
    its top edge (the top quarter) and centred within it, never over the middle of the face."""
    for other in others:
        assert overlap(badge, other) == 0, ("over another face", badge, other)
    if overlap(badge, face):
        centre = badge["x"] + badge["width"] / 2
        assert face["x"] <= centre <= face["x"] + face["width"], ("not centred on its face", badge, face)
        assert badge["y"] - max(face["y"], 0) <= 0.25 * face["height"], ("not at the face's top", badge, face)
