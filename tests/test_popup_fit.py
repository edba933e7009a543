"""End-to-end tests of the popup after a scan of many pictures (Playwright, the built extension in
real Chromium): it stays within Chrome's 600 px cap with one scroll area (the results list, the
controls above it fixed), and it says how far a running scan is ("Checking 12 of 30").

The popup is opened as a page, `popup.html?tab=ID`, as tests/test_popup_options.py does; its
natural size is measured in a window taller than Chrome's cap, so nothing but its own CSS keeps
it within 600 px.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.e2e import open_page, wait_settled

pytestmark = pytest.mark.slow

N = 30  # pictures on the page: a popup list far longer than fits


def many_page(site, name: str, n: int, slow: float = 0.0, size: int = 60) -> str:
    """A page of `n` distinct pictures (copies of the fixture faces under their own names), all
    in view at once; each served `slow` seconds late (a scan that takes a while)."""
    folder = site.folder
    for i in range(n):
        base = f"{'fake' if i % 2 else 'real'}{(i // 2) % 8}.jpg"
        copy = folder / f"{name}-{i}.jpg"
        if not copy.exists():
            shutil.copy(folder / base, copy)
    query = f"?slow={slow}" if slow else ""
    imgs = "\n".join(f'<img src="/img/{name}-{i}.jpg{query}" width="{size}" height="{size}">'
                     for i in range(n))
    site.pages[f"/{name}.html"] = (f'<!doctype html><meta charset="utf-8"><title>{name}</title>'
                                   f'<body style="margin:8px">\n{imgs}\n</body>')
    return f"{site.url}/{name}.html"


def open_popup(ext, page, height: int = 900):
    popup = open_page(ext, ext.url(f"src/popup.html?tab={ext.tab_id(page)}"))
    popup.set_viewport_size({"width": 400, "height": height})
    popup.wait_for_selector("body[data-ready]")
    return popup


def scan_state(ext, page) -> dict:
    key = f"scan:{ext.tab_id(page)}"
    return ext.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k] || null", key)


# Elements that scroll (content taller than the box, and overflow that lets it scroll), the
# document itself included when it is taller than the window.
SCROLLERS_JS = """() => {
  const out = [];
  const root = document.scrollingElement;
  if (root.scrollHeight > innerHeight + 1) out.push('document');
  for (const e of document.querySelectorAll('body *')) {
    const s = getComputedStyle(e);
    const name = e.id || e.localName;
    if (/(auto|scroll)/.test(s.overflowY) && e.scrollHeight > e.clientHeight + 1) out.push(name);
    if (/(auto|scroll)/.test(s.overflowX) && e.scrollWidth > e.clientWidth + 1) out.push(name + ':x');
  }
  return out;
}"""


def test_popup_fits_600px_with_one_scroll_area(ext, site):
    from playwright.sync_api import expect

    page = open_page(ext, many_page(site, "fit", N))
    ext.worker.evaluate(f"toggleScan({ext.tab_id(page)})")
    wait_settled(page, N)
    popup = open_popup(ext, page)
    expect(popup.locator("#results li")).to_have_count(N, timeout=10000)
    # Open a few rows' technical details too: the list grows, the popup does not.
    for i in range(3):
        popup.locator("#results details").nth(i).locator("summary").click()
    height = popup.evaluate("document.documentElement.getBoundingClientRect().height")
    assert height <= 600, height
    # Nothing cut off to get there: the body's content fits the body.
    clipped = popup.evaluate("document.body.scrollHeight - document.body.clientHeight")
    assert clipped <= 1, clipped
    assert popup.evaluate(SCROLLERS_JS) == ["results"]
    # The controls stay put while the list scrolls; the footer (Options) stays in view.
    before = popup.locator("#scan").bounding_box()
    popup.locator("#results").evaluate("(ul) => { ul.scrollTop = ul.scrollHeight; }")
    assert popup.locator("#scan").bounding_box() == before
    footer = popup.locator("#options").bounding_box()
    assert footer and footer["y"] + footer["height"] <= 600, footer
    # In a window of exactly Chrome's cap, no scrollbar but the list's either.
    popup.set_viewport_size({"width": 400, "height": 600})
    assert popup.evaluate(SCROLLERS_JS) == ["results"]


# Records every text the popup's progress line shows, with whether it is shown.
RECORD_PROGRESS_JS = """() => {
  window.__seen = [];
  const p = document.getElementById('progress');
  const note = () => window.__seen.push(p.hidden ? '' : p.textContent);
  note();
  new MutationObserver(note).observe(p, {childList: true, characterData: true, subtree: true,
    attributes: true});
}"""


def test_popup_shows_progress_while_scanning(ext, site):
    from playwright.sync_api import expect

    url = many_page(site, "progress", N, slow=0.08)
    page = open_page(ext, url)
    popup = open_popup(ext, page)
    popup.evaluate(RECORD_PROGRESS_JS)
    expect(popup.locator("#progress")).to_be_hidden()
    ext.worker.evaluate(f"toggleScan({ext.tab_id(page)})")
    page.bring_to_front()
    wait_settled(page, N, timeout_ms=90000)
    expect(popup.locator("#progress")).to_be_hidden(timeout=10000)
    expect(popup.locator("#summary")).to_have_text(f"{N} checked.")
    state = scan_state(ext, page)
    assert state["images"] == N and state["done"] == N, state

    seen = [s for s in popup.evaluate("window.__seen") if s]
    shown = [re.fullmatch(r"Checking (\d+) of (\d+)…", s) for s in seen]
    counts = [tuple(map(int, m.groups())) for m in shown if m]
    assert counts and len(counts) == len(seen), seen
    assert all(done < sent <= N for done, sent in counts), counts
    # Shown while the scan ran: it went up, and got well along before it was done.
    dones = [d for d, _ in counts]
    assert dones == sorted(dones) and max(dones) >= N // 2, counts
