"""End-to-end tests of the popup and the options page (Playwright, the built extension in real
Chromium): what a page scan skips and says, "Include small images", result rows in plain words
that show their image in the page, "This is wrong" reports (stored by the service worker, listed,
exported as CSV and deleted by the options page), percentages in the options, and accessibility
(axe-core's WCAG 2.2 AA rules, keyboard reach and visible focus).

The popup is opened as a page, `popup.html?tab=ID`, as tests/test_extension.py does.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from facecheck import wording
from tests.e2e import badges, open_page, wait_settled
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

AXE = ROOT / "extension" / "node_modules" / "axe-core" / "axe.min.js"

# 3 faces at 160 px; avatars at 40 and 30 px (under the default 48); a 12 px picture shown at
# 20 px (checked only with "Include small images", and then too small to judge); a picture at
# 10 px (under the model's own min_side of 16: never checked).
AVATARS = """<!doctype html><meta charset="utf-8"><title>avatars</title><body style="margin:8px">
<img class="face" src="/img/fake2.jpg" width="160" height="160">
<img class="face" src="/img/real2.jpg" width="160" height="160">
<img class="face" src="/img/fake3.jpg" width="160" height="160">
<p><img class="a40" src="/img/fake4.jpg" width="40" height="40">
<img class="a40" src="/img/real4.jpg" width="40" height="40">
<img class="a30" src="/img/fake5.jpg" width="30" height="30">
<img class="a30" src="/img/real5.jpg" width="30" height="30">
<img id="speck" src="/img/speck.jpg" width="20" height="20">
<img id="dot" src="/img/tiny.jpg" width="10" height="10"></p>
</body>"""


@pytest.fixture(scope="module")
def avatars(site):
    site.pages["/avatars.html"] = AVATARS
    return f"{site.url}/avatars.html"


def open_popup(ext, page):
    """The popup for `page`'s tab, opened as a page."""
    popup = open_page(ext, ext.url(f"src/popup.html?tab={ext.tab_id(page)}"))
    popup.wait_for_selector("body[data-ready]")
    return popup


def settled(page, n: int, timeout_ms: int = 60000):
    """Wait until badges of at least `n` images are drawn and none is pending."""
    wait_settled(page, n, timeout_ms)


def name_of(src: str) -> str:
    return src.rsplit("/", 1)[1]


def stored_results(ext, page) -> list[dict]:
    key = f"results:{ext.tab_id(page)}"
    return ext.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k] || []", key)


def test_scan_counts_skipped_and_includes_small(ext, avatars):
    from playwright.sync_api import expect

    page = open_page(ext, avatars)
    popup = open_popup(ext, page)
    expect(popup.locator("#hint")).to_contain_text("Checks every visible image at least 48 px on a side")
    popup.click("#scan")
    page.bring_to_front()
    settled(page, 3)
    assert sorted({name_of(b["src"]) for b in badges(page)}) == ["fake2.jpg", "fake3.jpg", "real2.jpg"]
    summary = popup.locator("#summary")
    expect(summary).to_have_text("3 checked, 6 skipped (smaller than 48 px on a side).")

    # For this scan only, the skipped ones too, down to the model's own smallest picture.
    min_side = ext.worker.evaluate("async () => (await FaceCheckInference.contract()).min_side")
    assert min_side == 16
    popup.locator("#include-small").click()
    expect(popup.locator("#include-small")).to_be_hidden()
    settled(page, 8)
    found = {name_of(b["src"]): b for b in badges(page)}
    assert {"fake4.jpg", "real4.jpg", "fake5.jpg", "real5.jpg", "speck.jpg"} <= set(found), sorted(found)
    assert "tiny.jpg" not in found  # shown at 10 px: under the model's min_side, never checked
    assert found["speck.jpg"]["verdict"] == "too-small" and "Too small to judge" in found["speck.jpg"]["text"]
    expect(summary).to_have_text("8 checked, 1 skipped (smaller than 16 px on a side).")

    # Scan mode off and on again: the options' minimum is back (what was checked stays checked).
    popup.click("#scan")
    expect(popup.locator("#scan")).to_have_attribute("aria-pressed", "false")
    expect(summary).to_have_text("8 checked.")
    popup.click("#scan")
    expect(summary).to_have_text("8 checked, 1 skipped (smaller than 48 px on a side).")
    expect(popup.locator("#include-small")).to_be_visible()


