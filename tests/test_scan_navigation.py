"""End-to-end tests of a page scan that follows the page and the options (Playwright, the built
extension in real Chromium): a navigation in the middle of a scan stops it, and the popup lists
and counts only the new page; a threshold changed in the options words the popup's rows again
(no model run) and asks every tab to redraw its badges with the two band settings only; images
that could not be loaded are counted in the popup.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e import open_page, popup_results, wait_settled
from tests.test_popup_fit import many_page, open_popup, scan_state

pytestmark = pytest.mark.slow


def test_navigation_mid_scan_lists_only_the_new_page(ext, site):
    from playwright.sync_api import expect

    old = many_page(site, "navold", 40, slow=0.1)
    new = many_page(site, "navnew", 3)
    page = open_page(ext, old)
    tab = ext.tab_id(page)
    ext.worker.evaluate(f"toggleScan({tab})")
    # Well into the old page's scan (it takes seconds: every picture is served 0.1 s late).
    deadline = time.time() + 20
    while not ((scan_state(ext, page) or {}).get("images", 0) >= 10):
        assert time.time() < deadline, scan_state(ext, page)
        time.sleep(0.05)
    time.sleep(0.3)
    assert (scan_state(ext, page) or {}).get("done", 0) < 40  # still running
    page.goto(new)
    page.wait_for_load_state("load")
    wait_settled(page, 3)
    time.sleep(2)  # long enough for the old page's queue to have reached the popup, were it kept
    rows = popup_results(ext, page)
    assert sorted(r["src"].rsplit("/", 1)[1] for r in rows) == [f"navnew-{i}.jpg" for i in range(3)], \
        [r["src"] for r in rows]
    state = scan_state(ext, page)
    assert state["on"] and state["images"] == 3 and state["done"] == 3, state
    popup = open_popup(ext, page)
    expect(popup.locator("#results li")).to_have_count(3)
    expect(popup.locator("#summary")).to_have_text("3 checked.")
    expect(popup.locator("#progress")).to_be_hidden()


def test_fragment_change_mid_scan_keeps_the_scan(ext, site):
    """Chrome reports a move to another #fragment as loading too: the same document, its scan
    goes on, and every picture is still checked and listed."""
    page = open_page(ext, many_page(site, "navhash", 20, slow=0.1))
    ext.worker.evaluate(f"toggleScan({ext.tab_id(page)})")
    deadline = time.time() + 20
    while not ((scan_state(ext, page) or {}).get("images", 0) >= 10):
        assert time.time() < deadline, scan_state(ext, page)
        time.sleep(0.05)
    page.evaluate("location.hash = 'further'")
    wait_settled(page, 20)
    deadline = time.time() + 5  # (rows and counts are saved in batches)
    while ((rows := len(popup_results(ext, page))) < 20 or (state := scan_state(ext, page))["done"] < 20) \
            and time.time() < deadline:
        time.sleep(0.05)
    assert rows == 20
    assert state["images"] == 20 and state["done"] == 20, state


# Spies on the messages the worker sends to tabs (chrome.tabs.sendMessage), for the test below.
SPY_JS = """() => {
  self.__sent = [];
  if (!self.__origSend) self.__origSend = chrome.tabs.sendMessage;
  chrome.tabs.sendMessage = (...args) => { self.__sent.push(JSON.parse(JSON.stringify(args.slice(0, 2))));
    return self.__origSend.apply(chrome.tabs, args); };
}"""
UNSPY_JS = "() => { if (self.__origSend) chrome.tabs.sendMessage = self.__origSend; }"


def row_texts(popup) -> list[str]:
    return popup.locator("#results li button.show .verdict").all_inner_texts()


def test_threshold_change_rewords_popup_rows_and_asks_tabs(ext, site):
    from playwright.sync_api import expect

    page = open_page(ext, f"{site.url}/scan.html")
    tab = ext.tab_id(page)
    ext.settings(serverToken="secret-token-123")
    ext.worker.evaluate(f"toggleScan({tab})")
    wait_settled(page, 9)
    popup = open_popup(ext, page)
    expect(popup.locator("#results li")).to_have_count(9)
    rows = popup_results(ext, page)
    judged = [r for r in rows if isinstance(r["p_fake"], float | int)]
    fakes = sorted(r["p_fake"] for r in judged if r["verdict"] == "fake")
    assert fakes and fakes[0] < 0.98, judged
    try:
        ext.worker.evaluate(SPY_JS)
        # A threshold just above the least sure "Likely generated": that row (at least) flips.
        threshold = round(fakes[0] + 0.0001, 6)
        ext.settings(threshold=threshold, unsureBand=0)  # as the options page saves them
        want = sum(r["p_fake"] >= threshold for r in judged)
        assert want < len(fakes)
        expect(popup.locator("#results li .verdict.fake")).to_have_count(want)
        texts = row_texts(popup)
        assert texts.count("Likely real") == len(judged) - want and "Unsure" not in texts, texts
        # Back to the model's own: the rows say what the scan said, from the same probabilities.
        ext.settings(threshold=None, unsureBand=None)
        expect(popup.locator("#results li .verdict.fake")).to_have_count(len(fakes))
        sent = ext.worker.evaluate("() => self.__sent")
    finally:
        ext.worker.evaluate(UNSPY_JS)
    rejudge = [m for _, m in sent if m.get("type") == "facecheck-rejudge"]
    assert {"type": "facecheck-rejudge", "band": {"threshold": threshold, "unsureBand": 0}} in rejudge, sent
    assert {"type": "facecheck-rejudge", "band": {"threshold": None, "unsureBand": None}} in rejudge, sent
    assert tab in [t for t, m in sent if m.get("type") == "facecheck-rejudge"]
    assert "secret-token-123" not in repr(sent)
    # The technical details say the band now in force.
    ext.settings(threshold=threshold, unsureBand=0.2)
    expect(popup.locator("#results li .verdict.unsure")).not_to_have_count(0)
    details = popup.locator("#results li details").first
    details.locator("summary").click()
    text = details.inner_text()
    assert "(from your options)" in text and "(your band)" in text, text


SEND_SCAN_JS = """async ([tabId, message]) => (await chrome.scripting.executeScript({
    target: {tabId}, args: [message],
    func: (m) => chrome.runtime.sendMessage(m)}))[0].result"""


def test_broken_images_counted_in_popup(ext, site):
    from playwright.sync_api import expect

    page = open_page(ext, many_page(site, "brokencount", 2))
    tab = ext.tab_id(page)
    ext.worker.evaluate(f"toggleScan({tab})")
    wait_settled(page, 2)
    # What scanner.js reports for a frame with two pictures that failed to load.
    message = {"type": "facecheck-scan-images", "srcs": [], "skipped": 0, "broken": 2, "minSize": 48}
    assert ext.worker.evaluate(SEND_SCAN_JS, [tab, message]) == {"queued": 0}
    popup = open_popup(ext, page)
    expect(popup.locator("#summary")).to_have_text("2 checked, 2 could not be loaded (broken images).")
    assert scan_state(ext, page)["broken"] == {"0": 2}
    # Nonsense counts are not kept.
    bad = {**message, "broken": -1}
    ext.worker.evaluate(SEND_SCAN_JS, [tab, bad])
    assert scan_state(ext, page)["broken"] == {"0": 2}
