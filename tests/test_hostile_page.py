"""Every web page is hostile (issue #26, docs/security.md): a page can neither read what
the extension learnt nor press its buttons, and scan mode never follows a tab to another site.
Real Chromium, the built extension, and page scripts doing what an attacker's would.

- Reading: badges and the live region keep everything in closed shadow roots and carry no
  `data-facecheck-*` attribute, so a page script finds `shadowRoot === null` and nothing in the
  page's own DOM or text; a failed check's reason ("HTTP 404", "image too small: 12x12 pixels")
  never even reaches the page's process (the worker strips it), while the popup's row keeps it.
- Pressing: even with a handle on a badge's insides (tests.e2e.unseal gives the page one, as a
  browser bug might), a script's `click()`, a dispatched click or an Enter keydown does nothing;
  a real mouse click reports.
- Scan mode: turned on at 127.0.0.1:PORT, it stays on within that origin and is off once the tab
  goes to localhost:PORT (another origin): nothing injected there, nothing checked.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e import (
    HOSTS_JS,
    badges,
    click_in_badge,
    in_badge,
    open_page,
    popup_results,
    unseal,
    wait_settled,
)

pytestmark = pytest.mark.slow

PAGES = {
    # Two pages of one site (and, reached as localhost, of another).
    "/site-a.html": """<!doctype html><meta charset="utf-8"><title>A</title><body style="margin:8px">
<img src="/img/fake2.jpg" width="160" height="160"> <img src="/img/real2.jpg" width="160" height="160">
</body>""",
    "/site-a2.html": """<!doctype html><meta charset="utf-8"><title>A2</title><body style="margin:8px">
