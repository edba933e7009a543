"""Accessibility of every place a FaceCheck result is shown (issue #18), in real Chromium with the
real extension and the real server: the popup, the options page, the server's drop page with a
result, and a page with badges (details open, and the compact chip on an 80 px avatar).

- axe-core (pinned in extension/package.json) runs on each; a violation of impact "serious" or
  "critical" fails, listed with its rule id, impact, targets and help. How axe gets into the pages
  (their CSP included) is in tests/badge_page.py.
- What axe does not check:
  - every button of a badge or chip is at least 24x24 CSS px (WCAG 2.2 target size, 2.5.8);
  - the chip on a small avatar still names the whole headline to a screen reader;
  - the colours of the "Likely generated", "Likely real" and "Unsure" badges stay apart for
    readers with protanopia or deuteranopia: the badges' computed backgrounds are simulated with
    Machado, Oliveira & Fernandes (2009)'s matrices at full severity (on linear RGB), and every
    pair must differ by a CIE76 colour difference (deltaE*ab) of at least 20, also with normal
    vision. 20 is about what separates two named colours at a glance (2.3 is a "just noticeable
    difference"); the icon and the words say the verdict too, colour is never alone;
  - a live region that is already in the page receives the result's words (a region created
    together with its text is often not read out), on the badge page and the drop page.
"""

from __future__ import annotations

import itertools
import re

import pytest

from facecheck.wording import HEADLINES, headline
from tests.badge_page import (
    BACKGROUNDS_JS,
    BLOCKING,
    KEPT_REGIONS_JS,
    LIVE_REGIONS_JS,
    TARGETS_JS,
    axe_violations,
    badge_names,
    check_on_drop_page,
    describe_violations,
    drop_page_server,
    open_details,
    show_image,
)
from tests.browser import launch_chromium
from tests.colours import MACHADO_2009, delta_e, lab, linear_rgb, parse_rgb, seen_as
from tests.e2e import TOL_P, badges, open_page, read_badges
from tests.helpers import fixture_faces

pytestmark = pytest.mark.slow

MIN_TARGET_PX = 24
MIN_DELTA_E = 20.0
CHIP_PX = 80  # an avatar: the badge is a compact chip there

