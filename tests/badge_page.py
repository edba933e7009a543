"""FaceCheck's badges as a person, a screen reader or a checker meets them, for the accessibility
and wording tests (tests/test_a11y.py, tests/test_one_wording.py) and the screenshots
(package_scripts/screenshots.py): show a picture at a size, open a badge's details, and read the
buttons, live regions and colours inside the badges' shadow roots; run axe-core on a page.

The badges' shadow roots are closed: nothing of the page can read them. These helpers open them
for the tests only, through the DevTools protocol (tests.e2e.unseal, whose notes say how), before
every read; the JS below then finds them as `host.shadowRoot`.

axe-core is a development dependency pinned in extension/package.json (`make setup` installs it);
it never enters the built extension and nothing downloads it at run time.

How axe gets into a page: its source is evaluated through Playwright (`page.evaluate`, i.e. the
DevTools protocol's Runtime.evaluate), to which a page's Content Security Policy does not apply;
`page.add_script_tag(content=...)` would not do on the extension's pages, whose CSP
(`script-src 'self' 'wasm-unsafe-eval'`) refuses inline scripts. axe then runs in the page's own
(main) world, where the unsealed roots let it into the badges (content.js attaches them, closed,
from its isolated world; no script of the page itself can see inside).
"""

from __future__ import annotations

import contextlib
import re

from facecheck.wording import HEADLINES
from tests.e2e import HOSTS_JS, click_in_badge, in_badge, read_badges, unseal
from tests.helpers import ROOT

AXE_JS = ROOT / "extension" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")  # axe impacts that fail a test; "minor" / "moderate" are listed only

# The elements of every badge a pointer or a finger can act on, with their size (visible ones only).
TARGETS_JS = """() => {
  const out = [];
  const sel = 'button, [role=button], a[href], summary, input, select, [tabindex]:not([tabindex="-1"])';
  for (const {host, box} of HOSTS) {
    for (const el of host.shadowRoot.querySelectorAll(sel)) {
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      if (cs.display === 'none' || cs.visibility === 'hidden' || !r.width || !r.height) continue;
      out.push({src: box.dataset.src, verdict: box.dataset.verdict,
                name: el.getAttribute('aria-label') || el.textContent.trim(), cls: String(el.className),
                width: r.width, height: r.height});
    }
  }
  return out;
}""".replace("HOSTS", HOSTS_JS)

# Every live region of the page, its badges' shadow roots included; kept in window.__liveRegions
# so that a later call can tell which regions were already there.
LIVE_REGIONS_JS = """(keep) => {
  const found = [];
  const sel = '[aria-live]:not([aria-live="off"]), [role=status], [role=alert], [role=log], output';
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.matches(sel)) found.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  if (keep) window.__liveRegions = found;
  return found.map((el) => el.textContent.replace(/\\s+/g, ' ').trim());
}"""

# The texts now in the live regions found by the last LIVE_REGIONS_JS(true), where still in the page.
KEPT_REGIONS_JS = """() => (window.__liveRegions || []).filter((el) => el.isConnected)
  .map((el) => el.textContent.replace(/\\s+/g, ' ').trim())"""

# Each badge's colour: the background of the first visible element in its shadow root that has one.
BACKGROUNDS_JS = """() => HOSTS.map(({host, box}) => {
  const el = [...host.shadowRoot.querySelectorAll('*')].find((e) => {
    const cs = getComputedStyle(e);
    const a = cs.backgroundColor.match(/[\\d.]+/g);
    const opaque = a && (a.length < 4 || Number(a[3]) > 0.5);
    return cs.display !== 'none' && opaque && e.getBoundingClientRect().width;
  });
  return {src: box.dataset.src, verdict: box.dataset.verdict,
          background: el ? getComputedStyle(el).backgroundColor : null};
})""".replace("HOSTS", HOSTS_JS)


def show_image(page, name: str, size: int, element_id: str | None = None) -> str:
    """Show /img/NAME on the page at size x size px; returns the URL the page shows it from."""
    return page.evaluate("""([n, size, id]) => new Promise((resolve, reject) => {
      const img = new Image(size, size);
      img.alt = 'test picture ' + n;
      if (id) img.id = id;
      img.onload = () => resolve(img.currentSrc);
      img.onerror = () => reject(new Error('could not load ' + n));
      img.src = '/img/' + n;
      document.querySelector('main, body').append(img);
    })""", [name, size, element_id])


def badge_names(page, src: str) -> list[str]:
    """The names a screen reader gives the buttons of the badges of `src` (aria-label, or text)."""
    return read_badges(page, """(src) => HOSTS.filter(({box}) => box && box.dataset.src === src)
      .flatMap(({box}) => [...box.querySelectorAll('button')])
      .map((b) => b.getAttribute('aria-label') || b.textContent.trim())""".replace("HOSTS", HOSTS_JS), src)


def open_details(page, src: str) -> None:
    """Open the details of the (first) badge of `src` with its toggle, as a person's click does."""
    click_in_badge(page, src, "[aria-expanded]")
    expanded = in_badge(page, src, "(r) => r.querySelector('[aria-expanded]').getAttribute('aria-expanded')")
    assert expanded == "true", "the badge's toggle did not open its details"


def axe_violations(page, context: str = "document") -> list[dict]:
    """axe-core's violations on the page (all impacts), each {id, impact, help, targets}."""
    unseal(page)  # axe looks into the badges too
    if not page.evaluate("() => typeof axe === 'object'"):
        page.evaluate("() => {\n" + AXE_JS.read_text() + "\n}")
    return page.evaluate(f"""async () => {{
        const r = await axe.run({context}, {{resultTypes: ['violations']}});
        return r.violations.map((v) => ({{id: v.id, impact: v.impact, help: v.help,
          targets: v.nodes.map((n) => JSON.stringify(n.target))}}));
    }}""")


def describe_violations(found: list[dict]) -> str:
    return "\n".join(f"- {v['id']} ({v['impact']}): {v['help']}\n    on " + "\n    on ".join(v["targets"])
                     for v in found)


# ---- the server's drop page --------------------------------------------------------------------

@contextlib.contextmanager
def drop_page_server():
    """The real FaceCheck server (its page and API) with the shipped model, on a free port."""
    from server.app import create_app
    from server.config import Config
    from server.inference import load_predictor
    from server.serve import BackgroundServer

    predictor = load_predictor()
    with BackgroundServer(lambda c: create_app(c, predictor=predictor), Config.from_env(environ={})) as srv:
        yield srv


def check_on_drop_page(browser, url: str, path) -> object:
    """A new page of the drop page at `url` with the file at `path` checked through its file
    input; returns the page once the result is shown."""
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(url + "/")
    page.set_input_files("input[type=file]", str(path))
    result = page.locator("#results > li").first
    any_words = re.compile("|".join(re.escape(w) for w in HEADLINES.values()), re.IGNORECASE)
    expect(result).to_contain_text(any_words, timeout=60_000)
    return page
