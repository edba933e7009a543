"""What a page scan counts as a picture (Playwright, real Chromium, the built extension): a CSS
background picture is checked like an <img> (its badge drawn on its element), a srcset switch is
the same picture (checked and counted once), a picture that failed to load is counted as broken
and never checked, and scan mode turned off takes its badges away (turned on again, it checks
again).

Scan mode is turned on and off as the popup and the keyboard shortcut do (the worker's
toggleScan); the worker's state is read from chrome.storage.session as the popup reads it.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e import HOSTS_JS, TOL_P, badges, open_page, popup_results, wait_badges, wait_settled

pytestmark = pytest.mark.slow

PAGES = {
    # Pictures as CSS backgrounds: a face (under a transparent gradient layer), one too small to
    # check, a gradient only, an invisible one, and one inside an element that is not displayed.
    "/scan-bg.html": """<!doctype html><meta charset="utf-8"><title>backgrounds</title>
<body style="margin:8px">
<div id="bg" role="img" aria-label="a face" style="width:300px; height:300px;
  background: linear-gradient(#0000, #0000), url('/img/fake0.jpg') center / cover no-repeat"></div>
<div id="small" style="width:30px; height:30px; background-image:url(/img/real0.jpg)"></div>
<div id="gradient" style="width:300px; height:300px; background-image:linear-gradient(red, blue)"></div>
<div id="invisible" style="width:300px; height:300px; background-image:url(/img/fake1.jpg);
  visibility:hidden"></div>
<div style="display:none">
  <div style="width:300px; height:300px; background-image:url(/img/real1.jpg)"></div></div>
</body>""",
    # One picture in two sizes: a viewport under 500 px wide shows the 150 px candidate, a wider one
    # the 300 px candidate (the <img> is 150 px wide either way).
    "/scan-srcset.html": """<!doctype html><meta charset="utf-8"><title>srcset</title>
<body style="margin:8px">
<img id="pic" src="/img/srcset-300.jpg" srcset="/img/srcset-150.jpg 150w, /img/srcset-300.jpg 300w"
     sizes="(max-width: 500px) 150px, 300px" width="150" height="150" alt="one picture, two sizes">
</body>""",
    # Two pictures that never load (missing, not a picture) and a face that does.
    "/scan-broken.html": """<!doctype html><meta charset="utf-8"><title>broken</title>
<body style="margin:8px">
<img id="missing" src="/img/missing.png" width="120" height="120" alt="a missing picture">
<img id="corrupt" src="/img/corrupt.jpg" width="120" height="120" alt="a corrupt picture">
<img id="face" src="/img/real3.jpg" width="160" height="160" alt="a face">
</body>""",
    "/scan-off.html": """<!doctype html><meta charset="utf-8"><title>off</title>
<body style="margin:8px">
<img src="/img/fake2.jpg" width="160" height="160" alt="one">
<img src="/img/real2.jpg" width="160" height="160" alt="two">
</body>""",
}


@pytest.fixture(scope="module")
def pages(site):
    site.pages.update(PAGES)
    return site


def scan_state(ext, page) -> dict:
    key = f"scan:{ext.tab_id(page)}"
    return ext.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k]", key) or {}


def frames_total(state: dict, field: str) -> int | None:
    """A per-frame count of the scan state ({frameId: n}), summed; None before any frame told."""
    counts = state.get(field)
    return None if counts is None else sum(counts.values())


def wait_state(ext, page, what: str, ok, timeout: float = 10.0) -> dict:
    """The tab's scan state once `ok(state)` holds."""
    deadline = time.time() + timeout
    while not ok(state := scan_state(ext, page)):
        assert time.time() < deadline, f"timed out waiting for {what}: {state}"
        time.sleep(0.05)
    return state


def scan_on(ext, page) -> int:
    tab = ext.tab_id(page)
    assert ext.worker.evaluate(f"toggleScan({tab})")["on"] is True
    return tab


def settle(seconds: float = 1.0) -> None:
    """Time for anything the scanner would still send: a sweep (150 ms after a change), a check."""
    time.sleep(seconds)


def names(rows: list[dict]) -> list[str]:
    return sorted(r["src"].rsplit("/", 1)[1] for r in rows)


# ---- CSS background pictures ---------------------------------------------------------------------

def test_background_picture_is_checked(ext, pages, reference):
    page = open_page(ext, f"{pages.url}/scan-bg.html")
    scan_on(ext, page)
    src = f"{pages.url}/img/fake0.jpg"
    state = wait_state(ext, page, "the small background counted", lambda s: frames_total(s, "skipped") == 1)
    [row] = popup_results(ext, page, src, timeout=60)
    assert row["src"] == src, row
    [face] = reference(src)["faces"]
    assert abs(row["p_fake"] - face["p_fake"]) <= TOL_P, (row, face)
    settle()
    # Only the face: not the gradient, nor the hidden and undisplayed ones, nor the small one.
    assert names(popup_results(ext, page)) == ["fake0.jpg"]
    assert scan_state(ext, page)["images"] == 1, state


def test_background_picture_gets_its_badge(ext, pages):
    page = open_page(ext, f"{pages.url}/scan-bg.html")
    scan_on(ext, page)
    src = f"{pages.url}/img/fake0.jpg"
    wait_settled(page, 1)
    found = [b for b in badges(page) if b["src"] == src]
    assert found and all(b["verdict"] != "pending" for b in found), badges(page)
    div = page.eval_on_selector("#bg", "d => d.getBoundingClientRect().toJSON()")
    for b in found:  # on its element
        r = b["rect"]
        assert div["x"] - 1 <= r["x"] and r["x"] + r["width"] <= div["x"] + div["width"] + 1, (b, div)


# ---- srcset --------------------------------------------------------------------------------------

def test_srcset_switch_is_checked_once(ext, pages):
    page = ext.ctx.new_page()
    page.set_viewport_size({"width": 400, "height": 600})
    page.goto(f"{pages.url}/scan-srcset.html")
    page.wait_for_function("() => document.querySelector('#pic').currentSrc.endsWith('srcset-150.jpg')")
    scan_on(ext, page)
    first = f"{pages.url}/img/srcset-150.jpg"
    assert names(popup_results(ext, page, first, timeout=60)) == ["srcset-150.jpg"]

    # A wider window: the browser shows the 300 px candidate. The same picture: not sent again.
    page.set_viewport_size({"width": 900, "height": 600})
    page.wait_for_function("() => document.querySelector('#pic').currentSrc.endsWith('srcset-300.jpg')")
    page.wait_for_function("() => document.querySelector('#pic').complete")
    settle()
    assert names(popup_results(ext, page)) == ["srcset-150.jpg"]
    assert scan_state(ext, page)["images"] == 1

    # The page puts another picture in the same <img>: that one is new, and checked.
    page.eval_on_selector("#pic", "i => { i.srcset = '/img/fake3.jpg 150w'; }")
    assert names(popup_results(ext, page, f"{pages.url}/img/fake3.jpg", timeout=60)) == \
        ["fake3.jpg", "srcset-150.jpg"]
    assert scan_state(ext, page)["images"] == 2


def test_srcset_switch_keeps_its_badge(ext, pages):
    page = ext.ctx.new_page()
    page.set_viewport_size({"width": 400, "height": 600})
    page.goto(f"{pages.url}/scan-srcset.html")
    page.wait_for_function("() => document.querySelector('#pic').currentSrc.endsWith('srcset-150.jpg')")
    scan_on(ext, page)
    wait_settled(page, 1)
    page.set_viewport_size({"width": 900, "height": 600})
    page.wait_for_function("() => document.querySelector('#pic').currentSrc.endsWith('srcset-300.jpg')")
    settle()
    assert [b["src"].rsplit("/", 1)[1] for b in badges(page)] == ["srcset-150.jpg"]


# ---- broken pictures -----------------------------------------------------------------------------

def test_broken_pictures_are_counted_not_checked(ext, pages):
    page = open_page(ext, f"{pages.url}/scan-broken.html")
    scan_on(ext, page)
    wait_settled(page, 1)
    wait_state(ext, page, "two broken pictures", lambda s: frames_total(s, "broken") == 2)
    settle()
    assert names(popup_results(ext, page)) == ["real3.jpg"]
    state = scan_state(ext, page)
    assert state["images"] == 1 and frames_total(state, "skipped") == 0, state
    assert [b["src"].rsplit("/", 1)[1] for b in badges(page)] == ["real3.jpg"]

    # The page mends one (another address that loads): it is checked, and no longer broken.
    page.eval_on_selector("#missing", "i => { i.src = '/img/fake5.jpg'; }")
    wait_state(ext, page, "one broken picture left", lambda s: frames_total(s, "broken") == 1)
    assert "fake5.jpg" in names(popup_results(ext, page, f"{pages.url}/img/fake5.jpg", timeout=60))


# ---- scan mode off -------------------------------------------------------------------------------

def test_scan_off_removes_badges_and_on_checks_again(ext, pages):
    page = open_page(ext, f"{pages.url}/scan-off.html")
    tab = scan_on(ext, page)
    wait_settled(page, 2)
    assert ext.worker.evaluate(f"toggleScan({tab})") == {"on": False}
    wait_badges(page, f"() => {HOSTS_JS}.length === 0", None, 5000, "no badge left")
    settle()
    assert badges(page) == []  # and none comes back

    # On again: both pictures are checked again (the worker counts them for this scan).
    scan_on(ext, page)
    wait_settled(page, 2)
    wait_state(ext, page, "both sent again", lambda s: s.get("images") == 2)