def test_popup_rows_in_plain_words_show_their_image(ext, site):
    from playwright.sync_api import expect

    page = open_page(ext, f"{site.url}/scan.html")
    ext.worker.evaluate(f"toggleScan({ext.tab_id(page)})")
    settled(page, 9)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the lazy ones load
    settled(page, 13)
    page.evaluate("window.scrollTo(0, 0)")
    popup = open_popup(ext, page)
    rows = popup.locator("#results li")
    expect(rows).to_have_count(13)
    results = stored_results(ext, page)  # newest first, as the rows
    texts = rows.locator("button.show").all_inner_texts()
    for r, text in zip(results, texts, strict=True):
        assert r["p_fake"] is not None, r
        # The same words as the Python side (facecheck/wording.py) and settings.js.
        # (The probability says what it means under the band in force.)
        want = [wording.headline(r["verdict"], r["p_fake"]),
                wording.probability_text(r["p_fake"], r["threshold"], r["unsureFrom"])]
        js = popup.evaluate("([v, p, threshold, unsureFrom]) => [FaceCheckSettings.headline(v, p), "
                            "FaceCheckSettings.probabilityText(p, {threshold, unsureFrom})]",
                            [r["verdict"], r["p_fake"], r["threshold"], r["unsureFrom"]])
        assert js == want and text.split("\n")[:2] == want, (text, want)
    expect(popup.locator("#scope")).to_have_text(wording.SCOPE)
    assert popup.locator("text=FaceCheck judges faces").count() == 1  # the scope once, not per row

    # The numbers behind a verdict, one step away.
    first = rows.nth(0)
    detail = first.locator("details")
    assert not detail.locator("p").first.is_visible()
    detail.locator("summary").click()
    detail_text = detail.inner_text()
    assert re.search(r"Threshold: \d+(\.\d+)?% \(the model's\)", detail_text), detail_text
    # The unsure band too (the shipped model has one).
    band = r"Unsure from \d+(\.\d+)?% up to the threshold \(the model's band\)"
    assert re.search(band, detail_text), detail_text
    version = ext.worker.evaluate("async () => (await FaceCheckInference.contract()).model_version")
    assert f"Model: {version}" in detail_text
    assert "Checked in this browser" in detail_text and f"Image: {results[0]['src']}" in detail_text

    # Activating a row brings its image into view: from the keyboard, then with a click.
    in_view = """(n) => { const r = document.querySelector(`img[src$="/${n}"]`).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight; }"""
    assert page.evaluate(in_view, "fake6.jpg") is False
    lazy = [i for i, r in enumerate(results) if r["src"].endswith("/fake6.jpg")][0]
    rows.nth(lazy).locator("button.show").focus()
    popup.keyboard.press("Enter")
    page.wait_for_function(in_view, arg="fake6.jpg", timeout=5000)
    assert page.evaluate("scrollY") > 1000
    top = [i for i, r in enumerate(results) if r["src"].endswith("/fake2.jpg")][0]
    rows.nth(top).locator("button.show").click()
    page.wait_for_function(in_view, arg="fake2.jpg", timeout=5000)
    # An image that left the page: the popup says so.
    page.evaluate("document.querySelector('img[src$=\"/real7.jpg\"]').remove()")
    gone = [i for i, r in enumerate(results) if r["src"].endswith("/real7.jpg")][0]
    rows.nth(gone).locator("button.show").click()
    expect(popup.locator("#show-status")).to_have_text("That image is no longer on the page.")


SEND_FROM_PAGE = """async ([tabId, reports]) => (await chrome.scripting.executeScript({
    target: {tabId}, args: [reports],
    func: async (rs) => { const out = [];
      for (const report of rs) out.push(await chrome.runtime.sendMessage({type: 'facecheck-report', report}));
      return out; }}))[0].result"""

CSV_HEADER = ["time", "image_url", "page_url", "verdict", "p_fake", "model_version", "face"]


def stored_reports(ext) -> list[dict]:
    return ext.worker.evaluate("async () => (await chrome.storage.local.get('reports')).reports || []")


def check_reports_csv(opts, reports: list[dict]) -> None:
    """The options page's CSV of `reports`, as built and as downloaded."""
    text = opts.evaluate("(rs) => FaceCheckOptions.reportsCsv(rs)", reports)
    assert text.endswith("\r\n")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == CSV_HEADER
    assert parsed[1:] == [[r["time"], r["imageUrl"], r["pageUrl"], r["verdict"],
                           "" if r["p_fake"] is None else f"{r['p_fake']:.4f}", r["modelVersion"],
                           "2/3" if r.get("face") else ""]
                          for r in reports]
    assert parsed[1][4] == "0.9731" and parsed[2][4] == ""
    odd_url = reports[0]["imageUrl"]  # holds a comma and quotes
    assert '"' + odd_url.replace('"', '""') + '"' in text  # RFC 4180 quoting
    with opts.expect_download() as got:
        opts.click("#export")
    download = got.value
    assert download.suggested_filename == "facecheck-reports.csv"
    assert download.path().read_bytes().decode("utf-8") == text
    # `facecheck scan --reports` reads the export, its `face` column too (web pictures: counted).
    from facecheck.reports import read_reports

    assert read_reports(download.path()) == ([], len(reports))