# A page with nothing wrong of its own, so that every violation axe finds is FaceCheck's.
A11Y_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>FaceCheck accessibility test page</title></head>
<body style="margin:8px"><main><h1>Pictures</h1><p>Faces to check.</p></main></body></html>"""


@pytest.fixture(scope="module")
def a11y_site(site):
    site.pages["/a11y.html"] = A11Y_PAGE
    return site


@pytest.fixture(scope="module")
def page_server():
    with drop_page_server() as srv:
        yield srv


def clear_faces(site, reference) -> dict[str, dict]:
    """A generated and a real fixture face of the site that the Python predictor calls so, well
    clear of the band's edges (the browser's p_fake, within TOL_P, gives the same verdict):
    {verdict: {name, p}}."""
    c = reference.predictor.contract
    edges = [e for e in (c.threshold, c.unsure_from) if e is not None]
    out: dict[str, dict] = {}
    for f in sorted(site.folder.iterdir()):
        if not re.fullmatch(r"(fake|real)\d\.jpg", f.name):
            continue
        py = reference(f"/img/{f.name}")
        if py["verdict"] == f.name[:4] and min(abs(py["p_fake"] - e) for e in edges) > 2 * TOL_P:
            out.setdefault(py["verdict"], {"name": f.name, "p": py["p_fake"]})
    assert set(out) == {"fake", "real"}, out
    return out


def assert_no_blocking(found: list[dict], where: str) -> None:
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core on {where}, serious/critical:\n" + describe_violations(blocking)


def checked_page(ext, site, faces: dict, chip: bool = True):
    """The test page with a generated and a real face at 300 px and (chip) the generated one
    again as an 80 px avatar, all checked; returns (page, {role: src})."""
    page = open_page(ext, f"{site.url}/a11y.html")
    srcs = {"fake": show_image(page, faces["fake"]["name"], 300, "fake"),
            "real": show_image(page, faces["real"]["name"], 300, "real")}
    if chip:
        srcs["chip"] = show_image(page, faces["fake"]["name"] + "?avatar", CHIP_PX, "avatar")
    for src in srcs.values():
        assert ext.check(page, src)["drawn"] >= 1, src
    return page, srcs


# ---- the tests -----------------------------------------------------------------------------------

def test_popup_and_options_pass_axe(ext, a11y_site, reference):
    from playwright.sync_api import expect

    faces = clear_faces(a11y_site, reference)
    page, srcs = checked_page(ext, a11y_site, faces, chip=False)
    popup = open_page(ext, ext.url(f"src/popup.html?tab={ext.tab_id(page)}"))
    expect(popup.locator("#results li")).to_have_count(2)
    assert_no_blocking(axe_violations(popup), "the popup")
    # The popup's live summary says what it found in the words of the results, not in codes.
    regions = " | ".join(popup.evaluate(LIVE_REGIONS_JS, False))
    for verdict in ("fake", "real"):
        assert HEADLINES[verdict].lower() in regions.lower(), \
            f"the popup's live region(s) do not say {HEADLINES[verdict]!r}: {regions!r}"

    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    assert_no_blocking(axe_violations(opts), "the options page")


def test_badges_pass_axe_with_details_open_and_a_chip(ext, a11y_site, reference):
    faces = clear_faces(a11y_site, reference)
    page, srcs = checked_page(ext, a11y_site, faces)
    open_details(page, srcs["fake"])
    assert_no_blocking(axe_violations(page), "a page with badges (details open, a chip)")

    # Every button of every badge, the chip's included, is big enough to hit.
    targets = read_badges(page, TARGETS_JS)
    assert {t["src"] for t in targets} == set(srcs.values()), targets
    small = [t for t in targets if t["width"] < MIN_TARGET_PX or t["height"] < MIN_TARGET_PX]
    assert not small, f"badge targets under {MIN_TARGET_PX}x{MIN_TARGET_PX} px: {small}"

    # The chip: compact, but a screen reader hears the same headline as on a big picture.
    chip = [b for b in badges(page) if b["src"] == srcs["chip"]]
    assert chip and chip[0]["verdict"] == "fake", chip
    words = headline("fake", chip[0]["p"])
    names = badge_names(page, srcs["chip"])
    assert any(words in n for n in names), \
        f"no button of the {CHIP_PX} px chip is named with {words!r}: {names}"


def test_live_region_receives_the_result(ext, a11y_site, reference):
    faces = clear_faces(a11y_site, reference)
    page = open_page(ext, f"{a11y_site.url}/a11y.html")
    first = show_image(page, faces["real"]["name"], 300)
    ext.check(page, first)
    read_badges(page, LIVE_REGIONS_JS, True)  # the regions in the page now (in badges too)
    second = show_image(page, faces["fake"]["name"], 300)
    ext.check(page, second)
    [b] = [x for x in badges(page) if x["src"] == second]
    words = headline(b["verdict"], b["p"])
    texts = page.evaluate(KEPT_REGIONS_JS)
    assert any(words in t for t in texts), \
        f"no live region that was already in the page received {words!r}; their texts: {texts!r}; " \
        f"all live regions now: {read_badges(page, LIVE_REGIONS_JS, False)!r}"


def test_colour_vision_math():
    # Neutral greys stay put under every simulation; pure red and green collapse under deuteranopia.
    for vision in ("normal", *MACHADO_2009):
        assert delta_e(seen_as((128, 128, 128), vision), seen_as((128, 128, 128), "normal")) < 1.0
    assert delta_e(lab(linear_rgb((255, 255, 255))), (100, 0, 0)) < 0.1
    assert delta_e(seen_as((200, 60, 40), "deuteranopia"), seen_as((110, 120, 40), "deuteranopia")) < \
        delta_e(seen_as((200, 60, 40), "normal"), seen_as((110, 120, 40), "normal")) / 2


def test_badge_colours_stay_apart_for_colour_blind_readers(ext, a11y_site, reference):
    faces = clear_faces(a11y_site, reference)
    page, srcs = checked_page(ext, a11y_site, faces, chip=False)
    colours = {c["verdict"]: c["background"] for c in read_badges(page, BACKGROUNDS_JS)}
    # Options whose band covers almost everything make a third copy read "Unsure" (and re-judge
    # the badges already drawn, hence the colours of the first two read before).
    ext.settings(threshold=0.99, unsureBand=0.98)
    mid = next(v for v in faces.values() if 0.01 < v["p"] < 0.99)
    srcs["unsure"] = show_image(page, mid["name"] + "?unsure", 300)
    ext.check(page, srcs["unsure"])
    colours["unsure"] = next(c["background"] for c in read_badges(page, BACKGROUNDS_JS)
                             if c["verdict"] == "unsure")
    assert {"fake", "real", "unsure"} <= set(colours) and all(colours.values()), colours
    rgb = {v: parse_rgb(colours[v]) for v in ("fake", "real", "unsure")}
    too_close = []
    for vision in ("normal", *MACHADO_2009):
        for a, b in itertools.combinations(rgb, 2):
            d = delta_e(seen_as(rgb[a], vision), seen_as(rgb[b], vision))
            if d < MIN_DELTA_E:
                too_close.append(f"{a} {colours[a]} vs {b} {colours[b]} under {vision}: deltaE {d:.1f}")
    assert not too_close, f"badge colours closer than deltaE {MIN_DELTA_E}: {too_close}"


def test_drop_page_passes_axe_and_announces_the_result(playwright_instance, page_server):
    import requests

    face = fixture_faces("fake")[0]
    api = requests.post(page_server.url + "/api/v1/predict", data=face.read_bytes(), timeout=60,
                        headers={"Content-Type": "image/jpeg"}).json()["results"][0]
    words = HEADLINES[api["verdict"]]
    browser = launch_chromium(playwright_instance)
    try:
        page = check_on_drop_page(browser, page_server.url, face)
        assert_no_blocking(axe_violations(page), "the drop page with a result")
        regions = page.evaluate(LIVE_REGIONS_JS, False)
        assert any(words.lower() in t.lower() for t in regions), \
            f"no live region of the drop page says {words!r}: {regions!r}"
    finally:
        browser.close()
