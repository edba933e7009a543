"""The badges in a real page (Playwright, real Chromium, the built extension): tied to their image
and shown only while its face can be seen, compact on small pictures and never over the face or
the text beside it, details in plain words with a "This is wrong" button, and readable by
everyone (screen readers, keyboards, colour-blind eyes).

Checks are real right-click checks (`checkFace`, as tests/test_extension.py does). Where a test
needs every verdict's look, the worker words made-up probabilities with the extension's own
FaceCheckSettings.describe() and sends them to the page as it sends any result.
"""

from __future__ import annotations

import re

import pytest

from facecheck.wording import SCOPE, probability_text
from tests.colours import contrast, delta_e, seen_as
from tests.e2e import (
    HOSTS_JS,
    badges,
    click_in_badge,
    face_rects,
    hover_badge,
    in_badge,
    open_page,
    overlap,
    read_badges,
    wait_badges,
)

pytestmark = pytest.mark.slow

PAGES = {
    # A feed with its own scroll: a face in it, and another picture below the panel.
    "/badges-panel.html": """<!doctype html><meta charset="utf-8"><title>panel</title>
<body style="margin:8px">
<div id="panel" style="margin-top:40px; width:340px; height:360px; overflow:auto; border:1px solid #000">
  <div style="height:30px">Comments</div>
  <img id="inpanel" src="/img/fake0.jpg" width="300" height="300" alt="a face in a feed">
  <div style="height:900px">more comments</div>
</div>
<img id="below" src="/img/real0.jpg" width="300" height="300" alt="below the feed">
<div style="height:1500px"></div>
</body>""",
    # Pages whose fixed or sticky header slides over the pictures as they scroll.
    **{f"/badges-{pos}-header.html": f"""<!doctype html><meta charset="utf-8"><title>header</title>
<body style="margin:0">
<header style="position:{pos}; top:0; left:0; right:0; height:160px; background:#eee; z-index:5">Site</header>
<div style="height:200px"></div>
<img id="face" src="/img/fake1.jpg" width="300" height="300" alt="under a header">
<div style="height:2000px"></div>
</body>""" for pos in ("fixed", "sticky")},
    # A carousel: slides move sideways (a transform) inside a box that hides what overflows.
    "/badges-carousel.html": """<!doctype html><meta charset="utf-8"><title>carousel</title>
<body style="margin:8px">
<div style="width:320px; overflow:hidden; margin-top:40px">
  <div id="track" style="display:flex; gap:20px; transform:translateX(0)">
    <img id="slide1" src="/img/fake4.jpg" width="300" height="300" alt="slide one">
    <img id="slide2" src="/img/real4.jpg" width="300" height="300" alt="slide two">
  </div>
</div>
</body>""",
    # Comments: 80 px avatars beside their authors' names.
    "/badges-avatars.html": """<!doctype html><meta charset="utf-8"><title>avatars</title>
<body style="margin:8px; font:16px/1.3 sans-serif">
<ul style="list-style:none; padding:0; margin:60px 0 0">
<li style="display:flex; align-items:center; gap:8px; margin-bottom:40px">
  <img id="ava1" src="/img/fake2.jpg" width="80" height="80" alt="Avatar of Ada Lovelace">
  <span id="name1">Ada Lovelace</span> <span>what a photo!</span></li>
<li style="display:flex; align-items:center; gap:8px; margin-bottom:40px">
  <img id="ava2" src="/img/real2.jpg" width="80" height="80" alt="Avatar of Alan Turing">
  <span id="name2">Alan Turing</span> <span>agreed</span></li>
</ul>
</body>""",
}