def check_reports_deleted(ext, opts, left_after_one: list[str]) -> None:
    """Delete the second report from the options page's list, then all of them."""
    from playwright.sync_api import expect

    rows = opts.locator("#reports tbody tr")
    rows.nth(1).get_by_role("button", name=re.compile("^Delete the report")).click()
    expect(rows).to_have_count(2)
    assert [r["imageUrl"] for r in stored_reports(ext)] == left_after_one
    opts.click("#delete-all")
    expect(opts.locator("#reports-empty")).to_be_visible()
    expect(opts.locator("#export")).to_be_hidden()
    assert stored_reports(ext) == []


def test_reports_kept_listed_exported_deleted(ext, site):
    from playwright.sync_api import expect

    page = open_page(ext, f"{site.url}/faces.html")
    odd_url = f'{site.url}/img/fake0.jpg?a=1,2&b="x"'  # a comma and quotes, for the CSV's quoting
    good = [
        {"imageUrl": f"  {odd_url} ", "pageUrl": page.url, "verdict": "fake", "p_fake": 0.97312,
         "modelVersion": "facecheck-v2-exp1", "face": {"index": 2, "count": 3}},
        # No page: the sending frame's.
        {"imageUrl": f"{site.url}/img/real0.jpg", "verdict": "no-face", "p_fake": None},
    ]
    bad = [{"imageUrl": odd_url, "verdict": "maybe", "p_fake": 0.5},
           {"imageUrl": odd_url, "verdict": "real", "p_fake": 1.5},
           {"imageUrl": odd_url, "verdict": "real", "p_fake": "0.5"},
           {"imageUrl": "not a url", "verdict": "real", "p_fake": 0.2},
           {"verdict": "real", "p_fake": 0.2}]
    # Which face of several: whole numbers, 1 <= index <= count <= 100.
    bad += [{"imageUrl": odd_url, "verdict": "real", "p_fake": 0.2, "face": face}
            for face in ({"index": 4, "count": 3}, {"index": 0, "count": 2}, {"index": 1.5, "count": 2},
                         {"index": 1, "count": 101}, {"index": "1", "count": 2}, {"index": 1}, "2 of 3")]
    # From the page's content-script world (as a badge's "This is wrong" sends it): sender.tab is set.
    answers = ext.worker.evaluate(SEND_FROM_PAGE, [ext.tab_id(page), good + bad])
    assert [a["ok"] for a in answers] == [True, True] + [False] * len(bad), answers
    assert all(a["error"] for a in answers[2:]) and answers[0]["id"] != answers[1]["id"]
    # From an extension page too.
    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    third = {"imageUrl": f"{site.url}/img/real1.jpg", "pageUrl": "", "verdict": "real", "p_fake": 0.1234}
    assert opts.evaluate("(report) => chrome.runtime.sendMessage({type: 'facecheck-report', report})",
                         third)["ok"] is True

    reports = stored_reports(ext)
    assert [r["imageUrl"] for r in reports] == [odd_url, good[1]["imageUrl"], third["imageUrl"]]
    assert [r["pageUrl"] for r in reports] == [page.url, page.url, ""]
    assert [r["p_fake"] for r in reports] == [0.97312, None, 0.1234]
    assert [r.get("face") for r in reports] == [{"index": 2, "count": 3}, None, None]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) for r in reports)

    # The options page lists them: time, what the badge said, the URLs as text.
    rows = opts.locator("#reports tbody tr")
    expect(rows).to_have_count(3)
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(3)]
    assert [c[1:4] for c in cells] == [["Likely generated, 97% (face 2 of 3)", odd_url, page.url],
                                       ["No face found", good[1]["imageUrl"], page.url],
                                       ["Likely real", third["imageUrl"], ""]], cells
    assert opts.locator("#reports a").count() == 0  # page addresses are never made links
    expect(opts.locator("#reports-privacy")).to_contain_text("never sent anywhere")

    check_reports_csv(opts, reports)
    check_reports_deleted(ext, opts, [odd_url, third["imageUrl"]])


def test_reports_are_capped(ext, site):
    """At most 500 reports, the oldest dropped first."""
    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    opts.evaluate("""async (base) => { for (let i = 0; i < 503; i++) {
        await chrome.runtime.sendMessage({type: 'facecheck-report',
          report: {imageUrl: base + '/img/' + i + '.jpg', verdict: 'real', p_fake: 0.2}}); } }""", site.url)
    reports = stored_reports(ext)
    assert len(reports) == 500 and reports[0]["imageUrl"].endswith("/img/3.jpg")
    assert reports[-1]["imageUrl"].endswith("/img/502.jpg")


