"""Least privilege (issue #26): the extension as shipped can read no site until the user checks or
scans, and then only after Chrome's prompt (src/access.js).

These tests load the build exactly as shipped (`sites_allowed=False`). Chrome's permission prompt
is shown to nobody in headless Chromium and Playwright cannot answer it, so the paths tested here
are the ones before an answer: nothing granted at install, a check or a scan without access reads
no image and says why, and the local server answers without any host access (CORS for this
extension's pinned ID). Every other end-to-end test starts from the answer "allow"
(tests/browser.py with_sites_allowed).
"""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from tests.e2e import Browser, open_page
from tests.helpers import fixture_faces
from tests.test_extension import TOKEN, facecheck_server  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(300)


class LoggingSite:
    """A page with a face on 127.0.0.1, on its own port, that logs every request it receives."""

    def __init__(self):
        face = fixture_faces("fake")[0].read_bytes()
        log = self.log = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                log.append(self.path)
                if self.path.startswith("/img/"):
                    body, kind = face, "image/jpeg"
                else:
                    body = b'<!doctype html><img id="face" src="/img/face.jpg" width="300">'
                    kind = "text/html"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def shipped(playwright_instance, built):
    b = Browser(playwright_instance, built, sites_allowed=False)
    yield b
    b.close()


@pytest.fixture
def logging_site():
    s = LoggingSite()
    yield s
    s.close()


def newest_tab(b: Browser) -> int:
    """The tab opened last. Without site access the extension cannot see a tab's URL, so
    Browser.tab_id() (a lookup by URL) cannot find it."""
    return b.worker.evaluate("async () => Math.max(...(await chrome.tabs.query({})).map((t) => t.id))")


def session_value(b: Browser, key: str):
    return b.worker.evaluate("async (k) => (await chrome.storage.session.get(k))[k]", key)


def test_manifest_asks_for_no_site_at_install(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert sorted(manifest["permissions"]) == ["activeTab", "contextMenus", "scripting", "storage"]
    assert "host_permissions" not in manifest
    assert manifest["optional_host_permissions"] == ["<all_urls>"]


def test_nothing_is_granted_at_install(shipped):
    granted = shipped.worker.evaluate("chrome.permissions.getAll()")
    assert granted["origins"] == [], granted
    assert "tabs" not in granted["permissions"]


def test_check_without_access_reads_nothing_and_says_why(shipped, logging_site):
    shipped.reset()
    page = open_page(shipped, f"{logging_site.url}/page.html")
    # A picture the page itself never loaded: any request for it would be the extension's.
    probe = f"{logging_site.url}/img/probe.jpg"
    tab = newest_tab(shipped)
    # As the context menu's listener is called, but without a user gesture: Chrome cannot ask.
    out = shipped.worker.evaluate("async ([tabId, info]) => checkFace(info, await chrome.tabs.get(tabId))",
                                  [tab, shipped.menu_info(page, probe)])
    assert out["view"]["verdict"] == "error", out
    assert "not allowed to read images on this site" in out["view"]["reason"], out
    page.wait_for_timeout(500)
    assert "/img/probe.jpg" not in logging_site.log, logging_site.log
    # The popup's row says why (the page is told nothing).
    rows = session_value(shipped, f"results:{tab}")
    assert rows and "not allowed" in rows[0]["reason"], rows


def test_scan_without_access_explains_the_prompt_and_stays_off(shipped, logging_site):
    shipped.reset()
    page = open_page(shipped, f"{logging_site.url}/page.html")
    tab = newest_tab(shipped)
    images = lambda: [p for p in logging_site.log if p.startswith("/img/")]  # noqa: E731
    before = images()
    popup = open_page(shipped, shipped.url(f"src/popup.html?tab={tab}"))
    popup.wait_for_selector("body[data-ready]")
    popup.click("#scan")  # a real click: Chrome's prompt opens (and, headless, is never answered)
    popup.wait_for_function(
        "document.getElementById('show-status').textContent.includes('Chrome asks you once')", timeout=10000)
    assert popup.get_attribute("#scan", "aria-pressed") == "false"
    state = session_value(shipped, f"scan:{tab}")
    assert not (state and state["on"]), state
    page.wait_for_timeout(1000)
    assert images() == before, "an image was fetched without access"


def test_local_server_answers_without_host_access(shipped, facecheck_server):  # noqa: F811
    """The user's own server needs no host access: its CORS lets this extension's pinned ID in."""
    shipped.reset()
    health = shipped.worker.evaluate(
        "(s) => FaceCheckRemote.health(FaceCheckSettings.clean(s), 10000)",
        {"serverUrl": facecheck_server, "serverToken": TOKEN, "runWhere": "server"})
    assert health["ok"], health