# A badge's state as a person sees it (the host, its chip's parts and its details panel).
STATE_JS = """(src) => HOSTS.filter(({box}) => box && box.dataset.src === src).map(({host: b}) => {
    const $ = (s) => b.shadowRoot.querySelector(s);
    const shown = (e) => !!e && e.checkVisibility() && e.getBoundingClientRect().width > 0;
    const detail = $('.detail');
    return {visible: shown(b) && shown($('.badge')), rect: b.getBoundingClientRect().toJSON(),
            display: getComputedStyle(b).display, z: Number(getComputedStyle(b).zIndex),
            words: shown($('.words')), detailShown: shown(detail),
            detailRect: detail.getBoundingClientRect().toJSON(),
            label: $('.main').getAttribute('aria-label')};
  })""".replace("HOSTS", HOSTS_JS)

# No badge of `src` left (one not unsealed yet counts as still there).
GONE_JS = """(src) => HOSTS.every(({box}) => box && box.dataset.src !== src)""".replace("HOSTS", HOSTS_JS)

LIVE_JS = """() => { const h = document.querySelector('facecheck-live');
  const r = h && h.shadowRoot && h.shadowRoot.querySelector('[aria-live="polite"]');
  return r ? r.textContent : null; }"""


@pytest.fixture(scope="module")
def pages(site):
    site.pages.update(PAGES)
    return site


def state(page, src: str) -> dict:
    [s] = read_badges(page, STATE_JS, src)
    return s


def wait_state(page, src: str, js_condition: str, timeout: int = 5000):
    """Wait until the (one) badge of `src` meets `js_condition` on STATE_JS's record `s`."""
    wait_badges(page, f"(src) => {{ const [s] = ({STATE_JS})(src); return !!s && ({js_condition}); }}",
                src, timeout, js_condition)


def check(ext, page, sel: str) -> str:
    src = page.eval_on_selector(sel, "i => i.currentSrc")
    assert ext.check(page, src)["drawn"] >= 1
    return src


def faces_of(page, sel: str, reference, src: str) -> list[dict]:
    return face_rects(page, sel, [f["box"] for f in reference(src)["faces"]])


# ---- a badge belongs to its image ---------------------------------------------------------------

