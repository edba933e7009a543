"""Where badges go (issue #24), in a real page with the built extension in real Chromium: every
badge on its own face in a group photo and in a tight list of avatars, never over another face,
another picture or a sticky header, following a carousel while it slides; in reading order
after their picture with one tab stop each; re-worded when the options change, with no second
model run.

Checks are real right-click checks (`checkFace`); face boxes come from the Python predictor on
the same files (the parity tests hold the two to the same faces)."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from tests.e2e import (
    HOSTS_JS,
    badges,
    click_in_badge,
    face_rects,
    open_page,
    overlap,
    read_badges,
    wait_badges,
)
from tests.helpers import fixture_faces

pytestmark = pytest.mark.slow

AVATARS = [f"fake{i}" for i in range(4)] + [f"real{i}" for i in range(4)]

PAGES = {
    # Three people side by side in one photo (real, generated, real), at two sizes.
    "/group.html": """<!doctype html><meta charset="utf-8"><title>group</title>
<body style="margin:8px">
<p><a id="before" href="#before">before</a></p>
<img id="group" src="/img/group.jpg" width="600" height="200" alt="three people">
<p><a id="after" href="#after">after</a></p>
<img id="small" src="/img/group-small.jpg" width="300" height="100" alt="three people, small">
</body>""",
    # A "who to follow" list: 40 px avatars 4 px apart, each beside a name and a button.
    "/avatars.html": """<!doctype html><meta charset="utf-8"><title>avatars</title>
<body style="margin:8px; font:14px/1.2 sans-serif">
<h2 id="heading" style="margin:0 0 4px">Who to follow</h2>
""" + "\n".join(f"""<div style="display:flex; align-items:center; gap:6px; height:40px; margin-bottom:4px">
  <img id="a{i}" src="/img/{n}.jpg" width="40" height="40" alt="avatar {i}">
  <span id="n{i}">Person {i}</span> <button id="b{i}">Like</button></div>"""
                for i, n in enumerate(AVATARS)) + """
</body>""",
    # A sticky header that covers the top of the picture, not the face's centre.
    "/sticky.html": """<!doctype html><meta charset="utf-8"><title>sticky</title>
<body style="margin:0">
<header id="header" style="position:sticky; top:0; height:100px; background:#eee; z-index:5">Site</header>
<div style="height:150px"></div>
<img id="face" src="/img/fake1.jpg" width="300" height="300" alt="under a header">
<div style="height:2000px"></div>
</body>""",
    # A carousel that slides with a CSS transition.
    "/slide.html": """<!doctype html><meta charset="utf-8"><title>slide</title>
<body style="margin:8px">
<div style="width:700px; overflow:hidden; margin-top:40px">
  <div id="track" style="display:flex; gap:20px; transition:transform 1.2s linear">
    <img id="s1" src="/img/fake4.jpg" width="300" height="300" alt="slide one">
    <img id="s2" src="/img/real4.jpg" width="300" height="300" alt="slide two">
  </div>