def test_options_in_percent_stored_as_probabilities(ext, reference):
    from playwright.sync_api import expect

    c = reference.predictor.contract
    ext.settings(threshold=0.7, unsureBand=0.05)
    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    assert [opts.input_value("#threshold"), opts.input_value("#unsureBand")] == ["70", "5"]
    expect(opts.locator("#model-threshold")).to_contain_text(f"{round(c.threshold * 10000) / 100:g}%")
    opts.fill("#threshold", "99")
    opts.fill("#unsureBand", "98")
    opts.fill("#minImageSize", "64")
    expect(opts.locator("#min-size-help")).to_contain_text("smaller than 64 px on a side")
    opts.click("#save")
    expect(opts.locator("#status")).to_have_text("Saved.")
    stored = ext.worker.evaluate("async () => (await chrome.storage.local.get('settings')).settings")
    assert (stored["threshold"], stored["unsureBand"], stored["minImageSize"]) == (0.99, 0.98, 64)
    opts.fill("#threshold", "85.25")
    opts.fill("#unsureBand", "")
    opts.click("#save")
    expect(opts.locator("#status")).to_have_text("Saved.")
    stored = ext.worker.evaluate("async () => (await chrome.storage.local.get('settings')).settings")
    assert (stored["threshold"], stored["unsureBand"]) == (0.8525, None)
    opts.reload()
    opts.wait_for_selector("body[data-ready]")
    shown = [opts.input_value(f"#{k}") for k in ("threshold", "unsureBand", "minImageSize")]
    assert shown == ["85.25", "", "64"]


# ---- accessibility -----------------------------------------------------------------------------

def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.x A/AA rules (2.2's target size included) on `page`, as light and dark."""
    out = []
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # (evaluated through DevTools: the page's CSP allows no inline script)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
            .then((r) => r.violations.map((v) => ({id: v.id,
              nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).slice(0, 5)})))""")
        out += [dict(v, scheme=scheme) for v in found]
    return out


def keyboard_walk(page, steps: int = 80) -> list[dict]:
    """Tab through the page once round: each control focused, whether a focus ring shows, its size."""
    # Start from the top: the page's heading (clicks elsewhere moved the starting point).
    page.evaluate("() => { const h = document.querySelector('h1'); h.tabIndex = -1; h.focus(); }")
    seen = []
    for _ in range(steps):
        page.keyboard.press("Tab")
        info = page.evaluate("""() => { const e = document.activeElement;
            if (!e || e === document.body || e.dataset.walked) return null;
            e.dataset.walked = '1';
            const cs = getComputedStyle(e); const r = e.getBoundingClientRect();
            return {key: e.id || e.className || e.textContent.trim().slice(0, 30), tag: e.localName,
                    ring: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
                    w: r.width, h: r.height}; }""")
        if info is None:
            break
        seen.append(info)
    return seen


def controls(page) -> int:
    return page.evaluate("""() => [...document.querySelectorAll('button, a[href], input, summary')]
        .filter((e) => e.getClientRects().length && !e.closest('[hidden]')).length""")


def test_popup_and_options_accessible(ext, avatars):
    from playwright.sync_api import expect

    page = open_page(ext, avatars)
    popup = open_popup(ext, page)
    popup.click("#scan")
    expect(popup.locator("#summary")).to_contain_text("skipped", timeout=60000)
    expect(popup.locator("#results li")).to_have_count(3, timeout=60000)
    popup.locator("#results details").first.locator("summary").click()
    assert popup.get_attribute("#status", "aria-live") == "polite"  # scan progress is announced
    opts = open_page(ext, ext.url("src/options.html"))
    opts.wait_for_selector("body[data-ready]")
    opts.evaluate("""(u) => chrome.runtime.sendMessage({type: 'facecheck-report',
        report: {imageUrl: u, pageUrl: u, verdict: 'fake', p_fake: 0.9}})""", f"{avatars}#img")
    expect(opts.locator("#reports tbody tr")).to_have_count(1)

    for p in (popup, opts):
        p.bring_to_front()
        assert axe_violations(p) == [], p.url
        p.emulate_media(color_scheme="light")
        walk = keyboard_walk(p)
        # Every visible control is reached by the keyboard (radios: one stop per group, so fewer).
        assert len(walk) >= controls(p) - 2, (walk, controls(p))
        assert all(w["ring"] for w in walk), [w for w in walk if not w["ring"]]
        small = [w for w in walk if w["w"] < 20 or w["h"] < 20]  # radios and checkboxes are 20 px + margin
        assert not small, small