def test_badge_hides_when_its_face_scrolls_out_of_a_panel(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/badges-panel.html")
    src = check(ext, page, "#inpanel")
    first = state(page, src)
    [face] = faces_of(page, "#inpanel", reference, src)
    assert first["visible"] and overlap(first["rect"], face) == 0, (first, face)

    # The feed scrolls on its own: the picture leaves the panel, and so does its badge, which
    # must not float over the panel's other content nor the picture below it.
    page.eval_on_selector("#panel", "p => { p.scrollTop = 600; }")
    wait_state(page, src, "!s.visible && s.display === 'none'")
    below = page.eval_on_selector("#below", "i => i.getBoundingClientRect().toJSON()")
    assert overlap(state(page, src)["rect"], below) == 0

    # Partly scrolled: while the face's centre shows, the badge shows, in the panel and in what shows
    # of its picture: beside the face, or (no room there) inside the face box at its top edge; never
    # beyond the picture, where it could be read as another's.
    page.eval_on_selector("#panel", "p => { p.scrollTop = 120; }")
    wait_state(page, src, "s.visible")
    s = state(page, src)
    [face] = faces_of(page, "#inpanel", reference, src)
    panel = page.eval_on_selector("#panel", "p => p.getBoundingClientRect().toJSON()")
    r = s["rect"]
    if overlap(r, face):
        assert abs(r["y"] - max(face["y"], panel["y"] + 1)) <= 4, (s, face, panel)
    picture = page.eval_on_selector("#inpanel", "i => i.getBoundingClientRect().toJSON()")
    assert overlap(r, panel) == overlap(r, picture) == r["width"] * r["height"], (s, panel, picture)

    # Back at the top: where it was.
    page.eval_on_selector("#panel", "p => { p.scrollTop = 0; }")
    wait_state(page, src, f"s.visible && Math.abs(s.rect.y - {first['rect']['y']}) < 1")
    assert state(page, src)["rect"] == first["rect"]


@pytest.mark.parametrize("position", ["fixed", "sticky"])
def test_badge_hides_under_a_header(ext, pages, reference, position):
    page = open_page(ext, f"{pages.url}/badges-{position}-header.html")
    src = check(ext, page, "#face")
    assert state(page, src)["visible"]
    [face] = faces_of(page, "#face", reference, src)
    # The face's centre scrolls under the header (160 px tall), the rest of the picture below it.
    page.evaluate("(y) => window.scrollTo(0, y)", round(face["y"] + face["height"] / 2 - 80))
    wait_state(page, src, "!s.visible")
    page.evaluate("window.scrollTo(0, 0)")
    wait_state(page, src, "s.visible")


def test_badge_follows_a_carousel_slide(ext, pages):
    page = open_page(ext, f"{pages.url}/badges-carousel.html")
    src = check(ext, page, "#slide1")
    x0 = state(page, src)["rect"]["x"]
    page.eval_on_selector("#track", "t => { t.style.transform = 'translateX(-40px)'; }")
    wait_state(page, src, f"s.visible && s.rect.x < {x0} - 10")
    page.eval_on_selector("#track", "t => { t.style.transform = 'translateX(-320px)'; }")  # slide two shows
    wait_state(page, src, "!s.visible")


def test_badge_goes_with_its_image(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    gone = check(ext, page, "#fake")
    swapped = check(ext, page, "#real")
    assert len(badges(page)) >= 2
    page.eval_on_selector("#fake", "i => i.remove()")
    wait_badges(page, GONE_JS, gone)
    # The page shows another picture in the same <img> (an infinite feed recycling it).
    page.eval_on_selector("#real", "i => { i.src = '/img/fake3.jpg'; }")
    wait_badges(page, GONE_JS, swapped)
    # A srcset switch: the browser picks another candidate of the same picture: the badge stays.
    small = check(ext, page, "#srcset")
    assert small.endswith("srcset-150.jpg")
    page.eval_on_selector("#srcset", "i => { i.sizes = '300px'; }")
    page.wait_for_function("() => document.querySelector('#srcset').currentSrc.endsWith('srcset-300.jpg')")
    page.wait_for_timeout(300)  # a few frames of layout
    assert [b["src"] for b in badges(page)] == [small]
    # Another srcset altogether: another picture, and the badge goes.
    page.eval_on_selector("#srcset", "i => { i.srcset = '/img/fake3.jpg 300w'; }")
    wait_badges(page, GONE_JS, small)
    assert badges(page) == []


# ---- small pictures ------------------------------------------------------------------------------

def name_rect(page, sel: str) -> dict:
    return page.evaluate("""(sel) => { const r = document.createRange();
        r.selectNodeContents(document.querySelector(sel));
        return r.getBoundingClientRect().toJSON(); }""", sel)


def test_compact_chip_on_an_avatar(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/badges-avatars.html")
    src1 = check(ext, page, "#ava1")
    src2 = check(ext, page, "#ava2")
    rects = {sel: page.eval_on_selector(sel, "i => i.getBoundingClientRect().toJSON()")
             for sel in ("#ava1", "#ava2")}
    for sel, src, name in (("#ava1", src1, "#name1"), ("#ava2", src2, "#name2")):
        s = state(page, src)
        assert s["visible"] and not s["words"] and s["rect"]["width"] <= 80, s  # a chip, not a headline
        assert overlap(s["rect"], name_rect(page, name)) == 0, s
        other = rects["#ava2" if sel == "#ava1" else "#ava1"]
        assert overlap(s["rect"], other) == 0, (s, other)  # never on the other avatar
        # Inside its own picture; on its face only at the face box's top edge.
        own = rects[sel]
        assert overlap(s["rect"], own) == s["rect"]["width"] * s["rect"]["height"], (s, own)
        for face in faces_of(page, sel, reference, src):
            if overlap(s["rect"], face):
                assert abs(s["rect"]["y"] - face["y"]) <= 4, (s, face)
    headline = badges(page)[0]["text"]  # the chip carries the whole headline for readers
    assert re.search(r"(Likely generated, \d+%|Unsure|Likely real)$", headline), headline

    # Hovered, it unfolds to its headline only: the details open on a click.
    hover_badge(page, src1)
    wait_state(page, src1, "s.words && !s.detailShown")
    page.wait_for_timeout(200)
    assert not state(page, src1)["detailShown"]
    click_in_badge(page, src1, ".main")
    wait_state(page, src1, "s.words && s.detailShown")
    s1, s2 = state(page, src1), state(page, src2)
    d = s1["detailRect"]
    assert d["x"] >= 0 and d["y"] >= 0 and d["x"] + d["width"] <= page.viewport_size["width"]
    assert d["y"] + d["height"] <= page.viewport_size["height"], d
    both = overlap(d, s2["rect"])
    if both:  # where the details cover the second chip, they lie above it
        x = max(d["x"], s2["rect"]["x"]) + 2
        y = max(d["y"], s2["rect"]["y"]) + 2
        on_top = "([x, y]) => document.elementFromPoint(x, y).shadowRoot.querySelector('.badge').dataset.src"
        assert read_badges(page, on_top, [x, y]) == src1
    click_in_badge(page, src1, ".main")
    page.mouse.click(700, 500)  # away: neither hovered nor focused
    wait_state(page, src1, "!s.words && !s.detailShown")


# ---- details in plain words ----------------------------------------------------------------------

# The status line under a badge's "This is wrong" (its text), for the badge of `src`.
IN_STATUS_JS = """(src) => { const b = HOSTS.find(({box}) => box && box.dataset.src === src);
  return b ? b.box.querySelector('.report-status').innerText : null; }""".replace("HOSTS", HOSTS_JS)

def test_details_in_plain_words_and_this_is_wrong(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    src = check(ext, page, "#fake")
    [b] = [x for x in badges(page) if x["src"] == src]
    click_in_badge(page, src, ".main")
    text = in_badge(page, src, "(r) => r.querySelector('.detail').innerText")
    assert probability_text(b["p"]) in text, (b["p"], text)
    assert b["text"].endswith(in_badge(page, src, "(r) => r.querySelector('.detail .headline').innerText")), b
    assert SCOPE in text
    # The engineer's figures are there, folded away.
    assert in_badge(page, src, "(r) => r.querySelector('.detail summary').innerText") == "Technical details"
    threshold_shown = """(r) => [...r.querySelectorAll('.detail details p')]
        .some((p) => p.textContent.includes('Threshold:') && p.checkVisibility())"""
    assert not in_badge(page, src, threshold_shown)
    click_in_badge(page, src, ".detail summary")
    assert in_badge(page, src, threshold_shown)
    assert "Model: " in in_badge(page, src, "(r) => r.querySelector('.detail details').innerText")

    assert in_badge(page, src, "(r) => r.querySelector('.report').textContent") == "This is wrong"
    click_in_badge(page, src, ".report")
    wait_badges(page, f"(s) => ({IN_STATUS_JS})(s) !== ''", src, 5000, "the report's status line")
    said = read_badges(page, IN_STATUS_JS, src)
    assert said == "Reported \u2014 kept on this computer only; see FaceCheck options", said
    assert in_badge(page, src, "(r) => r.querySelector('.report').disabled")
    reports = ext.worker.evaluate("async () => (await chrome.storage.local.get('reports')).reports || []")
    assert len(reports) == 1, reports
    r = reports[0]
    assert (r["imageUrl"], r["pageUrl"], r["verdict"]) == (src, page.url, b["verdict"]), r
    assert abs(r["p_fake"] - b["p"]) < 1e-4 and r["modelVersion"] and r["modelVersion"] in b["detail"], r
    assert r["id"] and r["time"], r


# ---- everyone can read them ----------------------------------------------------------------------

def test_alt_text_in_label_and_live_announcement(ext, pages):
    page = open_page(ext, f"{pages.url}/badges-avatars.html")
    src = check(ext, page, "#ava1")
    s = state(page, src)
    assert "Avatar of Ada Lovelace" in s["label"], s
    [b] = badges(page)
    headline = b["text"][b["text"].index(next(w for w in ("Likely", "Unsure") if w in b["text"])):]
    wait_badges(page, f"() => ({LIVE_JS})()?.includes({headline!r})", None, 5000, "the live region")
    said = read_badges(page, LIVE_JS)
    assert said.startswith(f"FaceCheck: {headline}") and "Avatar of Ada Lovelace" in said, said
    # One live region per frame, however many results.
    check(ext, page, "#ava2")
    assert page.evaluate("() => document.querySelectorAll('facecheck-live').length") == 1


LOOKS_JS = """() => HOSTS.map(({host: b, box}) => {
  const cs = getComputedStyle(box);
  const targets = [...b.shadowRoot.querySelectorAll('button, summary')].filter((e) => e.checkVisibility())
    .map((e) => { const r = e.getBoundingClientRect();
      return [e.className || e.localName, r.width, r.height]; });
  return {verdict: box.dataset.verdict, bg: cs.backgroundColor, fg: cs.color,
          radius: cs.borderTopLeftRadius, border: cs.borderTopStyle,
          icon: b.shadowRoot.querySelector('.icon').textContent, targets};
})""".replace("HOSTS", HOSTS_JS)

# Every verdict's view, worded by the extension itself from made-up predictor results.
VIEWS_JS = """() => {
  const settings = FaceCheckSettings.clean({});
  const model = {threshold: 0.6, unsureFrom: 0.4};
  const face = (p) => ({box: [60, 60, 120, 120], score: 0.99, p_fake: p, verdict: 'x'});
  const one = (p) => FaceCheckSettings.describe(
    {faces: [face(p)], p_fake: p, verdict: 'x', modelVersion: 'm'},
    {settings, model, ranOn: 'browser', width: 300, height: 300});
  return [one(0.93), one(0.5), one(0.05),
          FaceCheckSettings.describe({faces: [], p_fake: null, verdict: 'no-face'}, {settings, model}),
          FaceCheckSettings.describeError(new Error('HTTP 404'), 'browser')];
}"""


def test_every_verdict_readable_and_distinct(ext, site):
    page = open_page(ext, f"{site.url}/faces.html")
    check(ext, page, "#fake")  # puts the badge script in the page
    views = ext.worker.evaluate(VIEWS_JS)
    sels = ("#fake", "#real", "#cross", "#noface", "#broken")
    for sel, view in zip(sels, views, strict=True):
        src = page.eval_on_selector(sel, "i => i.currentSrc || i.src")
        drawn = ext.worker.evaluate("""([tabId, src, view]) => chrome.tabs.sendMessage(tabId,
            {type: 'facecheck-result', src, view}, {frameId: 0})""", [ext.tab_id(page), src, view])
        assert drawn["drawn"] == 1, (sel, drawn)
    looks = {x["verdict"]: x for x in read_badges(page, LOOKS_JS)}
    assert set(looks) == {"fake", "unsure", "real", "no-face", "error"}, looks
    rgb = {v: tuple(int(float(n)) for n in re.findall(r"[\d.]+", x["bg"])[:3]) for v, x in looks.items()}
    for v, x in looks.items():
        fg = tuple(int(float(n)) for n in re.findall(r"[\d.]+", x["fg"])[:3])
        assert contrast(fg, rgb[v]) >= 4.5, (v, x)
        for name, w, h in x["targets"]:
            assert w >= 24 and h >= 24, (v, name, w, h)
    # Generated, unsure and real stay apart for a deuteranope (CIE76 distance), and carry
    # their own icon and shape as well.
    for a, b in (("fake", "real"), ("fake", "unsure"), ("real", "unsure")):
        assert delta_e(seen_as(rgb[a], "deuteranopia"), seen_as(rgb[b], "deuteranopia")) > 20, (a, b, rgb)
        assert looks[a]["icon"] != looks[b]["icon"], (a, b)
        assert (looks[a]["radius"], looks[a]["border"]) != (looks[b]["radius"], looks[b]["border"]), (a, b)
