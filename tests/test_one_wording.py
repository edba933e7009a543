"""One picture, one wording, on every front end (issue #18): the badge in the page (its words and
its details), the popup's row, the server's drop page and the CLI's table all say the same
headline ("Likely generated, 89%") and the same "Probability generated: 89%"
(facecheck/wording.py, and its JS copy in extension/src/settings.js).

The picture is the site's fixture face whose percentage is the least likely to round differently
in the browser: its p_fake * 100 is the furthest from a .5 boundary, and it is well clear of the
band's edges. Each front end's number is also checked against its own p_fake; any other
"N% generated"-style number shown for that face must be the same N, and on the pages no verdict
code stands in for its words beside a number ("fake 89%", "1 real"; the CLI's table may keep a
column of codes for scripts).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from facecheck.wording import headline, pct, probability_text
from tests.badge_page import check_on_drop_page, drop_page_server, open_details, show_image
from tests.browser import launch_chromium
from tests.e2e import HOSTS_JS, TOL_P, badges, open_page, read_badges
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

# Every percentage said about "generated" in a text: "89% generated", "generated: 89%", "generated, 89.0%".
GENERATED_PCT = re.compile(r"(\d+(?:\.\d+)?)\s*%\s*generated|generated\W{1,3}(\d+(?:\.\d+)?)\s*%", re.I)
# A verdict code said to a person beside a number ("fake 89%", "1 real"): the words are HEADLINES'.
CODE_WITH_NUMBER = re.compile(r"\b(fake|real|no-face|too-small)\s+\d|\d\s+(fake|real|no-face|too-small)\b")

# The visible text of each badge of `src` (what innerText gives: hidden parts left out).
BADGE_TEXT_JS = """(src) => HOSTS.filter(({box}) => box && box.dataset.src === src)
  .map(({host: h}) => [...h.shadowRoot.children].filter((e) => e.tagName !== 'STYLE')
    .map((e) => e.innerText).join('\\n'))""".replace("HOSTS", HOSTS_JS)


@pytest.fixture(scope="module")
def page_server():
    with drop_page_server() as srv:
        yield srv


def steady_face(site, reference) -> tuple[str, dict]:
    """(name, Python result) of the site's generated fixture face whose rounded percentage is
    safest from float differences: the verdict "fake" (its headline carries the number), its
    p_fake clear of the band's edges by 2 * TOL_P, and p_fake * 100 the furthest from x.5."""
    c = reference.predictor.contract
    edges = [e for e in (c.threshold, c.unsure_from) if e is not None]
    best, margin = None, -1.0
    for f in sorted(site.folder.glob("fake[0-9].jpg")):
        py = reference(f"/img/{f.name}")
        p = py["p_fake"]
        # (Not where 1..99 clamps: the number would say nothing about rounding.)
        if py["verdict"] != "fake" or not 0.02 < p < 0.98 or min(abs(p - e) for e in edges) <= 2 * TOL_P:
            continue
        m = abs(p * 100 - math.floor(p * 100) - 0.5)
        if m > margin:
            best, margin = (f.name, py), m
    assert best and margin > 0.1, f"no fixture face with a steady percentage: {best}, {margin}"
    return best


def said_percentages(text: str) -> set[str]:
    return {a or b for a, b in GENERATED_PCT.findall(text)}


def assert_says(where: str, text: str, p: float, verdict: str = "fake") -> None:
    """`text` says the headline and the probability line of `p`, and no other percentage generated."""
    assert headline(verdict, p) in text, f"{where}: no {headline(verdict, p)!r} in {text!r}"
    assert probability_text(p) in text, f"{where}: no {probability_text(p)!r} in {text!r}"
    assert said_percentages(text) == {str(pct(p))}, f"{where}: other percentages in {text!r}"
    assert not CODE_WITH_NUMBER.search(text), f"{where}: a verdict code instead of its words in {text!r}"


def cli_table(path) -> tuple[str, str]:
    """`facecheck scan FILE --table`: (its header line, the file's row)."""
    exe = ROOT / ".venv" / "bin" / "facecheck"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "facecheck.cli"]
    out = subprocess.run(cmd + ["scan", str(path), "--table", "--quiet"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [x for x in out.stdout.splitlines() if x.strip()]
    rows = [x for x in lines if path.name in x]
    assert len(rows) == 1 and lines.index(rows[0]) > 0, out.stdout
    return lines[0], rows[0]


def test_one_result_reads_the_same_everywhere(ext, site, reference, page_server, playwright_instance):
    from playwright.sync_api import expect

    name, py = steady_face(site, reference)
    p, want = py["p_fake"], headline("fake", py["p_fake"])

    # The badge: its words, and its details once opened.
    page = open_page(ext, f"{site.url}/faces.html")
    src = show_image(page, name + "?wording", 300)  # a URL of its own: faces.html shows `name` too
    ext.check(page, src)
    [b] = [x for x in badges(page) if x["src"] == src]
    assert b["verdict"] == "fake" and abs(b["p"] - p) <= TOL_P, (b, py)
    assert pct(b["p"]) == pct(p), f"the browser's p_fake {b['p']} rounds apart from Python's {p}"
    open_details(page, src)
    [text] = read_badges(page, BADGE_TEXT_JS, src)
    assert_says("the badge", text, b["p"])

    # The popup's row for it.
    popup = open_page(ext, ext.url(f"src/popup.html?tab={ext.tab_id(page)}"))
    row = popup.locator("#results li")
    expect(row).to_have_count(1)
    assert_says("the popup's row", row.inner_text(), b["p"])

    # The server's drop page (the Python predictor behind the real API).
    browser = launch_chromium(playwright_instance)
    try:
        drop = check_on_drop_page(browser, page_server.url, site.folder / name)
        assert_says("the drop page", drop.locator("#results > li").first.inner_text(), p)
    finally:
        browser.close()

    # The CLI's table: the headline on the file's row; the probability as "Probability generated:
    # N%" there, or as N% under a "Probability generated" column.
    header, line = cli_table(site.folder / name)
    assert want in line, f"the CLI's row has no {want!r}: {header!r} / {line!r}"
    as_column = "probability generated" in header.lower() and f"{pct(p)}%" in line
    assert probability_text(p) in line or as_column, \
        f"the CLI does not say {probability_text(p)!r}: {header!r} / {line!r}"
    assert said_percentages(line) <= {str(pct(p))}, f"the CLI's row: {line!r}"