</div>
</body>""",
}


@pytest.fixture(scope="module")
def pages(site):
    real, fake = fixture_faces("real"), fixture_faces("fake")
    group = Image.new("RGB", (600, 200))
    for i, p in enumerate((real[13], fake[13], real[9])):
        group.paste(Image.open(p).convert("RGB").resize((200, 200)), (i * 200, 0))
    group.save(site.folder / "group.jpg", quality=92)
    group.resize((300, 100)).save(site.folder / "group-small.jpg", quality=92)
    site.pages.update(PAGES)
    return site


# Every badge of `src`: its rect, verdict, whether it shows, and its headline with "(face i of n)".
STATE_JS = """(src) => HOSTS.filter(({box}) => box && box.dataset.src === src).map(({host, box}) => ({
    rect: host.getBoundingClientRect().toJSON(), verdict: box.dataset.verdict, p: Number(box.dataset.p),
    shown: getComputedStyle(host).display !== 'none' && host.getBoundingClientRect().width > 0,
    headline: box.querySelector('.detail .headline').textContent,
    detailShown: box.querySelector('.detail').checkVisibility()}))""".replace("HOSTS", HOSTS_JS)


def states(page, src: str) -> list[dict]:
    return read_badges(page, STATE_JS, src)


def check(ext, page, sel: str) -> str:
    src = page.eval_on_selector(sel, "i => i.currentSrc")
    assert ext.check(page, src)["drawn"] >= 1
    return src


def rect_of(page, sel: str) -> dict:
    return page.eval_on_selector(sel, "e => e.getBoundingClientRect().toJSON()")


def inside(r: dict, outer: dict, slack: float = 1.0) -> bool:
    return (r["x"] >= outer["x"] - slack and r["y"] >= outer["y"] - slack
            and r["x"] + r["width"] <= outer["x"] + outer["width"] + slack
            and r["y"] + r["height"] <= outer["y"] + outer["height"] + slack)


def assert_each_on_its_own_face(page, sel: str, src: str, reference) -> list[dict]:
    """Three faces, three badges: numbered left to right, each inside its picture, over no other
    face nor another badge, and closer to its own face than to any other."""
    py = sorted(reference(src)["faces"], key=lambda f: f["box"][0])
    faces = face_rects(page, sel, [f["box"] for f in py])
    found = states(page, src)
    assert len(faces) == 3 and len(found) == 3, (py, found)
    assert all(b["shown"] for b in found), found
    picture = rect_of(page, sel)
    for i, face in enumerate(faces):
        [b] = [b for b in found if f"(face {i + 1} of 3)" in b["headline"]]
        r = b["rect"]
        assert abs(b["p"] - py[i]["p_fake"]) <= 0.02, (b, py[i])
        assert inside(r, picture), (r, picture)
        for j, other in enumerate(faces):
            if j != i:
                assert overlap(r, other) == 0, (i, j, r, other)
        centre = r["x"] + r["width"] / 2
        assert face["x"] <= centre <= face["x"] + face["width"], (i, r, face)
    for a in found:
        for b in found:
            if a is not b:
                assert overlap(a["rect"], b["rect"]) == 0, (a, b)
    return found


def test_group_photo_every_badge_on_its_own_face(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/group.html")
    src = check(ext, page, "#group")
    found = assert_each_on_its_own_face(page, "#group", src, reference)
    # The generated face in the middle is the second, by its number and by where its badge is.
    middle = next(b for b in found if "(face 2 of 3)" in b["headline"])
    assert middle["verdict"] in ("fake", "unsure", "real")
    # The same photo at half the size: chips, still each on its own face.
    small = check(ext, page, "#small")
    chips = assert_each_on_its_own_face(page, "#small", small, reference)
    assert all(b["rect"]["width"] < 100 for b in chips), chips


def test_tight_avatar_list(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/avatars.html")
    srcs = [check(ext, page, f"#a{i}") for i in range(len(AVATARS))]
    avatars = [rect_of(page, f"#a{i}") for i in range(len(AVATARS))]
    labels = ("#heading", *(f"#n{i}" for i in range(8)), *(f"#b{i}" for i in range(8)))
    texts = [rect_of(page, s) for s in labels]
    for i, src in enumerate(srcs):
        [b] = states(page, src)
        assert b["shown"], b
        r = b["rect"]
        # On its own avatar, never on a neighbour's, a name, the heading or a button.
        assert inside(r, avatars[i]), (i, r, avatars[i])
        for j, other in enumerate(avatars):
            if j != i:
                assert overlap(r, other) == 0, (i, j, r, other)
        for t in texts:
            assert overlap(r, t) == 0, (i, r, t)


def test_badge_never_drawn_over_a_sticky_header(ext, pages):
    page = open_page(ext, f"{pages.url}/sticky.html")
    src = check(ext, page, "#face")
    [b] = states(page, src)
    assert b["shown"]
    # The header (100 px) now covers the picture's top 40 px, where the badge sat, not the face's
    # centre: the badge moves out from under it, or hides; it is never drawn over the header.
    top = rect_of(page, "#face")["y"] + page.evaluate("window.scrollY")
    page.evaluate("(y) => window.scrollTo(0, y)", top - 60)
    page.wait_for_timeout(300)
    header = rect_of(page, "#header")
    [b] = states(page, src)
    assert header["y"] == 0 and rect_of(page, "#face")["y"] < header["height"], header
    assert not b["shown"] or overlap(b["rect"], header) == 0, (b, header)
    assert b["shown"], "room below the face: it should still show"


# Positions of the first slide and its badge read in one animation frame (after the badge's).
SAMPLE_JS = """(src) => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => {
  const img = document.querySelector('#s1').getBoundingClientRect();
  const [s] = (STATE)(src);
  done({img: img.x, badge: s.rect.x, shown: s.shown});
})))""".replace("STATE", STATE_JS)


def test_badge_follows_a_sliding_carousel(ext, pages):
    page = open_page(ext, f"{pages.url}/slide.html")
    src = check(ext, page, "#s1")
    start = read_badges(page, SAMPLE_JS, src)
    offset = start["badge"] - start["img"]
    # Right, so that the slide stays in view (a slide leaving the frame moves its badge inside it).
    page.eval_on_selector("#track", "t => { t.style.transform = 'translateX(200px)'; }")
    moved = []
    for _ in range(6):
        page.wait_for_timeout(120)
        s = read_badges(page, SAMPLE_JS, src)
        if s["shown"] and start["img"] + 5 < s["img"] < start["img"] + 195:  # mid-slide
            assert abs((s["badge"] - s["img"]) - offset) <= 3, (s, offset)
            moved.append(s)
    assert moved, "no sample caught the slide mid-way"


FOCUS_JS = """() => { const a = document.activeElement; if (!a) return null;
  if (a.localName !== 'facecheck-badge') return {id: a.id};
  const f = a.shadowRoot.activeElement;
  return {badge: true, cls: f && f.className,
          headline: a.shadowRoot.querySelector('.headline').textContent}; }"""


def test_keyboard_reading_order_one_stop_enter_opens(ext, pages):
    page = open_page(ext, f"{pages.url}/group.html")
    src = check(ext, page, "#group")
    wait_badges(page, "(src) => HOSTS.filter(({box}) => box && box.dataset.src === src).length === 3"
                .replace("HOSTS", HOSTS_JS), src)
    page.focus("#before")
    stops = []
    for _ in range(4):
        page.keyboard.press("Tab")
        stops.append(read_badges(page, FOCUS_JS))
    # Right after the picture, in reading order: its three badges (one stop each), then the next link.
    assert [s.get("cls") for s in stops[:3]] == ["main"] * 3, stops
    numbers = [re.search(r"face (\d) of 3", s["headline"]).group(1) for s in stops[:3]]
    assert numbers == ["1", "2", "3"], stops
    assert stops[3] == {"id": "after"}, stops
    # Focus shows no details; Enter opens them, Escape closes them and keeps the focus.
    page.keyboard.press("Shift+Tab")
    assert not any(b["detailShown"] for b in states(page, src))
    page.keyboard.press("Enter")
    assert [b["detailShown"] for b in states(page, src)].count(True) == 1
    page.keyboard.press("Escape")
    assert not any(b["detailShown"] for b in states(page, src))
    assert read_badges(page, FOCUS_JS).get("cls") == "main"


ALL_JS = "(src) => (STATE)(src).every((b) => b.verdict === 'VERDICT')".replace("STATE", STATE_JS)


def test_options_change_rejudges_without_a_model_run(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/group.html")
    src = check(ext, page, "#group")
    before = states(page, src)
    assert len(before) == 3
    top = max(b["p"] for b in before)
    # A threshold above every face: nothing is "Likely generated" any more; the probabilities stay.
    tab = ext.tab_id(page)
    ext.worker.evaluate("""([tabId, t]) => chrome.tabs.sendMessage(tabId,
        {type: 'facecheck-rejudge', band: {threshold: t, unsureBand: 0}})""", [tab, min(0.99, top + 0.005)])
    wait_badges(page, ALL_JS.replace("VERDICT", "real"), src)
    after = states(page, src)
    assert sorted(b["p"] for b in after) == sorted(b["p"] for b in before)
    assert all("Likely real" in b["headline"] for b in after), after
    # And back below every face: all "Likely generated".
    ext.worker.evaluate("""([tabId, t]) => chrome.tabs.sendMessage(tabId,
        {type: 'facecheck-rejudge', band: {threshold: t, unsureBand: 0}})""",
        [tab, max(0.01, min(b["p"] for b in before) - 0.005)])
    wait_badges(page, ALL_JS.replace("VERDICT", "fake"), src)
    assert len(badges(page)) == 3


def test_a_click_in_a_badge_inside_a_link_stays_in_the_badge(ext, pages):
    page = open_page(ext, f"{pages.url}/group.html")
    page.evaluate("""() => { const a = document.createElement('a'); a.href = '#followed';
        const img = document.querySelector('#small'); img.before(a); a.append(img); }""")
    src = check(ext, page, "#small")
    click_in_badge(page, src, ".main")
    click_in_badge(page, src, ".detail .headline")
    assert not page.url.endswith("#followed"), page.url