<img src="/img/fake3.jpg" width="160" height="160"></body>""",
}

# What a page script can get at about FaceCheck: its elements, their shadow roots and attributes,
# and every text the page can read (DOM text, rendered text, markup, a select-all).
SNOOP_JS = """() => {
  const ours = [...document.querySelectorAll('facecheck-badge, facecheck-live')];
  const attrs = [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name))
    .filter((n) => n.startsWith('data-facecheck'));
  const sel = getSelection();
  sel.selectAllChildren(document.documentElement);
  const selected = sel.toString();
  sel.removeAllRanges();
  const texts = [document.documentElement.innerText, document.documentElement.textContent,
    document.documentElement.outerHTML, selected, ...ours.map((h) => h.innerText + h.outerHTML)];
  return {tags: ours.map((h) => h.localName), roots: ours.map((h) => h.shadowRoot),
          attrs, text: texts.join('\\n')};
}"""

REPORTS_JS = "async () => (await chrome.storage.local.get('reports')).reports || []"


@pytest.fixture(scope="module")
def hostile(site):
    site.pages.update(PAGES)
    return site


def test_page_reads_nothing_and_failure_reasons_stay_in_the_popup(ext, hostile):
    page = open_page(ext, f"{hostile.url}/faces.html")
    fake = page.eval_on_selector("#fake", "i => i.currentSrc")
    broken = page.eval_on_selector("#broken", "i => i.src")  # a 404
    speck = page.eval_on_selector("#speck", "i => i.currentSrc")  # 12x12: too small
    for src in (fake, broken, speck):
        assert ext.check(page, src)["drawn"] == 1, src

    # The page's view (nothing unsealed in it yet): FaceCheck's elements, and nothing in them.
    seen = page.evaluate(SNOOP_JS)
    assert seen["tags"].count("facecheck-badge") == 3 and "facecheck-live" in seen["tags"], seen["tags"]
    assert seen["roots"] == [None] * len(seen["tags"]), "a page script reached a shadow root"
    assert seen["attrs"] == [], seen["attrs"]
    for secret in ("HTTP 404", "downloaded", "12x12", "too small", "Could not check",
                   "Likely generated", "Probability generated", "FaceCheck:"):
        assert secret not in seen["text"], f"the page can read {secret!r}"
    for secret in ("HTTP 404", "could not be downloaded", "12x12"):  # not even as rendered text
        assert not page.evaluate("(s) => { const hit = window.find(s); getSelection().removeAllRanges(); "
                                 "return hit; }", secret), secret

    # The popup's rows keep the reasons.
    rows = {r["src"]: r for r in popup_results(ext, page, speck)}
    assert "HTTP 404" in rows[broken]["reason"] and "12x12" in rows[speck]["reason"], rows

    # Inside the badges (as the tests see them): generic words, and where to read why.
    found = {b["src"]: b for b in badges(page)}
    assert "Could not check" in found[broken]["text"], found[broken]
    for src in (broken, speck):
        assert "FaceCheck popup" in found[src]["detail"], found[src]
        assert "404" not in found[src]["detail"] and "12x12" not in found[src]["detail"], found[src]


def test_the_worker_sends_no_reason_to_the_page(ext, hostile):
    """deliver(), the one way results go to a page: what it sends has no reason and no thumbnail."""
    page = open_page(ext, f"{hostile.url}/site-a.html")
    sent = ext.worker.evaluate("""async (tabId) => {
        const why = new Error('the image could not be downloaded (HTTP 401)');
        const view = FaceCheckSettings.describeError(why, 'browser');
        view.thumb = 'data:image/jpeg;base64,AAAA';
        const real = chrome.tabs.sendMessage;
        const sent = [];
        chrome.tabs.sendMessage = async (t, message) => { sent.push(message); return {drawn: 1}; };
        try { await deliver(tabId, 0, 'http://127.0.0.1:9/private.jpg', view); }
        finally { chrome.tabs.sendMessage = real; }
        return sent;
    }""", ext.tab_id(page))
    assert len(sent) == 1 and sent[0]["type"] == "facecheck-result", sent
    view = sent[0]["view"]
    assert "reason" not in view and "thumb" not in view and "401" not in str(sent), view
    assert view["verdict"] == "error" and view["label"] == "Could not check", view


# A page script with a handle on the badge's insides: every way a script presses a button.
PRESS_JS = """([src, sel]) => {
  const {box} = HOSTS.find(({box}) => box && box.dataset.src === src);
  const el = box.querySelector(sel);
  el.click();
  el.dispatchEvent(new MouseEvent('click', {bubbles: true, composed: true, cancelable: true}));
  for (const type of ['keydown', 'keypress', 'keyup']) {
    el.dispatchEvent(new KeyboardEvent(type, {key: 'Enter', code: 'Enter', bubbles: true, composed: true,
                                              cancelable: true}));
  }
}""".replace("HOSTS", HOSTS_JS)

STATE_JS = """(r) => ({expanded: r.querySelector('.main').getAttribute('aria-expanded'),
  report: r.querySelector('.report').disabled, status: r.querySelector('.report-status').textContent,
  tech: r.querySelector('.detail details').open})"""


def test_page_scripts_cannot_press_a_badge(ext, hostile):
    page = open_page(ext, f"{hostile.url}/faces.html")
    src = page.eval_on_selector("#fake", "i => i.currentSrc")
    ext.check(page, src)
    unseal(page)  # the attacker's hypothetical handle
    for sel in (".main", ".detail summary", ".report", ".close"):
        page.evaluate(PRESS_JS, [src, sel])
    time.sleep(0.5)  # (a report is saved within milliseconds)
    assert ext.worker.evaluate(REPORTS_JS) == []
    assert page.locator("facecheck-badge").count() == 1, "a script's click on x removed the badge"
    untouched = {"expanded": "false", "report": False, "status": "", "tech": False}
    assert in_badge(page, src, STATE_JS) == untouched

    # A person: the mouse opens the details and reports.
    click_in_badge(page, src, ".main")
    assert in_badge(page, src, STATE_JS)["expanded"] == "true"
    click_in_badge(page, src, ".report")
    deadline = time.time() + 5
    while not (reports := ext.worker.evaluate(REPORTS_JS)) and time.time() < deadline:
        time.sleep(0.05)
    assert len(reports) == 1 and reports[0]["imageUrl"] == src, reports


def test_page_scripts_cannot_rewrite_a_badge(ext, hostile):
    page = open_page(ext, f"{hostile.url}/faces.html")
    src = page.eval_on_selector("#fake", "i => i.currentSrc")
    view = ext.check(page, src)["view"]
    said = {f["label"] for f in view["faces"]} or {view["label"]}
    tried = page.evaluate("""() => {
        const host = document.querySelector('facecheck-badge');
        const out = [];
        try { host.attachShadow({mode: 'open'}); out.push('attached'); } catch (e) { out.push(e.name); }
        host.textContent = 'Likely real';
        host.setAttribute('data-facecheck-verdict', 'real');
        out.push(host.shadowRoot === null);
        return out;
    }""")
    assert tried == ["NotSupportedError", True], tried
    # Light-DOM text in a host without slots is never shown; the badge still says what it said.
    words = in_badge(page, src, "(r) => r.querySelector('.words').textContent")
    assert words in said and "Likely real" not in words, (words, said)
    shown = page.evaluate("() => document.querySelector('facecheck-badge').getBoundingClientRect().width")
    assert shown > 0


def scan_state(ext, tab: int) -> dict | None:
    return ext.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k]", f"scan:{tab}")


def test_scan_mode_stays_on_its_site(ext, hostile):
    page = open_page(ext, f"{hostile.url}/site-a.html")
    tab = ext.tab_id(page)
    popup = open_page(ext, ext.url(f"src/popup.html?tab={tab}"))
    popup.wait_for_selector("body[data-ready]")
    popup.click("#scan")  # the user turns scan mode on, on site A
    page.bring_to_front()
    wait_settled(page, 2)
    assert scan_state(ext, tab)["site"] == hostile.url

    # Another page of site A: scan mode is still on there.
    page.goto(f"{hostile.url}/site-a2.html")
    wait_settled(page, 1)
    assert scan_state(ext, tab)["on"] is True

    # Site B (the same server as localhost: another origin): off, nothing injected, nothing checked.
    page.goto(f"{hostile.other}/site-a.html")
    page.wait_for_load_state("load")
    time.sleep(1.5)  # time enough for the worker to have injected the scanner, had it wanted to
    assert page.evaluate("() => document.querySelectorAll('facecheck-badge, facecheck-live').length") == 0
    state = scan_state(ext, tab)
    assert state["on"] is False and state["site"] == hostile.other, state
    assert popup_results(ext, page, timeout=0.5) == []
    popup.reload()
    popup.wait_for_selector("body[data-ready]")
    assert popup.get_attribute("#scan", "aria-pressed") == "false"

    # The option "scan every page" still turns it on for any new page, site B's included.
    ext.settings(scanByDefault=True)
    page.goto(f"{hostile.url}/site-a2.html")
    page.goto(f"{hostile.other}/site-a2.html")
    wait_settled(page, 1)
